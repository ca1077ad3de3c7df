package ref

import (
	"fmt"
	"math"
)

// ResizeParams describes ONNX Resize on any number of axes. Scales[i] is the scale the
// coordinate transform uses on axis i (the given scale, or out/in when sizes were given);
// OutShape is the output shape.
type ResizeParams struct {
	Mode           string // "nearest", "linear" or "cubic"
	CoordMode      string // half_pixel (default), half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn
	NearestMode    string // round_prefer_floor (default), round_prefer_ceil, floor, ceil
	CubicA         float32
	ExcludeOutside bool
	Scales         []float32
	OutShape       []int
}

// originalCoord maps an output coordinate to the input, in float32 like onnxruntime.
func originalCoord(mode string, x, scale float32, inLen, outLen int) (float32, error) {
	switch mode {
	case "", "half_pixel":
		return (x+0.5)/scale - 0.5, nil
	case "half_pixel_symmetric":
		adj := float32(outLen) / (scale * float32(inLen))
		center := float32(inLen) / 2
		off := center * (1 - adj)
		return off + (x+0.5)/scale - 0.5, nil
	case "pytorch_half_pixel":
		if outLen > 1 {
			return (x+0.5)/scale - 0.5, nil
		}
		return 0, nil
	case "align_corners":
		if outLen == 1 {
			return 0, nil
		}
		return x * float32(inLen-1) / float32(outLen-1), nil
	case "asymmetric":
		return x / scale, nil
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale, nil
	}
	return 0, fmt.Errorf("coordinate_transformation_mode %q is not supported", mode)
}

func nearestIndex(mode string, x float32, inLen int) (int, error) {
	var i int
	switch mode {
	case "", "round_prefer_floor":
		if x == float32(int64(x))+0.5 {
			i = int(math.Floor(float64(x)))
		} else {
			i = int(math.Round(float64(x)))
		}
	case "round_prefer_ceil":
		i = int(math.Round(float64(x)))
	case "floor":
		i = int(math.Floor(float64(x)))
	case "ceil":
		i = int(math.Ceil(float64(x)))
	default:
		return 0, fmt.Errorf("nearest_mode %q is not supported", mode)
	}
	return min(max(i, 0), inLen-1), nil
}

func (p *ResizeParams) check(shape []int) error {
	if len(p.Scales) != len(shape) || len(p.OutShape) != len(shape) {
		return fmt.Errorf("resize: %d scales and output shape %v for input rank %d", len(p.Scales), p.OutShape, len(shape))
	}
	for i, s := range p.Scales {
		if !(s > 0) || p.OutShape[i] < 0 {
			return fmt.Errorf("resize: scale %v / output size %d on axis %d", s, p.OutShape[i], i)
		}
		if shape[i] == 0 && p.OutShape[i] > 0 {
			return fmt.Errorf("resize: cannot resize the empty axis %d to %d", i, p.OutShape[i])
		}
	}
	return nil
}

// ResizeNearest resizes in (any element type) with nearest-neighbour sampling.
func ResizeNearest[T any](in []T, shape []int, p ResizeParams) ([]T, error) {
	if err := p.check(shape); err != nil {
		return nil, err
	}
	maps := make([][]int, len(shape))
	for ax, d := range shape {
		o := p.OutShape[ax]
		m := make([]int, o)
		for j := range m {
			x := float32(j)
			if p.Scales[ax] != 1 || o != d {
				var err error
				if x, err = originalCoord(p.CoordMode, float32(j), p.Scales[ax], d, o); err != nil {
					return nil, err
				}
			}
			i, err := nearestIndex(p.NearestMode, x, d)
			if err != nil {
				return nil, err
			}
			m[j] = i
		}
		maps[ax] = m
	}
	var zero T
	out, _ := AxisMapGather(in, shape, maps, zero)
	return out, nil
}

// Resize resizes a float32 tensor with p.Mode nearest, linear or cubic. Linear and cubic
// are applied separably, one axis at a time, on the axes whose size or scale changes.
func Resize(in []float32, shape []int, p ResizeParams) ([]float32, error) {
	switch p.Mode {
	case "", "nearest":
		return ResizeNearest(in, shape, p)
	case "linear", "cubic":
	default:
		return nil, fmt.Errorf("resize: mode %q is not supported", p.Mode)
	}
	if err := p.check(shape); err != nil {
		return nil, err
	}
	if len(in) != prod(shape) {
		return nil, fmt.Errorf("resize: %d elements for shape %v", len(in), shape)
	}
	cur := in
	cs := append([]int{}, shape...)
	for ax, d := range shape {
		o := p.OutShape[ax]
		if o == d && p.Scales[ax] == 1 {
			continue
		}
		idx, wts, nt, err := p.taps(d, o, p.Scales[ax])
		if err != nil {
			return nil, err
		}
		outer, inner := prod(cs[:ax]), prod(cs[ax+1:])
		next := make([]float32, outer*o*inner)
		src := cur
		parallelFor(outer*o, max(1, elemGrain/max(inner*nt, 1)), 0, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ob, j := r/o, r%o
				dst := next[r*inner : (r+1)*inner]
				clear(dst)
				for t := 0; t < nt; t++ {
					w := wts[j*nt+t]
					if w == 0 {
						continue
					}
					s := src[(ob*d+idx[j*nt+t])*inner:]
					s = s[:inner]
					for k := range dst {
						dst[k] += w * s[k]
					}
				}
			}
		})
		cur = next
		cs[ax] = o
	}
	if len(cur) > 0 && &cur[0] == &in[0] {
		cur = append([]float32(nil), in...)
	}
	return cur, nil
}

// taps returns, per output index, nt input indices and weights along one axis.
func (p *ResizeParams) taps(inLen, outLen int, scale float32) ([]int, []float32, int, error) {
	nt := 2
	if p.Mode == "cubic" {
		nt = 4
	}
	idx := make([]int, outLen*nt)
	wts := make([]float32, outLen*nt)
	for j := 0; j < outLen; j++ {
		x, err := originalCoord(p.CoordMode, float32(j), scale, inLen, outLen)
		if err != nil {
			return nil, nil, 0, err
		}
		if p.Mode == "linear" {
			x = max(0, min(x, float32(inLen-1)))
			x1 := min(int(x), inLen-1)
			x2 := min(x1+1, inLen-1)
			d1 := x - float32(x1)
			d2 := float32(x2) - x
			if x1 == x2 {
				d1, d2 = 0.5, 0.5
			}
			idx[j*2], idx[j*2+1] = x1, x2
			wts[j*2], wts[j*2+1] = d2, d1
			continue
		}
		a := p.CubicA
		base := float32(math.Floor(float64(x)))
		t := x - base
		c := [4]float32{cubicW(t+1, a), cubicW(t, a), cubicW(1-t, a), cubicW(2-t, a)}
		var sum float32
		for k := 0; k < 4; k++ {
			i := int(base) - 1 + k
			if i < 0 || i >= inLen {
				if p.ExcludeOutside {
					c[k] = 0
				}
				i = min(max(i, 0), inLen-1)
			}
			idx[j*4+k] = i
			sum += c[k]
		}
		for k := 0; k < 4; k++ {
			if p.ExcludeOutside && sum != 0 {
				c[k] /= sum
			}
			wts[j*4+k] = c[k]
		}
	}
	return idx, wts, nt, nil
}

func cubicW(x, a float32) float32 {
	x = float32(math.Abs(float64(x)))
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}
