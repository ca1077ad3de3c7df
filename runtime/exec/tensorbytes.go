package exec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// encode returns t's elements as little-endian bytes, the layout kernels and devices use.
func encode(t *tensor.Tensor) ([]byte, error) {
	n := tensor.NumElements(t.Shape)
	out := make([]byte, n*t.DType.Size())
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d[:n] {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range d[:n] {
			le.PutUint64(out[8*i:], math.Float64bits(v))
		}
	case []uint16:
		for i, v := range d[:n] {
			le.PutUint16(out[2*i:], v)
		}
	case []int8:
		for i, v := range d[:n] {
			out[i] = byte(v)
		}
	case []uint8:
		copy(out, d[:n])
	case []int16:
		for i, v := range d[:n] {
			le.PutUint16(out[2*i:], uint16(v))
		}
	case []int32:
		for i, v := range d[:n] {
			le.PutUint32(out[4*i:], uint32(v))
		}
	case []int64:
		for i, v := range d[:n] {
			le.PutUint64(out[8*i:], uint64(v))
		}
	case []bool:
		for i, v := range d[:n] {
			if v {
				out[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("tensor of %v holds %T", t.DType, t.Data)
	}
	return out, nil
}

// decode builds a tensor of dt and shape from little-endian bytes.
func decode(dt tensor.DType, shape []int, b []byte) (*tensor.Tensor, error) {
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, err
	}
	n := tensor.NumElements(shape)
	if len(b) < n*dt.Size() {
		return nil, fmt.Errorf("%d bytes for %v%v", len(b), dt, shape)
	}
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = le.Uint16(b[2*i:])
		}
	case []int8:
		for i := range d {
			d[i] = int8(b[i])
		}
	case []uint8:
		copy(d, b)
	case []int16:
		for i := range d {
			d[i] = int16(le.Uint16(b[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(le.Uint32(b[4*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(le.Uint64(b[8*i:]))
		}
	case []bool:
		for i := range d {
			d[i] = b[i] != 0
		}
	}
	return t, nil
}
