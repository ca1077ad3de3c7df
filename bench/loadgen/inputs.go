package loadgen

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
)

// InferBody builds an inference request for md with seeded random inputs, in the binary
// tensor data extension: a JSON header (its length is the second result, for the
// Inference-Header-Content-Length header) followed by each input's little-endian bytes.
// Dynamic dims (-1) take size 1. Floats are N(0, 1); integers are 0 or 1 (valid token ids,
// masks and indices of any model); booleans are random. Outputs are asked as binary data.
func InferBody(md *Metadata, seed uint64) ([]byte, int, error) {
	type param struct {
		Size int `json:"binary_data_size"`
	}
	type input struct {
		Name       string `json:"name"`
		Shape      []int  `json:"shape"`
		Datatype   string `json:"datatype"`
		Parameters param  `json:"parameters"`
	}
	hdr := struct {
		Inputs     []input         `json:"inputs"`
		Parameters map[string]bool `json:"parameters"`
	}{Parameters: map[string]bool{"binary_data_output": true}}
	rng := rand.New(rand.NewPCG(seed, 0x1f))
	var data []byte
	for _, in := range md.Inputs {
		shape := make([]int, len(in.Shape))
		n := 1
		for i, d := range in.Shape {
			shape[i] = max(d, 1)
			n *= shape[i]
		}
		if n > 1<<28 {
			return nil, 0, fmt.Errorf("input %q: shape %v is too large", in.Name, shape)
		}
		before := len(data)
		var err error
		if data, err = appendRandom(data, in.Datatype, n, rng); err != nil {
			return nil, 0, fmt.Errorf("input %q: %w", in.Name, err)
		}
		hdr.Inputs = append(hdr.Inputs, input{Name: in.Name, Shape: shape, Datatype: in.Datatype, Parameters: param{Size: len(data) - before}})
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, 0, err
	}
	return append(js, data...), len(js), nil
}

func appendRandom(b []byte, dt string, n int, rng *rand.Rand) ([]byte, error) {
	le := binary.LittleEndian
	switch dt {
	case "FP32":
		for range n {
			b = le.AppendUint32(b, math.Float32bits(float32(rng.NormFloat64())))
		}
	case "FP64":
		for range n {
			b = le.AppendUint64(b, math.Float64bits(rng.NormFloat64()))
		}
	case "INT64":
		for range n {
			b = le.AppendUint64(b, uint64(rng.IntN(2)))
		}
	case "INT32":
		for range n {
			b = le.AppendUint32(b, uint32(rng.IntN(2)))
		}
	case "INT16":
		for range n {
			b = le.AppendUint16(b, uint16(rng.IntN(2)))
		}
	case "INT8", "UINT8", "BOOL":
		for range n {
			b = append(b, byte(rng.IntN(2)))
		}
	default:
		return nil, fmt.Errorf("datatype %s: the load generator makes FP32, FP64, INT64, INT32, INT16, INT8, UINT8 and BOOL inputs", dt)
	}
	return b, nil
}
