// Package move is the kernel template family for data movement: strided views (Transpose,
// Slice, Expand, Tile, DepthToSpace/SpaceToDepth: every output element reads one input element
// at an affine offset), Concat and Split (tiles partitioned over the pieces), Gather, Pad
// (constant, edge, reflect, wrap) and Resize (nearest and linear over the last two axes). One
// thread moves one element; a tile is TileM consecutive output elements.
//
// Buffer roles: "x" and "y" unless a builder says otherwise (Concat: "x0".."xk-1"; Split:
// "y0".."yk-1"; Gather: "indices", int64). Elements are 32-bit (f32, or any 4-byte type: the
// kernels only copy bits, except Resize linear). move imports kernels, kernels/kir,
// kernels/kir/protocol, kernels/eltwise (index helpers) and kernels/ref (parameter types);
// never compiler/ or runtime/.
package move

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// View is a strided view of an input: output element at coordinates c (row-major over
// OutShape) reads input element Offset + sum(c[d]*Strides[d]). Strides may be 0 (broadcast)
// or negative (reversed slices).
type View struct {
	OutShape []int
	Offset   int
	Strides  []int
	InLen    int // elements of the input (for Work and bounds checks)
}

// TransposeView is ONNX Transpose of shape by perm.
func TransposeView(shape, perm []int) (View, error) {
	if len(perm) != len(shape) {
		return View{}, fmt.Errorf("transpose: perm %v for shape %v", perm, shape)
	}
	st := make([]int, len(shape))
	for i := range shape {
		st[i] = eltwise.Prod(shape[i+1:])
	}
	v := View{OutShape: make([]int, len(perm)), Strides: make([]int, len(perm)), InLen: eltwise.Prod(shape)}
	seen := make([]bool, len(perm))
	for i, a := range perm {
		if a < 0 || a >= len(shape) || seen[a] {
			return View{}, fmt.Errorf("transpose: perm %v for shape %v", perm, shape)
		}
		seen[a] = true
		v.OutShape[i], v.Strides[i] = shape[a], st[a]
	}
	return v, nil
}

// SliceView is ONNX Slice with resolved axes (ref.SliceParams).
func SliceView(shape []int, sl []ref.SliceAxis) (View, error) {
	if len(sl) != len(shape) {
		return View{}, fmt.Errorf("slice: %d axes for shape %v", len(sl), shape)
	}
	v := View{OutShape: make([]int, len(shape)), Strides: make([]int, len(shape)), InLen: eltwise.Prod(shape)}
	for i, s := range sl {
		st := eltwise.Prod(shape[i+1:])
		if s.Count > 0 && (s.Start < 0 || s.Start >= shape[i] || s.Start+(s.Count-1)*s.Step < 0 || s.Start+(s.Count-1)*s.Step >= shape[i]) {
			return View{}, fmt.Errorf("slice: axis %d %+v out of range for size %d", i, s, shape[i])
		}
		v.OutShape[i], v.Strides[i] = s.Count, s.Step*st
		v.Offset += s.Start * st
	}
	return v, nil
}

// ExpandView is ONNX Expand (numpy broadcast) of shape in to shape out.
func ExpandView(in, out []int) (View, error) {
	if _, err := ref.BroadcastShape(in, out); err != nil || len(in) > len(out) {
		return View{}, fmt.Errorf("expand %v to %v: shapes do not broadcast", in, out)
	}
	for i, d := range in {
		if o := out[len(out)-len(in)+i]; d != 1 && d != o {
			return View{}, fmt.Errorf("expand %v to %v", in, out)
		}
	}
	return View{OutShape: append([]int(nil), out...), Strides: eltwise.BroadcastStrides(in, out), InLen: eltwise.Prod(in)}, nil
}

// TileView is ONNX Tile: the output [r0*d0, r1*d1, ...] seen as [r0, d0, r1, d1, ...] with
// stride 0 on the repeat dims. The view's OutShape is that 2*rank shape (same element order).
func TileView(shape, repeats []int) (View, error) {
	if len(repeats) != len(shape) {
		return View{}, fmt.Errorf("tile: repeats %v for shape %v", repeats, shape)
	}
	v := View{InLen: eltwise.Prod(shape)}
	for i, d := range shape {
		if repeats[i] < 0 {
			return View{}, fmt.Errorf("tile: repeats %v", repeats)
		}
		v.OutShape = append(v.OutShape, repeats[i], d)
		v.Strides = append(v.Strides, 0, eltwise.Prod(shape[i+1:]))
	}
	return v, nil
}

