// Package tensor is the ground floor of ElasticRoom: element types, dense host tensors and
// the .npy file format. Every other package may import it; it imports nothing of ours.
package tensor

import (
	"fmt"
	"strings"
)

// DType is an element type. The names follow ONNX's TensorProto.DataType.
type DType uint8

// The element types the engine knows. Float16 and BFloat16 are stored as raw uint16 bits.
const (
	Undefined DType = iota
	Float32
	Float16
	BFloat16
	Float64
	Int8
	Uint8
	Int16
	Int32
	Int64
	Bool
)

var dtypeNames = [...]string{"undefined", "float32", "float16", "bfloat16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"}
var dtypeSizes = [...]int{0, 4, 2, 2, 8, 1, 1, 2, 4, 8, 1}

func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the size of one element in bytes (0 for Undefined).
func (d DType) Size() int {
	if int(d) < len(dtypeSizes) {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// ParseDType reads a name as printed by String.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if i > 0 && n == strings.ToLower(s) {
			return DType(i), nil
		}
	}
	return Undefined, fmt.Errorf("unknown element type %q", s)
}

// Tensor is a dense, row-major (C order) host tensor. Data holds a slice whose Go type
// matches DType: []float32, []uint16 (Float16, BFloat16: raw bits), []float64, []int8,
// []uint8, []int16, []int32, []int64 or []bool. A scalar has an empty Shape and one element.
type Tensor struct {
	DType DType
	Shape []int
	Data  any
}

// NumElements is the product of the dims (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// New returns a zeroed tensor. It fails on a negative dim or an unknown dtype.
func New(dt DType, shape []int) (*Tensor, error) {
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor shape %v has a negative dim", shape)
		}
	}
	n := NumElements(shape)
	var data any
	switch dt {
	case Float32:
		data = make([]float32, n)
	case Float16, BFloat16:
		data = make([]uint16, n)
	case Float64:
		data = make([]float64, n)
	case Int8:
		data = make([]int8, n)
	case Uint8:
		data = make([]uint8, n)
	case Int16:
		data = make([]int16, n)
	case Int32:
		data = make([]int32, n)
	case Int64:
		data = make([]int64, n)
	case Bool:
		data = make([]bool, n)
	default:
		return nil, fmt.Errorf("cannot make a tensor of element type %v", dt)
	}
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: data}, nil
}

// MustNew is New for shapes and types the caller has already checked.
func MustNew(dt DType, shape []int) *Tensor {
	t, err := New(dt, shape)
	if err != nil {
		panic(err)
	}
	return t
}

// FromFloat32 wraps data (not copied) with the given shape.
func FromFloat32(shape []int, data []float32) *Tensor {
	return &Tensor{DType: Float32, Shape: append([]int{}, shape...), Data: data}
}

// FromInt64 wraps data (not copied) with the given shape.
func FromInt64(shape []int, data []int64) *Tensor {
	return &Tensor{DType: Int64, Shape: append([]int{}, shape...), Data: data}
}

// FromBool wraps data (not copied) with the given shape.
func FromBool(shape []int, data []bool) *Tensor {
	return &Tensor{DType: Bool, Shape: append([]int{}, shape...), Data: data}
}

// Float32s returns the data of a Float32 tensor, or nil for another type.
func (t *Tensor) Float32s() []float32 { v, _ := t.Data.([]float32); return v }

// Int64s returns the data of an Int64 tensor, or nil for another type.
func (t *Tensor) Int64s() []int64 { v, _ := t.Data.([]int64); return v }

// Int32s returns the data of an Int32 tensor, or nil for another type.
func (t *Tensor) Int32s() []int32 { v, _ := t.Data.([]int32); return v }

// Bools returns the data of a Bool tensor, or nil for another type.
func (t *Tensor) Bools() []bool { v, _ := t.Data.([]bool); return v }

// Float64s returns the data of a Float64 tensor, or nil for another type.
func (t *Tensor) Float64s() []float64 { v, _ := t.Data.([]float64); return v }

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Rank is the number of dims.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Check verifies that Data has the Go type DType calls for and the length Shape calls for.
func (t *Tensor) Check() error {
	var n int
	ok := true
	switch v := t.Data.(type) {
	case []float32:
		n, ok = len(v), t.DType == Float32
	case []uint16:
		n, ok = len(v), t.DType == Float16 || t.DType == BFloat16
	case []float64:
		n, ok = len(v), t.DType == Float64
	case []int8:
		n, ok = len(v), t.DType == Int8
	case []uint8:
		n, ok = len(v), t.DType == Uint8
	case []int16:
		n, ok = len(v), t.DType == Int16
	case []int32:
		n, ok = len(v), t.DType == Int32
	case []int64:
		n, ok = len(v), t.DType == Int64
	case []bool:
		n, ok = len(v), t.DType == Bool
	default:
		return fmt.Errorf("tensor data of Go type %T is not supported", t.Data)
	}
	if !ok {
		return fmt.Errorf("tensor of element type %v holds data of Go type %T", t.DType, t.Data)
	}
	if want := t.Len(); n != want {
		return fmt.Errorf("tensor of shape %v needs %d elements, holds %d", t.Shape, want, n)
	}
	return nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int{}, t.Shape...)}
	switch v := t.Data.(type) {
	case []float32:
		c.Data = append([]float32(nil), v...)
	case []uint16:
		c.Data = append([]uint16(nil), v...)
	case []float64:
		c.Data = append([]float64(nil), v...)
	case []int8:
		c.Data = append([]int8(nil), v...)
	case []uint8:
		c.Data = append([]uint8(nil), v...)
	case []int16:
		c.Data = append([]int16(nil), v...)
	case []int32:
		c.Data = append([]int32(nil), v...)
	case []int64:
		c.Data = append([]int64(nil), v...)
	case []bool:
		c.Data = append([]bool(nil), v...)
	}
	return c
}

// Reshaped returns a tensor sharing t's data with another shape of the same element count.
func (t *Tensor) Reshaped(shape []int) (*Tensor, error) {
	if NumElements(shape) != t.Len() {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", t.Shape, t.Len(), shape)
	}
	return &Tensor{DType: t.DType, Shape: append([]int{}, shape...), Data: t.Data}, nil
}

// String is a short description: dtype and shape.
func (t *Tensor) String() string { return fmt.Sprintf("%v%v", t.DType, t.Shape) }
