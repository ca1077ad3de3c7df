package ref

import (
	"fmt"
	"math"
)

// Softmax computes softmax (or log-softmax) of in along axis (normalized) into out.
func Softmax(in []float32, shape []int, axis int, log bool, out []float32) error {
	if axis < 0 || axis >= len(shape) || len(in) != prod(shape) || len(out) != len(in) {
		return fmt.Errorf("softmax: axis %d on shape %v", axis, shape)
	}
	pre, r, post := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	parallelFor(pre*post, max(1, elemGrain/max(r, 1)/4), 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p, q := i/post, i%post
			base := p*r*post + q
			if post == 1 {
				softmaxRow(in[base:base+r], out[base:base+r], log)
				continue
			}
			mx := float32(math.Inf(-1))
			for k := 0; k < r; k++ {
				mx = max(mx, in[base+k*post])
			}
			var s float64
			for k := 0; k < r; k++ {
				e := math.Exp(float64(in[base+k*post] - mx))
				s += e
				if !log {
					out[base+k*post] = float32(e)
				}
			}
			for k := 0; k < r; k++ {
				if log {
					out[base+k*post] = in[base+k*post] - mx - float32(math.Log(s))
				} else {
					out[base+k*post] = float32(float64(out[base+k*post]) / s)
				}
			}
		}
	})
	return nil
}

func softmaxRow(in, out []float32, log bool) {
	mx := float32(math.Inf(-1))
	for _, v := range in {
		mx = max(mx, v)
	}
	var s float64
	if log {
		for _, v := range in {
			s += math.Exp(float64(v - mx))
		}
		ls := float32(math.Log(s))
		for i, v := range in {
			out[i] = v - mx - ls
		}
		return
	}
	for i, v := range in {
		e := float32(math.Exp(float64(v - mx)))
		out[i] = e
		s += float64(e)
	}
	inv := float32(1 / s)
	for i := range out {
		out[i] *= inv
	}
}

// Hardmax writes 1 at the first maximum along axis and 0 elsewhere.
func Hardmax(in []float32, shape []int, axis int, out []float32) error {
	if axis < 0 || axis >= len(shape) || len(in) != prod(shape) || len(out) != len(in) {
		return fmt.Errorf("hardmax: axis %d on shape %v", axis, shape)
	}
	idx, err := ArgReduce(in, shape, axis, true, false)
	if err != nil {
		return err
	}
	clear(out)
	pre, r, post := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	for p := 0; p < pre; p++ {
		for q := 0; q < post; q++ {
			out[p*r*post+int(idx[p*post+q])*post+q] = 1
		}
	}
	return nil
}
