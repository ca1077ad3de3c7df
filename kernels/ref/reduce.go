package ref

import (
	"fmt"
	"math"
	"sort"
)

// ReduceOp is a reduction.
type ReduceOp uint8

// The reductions of ONNX's ReduceX family.
const (
	ReduceSum ReduceOp = iota
	ReduceMean
	ReduceMax
	ReduceMin
	ReduceProd
	ReduceL1
	ReduceL2
	ReduceSumSquare
	ReduceLogSum
	ReduceLogSumExp
)

// ReduceShape returns the output shape of reducing axes (normalized, any order) of shape.
func ReduceShape(shape, axes []int, keepDims bool) []int {
	red := make([]bool, len(shape))
	for _, a := range axes {
		red[a] = true
	}
	var out []int
	for i, d := range shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keepDims:
			out = append(out, 1)
		}
	}
	return out
}

// NormalizeAxes maps negative axes to 0..rank-1 and checks range and repeats.
func NormalizeAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		if a < -int64(rank) || a >= int64(rank) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, rank)
		}
		if a < 0 {
			a += int64(rank)
		}
		if seen[int(a)] {
			return nil, fmt.Errorf("axis %d repeated in %v", a, axes)
		}
		seen[int(a)] = true
		out[i] = int(a)
	}
	return out, nil
}

// Reduce reduces the given axes (normalized; empty means all axes) of in. The result is
// laid out as ReduceShape(shape, axes, keepDims), which has the same element order either way.
func Reduce[T Number](op ReduceOp, in []T, shape []int, axes []int) ([]T, error) {
	if len(in) != prod(shape) {
		return nil, fmt.Errorf("reduce: %d elements for shape %v", len(in), shape)
	}
	if len(axes) == 0 {
		axes = make([]int, len(shape))
		for i := range axes {
			axes[i] = i
		}
	}
	ax := append([]int{}, axes...)
	sort.Ints(ax)
	for _, a := range ax {
		if a < 0 || a >= len(shape) {
			return nil, fmt.Errorf("reduce: axis %d out of range for shape %v", a, shape)
		}
	}
	// contiguous block of axes: [pre, R, post]
	contiguous := true
	for i := 1; i < len(ax); i++ {
		if ax[i] != ax[i-1]+1 {
			contiguous = false
		}
	}
	data, sh := in, shape
	first, last := ax[0], ax[len(ax)-1]
	if !contiguous {
		// move reduced axes to the end
		var perm []int
		red := map[int]bool{}
		for _, a := range ax {
			red[a] = true
		}
		for i := range shape {
			if !red[i] {
				perm = append(perm, i)
			}
		}
		perm = append(perm, ax...)
		var err error
		if data, sh, err = Transpose(in, shape, perm); err != nil {
			return nil, err
		}
		first, last = len(shape)-len(ax), len(shape)-1
	}
	pre := prod(sh[:first])
	r := prod(sh[first : last+1])
	post := prod(sh[last+1:])
	out := make([]T, pre*post)
	parallelFor(pre, max(1, elemGrain/max(1, r*post)), 0, func(lo, hi int) {
		acc := make([]float64, post)
		for p := lo; p < hi; p++ {
			reduceBlock(op, data[p*r*post:(p+1)*r*post], r, post, out[p*post:(p+1)*post], acc)
		}
	})
	return out, nil
}

