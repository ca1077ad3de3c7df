package ref

import (
	"fmt"
	"math"
)

// LpNormalize is ONNX LpNormalization: x / ||x||_p along axis (p is 1 or 2). A slice whose
// norm is zero comes out as zeros (onnxruntime's behavior) rather than NaN.
func LpNormalize[T Float](in []T, shape []int, axis, p int) ([]T, error) {
	if len(in) != prod(shape) {
		return nil, fmt.Errorf("lpnormalization: %d elements for shape %v", len(in), shape)
	}
	if axis < 0 || axis >= len(shape) {
		return nil, fmt.Errorf("lpnormalization: axis %d out of range for shape %v", axis, shape)
	}
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("lpnormalization: p must be 1 or 2, got %d", p)
	}
	outer, d, inner := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	out := make([]T, len(in))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*d*inner + i
			var s float64
			for k := 0; k < d; k++ {
				v := float64(in[base+k*inner])
				if p == 1 {
					s += math.Abs(v)
				} else {
					s += v * v
				}
			}
			if p == 2 {
				s = math.Sqrt(s)
			}
			if s == 0 {
				continue
			}
			for k := 0; k < d; k++ {
				out[base+k*inner] = T(float64(in[base+k*inner]) / s)
			}
		}
	}
	return out, nil
}

// OneHot is ONNX OneHot: indices of shape ishape become a tensor with a new axis of size
// depth inserted at axis (0..len(ishape)), holding on where the index matches and off
// elsewhere. Negative indices count from depth; indices outside [-depth, depth) give a row
// of off values.
func OneHot[T any](indices []int64, ishape []int, depth, axis int, off, on T) ([]T, []int, error) {
	if len(indices) != prod(ishape) {
		return nil, nil, fmt.Errorf("onehot: %d indices for shape %v", len(indices), ishape)
	}
	if depth < 1 {
		return nil, nil, fmt.Errorf("onehot: depth %d must be positive", depth)
	}
	if axis < 0 || axis > len(ishape) {
		return nil, nil, fmt.Errorf("onehot: axis %d out of range for indices of rank %d", axis, len(ishape))
	}
	oshape := append(append(append([]int{}, ishape[:axis]...), depth), ishape[axis:]...)
	outer, inner := prod(ishape[:axis]), prod(ishape[axis:])
	out := make([]T, len(indices)*depth)
	for i := range out {
		out[i] = off
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			k := indices[o*inner+i]
			if k < 0 {
				k += int64(depth)
			}
			if k < 0 || k >= int64(depth) {
				continue
			}
			out[(o*depth+int(k))*inner+i] = on
		}
	}
	return out, oshape, nil
}

// Trilu is ONNX Trilu on the last two dims of shape (rank >= 2): upper keeps the elements
// with col-row >= k, lower those with col-row <= k; the rest become zero.
func Trilu[T any](in []T, shape []int, k int64, upper bool) ([]T, error) {
	if len(shape) < 2 {
		return nil, fmt.Errorf("trilu: input of shape %v, want rank >= 2", shape)
	}
	if len(in) != prod(shape) {
		return nil, fmt.Errorf("trilu: %d elements for shape %v", len(in), shape)
	}
	r, c := shape[len(shape)-2], shape[len(shape)-1]
	out := make([]T, len(in))
	for b := 0; b < len(in)/max(r*c, 1); b++ {
		for i := 0; i < r; i++ {
			row := b*r*c + i*c
			for j := 0; j < c; j++ {
				d := int64(j - i)
				if (upper && d >= k) || (!upper && d <= k) {
					out[row+j] = in[row+j]
				}
			}
		}
	}
	return out, nil
}
