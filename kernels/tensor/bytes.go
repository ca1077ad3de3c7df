package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// The little-endian element layout shared by ONNX raw_data, the KServe binary tensor
// extension, plan files and device buffers: elements in row-major order, each in
// DType.Size() bytes, least significant byte first. Float16 and BFloat16 are their raw
// uint16 bits; a Bool is one byte, written 0 or 1.

// FromBytesLE decodes little-endian element bytes into a new tensor of dt and shape. b must
// hold exactly NumElements(shape)*dt.Size() bytes; a Bool is true for any non-zero byte.
// The tensor does not share memory with b. It fails, never panics, on a negative dim, an
// element type without a byte layout, or a wrong length (naming the bytes needed and given).
func FromBytesLE(dt DType, shape []int, b []byte) (*Tensor, error) {
	size := dt.Size()
	if size == 0 {
		return nil, fmt.Errorf("element type %v has no byte layout", dt)
	}
	want, err := byteLen(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("%w (%d bytes given)", err, len(b))
	}
	if uint64(len(b)) != want {
		return nil, fmt.Errorf("%v%v needs %d bytes, got %d", dt, shape, want, len(b))
	}
	n := len(b) / size
	le := binary.LittleEndian
	t := &Tensor{DType: dt, Shape: append([]int{}, shape...)}
	switch dt {
	case Float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		t.Data = v
	case Float16, BFloat16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(b[2*i:])
		}
		t.Data = v
	case Float64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		t.Data = v
	case Int8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(b[i])
		}
		t.Data = v
	case Uint8:
		t.Data = append(make([]uint8, 0, n), b...)
	case Int16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(b[2*i:]))
		}
		t.Data = v
	case Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(b[4*i:]))
		}
		t.Data = v
	case Int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(b[8*i:]))
		}
		t.Data = v
	case Bool:
		v := make([]bool, n)
		for i := range v {
			v[i] = b[i] != 0
		}
		t.Data = v
	default:
		return nil, fmt.Errorf("element type %v has no byte layout", dt)
	}
	return t, nil
}

// byteLen is the byte size of a tensor of dt and shape, refusing negative dims and sizes
// that overflow 64 bits.
func byteLen(dt DType, shape []int) (uint64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dim", shape)
		}
	}
	if slices.Contains(shape, 0) {
		return 0, nil
	}
	n := uint64(dt.Size())
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return 0, fmt.Errorf("%v%v is too large", dt, shape)
		}
		n = lo
	}
	return n, nil
}

// BytesLE returns t's elements as little-endian bytes in a new slice (see FromBytesLE for
// the layout). It fails when t.Check does.
func (t *Tensor) BytesLE() ([]byte, error) {
	return t.AppendBytesLE(nil)
}

// AppendBytesLE appends t's elements to dst as little-endian bytes, a Bool as one byte 0
// or 1, and returns the extended slice. It fails when t is nil or t.Check does.
func (t *Tensor) AppendBytesLE(dst []byte) ([]byte, error) {
	if t == nil {
		return dst, errors.New("nil tensor")
	}
	if err := t.Check(); err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, t.Len()*t.DType.Size())
	le := binary.LittleEndian
	switch v := t.Data.(type) {
	case []float32:
		for _, x := range v {
			dst = le.AppendUint32(dst, math.Float32bits(x))
		}
	case []uint16:
		for _, x := range v {
			dst = le.AppendUint16(dst, x)
		}
	case []float64:
		for _, x := range v {
			dst = le.AppendUint64(dst, math.Float64bits(x))
		}
	case []int8:
		for _, x := range v {
			dst = append(dst, byte(x))
		}
	case []uint8:
		dst = append(dst, v...)
	case []int16:
		for _, x := range v {
			dst = le.AppendUint16(dst, uint16(x))
		}
	case []int32:
		for _, x := range v {
			dst = le.AppendUint32(dst, uint32(x))
		}
	case []int64:
		for _, x := range v {
			dst = le.AppendUint64(dst, uint64(x))
		}
	case []bool:
		for _, x := range v {
			var c byte
			if x {
				c = 1
			}
			dst = append(dst, c)
		}
	}
	return dst, nil
}
