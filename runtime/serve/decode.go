package serve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// InferRequest is a decoded inference request, not yet checked against a model.
type InferRequest struct {
	ID string
	// Inputs in the order the request gives them; names are unique.
	Inputs []NamedTensor
	// Outputs the client asked for; empty means every output of the model.
	Outputs []RequestedOutput
	// BinaryOutput is the request parameter binary_data_output: outputs not named in
	// Outputs with their own binary_data come back as binary data.
	BinaryOutput bool
	// Parameters are the request-level parameters as given.
	Parameters map[string]json.RawMessage
}

// NamedTensor is one input of a request. Tensor.Check() holds for every decoded tensor.
type NamedTensor struct {
	Name   string
	Tensor *tensor.Tensor
}

// RequestedOutput is one entry of the request's "outputs".
type RequestedOutput struct {
	Name string
	// Binary is the output's binary_data parameter; BinarySet says whether it was given.
	Binary, BinarySet bool
}

// DecodeInferRequest decodes a request body. headerLen is the value of the
// Inference-Header-Content-Length header, or -1 when the header is absent: then the whole
// body is JSON; otherwise the first headerLen bytes are JSON and the rest holds the binary
// tensor data of the inputs that carry a binary_data_size parameter, in their order.
// Every error wraps ErrBadInput and names what was wrong. It never panics.
func DecodeInferRequest(body []byte, headerLen int) (*InferRequest, error) {
	js, bin := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen == 0 || headerLen > len(body) {
			return nil, badInput("Inference-Header-Content-Length %d does not fit a body of %d bytes", headerLen, len(body))
		}
		js, bin = body[:headerLen], body[headerLen:]
	}
	var w wireRequest
	if err := json.Unmarshal(js, &w); err != nil {
		return nil, badInput("malformed JSON request: %v", err)
	}
	req := &InferRequest{ID: w.ID, Parameters: w.Parameters, Inputs: make([]NamedTensor, 0, len(w.Inputs))}
	if raw, ok := w.Parameters["binary_data_output"]; ok {
		if err := json.Unmarshal(raw, &req.BinaryOutput); err != nil {
			return nil, badInput("parameter binary_data_output must be a bool")
		}
	}
	// Every element takes at least one byte of the body, so no valid tensor has more
	// elements than the body has bytes: a bound that stops huge shapes before allocation.
	limit := len(body)
	seen := make(map[string]bool, len(w.Inputs))
	for i := range w.Inputs {
		in := &w.Inputs[i]
		if in.Name == "" {
			return nil, badInput("input %d has no name", i)
		}
		if seen[in.Name] {
			return nil, badInput("input %q is given twice", in.Name)
		}
		seen[in.Name] = true
		t, err := decodeInput(in, &bin, limit)
		if err != nil {
			return nil, err
		}
		req.Inputs = append(req.Inputs, NamedTensor{Name: in.Name, Tensor: t})
	}
	if len(bin) != 0 {
		return nil, badInput("%d bytes of binary data follow the JSON header but no input claims them", len(bin))
	}
	for _, o := range w.Outputs {
		ro := RequestedOutput{Name: o.Name}
		if o.Name == "" {
			return nil, badInput("a requested output has no name")
		}
		if raw, ok := o.Parameters["binary_data"]; ok {
			if err := json.Unmarshal(raw, &ro.Binary); err != nil {
				return nil, badInput("output %q: parameter binary_data must be a bool", o.Name)
			}
			ro.BinarySet = true
		}
		req.Outputs = append(req.Outputs, ro)
	}
	return req, nil
}

func badInput(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadInput)
}

