package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Upgrades of older operator forms to canonical (opset-21) form. Each function gets the
// node as written (attributes converted) and the model's default-domain opset.

// takeAttr removes and returns attribute name.
func takeAttr(n *graph.Node, name string) (*graph.Attr, bool) {
	a, ok := n.Attrs[name]
	if ok {
		delete(n.Attrs, name)
	}
	return a, ok
}

// setInput sets input i, padding omitted inputs with "".
func setInput(n *graph.Node, i int, name string) {
	for len(n.Inputs) <= i {
		n.Inputs = append(n.Inputs, "")
	}
	n.Inputs[i] = name
}

// trimInputs drops trailing omitted inputs.
func trimInputs(n *graph.Node) {
	for len(n.Inputs) > 0 && n.Inputs[len(n.Inputs)-1] == "" {
		n.Inputs = n.Inputs[:len(n.Inputs)-1]
	}
}

// intsConst adds a 1-D int64 initializer.
func (s *scope) intsConst(n *graph.Node, what string, vals []int64) string {
	return s.addConst(n.Name+"_"+what, tensor.FromInt64([]int{len(vals)}, append([]int64{}, vals...)))
}

// scalarConst adds a scalar initializer of element type dt holding v.
func (s *scope) scalarConst(n *graph.Node, what string, dt tensor.DType, v float64) (string, error) {
	t, err := tensor.New(dt, nil)
	if err != nil {
		return "", err
	}
	switch d := t.Data.(type) {
	case []float32:
		d[0] = float32(v)
	case []float64:
		d[0] = v
	case []uint16:
		if dt == tensor.Float16 {
			d[0] = float16Bits(float32(v))
		} else {
			d[0] = bfloat16Bits(float32(v))
		}
	case []int8:
		d[0] = int8(v)
	case []uint8:
		d[0] = uint8(v)
	case []int16:
		d[0] = int16(v)
	case []int32:
		d[0] = int32(v)
	case []int64:
		d[0] = int64(v)
	case []bool:
		d[0] = v != 0
	}
	return s.addConst(n.Name+"_"+what, t), nil
}

// attrInts returns an ints attribute, failing on another kind.
func attrInts(a *graph.Attr, name string) ([]int64, error) {
	if a.Type != graph.AttrInts {
		return nil, fmt.Errorf("attribute %q is %v, want ints", name, a.Type)
	}
	return a.Ints, nil
}

// upClip: before opset 11, min and max are attributes.
func upClip(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 11 {
		return []*graph.Node{n}, nil
	}
	dt := s.dtype(n.Input(0), tensor.Float32)
	for i, name := range []string{"min", "max"} {
		a, ok := takeAttr(n, name)
		if !ok {
			continue
		}
		if a.Type != graph.AttrFloat {
			return nil, fmt.Errorf("attribute %q is %v, want float", name, a.Type)
		}
		c, err := s.scalarConst(n, name, dt, float64(a.Float))
		if err != nil {
			return nil, err
		}
		setInput(n, i+1, c)
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 3)]
	return []*graph.Node{n}, nil
}

