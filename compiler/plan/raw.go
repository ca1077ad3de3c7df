package plan

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// rawBytes is t's data as little-endian bytes.
func rawBytes(t *tensor.Tensor) ([]byte, error) {
	return t.BytesLE()
}

// fromRaw decodes little-endian bytes into a tensor. Plan files are written by us with
// bools as 0 or 1, so any other bool byte means a corrupt file.
func fromRaw(dt tensor.DType, shape []int, raw []byte) (*tensor.Tensor, error) {
	t, err := tensor.FromBytesLE(dt, shape, raw)
	if err != nil {
		return nil, err
	}
	if dt == tensor.Bool {
		for i, c := range raw {
			if c > 1 {
				return nil, fmt.Errorf("bool element %d is %d", i, c)
			}
		}
	}
	return t, nil
}