func decodeInput(in *wireInput, bin *[]byte, limit int) (*tensor.Tensor, error) {
	dt, err := ParseDatatype(in.Datatype)
	if err != nil {
		return nil, badInput("input %q: %v", in.Name, err)
	}
	if in.Shape == nil {
		return nil, badInput("input %q has no shape", in.Name)
	}
	shape := make([]int, len(in.Shape))
	n := 1
	for i, d := range in.Shape {
		if d < 0 {
			return nil, badInput("input %q: shape %v has a negative dim", in.Name, in.Shape)
		}
		if d > int64(limit) {
			return nil, badInput("input %q: shape %v is larger than the request", in.Name, in.Shape)
		}
		shape[i] = int(d)
		if n != 0 && d != 0 && n > limit/int(d) {
			return nil, badInput("input %q: shape %v is larger than the request", in.Name, in.Shape)
		}
		n *= int(d)
	}
	if n > limit {
		return nil, badInput("input %q: shape %v is larger than the request", in.Name, in.Shape)
	}
	if raw, ok := in.Parameters["binary_data_size"]; ok {
		var size int64
		if err := json.Unmarshal(raw, &size); err != nil || size < 0 {
			return nil, badInput("input %q: parameter binary_data_size must be a non-negative integer", in.Name)
		}
		if len(in.Data) != 0 && string(in.Data) != "null" {
			return nil, badInput("input %q has both binary_data_size and data", in.Name)
		}
		if size > int64(len(*bin)) {
			return nil, badInput("input %q: binary_data_size %d but only %d bytes of binary data remain", in.Name, size, len(*bin))
		}
		if want := int64(n) * int64(dt.Size()); size != want {
			return nil, badInput("input %q: shape %v of %s needs %d bytes of binary data, binary_data_size is %d", in.Name, shape, in.Datatype, want, size)
		}
		t, err := tensor.FromBytesLE(dt, shape, (*bin)[:size])
		if err != nil {
			return nil, badInput("input %q: %v", in.Name, err)
		}
		*bin = (*bin)[size:]
		return t, nil
	}
	if len(in.Data) == 0 || string(in.Data) == "null" {
		return nil, badInput("input %q has no data", in.Name)
	}
	data, err := decodeJSONData(in.Name, dt, in.Data, n)
	if err != nil {
		return nil, err
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, nil
}

// decodeJSONData reads the "data" of an input: a JSON array, flat or nested (row-major),
// of numbers (or true/false for BOOL), holding exactly n elements.
func decodeJSONData(name string, dt tensor.DType, raw []byte, n int) (any, error) {
	var (
		out   any
		count int
		fn    func(tok []byte) error
	)
	switch dt {
	case tensor.Float32:
		s := make([]float32, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseFloat(str(tok), 32)
			s[count] = float32(v)
			return err
		}
	case tensor.Float64:
		s := make([]float64, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseFloat(str(tok), 64)
			s[count] = v
			return err
		}
	case tensor.Float16, tensor.BFloat16:
		s := make([]uint16, n)
		conv := ref.F32ToF16
		if dt == tensor.BFloat16 {
			conv = ref.F32ToBF16
		}
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseFloat(str(tok), 32)
			s[count] = conv(float32(v))
			return err
		}
	case tensor.Int8:
		s := make([]int8, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseInt(str(tok), 10, 8)
			s[count] = int8(v)
			return err
		}
	case tensor.Int16:
		s := make([]int16, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseInt(str(tok), 10, 16)
			s[count] = int16(v)
			return err
		}
	case tensor.Int32:
		s := make([]int32, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseInt(str(tok), 10, 32)
			s[count] = int32(v)
			return err
		}
	case tensor.Int64:
		s := make([]int64, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseInt(str(tok), 10, 64)
			s[count] = v
			return err
		}
	case tensor.Uint8:
		s := make([]uint8, n)
		out, fn = s, func(tok []byte) error {
			v, err := strconv.ParseUint(str(tok), 10, 8)
			s[count] = uint8(v)
			return err
		}
	case tensor.Bool:
		s := make([]bool, n)
		out, fn = s, func(tok []byte) error {
			switch string(tok) {
			case "true", "1":
				s[count] = true
			case "false", "0":
			default:
				return strconv.ErrSyntax
			}
			return nil
		}
	default:
		return nil, badInput("input %q: datatype %v cannot be read", name, dt)
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, badInput("input %q: data must be a JSON array", name)
	}
	depth := 0
	for i < len(raw) {
		c := raw[i]
		switch c {
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '[':
			depth++
			i++
		case ']':
			depth--
			i++
			if depth == 0 {
				if j := skipSpace(raw, i); j != len(raw) {
					return nil, badInput("input %q: unexpected text after the data array", name)
				}
			}
		case '"', '{':
			return nil, badInput("input %q: data must hold only numbers (or true/false for BOOL)", name)
		default:
			j := i
			for j < len(raw) && !isDelim(raw[j]) {
				j++
			}
			tok := raw[i:j]
			if count >= n {
				return nil, badInput("input %q: shape needs %d elements, data holds more", name, n)
			}
			if err := fn(tok); err != nil {
				return nil, badInput("input %q: element %d (%s) is not a valid %s", name, count, clip(tok), Datatype(dt))
			}
			count++
			i = j
		}
	}
	if depth != 0 {
		return nil, badInput("input %q: unbalanced brackets in data", name)
	}
	if count != n {
		return nil, badInput("input %q: shape needs %d elements, data holds %d", name, n, count)
	}
	return out, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

func isDelim(c byte) bool {
	return c == ',' || c == ']' || c == '[' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '{'
}

// str views tok as a string without copying; strconv copies what it keeps (its errors
// clone their input), and tok is never modified while the view is alive.
func str(tok []byte) string { return unsafe.String(unsafe.SliceData(tok), len(tok)) }

func clip(tok []byte) string {
	if len(tok) > 32 {
		return string(tok[:32]) + "..."
	}
	return string(tok)
}
