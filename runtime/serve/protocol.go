package serve

import (
	"encoding/json"
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// The JSON shapes of the protocol (KServe v2 / Open Inference Protocol, as Triton speaks it).

// ServerMetadata is the answer to GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// ModelMetadata is the answer to GET /v2/models/{name}.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// TensorMetadata is one input or output in ModelMetadata.
type TensorMetadata struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

// ModelReady is the answer to GET /v2/models/{name}/ready.
type ModelReady struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
}

// ErrorResponse is the body of every answer that is not a success.
type ErrorResponse struct {
	Error string `json:"error"`
}

// wireRequest is an inference request as it arrives.
type wireRequest struct {
	ID         string                     `json:"id"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Inputs     []wireInput                `json:"inputs"`
	Outputs    []wireRequestedOutput      `json:"outputs"`
}

type wireInput struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Data       json.RawMessage            `json:"data"`
}

type wireRequestedOutput struct {
	Name       string                     `json:"name"`
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// datatypes maps the protocol's datatype names to element types. UINT16/32/64 and BYTES
// have no element type in the engine and are refused.
var datatypes = map[string]tensor.DType{
	"BOOL":  tensor.Bool,
	"UINT8": tensor.Uint8,
	"INT8":  tensor.Int8,
	"INT16": tensor.Int16,
	"INT32": tensor.Int32,
	"INT64": tensor.Int64,
	"FP16":  tensor.Float16,
	"BF16":  tensor.BFloat16,
	"FP32":  tensor.Float32,
	"FP64":  tensor.Float64,
}

// Datatype is the protocol's name of an element type ("FP32", "INT64", ...).
func Datatype(dt tensor.DType) string {
	switch dt {
	case tensor.Bool:
		return "BOOL"
	case tensor.Uint8:
		return "UINT8"
	case tensor.Int8:
		return "INT8"
	case tensor.Int16:
		return "INT16"
	case tensor.Int32:
		return "INT32"
	case tensor.Int64:
		return "INT64"
	case tensor.Float16:
		return "FP16"
	case tensor.BFloat16:
		return "BF16"
	case tensor.Float32:
		return "FP32"
	case tensor.Float64:
		return "FP64"
	}
	return "INVALID"
}

// ParseDatatype reads a protocol datatype name.
func ParseDatatype(s string) (tensor.DType, error) {
	if dt, ok := datatypes[s]; ok {
		return dt, nil
	}
	return tensor.Undefined, fmt.Errorf("datatype %q is not supported (supported: BOOL UINT8 INT8 INT16 INT32 INT64 FP16 BF16 FP32 FP64)", s)
}

func metadataOf(m ModelInfo) ModelMetadata {
	md := ModelMetadata{Name: m.Name, Versions: m.Versions, Platform: m.Platform,
		Inputs: make([]TensorMetadata, len(m.Inputs)), Outputs: make([]TensorMetadata, len(m.Outputs))}
	for i, t := range m.Inputs {
		md.Inputs[i] = TensorMetadata{Name: t.Name, Datatype: Datatype(t.DType), Shape: nonNil(t.Shape)}
	}
	for i, t := range m.Outputs {
		md.Outputs[i] = TensorMetadata{Name: t.Name, Datatype: Datatype(t.DType), Shape: nonNil(t.Shape)}
	}
	return md
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
