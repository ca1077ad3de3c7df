package ref

import "fmt"

// stridedCopy fills dst (contiguous, of shape dims) from src read at offset off with the
// given per-dim strides (0 for broadcast dims). It splits the rows over goroutines when large.
func stridedCopy[T any](dst, src []T, dims, strides []int, off int) {
	n := len(dst)
	if n == 0 {
		return
	}
	// drop size-1 dims, merge contiguous dims
	odims, sts := collapseStrided(dims, strides)
	r := len(odims)
	inner := odims[r-1]
	is := sts[r-1]
	rows := n / inner
	parallelFor(rows, max(1, elemGrain/inner), 0, func(lo, hi int) {
		idx := make([]int, r)
		rem, o := lo, off
		for d := r - 2; d >= 0; d-- {
			idx[d] = rem % odims[d]
			rem /= odims[d]
			o += idx[d] * sts[d]
		}
		for row := lo; row < hi; row++ {
			out := dst[row*inner : (row+1)*inner]
			switch is {
			case 1:
				copy(out, src[o:o+inner])
			case 0:
				v := src[o]
				for i := range out {
					out[i] = v
				}
			default:
				j := o
				for i := range out {
					out[i] = src[j]
					j += is
				}
			}
			for d := r - 2; d >= 0; d-- {
				idx[d]++
				o += sts[d]
				if idx[d] < odims[d] {
					break
				}
				o -= sts[d] * odims[d]
				idx[d] = 0
			}
		}
	})
}

func collapseStrided(dims, strides []int) ([]int, []int) {
	var od, os []int
	for i, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(od); n > 0 && os[n-1] == strides[i]*d {
			od[n-1] *= d
			os[n-1] = strides[i]
			continue
		}
		od = append(od, d)
		os = append(os, strides[i])
	}
	if len(od) == 0 {
		return []int{1}, []int{1}
	}
	return od, os
}

// Strides returns the row-major strides of shape.
func Strides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// Expand broadcasts in (of shape ishape) to the broadcast of ishape and shape (ONNX Expand).
// It returns a new slice; the result shape is BroadcastShape(ishape, shape).
func Expand[T any](in []T, ishape, shape []int) ([]T, error) {
	if len(in) != prod(ishape) {
		return nil, fmt.Errorf("data of %d elements does not match shape %v", len(in), ishape)
	}
	oshape, err := BroadcastShape(ishape, shape)
	if err != nil {
		return nil, err
	}
	out := make([]T, prod(oshape))
	stridedCopy(out, in, oshape, BroadcastStrides(ishape, oshape), 0)
	return out, nil
}

// Transpose permutes the axes of in (shape) by perm: out.shape[i] = shape[perm[i]]. A nil
// perm reverses the axes.
func Transpose[T any](in []T, shape, perm []int) ([]T, []int, error) {
	r := len(shape)
	if perm == nil {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		return nil, nil, fmt.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
	}
	seen := make([]bool, r)
	for _, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, r-1)
		}
		seen[p] = true
	}
	if len(in) != prod(shape) {
		return nil, nil, fmt.Errorf("data of %d elements does not match shape %v", len(in), shape)
	}
	st := Strides(shape)
	oshape := make([]int, r)
	ost := make([]int, r)
	for i, p := range perm {
		oshape[i] = shape[p]
		ost[i] = st[p]
	}
	out := make([]T, len(in))
	if r == 2 || (r >= 2 && ost[r-1] != 1) {
		transposeTiled(out, in, oshape, ost)
		return out, oshape, nil
	}
	stridedCopy(out, in, oshape, ost, 0)
	return out, oshape, nil
}

// transposeTiled handles permutations whose innermost output axis is strided in the input,
// copying 2-D tiles over the last output axis and the axis that is innermost in the input.
func transposeTiled[T any](out, in []T, oshape, ost []int) {
	// fall back to the generic path; a tiled loop over the two fastest axes keeps cache use
	// reasonable for the common NCHW<->NHWC cases.
	r := len(oshape)
	// find the output axis that has input stride 1
	k := -1
	for i := range ost {
		if ost[i] == 1 && oshape[i] > 1 {
			k = i
		}
	}
	if k < 0 || k == r-1 {
		stridedCopy(out, in, oshape, ost, 0)
		return
	}
	ostr := Strides(oshape)
	// outer dims = all except k and r-1
	var odims, inSt, outSt []int
	for i := 0; i < r-1; i++ {
		if i != k {
			odims = append(odims, oshape[i])
			inSt = append(inSt, ost[i])
			outSt = append(outSt, ostr[i])
		}
	}
	nOuter := prod(odims)
	A, B := oshape[k], oshape[r-1] // A: input-contiguous axis; B: output-contiguous axis
	sa, sb := ostr[k], ost[r-1]    // out stride of A axis; in stride of B axis
	const tile = 32
	parallelFor(nOuter, max(1, elemGrain/(A*B+1)), 0, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			rem, io, oo := o, 0, 0
			for d := len(odims) - 1; d >= 0; d-- {
				x := rem % odims[d]
				rem /= odims[d]
				io += x * inSt[d]
				oo += x * outSt[d]
			}
			for a0 := 0; a0 < A; a0 += tile {
				a1 := min(a0+tile, A)
				for b0 := 0; b0 < B; b0 += tile {
					b1 := min(b0+tile, B)
					for a := a0; a < a1; a++ {
						dst := out[oo+a*sa:]
						src := in[io+a:]
						for b := b0; b < b1; b++ {
							dst[b] = src[b*sb]
						}
					}
				}
			}
		}
	})
}

// SliceAxis is one axis of a Slice: Start index, Step (nonzero) and Count elements taken.
type SliceAxis struct{ Start, Step, Count int }