// reduceBlock reduces src [r, post] over r into dst [post]; acc is scratch of len post.
func reduceBlock[T Number](op ReduceOp, src []T, r, post int, dst []T, acc []float64) {
	switch op {
	case ReduceMax, ReduceMin:
		if r == 0 {
			v := math.Inf(-1)
			if op == ReduceMin {
				v = math.Inf(1)
			}
			for j := range dst {
				dst[j] = T(v)
			}
			return
		}
		copy(dst, src[:post])
		for i := 1; i < r; i++ {
			row := src[i*post : (i+1)*post]
			for j, v := range row {
				if op == ReduceMax {
					if v > dst[j] || v != v {
						dst[j] = v
					}
				} else if v < dst[j] || v != v {
					dst[j] = v
				}
			}
		}
		return
	case ReduceLogSumExp:
		mx := make([]float64, post)
		for j := range mx {
			mx[j] = math.Inf(-1)
		}
		for i := 0; i < r; i++ {
			for j, v := range src[i*post : (i+1)*post] {
				mx[j] = math.Max(mx[j], float64(v))
			}
		}
		clear(acc)
		for i := 0; i < r; i++ {
			for j, v := range src[i*post : (i+1)*post] {
				acc[j] += math.Exp(float64(v) - mx[j])
			}
		}
		for j := range dst {
			dst[j] = T(math.Log(acc[j]) + mx[j])
		}
		return
	}
	init := 0.0
	if op == ReduceProd {
		init = 1
	}
	for j := range acc {
		acc[j] = init
	}
	for i := 0; i < r; i++ {
		row := src[i*post : (i+1)*post]
		switch op {
		case ReduceSum, ReduceMean, ReduceLogSum:
			for j, v := range row {
				acc[j] += float64(v)
			}
		case ReduceProd:
			for j, v := range row {
				acc[j] *= float64(v)
			}
		case ReduceL1:
			for j, v := range row {
				acc[j] += math.Abs(float64(v))
			}
		case ReduceL2, ReduceSumSquare:
			for j, v := range row {
				acc[j] += float64(v) * float64(v)
			}
		}
	}
	for j, a := range acc {
		switch op {
		case ReduceMean:
			a /= float64(r)
		case ReduceL2:
			a = math.Sqrt(a)
		case ReduceLogSum:
			a = math.Log(a)
		}
		dst[j] = T(a)
	}
}

// ArgReduce returns the index of the max (or min) along axis, first occurrence unless
// selectLast. The result has shape with axis removed (callers add keepdims).
func ArgReduce[T Number](in []T, shape []int, axis int, isMax, selectLast bool) ([]int64, error) {
	if axis < 0 || axis >= len(shape) || len(in) != prod(shape) {
		return nil, fmt.Errorf("argmax/argmin: axis %d on shape %v (%d elements)", axis, shape, len(in))
	}
	pre, r, post := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	if r == 0 {
		return nil, fmt.Errorf("argmax/argmin over an empty axis %d", axis)
	}
	out := make([]int64, pre*post)
	for p := 0; p < pre; p++ {
		for q := 0; q < post; q++ {
			base := p*r*post + q
			best, bi := in[base], 0
			for i := 1; i < r; i++ {
				v := in[base+i*post]
				better := v > best
				if !isMax {
					better = v < best
				}
				if better || (selectLast && v == best) {
					best, bi = v, i
				}
			}
			out[p*post+q] = int64(bi)
		}
	}
	return out, nil
}

// CumSum is ONNX CumSum along axis.
func CumSum[T Number](in []T, shape []int, axis int, exclusive, reverse bool) ([]T, error) {
	if axis < 0 || axis >= len(shape) || len(in) != prod(shape) {
		return nil, fmt.Errorf("cumsum: axis %d on shape %v", axis, shape)
	}
	pre, r, post := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	out := make([]T, len(in))
	for p := 0; p < pre; p++ {
		for q := 0; q < post; q++ {
			var s T
			for k := 0; k < r; k++ {
				i := k
				if reverse {
					i = r - 1 - k
				}
				idx := p*r*post + i*post + q
				if exclusive {
					out[idx] = s
					s += in[idx]
				} else {
					s += in[idx]
					out[idx] = s
				}
			}
		}
	}
	return out, nil
}

// TopK returns the k largest (or smallest) entries along axis, sorted when asked, and their
// indices. Ties keep the lower index first.
func TopK[T Number](in []T, shape []int, axis, k int, largest, sorted bool) ([]T, []int64, []int, error) {
	if axis < 0 || axis >= len(shape) || len(in) != prod(shape) {
		return nil, nil, nil, fmt.Errorf("topk: axis %d on shape %v", axis, shape)
	}
	if k < 0 || k > shape[axis] {
		return nil, nil, nil, fmt.Errorf("topk: k=%d for axis of size %d", k, shape[axis])
	}
	pre, r, post := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	oshape := append([]int{}, shape...)
	oshape[axis] = k
	vals := make([]T, pre*k*post)
	idx := make([]int64, pre*k*post)
	order := make([]int, r)
	for p := 0; p < pre; p++ {
		for q := 0; q < post; q++ {
			base := p*r*post + q
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool {
				va, vb := in[base+order[a]*post], in[base+order[b]*post]
				if largest {
					return va > vb
				}
				return va < vb
			})
			for j := 0; j < k; j++ {
				o := p*k*post + j*post + q
				vals[o] = in[base+order[j]*post]
				idx[o] = int64(order[j])
			}
		}
	}
	return vals, idx, oshape, nil
}
