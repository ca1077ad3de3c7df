package move

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// GatherParams is ONNX Gather of data (shape Shape) along Axis (normalized) with int64
// indices of shape Indices; negative indices count from the end, out-of-range ones are clamped.
type GatherParams struct {
	Shape   []int
	Axis    int
	Indices []int
}

// OutShape is Shape[:Axis] + Indices + Shape[Axis+1:].
func (p GatherParams) OutShape() []int {
	out := append([]int(nil), p.Shape[:p.Axis]...)
	out = append(out, p.Indices...)
	return append(out, p.Shape[p.Axis+1:]...)
}

// BuildGather instantiates Gather: roles "x" (data), "indices" (int64), "y".
func BuildGather(p GatherParams, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	if p.Axis < 0 || p.Axis >= len(p.Shape) || p.Shape[p.Axis] <= 0 {
		return nil, fmt.Errorf("gather: axis %d of shape %v", p.Axis, p.Shape)
	}
	n := eltwise.Prod(p.OutShape())
	if n == 0 {
		return nil, fmt.Errorf("gather: empty output %v", p.OutShape())
	}
	a, post, ni := p.Shape[p.Axis], eltwise.Prod(p.Shape[p.Axis+1:]), eltwise.Prod(p.Indices)
	k, err := newKernel(fmt.Sprintf("gather_%d", n), cfg, target)
	if err != nil {
		return nil, err
	}
	b := k.b
	x, idx, y := k.buffer("x"), k.buffer("indices"), k.buffer("y")
	u := func(v int) kir.Value { return b.ConstU32(uint32(v)) }
	k.run(n, func(e kir.Value) {
		t := b.Div(e, u(post))
		q := b.Sub(e, b.Mul(t, u(post)))
		pr := b.Div(t, u(ni))
		i := b.Sub(t, b.Mul(pr, u(ni)))
		j := b.Ld(kir.Global, kir.S32, b.Index(idx, i, 8), 0) // low word of the int64
		j = b.Select(b.Lt(j, b.ConstS32(0)), b.Add(j, b.ConstS32(int32(a))), j)
		j = b.Min(b.Max(j, b.ConstS32(0)), b.ConstS32(int32(a-1)))
		src := b.Add(b.Mul(b.Add(b.Mul(pr, u(a)), b.Bitcast(j, kir.U32)), u(post)), q)
		b.Store(y, e, b.Load(kir.U32, x, src))
	})
	return k.finish("gather", tilesOf(n, cfg.TileM), kernels.Work{BytesRead: 4*int64(n) + 8*int64(ni), BytesWritten: 4 * int64(n)})
}

// PadParams is ONNX Pad of a tensor of shape Shape (pads per axis; negative pads crop).
// Value is the constant fill for PadConstant.
type PadParams struct {
	Shape              []int
	PadsBegin, PadsEnd []int
	Mode               ref.PadMode
	Value              float32
}

// BuildPad instantiates Pad: roles "x", "y".
func BuildPad(p PadParams, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	r := len(p.Shape)
	if len(p.PadsBegin) != r || len(p.PadsEnd) != r || p.Mode > ref.PadWrap {
		return nil, fmt.Errorf("pad: pads %v/%v mode %d for shape %v", p.PadsBegin, p.PadsEnd, p.Mode, p.Shape)
	}
	out := make([]int, r)
	for i, d := range p.Shape {
		out[i] = d + p.PadsBegin[i] + p.PadsEnd[i]
		if out[i] < 0 || d == 0 && out[i] > 0 && p.Mode != ref.PadConstant {
			return nil, fmt.Errorf("pad: axis %d of size %d padded by %d,%d", i, d, p.PadsBegin[i], p.PadsEnd[i])
		}
	}
	n := eltwise.Prod(out)
	if n == 0 {
		return nil, fmt.Errorf("pad: empty output %v", out)
	}
	k, err := newKernel(fmt.Sprintf("pad_%d", n), cfg, target)
	if err != nil {
		return nil, err
	}
	b := k.b
	x, y := k.buffer("x"), k.buffer("y")
	s := func(v int) kir.Value { return b.ConstS32(int32(v)) }
	k.run(n, func(e kir.Value) {
		coords := eltwise.Coords(b, e, out)
		off := b.Var(s(0))
		ok := b.Var(b.True())
		for ax, d := range p.Shape {
			i := b.Sub(b.Bitcast(coords[ax], kir.S32), s(p.PadsBegin[ax]))
			switch p.Mode {
			case ref.PadConstant:
				b.Set(ok, b.And(ok, b.And(b.Ge(i, s(0)), b.Lt(i, s(d)))))
				i = b.Min(b.Max(i, s(0)), s(max(d-1, 0)))
			case ref.PadEdge:
				i = b.Min(b.Max(i, s(0)), s(d-1))
			case ref.PadReflect:
				if d == 1 {
					i = s(0)
					break
				}
				per := 2 * (d - 1)
				i = b.Rem(i, s(per))
				i = b.Select(b.Lt(i, s(0)), b.Add(i, s(per)), i)
				i = b.Select(b.Ge(i, s(d)), b.Sub(s(per), i), i)
			case ref.PadWrap:
				i = b.Rem(i, s(d))
				i = b.Select(b.Lt(i, s(0)), b.Add(i, s(d)), i)
			}
			b.Set(off, b.Mad(i, s(eltwise.Prod(p.Shape[ax+1:])), off))
		}
		v := b.Var(b.ConstU32(math.Float32bits(p.Value)))
		b.If(ok, func() { b.Set(v, b.Load(kir.U32, x, off)) })
		b.Store(y, e, v)
	})
	return k.finish("pad", tilesOf(n, cfg.TileM), kernels.Work{BytesRead: 4 * int64(min(n, eltwise.Prod(p.Shape))), BytesWritten: 4 * int64(n)})
}