// upAxesInput: Squeeze and Unsqueeze take axes as an input from opset 13.
func upAxesInput(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 13 {
		return []*graph.Node{n}, nil
	}
	a, ok := takeAttr(n, "axes")
	if !ok {
		if n.Op == "Unsqueeze" {
			return nil, errors.New("attribute \"axes\" is required")
		}
		return []*graph.Node{n}, nil
	}
	axes, err := attrInts(a, "axes")
	if err != nil {
		return nil, err
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
	setInput(n, 1, s.intsConst(n, "axes", axes))
	return []*graph.Node{n}, nil
}

// upReduce: ReduceSum takes axes as an input from opset 13, the other reductions from 18.
func upReduce(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	since := int64(18)
	if n.Op == "ReduceSum" {
		since = 13
	}
	a, ok := takeAttr(n, "axes")
	if !ok {
		return []*graph.Node{n}, nil
	}
	if opset >= since {
		return nil, errors.New("attribute \"axes\" is an input from this opset on")
	}
	axes, err := attrInts(a, "axes")
	if err != nil {
		return nil, err
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
	if len(axes) > 0 {
		setInput(n, 1, s.intsConst(n, "axes", axes))
	}
	return []*graph.Node{n}, nil
}

// upSlice: before opset 10, starts, ends and axes are attributes.
func upSlice(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 10 {
		return []*graph.Node{n}, nil
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
	for i, name := range []string{"starts", "ends", "axes"} {
		a, ok := takeAttr(n, name)
		if !ok {
			if name == "axes" {
				continue
			}
			return nil, fmt.Errorf("attribute %q is required", name)
		}
		vals, err := attrInts(a, name)
		if err != nil {
			return nil, err
		}
		setInput(n, i+1, s.intsConst(n, name, vals))
	}
	return []*graph.Node{n}, nil
}

// upSplit: before opset 13 the sizes are an attribute; an even split is written with
// num_outputs (the opset-18 form).
func upSplit(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset < 13 {
		n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
		if a, ok := takeAttr(n, "split"); ok {
			sizes, err := attrInts(a, "split")
			if err != nil {
				return nil, err
			}
			if len(sizes) > 0 {
				setInput(n, 1, s.intsConst(n, "split", sizes))
			}
		}
	}
	if n.Input(1) == "" {
		if _, ok := n.Attrs["num_outputs"]; !ok {
			n.SetAttr("num_outputs", &graph.Attr{Type: graph.AttrInt, Int: int64(len(n.Outputs))})
		}
	}
	trimInputs(n)
	return []*graph.Node{n}, nil
}

// upPad: before opset 11, pads and the constant value are attributes.
func upPad(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 11 {
		return []*graph.Node{n}, nil
	}
	a, ok := takeAttr(n, "pads")
	if !ok {
		return nil, errors.New("attribute \"pads\" is required")
	}
	pads, err := attrInts(a, "pads")
	if err != nil {
		return nil, err
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
	setInput(n, 1, s.intsConst(n, "pads", pads))
	if v, ok := takeAttr(n, "value"); ok && v.Float != 0 && n.AttrString("mode", "constant") == "constant" {
		c, err := s.scalarConst(n, "value", s.dtype(n.Input(0), tensor.Float32), float64(v.Float))
		if err != nil {
			return nil, err
		}
		setInput(n, 2, c)
	}
	return []*graph.Node{n}, nil
}

// upTopK: before opset 10, k is an attribute.
func upTopK(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 10 {
		return []*graph.Node{n}, nil
	}
	a, ok := takeAttr(n, "k")
	if !ok || a.Type != graph.AttrInt {
		return nil, errors.New("attribute \"k\" (int) is required")
	}
	n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
	setInput(n, 1, s.intsConst(n, "k", []int64{a.Int}))
	return []*graph.Node{n}, nil
}

// upScatter: Scatter (deprecated) is ScatterElements.
func upScatter(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	n.Op = "ScatterElements"
	return []*graph.Node{n}, nil
}

// upSoftmax: before opset 13, Softmax, LogSoftmax and Hardmax coerce the input to 2-D at
// axis (default 1) and normalize each row. When axis is the last dim that equals the
// opset-13 form; otherwise the node becomes Flatten(axis) -> op(axis=-1) -> Reshape(Shape(x)).
func upSoftmax(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset >= 13 {
		return []*graph.Node{n}, nil
	}
	if len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return nil, errors.New("needs one input and one output")
	}
	axis := n.AttrInt("axis", 1)
	r := s.rank(n.Input(0))
	if r < 0 {
		r = s.rank(n.Outputs[0]) // the output, when declared, has the input's rank
	}
	if r >= 0 && axis < 0 {
		axis += int64(r)
	}
	if axis == -1 || (r >= 0 && axis == int64(r-1)) {
		n.SetAttr("axis", &graph.Attr{Type: graph.AttrInt, Int: axis})
		return []*graph.Node{n}, nil
	}
	if r >= 0 && (axis < 0 || axis > int64(r)) {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, r)
	}
	x, out := n.Input(0), n.Outputs[0]
	flat := s.im.names.fresh(out + "_2d")
	norm := s.im.names.fresh(out + "_rows")
	shape := s.im.names.fresh(out + "_shape")
	dt := s.dtype(x, tensor.Undefined)
	s.info[flat] = valInfo{dt: dt, rank: 2}
	s.info[norm] = valInfo{dt: dt, rank: 2}
	s.info[shape] = valInfo{dt: tensor.Int64, rank: 1, len1: max(r, -1) + 1}
	nodes := []*graph.Node{
		{Name: s.im.names.fresh(n.Name + "_flatten"), Op: "Flatten", Inputs: []string{x}, Outputs: []string{flat},
			Attrs: map[string]*graph.Attr{"axis": {Type: graph.AttrInt, Int: axis}}},
		{Name: n.Name, Op: n.Op, Inputs: []string{flat}, Outputs: []string{norm},
			Attrs: map[string]*graph.Attr{"axis": {Type: graph.AttrInt, Int: -1}}},
		{Name: s.im.names.fresh(n.Name + "_shape"), Op: "Shape", Inputs: []string{x}, Outputs: []string{shape},
			Attrs: map[string]*graph.Attr{}},
		{Name: s.im.names.fresh(n.Name + "_reshape"), Op: "Reshape", Inputs: []string{norm, shape}, Outputs: []string{out},
			Attrs: map[string]*graph.Attr{}},
	}
	return nodes, nil
}

// upBatchNorm drops attributes of old forms (spatial, is_test, consumed_inputs) and the
// training-only outputs nothing reads.
func upBatchNorm(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	for _, a := range []string{"spatial", "is_test", "consumed_inputs"} {
		takeAttr(n, a)
	}
	if n.AttrInt("training_mode", 0) == 0 {
		extraUsed := false
		for _, o := range n.Outputs[min(1, len(n.Outputs)):] {
			if o != "" && s.used[o] {
				extraUsed = true
			}
		}
		if !extraUsed {
			n.Outputs = n.Outputs[:min(1, len(n.Outputs))]
		}
	}
	return []*graph.Node{n}, nil
}

// upDropout: at inference Dropout is the identity. When its mask is read, the node stays a
// Dropout in opset-12 form (ratio as an input).
func upDropout(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if len(n.Outputs) < 2 || n.Outputs[1] == "" || !s.used[n.Outputs[1]] {
		if len(n.Inputs) < 1 || len(n.Outputs) < 1 {
			return nil, errors.New("needs an input and an output")
		}
		for _, in := range n.Inputs[1:] {
			if s.g.IsInitializer(in) {
				s.orphans = append(s.orphans, in)
			}
		}
		return []*graph.Node{{Name: n.Name, Op: "Identity", Inputs: n.Inputs[:1], Outputs: n.Outputs[:1], Attrs: map[string]*graph.Attr{}}}, nil
	}
	takeAttr(n, "is_test")
	if a, ok := takeAttr(n, "ratio"); ok && opset < 12 {
		c, err := s.scalarConst(n, "ratio", tensor.Float32, float64(a.Float))
		if err != nil {
			return nil, err
		}
		n.Inputs = n.Inputs[:min(len(n.Inputs), 1)]
		setInput(n, 1, c)
	}
	return []*graph.Node{n}, nil
}

// upResize: Resize-10 is [X, scales] with asymmetric coordinates; from 11 the form is the
// canonical one. Empty constant roi/scales inputs become omitted inputs.
func upResize(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	if opset < 11 {
		if len(n.Inputs) != 2 {
			return nil, errors.New("needs inputs X and scales")
		}
		return toResize(s, n, n.Inputs[1])
	}
	if n.AttrString("coordinate_transformation_mode", "") == "tf_half_pixel_for_nn" {
		return nil, &UnsupportedOpError{Reason: "coordinate_transformation_mode tf_half_pixel_for_nn"}
	}
	for i := 1; i <= 2 && i < len(n.Inputs); i++ {
		if t := s.constant(n.Inputs[i]); t != nil && t.Len() == 0 {
			if s.g.IsInitializer(n.Inputs[i]) {
				s.orphans = append(s.orphans, n.Inputs[i])
			}
			n.Inputs[i] = ""
		}
	}
	trimInputs(n)
	return []*graph.Node{n}, nil
}

// upUpsample rewrites Upsample (scales as input, or as an attribute before opset 9) to Resize.
func upUpsample(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error) {
	scales := n.Input(1)
	if a, ok := takeAttr(n, "scales"); ok {
		if a.Type != graph.AttrFloats {
			return nil, errors.New("attribute \"scales\" must be floats")
		}
		scales = s.addConst(n.Name+"_scales", tensor.FromFloat32([]int{len(a.Floats)}, append([]float32{}, a.Floats...)))
	}
	if scales == "" {
		return nil, errors.New("needs scales")
	}
	return toResize(s, n, scales)
}

// toResize makes the canonical Resize for Upsample and Resize-10: asymmetric coordinates;
// nearest rounds down when upsampling and up when downsampling, as onnxruntime does.
func toResize(s *scope, n *graph.Node, scales string) ([]*graph.Node, error) {
	mode := n.AttrString("mode", "nearest")
	switch mode {
	case "nearest", "linear":
	case "bilinear":
		mode = "linear"
	default:
		return nil, fmt.Errorf("mode %q is not supported", mode)
	}
	attrs := map[string]*graph.Attr{
		"mode":                           {Type: graph.AttrString, String: mode},
		"coordinate_transformation_mode": {Type: graph.AttrString, String: "asymmetric"},
	}
	if mode == "nearest" {
		rounding := "floor"
		if t := s.constant(scales); t != nil && t.DType == tensor.Float32 && t.Len() > 0 {
			down := true
			for _, v := range t.Float32s() {
				if v >= 1 {
					down = false
				}
			}
			if down {
				rounding = "ceil"
			}
		}
		attrs["nearest_mode"] = &graph.Attr{Type: graph.AttrString, String: rounding}
	}
	return []*graph.Node{{Name: n.Name, Op: "Resize", Inputs: []string{n.Input(0), "", scales}, Outputs: n.Outputs, Attrs: attrs}}, nil
}

// float16Bits converts to IEEE half precision, rounding to nearest even.
func float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // inf or nan
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15:
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		e := uint32(exp-127+15) << 10
		m := mant >> 13
		rest := mant & 0x1fff
		h := e | m
		if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
			h++ // may carry into the exponent, which is still correct
		}
		return sign | uint16(h)
	case exp-127 >= -25: // subnormal
		mant |= 0x800000
		shift := uint32(-14-(exp-127)) + 13
		m := mant >> shift
		rest := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && m&1 == 1) {
			m++
		}
		return sign | uint16(m)
	}
	return sign
}

// bfloat16Bits converts to bfloat16, rounding to nearest even.
func bfloat16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
