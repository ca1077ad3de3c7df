package move

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// resizeAxis emits the source coordinate of output index j (u32) on one axis, in f32 exactly
// as kernels/ref computes it (same operations, same rounding).
func resizeCoord(b *kir.Builder, mode string, j kir.Value, scale float32, in, out int) (kir.Value, error) {
	x := b.Cvt(j, kir.F32)
	c := b.ConstF32
	halfPixel := func() kir.Value { return b.Sub(b.Div(b.Add(x, c(0.5)), c(scale)), c(0.5)) }
	switch mode {
	case "", "half_pixel":
		return halfPixel(), nil
	case "half_pixel_symmetric":
		adj := float32(out) / (scale * float32(in))
		center := float32(in) / 2
		off := center * (1 - adj)
		return b.Sub(b.Add(c(off), b.Div(b.Add(x, c(0.5)), c(scale))), c(0.5)), nil
	case "pytorch_half_pixel":
		if out > 1 {
			return halfPixel(), nil
		}
		return c(0), nil
	case "align_corners":
		if out == 1 {
			return c(0), nil
		}
		return b.Div(b.Mul(x, c(float32(in-1))), c(float32(out-1))), nil
	case "asymmetric":
		return b.Div(x, c(scale)), nil
	case "tf_half_pixel_for_nn":
		return b.Div(b.Add(x, c(0.5)), c(scale)), nil
	}
	return x, fmt.Errorf("resize: coordinate_transformation_mode %q is not supported", mode)
}

func nearest(b *kir.Builder, mode string, x kir.Value, in int) (kir.Value, error) {
	var r kir.Value
	tie := b.Eq(b.Sub(x, b.Trunc(x)), b.ConstF32(0.5))
	switch mode {
	case "", "round_prefer_floor":
		r = b.Select(tie, b.Floor(x), b.Round(x))
	case "round_prefer_ceil":
		r = b.Select(tie, b.Ceil(x), b.Round(x))
	case "floor":
		r = b.Floor(x)
	case "ceil":
		r = b.Ceil(x)
	default:
		return x, fmt.Errorf("resize: nearest_mode %q is not supported", mode)
	}
	i := b.Cvt(r, kir.S32)
	return b.Min(b.Max(i, b.ConstS32(0)), b.ConstS32(int32(in-1))), nil
}

// taps are an axis' two source indices (s32) and weights (f32) for linear mode, or the one
// index (weights unset) for nearest; active is false on an axis Resize leaves alone.
type taps struct {
	active bool
	i1, i2 kir.Value
	w1, w2 kir.Value
}

func axisTaps(b *kir.Builder, p *ref.ResizeParams, ax int, j kir.Value, in int) (taps, error) {
	out, scale := p.OutShape[ax], p.Scales[ax]
	linear := p.Mode == "linear"
	if out == in && scale == 1 {
		i := b.Bitcast(j, kir.S32)
		return taps{i1: i, i2: i}, nil
	}
	x, err := resizeCoord(b, p.CoordMode, j, scale, in, out)
	if err != nil {
		return taps{}, err
	}
	if !linear {
		i, err := nearest(b, p.NearestMode, x, in)
		return taps{i1: i, i2: i}, err
	}
	x = b.Max(b.ConstF32(0), b.Min(x, b.ConstF32(float32(in-1))))
	x1 := b.Min(b.Cvt(x, kir.S32), b.ConstS32(int32(in-1)))
	x2 := b.Min(b.Add(x1, b.ConstS32(1)), b.ConstS32(int32(in-1)))
	d1 := b.Sub(x, b.Cvt(x1, kir.F32))
	d2 := b.Sub(b.Cvt(x2, kir.F32), x)
	same := b.Eq(x1, x2)
	half := b.ConstF32(0.5)
	// weight of x1 is d2, of x2 is d1 (as kernels/ref)
	return taps{active: true, i1: x1, i2: x2, w1: b.Select(same, half, d2), w2: b.Select(same, half, d1)}, nil
}

// BuildResize instantiates ONNX Resize (nearest or linear) of x (shape Shape) where only the
// last two axes change: roles "x", "y". Linear interpolates separably like kernels/ref (the
// second-to-last axis first), with the same f32 operations.
func BuildResize(shape []int, p ref.ResizeParams, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	r := len(shape)
	if r < 2 || len(p.Scales) != r || len(p.OutShape) != r {
		return nil, fmt.Errorf("resize: shape %v with %d scales and output %v", shape, len(p.Scales), p.OutShape)
	}
	for i := 0; i < r-2; i++ {
		if p.OutShape[i] != shape[i] || p.Scales[i] != 1 {
			return nil, fmt.Errorf("resize: axis %d changes (%d -> %d); only the last two may", i, shape[i], p.OutShape[i])
		}
	}
	if p.Mode != "" && p.Mode != "nearest" && p.Mode != "linear" {
		return nil, fmt.Errorf("resize: mode %q is not supported", p.Mode)
	}
	H, W, OH, OW := shape[r-2], shape[r-1], p.OutShape[r-2], p.OutShape[r-1]
	n := eltwise.Prod(p.OutShape)
	if n == 0 || H == 0 || W == 0 {
		return nil, fmt.Errorf("resize: %v -> %v", shape, p.OutShape)
	}
	k, err := newKernel(fmt.Sprintf("resize_%d", n), cfg, target)
	if err != nil {
		return nil, err
	}
	b := k.b
	x, y := k.buffer("x"), k.buffer("y")
	var terr error
	k.run(n, func(e kir.Value) {
		ow := b.Rem(e, b.ConstU32(uint32(OW)))
		t := b.Div(e, b.ConstU32(uint32(OW)))
		oh := b.Rem(t, b.ConstU32(uint32(OH)))
		plane := b.Div(t, b.ConstU32(uint32(OH)))
		xp := b.Index(x, b.Mul(plane, b.ConstU32(uint32(H*W))), 4)
		th, err1 := axisTaps(b, &p, r-2, oh, H)
		tw, err2 := axisTaps(b, &p, r-1, ow, W)
		if err1 != nil || err2 != nil {
			terr = fmt.Errorf("%v %v", err1, err2)
			return
		}
		at := func(h, w kir.Value) kir.Value {
			return b.Ld(kir.Global, kir.F32, b.Index(xp, b.Mad(h, b.ConstS32(int32(W)), w), 4), 0)
		}
		col := func(w kir.Value) kir.Value { // the H-interpolated value at column w
			if !th.active {
				return at(th.i1, w)
			}
			return b.Add(b.Mul(th.w1, at(th.i1, w)), b.Mul(th.w2, at(th.i2, w)))
		}
		var v kir.Value
		if tw.active {
			v = b.Add(b.Mul(tw.w1, col(tw.i1)), b.Mul(tw.w2, col(tw.i2)))
		} else {
			v = col(tw.i1)
		}
		b.Store(y, e, v)
	})
	if terr != nil {
		return nil, terr
	}
	return k.finish("resize", tilesOf(n, cfg.TileM), kernels.Work{FLOPs: 6 * int64(n), BytesRead: 4 * int64(eltwise.Prod(shape)), BytesWritten: 4 * int64(n)})
}