// DepthToSpaceView is ONNX DepthToSpace of x [N, C, H, W] with block size bs; crd selects
// mode CRD (else DCR). The output [N, C/bs², H*bs, W*bs] is viewed as [N, C', H, bs, W, bs].
func DepthToSpaceView(shape []int, bs int, crd bool) (View, error) {
	if len(shape) != 4 || bs <= 0 || shape[1]%(bs*bs) != 0 {
		return View{}, fmt.Errorf("depth to space: shape %v block %d", shape, bs)
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	oc := c / (bs * bs)
	hw := h * w
	// input channel of (c', i, j): DCR: (i*bs + j)*oc + c'; CRD: c'*bs*bs + i*bs + j
	sc, si, sj := bs*bs*hw, bs*hw, hw
	if !crd {
		sc, si, sj = hw, bs*oc*hw, oc*hw
	}
	return View{OutShape: []int{n, oc, h, bs, w, bs}, Strides: []int{c * hw, sc, w, si, 1, sj}, InLen: n * c * hw}, nil
}

// ViewConfigs lists the move kernels' configurations (Threads, ThreadM, TileM = Threads*ThreadM).
func ViewConfigs() []kernels.Config {
	var out []kernels.Config
	for _, c := range [][2]int{{128, 1}, {256, 1}, {256, 4}, {256, 16}} {
		out = append(out, kernels.Config{Threads: c[0], ThreadM: c[1], TileM: c[0] * c[1]})
	}
	return out
}

// kernel is the common skeleton of the move kernels: params ctl, buffers, trace; a persistent
// loop in which thread i of tile t handles elements t*TileM + i + k*Threads below n.
type kernel struct {
	b    *kir.Builder
	cfg  kernels.Config
	name string
	args []kernels.Arg
	ctl  kir.Value
}

func newKernel(name string, cfg kernels.Config, target kir.Target) (*kernel, error) {
	if cfg.Threads <= 0 || cfg.Threads > 1024 || cfg.TileM <= 0 {
		return nil, fmt.Errorf("%s: config %v", name, cfg)
	}
	name = fmt.Sprintf("%s_%s", name, cfg)
	k := &kernel{b: kir.NewKernel(name, target), cfg: cfg, name: name}
	k.ctl = k.b.ParamPtr("ctl")
	k.args = []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}}
	return k, nil
}

func (k *kernel) buffer(role string) kir.Value {
	k.args = append(k.args, kernels.Arg{Kind: kernels.ArgBuffer, Name: role})
	return k.b.ParamPtr(role)
}

// runTiles emits the persistent loop; body gets the tile index.
func (k *kernel) runTiles(body func(tile kir.Value)) {
	trace := k.b.ParamPtr("trace")
	k.args = append(k.args, kernels.Arg{Kind: kernels.ArgTrace, Name: "trace"})
	protocol.Persistent(k.b, k.ctl, body, protocol.Options{Trace: trace})
}

// elements emits the loop of one tile's elements: e from base+tid below min(base+TileM, n).
func (k *kernel) elements(base kir.Value, n int, body func(e kir.Value)) {
	b := k.b
	end := b.Min(b.Add(base, b.ConstU32(uint32(k.cfg.TileM))), b.ConstU32(uint32(n)))
	b.For(b.Add(base, b.Tid(0)), end, b.ConstU32(uint32(k.cfg.Threads)), body)
}

// run emits the persistent loop over n elements, TileM per tile.
func (k *kernel) run(n int, body func(e kir.Value)) {
	k.runTiles(func(tile kir.Value) {
		k.elements(k.b.Mul(tile, k.b.ConstU32(uint32(k.cfg.TileM))), n, body)
	})
}

func (k *kernel) finish(family string, tiles int, work kernels.Work) (*kernels.Instance, error) {
	kk, err := k.b.Build()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", family, err)
	}
	in := &kernels.Instance{Name: k.name, Family: "move", Kernel: kk, Config: k.cfg, Threads: k.cfg.Threads,
		Tiles: tiles, Args: k.args, Work: work}
	_, in.SharedBytes = kk.SharedLayout()
	return in, in.Validate()
}

func tilesOf(n, tileM int) int { return (n + tileM - 1) / tileM }

// BuildView instantiates a strided-view copy: y[e] = x[Offset + coords(e)·Strides].
func BuildView(v View, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	n := eltwise.Prod(v.OutShape)
	if len(v.Strides) != len(v.OutShape) || n == 0 {
		return nil, fmt.Errorf("view: shape %v strides %v", v.OutShape, v.Strides)
	}
	k, err := newKernel(fmt.Sprintf("view_%d", n), cfg, target)
	if err != nil {
		return nil, err
	}
	b := k.b
	x, y := k.buffer("x"), k.buffer("y")
	dims, sts := eltwise.Collapse(v.OutShape, v.Strides)
	k.run(n, func(e kir.Value) {
		off := b.Add(eltwise.Offset(b, eltwise.Coords(b, e, dims), sts[0]), b.ConstU32(uint32(v.Offset)))
		b.Store(y, e, b.Load(kir.U32, x, off))
	})
	return k.finish("view", tilesOf(n, cfg.TileM), kernels.Work{BytesRead: 4 * int64(min(n, max(v.InLen, 1))), BytesWritten: 4 * int64(n)})
}
