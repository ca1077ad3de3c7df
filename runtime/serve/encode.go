package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// checkInputs matches the request's inputs with the model's: every input known, none
// missing, datatypes equal, ranks equal and fixed dims equal. Errors wrap ErrBadInput.
func checkInputs(m *ModelInfo, req *InferRequest) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(req.Inputs))
	for _, in := range req.Inputs {
		idx := slices.IndexFunc(m.Inputs, func(t TensorInfo) bool { return t.Name == in.Name })
		if idx < 0 {
			return nil, badInput("unknown input %q (model %q takes %s)", in.Name, m.Name, names(m.Inputs))
		}
		want := &m.Inputs[idx]
		if in.Tensor.DType != want.DType {
			return nil, badInput("input %q: datatype %s, model %q expects %s", in.Name, Datatype(in.Tensor.DType), m.Name, Datatype(want.DType))
		}
		if !shapeFits(want.Shape, in.Tensor.Shape) {
			return nil, badInput("input %q: shape %v, model %q expects %v (-1: any size)", in.Name, in.Tensor.Shape, m.Name, want.Shape)
		}
		out[in.Name] = in.Tensor
	}
	for _, want := range m.Inputs {
		if _, ok := out[want.Name]; !ok {
			return nil, badInput("missing input %q (%s, shape %v)", want.Name, Datatype(want.DType), want.Shape)
		}
	}
	return out, nil
}

func shapeFits(want, got []int) bool {
	if len(want) != len(got) {
		return false
	}
	for i, d := range want {
		if d >= 0 && d != got[i] {
			return false
		}
	}
	return true
}

func names(ts []TensorInfo) string {
	q := make([]string, len(ts))
	for i, t := range ts {
		q[i] = strconv.Quote(t.Name)
	}
	if len(q) == 0 {
		return "no inputs"
	}
	return strings.Join(q, ", ")
}

// outputSel is one output to send back.
type outputSel struct {
	name   string
	binary bool
}

// selectOutputs resolves the request's "outputs" against the model's: unknown names are
// refused (ErrBadInput); no selection means every output of the model.
func selectOutputs(m *ModelInfo, req *InferRequest) ([]outputSel, error) {
	if len(req.Outputs) == 0 {
		sel := make([]outputSel, len(m.Outputs))
		for i, o := range m.Outputs {
			sel[i] = outputSel{name: o.Name, binary: req.BinaryOutput}
		}
		return sel, nil
	}
	sel := make([]outputSel, 0, len(req.Outputs))
	seen := make(map[string]bool, len(req.Outputs))
	for _, o := range req.Outputs {
		if !slices.ContainsFunc(m.Outputs, func(t TensorInfo) bool { return t.Name == o.Name }) {
			q := make([]string, len(m.Outputs))
			for i, t := range m.Outputs {
				q[i] = strconv.Quote(t.Name)
			}
			return nil, badInput("unknown output %q (model %q gives %s)", o.Name, m.Name, strings.Join(q, ", "))
		}
		if seen[o.Name] {
			continue
		}
		seen[o.Name] = true
		b := req.BinaryOutput
		if o.BinarySet {
			b = o.Binary
		}
		sel = append(sel, outputSel{name: o.Name, binary: b})
	}
	return sel, nil
}

// encodeResponse writes the inference response: the JSON document, and the binary data of
// the outputs sent as binary (nil when there are none), to be sent after the JSON.
func encodeResponse(model, version, id string, sel []outputSel, results map[string]*tensor.Tensor) (js, bin []byte, err error) {
	js = make([]byte, 0, 256)
	js = append(js, `{"model_name":`...)
	js = appendString(js, model)
	js = append(js, `,"model_version":`...)
	js = appendString(js, version)
	if id != "" {
		js = append(js, `,"id":`...)
		js = appendString(js, id)
	}
	js = append(js, `,"outputs":[`...)
	for i, s := range sel {
		t, ok := results[s.name]
		if !ok || t == nil {
			return nil, nil, fmt.Errorf("model %q gave no output %q", model, s.name)
		}
		if err := t.Check(); err != nil {
			return nil, nil, fmt.Errorf("model %q output %q: %w", model, s.name, err)
		}
		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, `{"name":`...)
		js = appendString(js, s.name)
		js = append(js, `,"datatype":"`...)
		js = append(js, Datatype(t.DType)...)
		js = append(js, `","shape":[`...)
		for k, d := range t.Shape {
			if k > 0 {
				js = append(js, ',')
			}
			js = strconv.AppendInt(js, int64(d), 10)
		}
		js = append(js, ']')
		if s.binary {
			n0 := len(bin)
			if bin, err = t.AppendBytesLE(bin); err != nil {
				return nil, nil, fmt.Errorf("model %q output %q: %w", model, s.name, err)
			}
			js = append(js, `,"parameters":{"binary_data_size":`...)
			js = strconv.AppendInt(js, int64(len(bin)-n0), 10)
			js = append(js, `}}`...)
			continue
		}
		js = append(js, `,"data":[`...)
		js = appendData(js, t)
		js = append(js, `]}`...)
	}
	js = append(js, `]}`...)
	return js, bin, nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendData writes t's elements as a flat JSON list. JSON has no NaN or infinity: those
// are written as null (ask for binary_data to get them bit-exact).
func appendData(b []byte, t *tensor.Tensor) []byte {
	sep := func(i int) {
		if i > 0 {
			b = append(b, ',')
		}
	}
	float := func(v float64, bits int) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			return
		}
		b = strconv.AppendFloat(b, v, 'g', -1, bits)
	}
	switch v := t.Data.(type) {
	case []float32:
		for i, x := range v {
			sep(i)
			float(float64(x), 32)
		}
	case []float64:
		for i, x := range v {
			sep(i)
			float(x, 64)
		}
	case []uint16:
		conv := ref.F16ToF32
		if t.DType == tensor.BFloat16 {
			conv = ref.BF16ToF32
		}
		for i, x := range v {
			sep(i)
			float(float64(conv(x)), 32)
		}
	case []int8:
		for i, x := range v {
			sep(i)
			b = strconv.AppendInt(b, int64(x), 10)
		}
	case []uint8:
		for i, x := range v {
			sep(i)
			b = strconv.AppendUint(b, uint64(x), 10)
		}
	case []int16:
		for i, x := range v {
			sep(i)
			b = strconv.AppendInt(b, int64(x), 10)
		}
	case []int32:
		for i, x := range v {
			sep(i)
			b = strconv.AppendInt(b, int64(x), 10)
		}
	case []int64:
		for i, x := range v {
			sep(i)
			b = strconv.AppendInt(b, x, 10)
		}
	case []bool:
		for i, x := range v {
			sep(i)
			b = strconv.AppendBool(b, x)
		}
	}
	return b
}