// SliceParams resolves ONNX Slice's starts/ends/axes/steps (axes already normalized to
// 0..rank-1, steps nonzero) into one SliceAxis per dim of shape.
func SliceParams(shape []int, starts, ends, axes, steps []int64) ([]SliceAxis, error) {
	r := len(shape)
	sl := make([]SliceAxis, r)
	for i, d := range shape {
		sl[i] = SliceAxis{0, 1, d}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, fmt.Errorf("starts, ends, axes and steps have lengths %d, %d, %d, %d", len(starts), len(ends), len(axes), len(steps))
	}
	seen := make([]bool, r)
	for i, ax := range axes {
		if ax < 0 || int(ax) >= r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", ax, r)
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated", ax)
		}
		seen[ax] = true
		d := int64(shape[ax])
		step := steps[i]
		if step == 0 {
			return nil, fmt.Errorf("step 0 on axis %d", ax)
		}
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var cnt int64
		if step > 0 {
			s = clamp64(s, 0, d)
			e = clamp64(e, 0, d)
			if e > s {
				cnt = (e - s + step - 1) / step
			}
		} else {
			s = clamp64(s, 0, d-1)
			e = clamp64(e, -1, d-1)
			if s > e {
				cnt = (s - e + (-step) - 1) / (-step)
			}
		}
		sl[ax] = SliceAxis{int(s), int(step), int(cnt)}
	}
	return sl, nil
}

func clamp64(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Slice copies the slice sl (one SliceAxis per dim) of in.
func Slice[T any](in []T, shape []int, sl []SliceAxis) ([]T, []int, error) {
	if len(sl) != len(shape) || len(in) != prod(shape) {
		return nil, nil, fmt.Errorf("slice of %d axes on data %d elements of shape %v", len(sl), len(in), shape)
	}
	st := Strides(shape)
	oshape := make([]int, len(shape))
	ost := make([]int, len(shape))
	off := 0
	for i, a := range sl {
		if a.Count < 0 || (a.Count > 0 && (a.Start < 0 || a.Start >= shape[i] || a.Start+(a.Count-1)*a.Step < 0 || a.Start+(a.Count-1)*a.Step >= shape[i])) {
			return nil, nil, fmt.Errorf("slice %+v out of range on axis %d of size %d", a, i, shape[i])
		}
		oshape[i] = a.Count
		ost[i] = st[i] * a.Step
		if a.Count > 0 {
			off += a.Start * st[i]
		}
	}
	out := make([]T, prod(oshape))
	stridedCopy(out, in, oshape, ost, off)
	return out, oshape, nil
}

// Concat joins the inputs along axis (0..rank-1); all shapes must agree elsewhere.
func Concat[T any](ins [][]T, shapes [][]int, axis int) ([]T, []int, error) {
	if len(ins) == 0 || len(ins) != len(shapes) {
		return nil, nil, fmt.Errorf("concat of %d inputs with %d shapes", len(ins), len(shapes))
	}
	r := len(shapes[0])
	if axis < 0 || axis >= r {
		return nil, nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	oshape := append([]int{}, shapes[0]...)
	oshape[axis] = 0
	for k, s := range shapes {
		if len(s) != r {
			return nil, nil, fmt.Errorf("input %d has shape %v, rank differs from %v", k, s, shapes[0])
		}
		for i := range s {
			if i != axis && s[i] != shapes[0][i] {
				return nil, nil, fmt.Errorf("input %d has shape %v, incompatible with %v on axis %d", k, s, shapes[0], i)
			}
		}
		if len(ins[k]) != prod(s) {
			return nil, nil, fmt.Errorf("input %d has %d elements for shape %v", k, len(ins[k]), s)
		}
		oshape[axis] += s[axis]
	}
	outer := prod(oshape[:axis])
	inner := prod(oshape[axis+1:])
	out := make([]T, prod(oshape))
	rowOut := oshape[axis] * inner
	off := 0
	for k, in := range ins {
		w := shapes[k][axis] * inner
		for o := 0; o < outer; o++ {
			copy(out[o*rowOut+off:o*rowOut+off+w], in[o*w:(o+1)*w])
		}
		off += w
	}
	return out, oshape, nil
}

// Split cuts in along axis into pieces of the given sizes (which must sum to the axis).
func Split[T any](in []T, shape []int, axis int, sizes []int) ([][]T, [][]int, error) {
	if axis < 0 || axis >= len(shape) {
		return nil, nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(shape))
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return nil, nil, fmt.Errorf("negative split size in %v", sizes)
		}
		total += s
	}
	if total != shape[axis] {
		return nil, nil, fmt.Errorf("split sizes %v sum to %d, axis %d has %d", sizes, total, axis, shape[axis])
	}
	outer := prod(shape[:axis])
	inner := prod(shape[axis+1:])
	row := shape[axis] * inner
	outs := make([][]T, len(sizes))
	shapes := make([][]int, len(sizes))
	off := 0
	for k, s := range sizes {
		sh := append([]int{}, shape...)
		sh[axis] = s
		w := s * inner
		o := make([]T, outer*w)
		for i := 0; i < outer; i++ {
			copy(o[i*w:(i+1)*w], in[i*row+off:i*row+off+w])
		}
		outs[k], shapes[k] = o, sh
		off += w
	}
	return outs, shapes, nil
}

// SplitEven returns ONNX's sizes for num_outputs pieces of an axis of size d: ceil(d/n) each,
// the last one smaller.
func SplitEven(d, n int) ([]int, error) {
	if n <= 0 {
		return nil, fmt.Errorf("num_outputs %d", n)
	}
	c := (d + n - 1) / n
	sizes := make([]int, n)
	left := d
	for i := range sizes {
		sizes[i] = min(c, left)
		left -= sizes[i]
	}
	return sizes, nil
}
