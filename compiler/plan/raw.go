package plan

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// rawBytes is t's data as little-endian bytes.
func rawBytes(t *tensor.Tensor) ([]byte, error) {
	le := binary.LittleEndian
	n := t.Len()
	out := make([]byte, n*t.DType.Size())
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range d {
			le.PutUint64(out[8*i:], math.Float64bits(v))
		}
	case []uint16:
		for i, v := range d {
			le.PutUint16(out[2*i:], v)
		}
	case []int8:
		for i, v := range d {
			out[i] = byte(v)
		}
	case []uint8:
		copy(out, d)
	case []int16:
		for i, v := range d {
			le.PutUint16(out[2*i:], uint16(v))
		}
	case []int32:
		for i, v := range d {
			le.PutUint32(out[4*i:], uint32(v))
		}
	case []int64:
		for i, v := range d {
			le.PutUint64(out[8*i:], uint64(v))
		}
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("cannot save data of Go type %T", t.Data)
	}
	return out, nil
}

// fromRaw decodes little-endian bytes (len checked by the caller) into a tensor.
func fromRaw(dt tensor.DType, shape []int, raw []byte) (*tensor.Tensor, error) {
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if len(raw) != t.Len()*dt.Size() {
		return nil, fmt.Errorf("%d bytes for %v%v", len(raw), dt, shape)
	}
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = le.Uint16(raw[2*i:])
		}
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []uint8:
		copy(d, raw)
	case []int16:
		for i := range d {
			d[i] = int16(le.Uint16(raw[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(le.Uint32(raw[4*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(le.Uint64(raw[8*i:]))
		}
	case []bool:
		for i := range d {
			if raw[i] > 1 {
				return nil, fmt.Errorf("bool element %d is %d", i, raw[i])
			}
			d[i] = raw[i] == 1
		}
	}
	return t, nil
}
