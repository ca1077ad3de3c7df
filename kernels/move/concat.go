package move

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

// Pieces describes Concat (pieces in, one whole out) and Split (one whole in, pieces out)
// along Axis: Shapes are the pieces' shapes, equal except on Axis.
type Pieces struct {
	Shapes [][]int
	Axis   int
}

// geometry returns, per piece, its elements, its rows (elements before the axis), its row
// length (size on the axis times the inner size) and its column offset in the whole's rows.
func (p Pieces) geometry() (whole []int, n, rowLen, colOff []int, err error) {
	if len(p.Shapes) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("concat/split: no pieces")
	}
	r := len(p.Shapes[0])
	if p.Axis < 0 || p.Axis >= r {
		return nil, nil, nil, nil, fmt.Errorf("concat/split: axis %d of rank %d", p.Axis, r)
	}
	whole = append([]int(nil), p.Shapes[0]...)
	whole[p.Axis] = 0
	inner := eltwise.Prod(whole[p.Axis+1:])
	for i, s := range p.Shapes {
		if len(s) != r {
			return nil, nil, nil, nil, fmt.Errorf("concat/split: piece %d shape %v, rank %d", i, s, r)
		}
		for d := range s {
			if d != p.Axis && s[d] != whole[d] {
				return nil, nil, nil, nil, fmt.Errorf("concat/split: piece %d shape %v differs from %v off axis %d", i, s, p.Shapes[0], p.Axis)
			}
		}
		n = append(n, eltwise.Prod(s))
		rowLen = append(rowLen, s[p.Axis]*inner)
		colOff = append(colOff, whole[p.Axis]*inner)
		whole[p.Axis] += s[p.Axis]
	}
	return whole, n, rowLen, colOff, nil
}

// build emits the piecewise copy; tiles are partitioned over the pieces (empty pieces take
// none), and element e of piece i maps to whole offset (e / rowLen)*wholeRow + colOff + e % rowLen.
func (p Pieces) build(concat bool, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	whole, n, rowLen, colOff, err := p.geometry()
	if err != nil {
		return nil, err
	}
	kind := "split"
	if concat {
		kind = "concat"
	}
	total := eltwise.Prod(whole)
	if total == 0 {
		return nil, fmt.Errorf("%s: empty output", kind)
	}
	k, err := newKernel(fmt.Sprintf("%s_%d_%d", kind, len(n), total), cfg, target)
	if err != nil {
		return nil, err
	}
	b := k.b
	pieces := make([]kir.Value, len(n))
	var whl kir.Value
	if !concat {
		whl = k.buffer("x")
	}
	for i := range pieces {
		if concat {
			pieces[i] = k.buffer(fmt.Sprintf("x%d", i))
		} else {
			pieces[i] = k.buffer(fmt.Sprintf("y%d", i))
		}
	}
	if concat {
		whl = k.buffer("y")
	}
	wholeRow := whole[p.Axis] * eltwise.Prod(whole[p.Axis+1:])
	first := make([]int, len(n)+1) // first tile of each piece
	for i, c := range n {
		first[i+1] = first[i] + tilesOf(c, cfg.TileM)
	}
	k.runTiles(func(tile kir.Value) {
		for i := range pieces {
			if n[i] == 0 {
				continue
			}
			in := b.And(b.Ge(tile, b.ConstU32(uint32(first[i]))), b.Lt(tile, b.ConstU32(uint32(first[i+1]))))
			b.If(in, func() {
				base := b.Mul(b.Sub(tile, b.ConstU32(uint32(first[i]))), b.ConstU32(uint32(cfg.TileM)))
				k.elements(base, n[i], func(e kir.Value) {
					rl := b.ConstU32(uint32(rowLen[i]))
					row := b.Div(e, rl)
					w := b.Add(b.Mad(row, b.ConstU32(uint32(wholeRow)), b.Sub(e, b.Mul(row, rl))), b.ConstU32(uint32(colOff[i])))
					if concat {
						b.Store(whl, w, b.Load(kir.U32, pieces[i], e))
					} else {
						b.Store(pieces[i], e, b.Load(kir.U32, whl, w))
					}
				})
			})
		}
	})
	return k.finish(kind, max(first[len(n)], 1), kernels.Work{BytesRead: 4 * int64(total), BytesWritten: 4 * int64(total)})
}

// BuildConcat instantiates Concat of the pieces (roles "x0".."xk-1") into "y".
func BuildConcat(p Pieces, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	return p.build(true, cfg, target)
}

// BuildSplit instantiates Split of "x" into the pieces (roles "y0".."yk-1").
func BuildSplit(p Pieces, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	return p.build(false, cfg, target)
}
