package eltwise

import "github.com/elasticroom/elasticroom/kernels/kir"

// BroadcastStrides returns the element strides of a row-major tensor of shape in seen inside
// the broadcast shape out (0 on broadcast and size-1 dims); in is right-aligned against out.
func BroadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(in)
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = s
		}
		s *= in[i]
	}
	return st
}

// Collapse drops size-1 dims of shape and merges adjacent dims that are contiguous in every
// operand's strides (strides[k][i] is operand k's element stride on dim i). It returns the
// collapsed dims (at least one) and each operand's strides over them.
func Collapse(shape []int, strides ...[]int) ([]int, [][]int) {
	var dims []int
	sts := make([][]int, len(strides))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 {
			ok := true
			for k, st := range strides {
				if sts[k][n-1] != st[i]*d {
					ok = false
					break
				}
			}
			if ok {
				dims[n-1] *= d
				for k, st := range strides {
					sts[k][n-1] = st[i]
				}
				continue
			}
		}
		dims = append(dims, d)
		for k, st := range strides {
			sts[k] = append(sts[k], st[i])
		}
	}
	if len(dims) == 0 {
		dims = []int{1}
		for k := range sts {
			sts[k] = []int{0}
		}
	}
	return dims, sts
}

// Coords emits the row-major coordinates (u32) of the linear index i (u32) in a tensor of
// the given dims, outermost first. The outermost coordinate is not reduced modulo its dim.
func Coords(b *kir.Builder, i kir.Value, dims []int) []kir.Value {
	c := make([]kir.Value, len(dims))
	rem := i
	for d := len(dims) - 1; d > 0; d-- {
		if dims[d] == 1 {
			c[d] = b.ConstU32(0)
			continue
		}
		dv := b.ConstU32(uint32(dims[d]))
		q := b.Div(rem, dv)
		c[d] = b.Sub(rem, b.Mul(q, dv))
		rem = q
	}
	c[0] = rem
	return c
}

// Offset emits sum(coords[d] * strides[d]) as a u32 (negative strides wrap, which is right as
// long as the final offset is in range); zero strides cost nothing.
func Offset(b *kir.Builder, coords []kir.Value, strides []int) kir.Value {
	var off kir.Value
	for d, s := range strides {
		if s == 0 {
			continue
		}
		var t kir.Value
		if s == 1 {
			t = coords[d]
		} else {
			t = b.Mul(coords[d], b.ConstU32(uint32(int32(s))))
		}
		if off.Valid() {
			off = b.Add(off, t)
		} else {
			off = t
		}
	}
	if !off.Valid() {
		return b.ConstU32(0)
	}
	return off
}

// Contiguous reports whether strides are the row-major strides of dims (size-1 dims ignored).
func Contiguous(dims, strides []int) bool {
	s := 1
	for d := len(dims) - 1; d >= 0; d-- {
		if dims[d] != 1 && strides[d] != s {
			return false
		}
		s *= dims[d]
	}
	return true
}

// Prod is the product of dims.
func Prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}
