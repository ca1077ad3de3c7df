package exec

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// encode returns t's elements as little-endian bytes, the layout kernels and devices use.
func encode(t *tensor.Tensor) ([]byte, error) { return t.BytesLE() }

// decode builds a tensor of dt and shape from little-endian bytes. b may be longer than the
// tensor (device buffers are rounded up to the arena's alignment); the rest is ignored.
func decode(dt tensor.DType, shape []int, b []byte) (*tensor.Tensor, error) {
	want := tensor.NumElements(shape) * dt.Size()
	if want < 0 || len(b) < want {
		return nil, fmt.Errorf("%d bytes for %v%v", len(b), dt, shape)
	}
	return tensor.FromBytesLE(dt, shape, b[:want])
}
