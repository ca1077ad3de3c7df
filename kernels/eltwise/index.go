package eltwise

import (
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// BroadcastStrides returns the element strides of a row-major tensor of shape in seen inside
// the broadcast shape out (0 on broadcast and size-1 dims); in is right-aligned against out.
// It is ref.BroadcastStrides: the device kernels index exactly as the host reference does.
func BroadcastStrides(in, out []int) []int { return ref.BroadcastStrides(in, out) }

// Collapse drops size-1 dims of shape and merges adjacent dims that are contiguous in every
// operand's strides (strides[k][i] is operand k's element stride on dim i). It returns the
// collapsed dims (at least one) and each operand's strides over them. It is ref.Collapse,
// except that when every dim has size 1 the single dim 1 has stride 0 (a size-1 dim costs
// no index arithmetic in Offset) where ref gives 1.
func Collapse(shape []int, strides ...[]int) ([]int, [][]int) {
	dims, sts := ref.Collapse(shape, strides...)
	if len(dims) == 1 && dims[0] == 1 {
		for k := range sts {
			sts[k][0] = 0
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

// Prod is the product of dims (tensor.NumElements).
func Prod(dims []int) int { return tensor.NumElements(dims) }
