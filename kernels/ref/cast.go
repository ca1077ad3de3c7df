package ref

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// F32ToF16 converts to IEEE half precision bits, rounding to nearest even; overflow gives
// infinity, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	man := b & 0x7fffff
	if exp == 0xff { // inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal or zero in half
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(h)
}

// F16ToF32 converts IEEE half precision bits to float32 (exact).
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalize
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		man &= 0x3ff
		return math.Float32frombits(sign | e<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// F32ToBF16 converts to bfloat16 bits, rounding to nearest even; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToF32 converts bfloat16 bits to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ToFloat32 returns t's data as float32 (a copy, except for Float32 tensors whose data is
// returned as is). Integer and bool types convert by value.
func ToFloat32(t *tensor.Tensor) ([]float32, error) {
	if t.DType == tensor.Float32 {
		if v, ok := t.Data.([]float32); ok {
			return v, nil
		}
	}
	c, err := Cast(t, tensor.Float32)
	if err != nil {
		return nil, err
	}
	return c.Float32s(), nil
}

// Cast converts t to the element type to (ONNX Cast: floats to integers truncate toward
// zero, anything to bool is != 0, float16/bfloat16 round to nearest even).
func Cast(t *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("cast: %w", err)
	}
	out, err := tensor.New(to, t.Shape)
	if err != nil {
		return nil, fmt.Errorf("cast: %w", err)
	}
	src := t.Data
	switch t.DType {
	case tensor.Float16, tensor.BFloat16:
		h := t.Data.([]uint16)
		if to == t.DType {
			copy(out.Data.([]uint16), h)
			return out, nil
		}
		f := make([]float32, len(h))
		conv := F16ToF32
		if t.DType == tensor.BFloat16 {
			conv = BF16ToF32
		}
		for i, v := range h {
			f[i] = conv(v)
		}
		src = f
	}
	switch d := out.Data.(type) {
	case []float32:
		castInto(src, d)
	case []float64:
		castInto(src, d)
	case []int8:
		castInto(src, d)
	case []uint8:
		castInto(src, d)
	case []int16:
		castInto(src, d)
	case []int32:
		castInto(src, d)
	case []int64:
		castInto(src, d)
	case []uint16:
		f := make([]float32, len(d))
		castInto(src, f)
		conv := F32ToF16
		if to == tensor.BFloat16 {
			conv = F32ToBF16
		}
		for i, v := range f {
			d[i] = conv(v)
		}
	case []bool:
		switch s := src.(type) {
		case []bool:
			copy(d, s)
		case []float32:
			nonZero(s, d)
		case []float64:
			nonZero(s, d)
		case []int8:
			nonZero(s, d)
		case []uint8:
			nonZero(s, d)
		case []int16:
			nonZero(s, d)
		case []int32:
			nonZero(s, d)
		case []int64:
			nonZero(s, d)
		}
	}
	return out, nil
}

func nonZero[S Number](s []S, d []bool) {
	for i, v := range s {
		d[i] = v != 0
	}
}

func castInto[D Number](src any, dst []D) {
	switch s := src.(type) {
	case []float32:
		convert(s, dst)
	case []float64:
		convert(s, dst)
	case []int8:
		convert(s, dst)
	case []uint8:
		convert(s, dst)
	case []int16:
		convert(s, dst)
	case []int32:
		convert(s, dst)
	case []int64:
		convert(s, dst)
	case []bool:
		for i, v := range s {
			if v {
				dst[i] = 1
			}
		}
	}
}

func convert[S, D Number](s []S, d []D) {
	for i, v := range s {
		d[i] = D(v)
	}
}
