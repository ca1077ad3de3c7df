package onnx

import (
	"errors"
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// importer holds what is shared by a model's graph and all its subgraphs.
type importer struct {
	opts   DecodeOptions
	opsets map[string]int64
	opset  int64 // of the default domain
	names  *namer
	depth  int
}

// maxSubgraphDepth bounds the nesting of control-flow subgraphs.
const maxSubgraphDepth = 64

// valInfo is what the importer knows of a value while converting: element type and rank.
type valInfo struct {
	dt   tensor.DType
	rank int // -1: unknown
	len1 int // for a 1-D value (a shape vector): its length plus one; 0 when unknown
}

// length is the length of a 1-D value, or -1.
func (v valInfo) length() int {
	if v.rank == 1 {
		return v.len1 - 1
	}
	return -1
}

// scope is the conversion state of one graph; parent is the enclosing graph's.
type scope struct {
	im     *importer
	g      *graph.Graph
	parent *scope
	info   map[string]valInfo
	used   map[string]bool // read by a node (of this graph or a subgraph) or a graph output
	// orphans are initializers an upgrade stopped reading; dropped at the end if unread.
	orphans []string
}

// lookup returns the known type and rank of a value visible in s.
func (s *scope) lookup(name string) (valInfo, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if vi, ok := sc.info[name]; ok {
			return vi, true
		}
	}
	return valInfo{}, false
}

// rank returns the known rank of name, or -1.
func (s *scope) rank(name string) int {
	if vi, ok := s.lookup(name); ok {
		return vi.rank
	}
	return -1
}

// dtype returns the known element type of name, or def.
func (s *scope) dtype(name string, def tensor.DType) tensor.DType {
	if vi, ok := s.lookup(name); ok && vi.dt != tensor.Undefined {
		return vi.dt
	}
	return def
}

// constant returns the initializer name visible in s, or nil.
func (s *scope) constant(name string) *tensor.Tensor {
	if name == "" {
		return nil
	}
	for sc := s; sc != nil; sc = sc.parent {
		if t, ok := sc.g.Initializers[name]; ok {
			return t
		}
	}
	return nil
}

// addConst adds a synthetic initializer with a fresh name built from base.
func (s *scope) addConst(base string, t *tensor.Tensor) string {
	name := s.im.names.fresh(base)
	s.g.Initializers[name] = t
	s.info[name] = constInfo(t)
	return name
}

// constInfo is what a constant tells.
func constInfo(t *tensor.Tensor) valInfo {
	vi := valInfo{dt: t.DType, rank: len(t.Shape)}
	if len(t.Shape) == 1 {
		vi.len1 = t.Shape[0] + 1
	}
	return vi
}

// graph converts a GraphProto; parent is nil for the model's main graph.
func (im *importer) graph(gp *onnxpb.GraphProto, parent *scope) (*graph.Graph, error) {
	im.depth++
	defer func() { im.depth-- }()
	if im.depth > maxSubgraphDepth {
		return nil, fmt.Errorf("subgraphs are nested more than %d deep", maxSubgraphDepth)
	}
	g := graph.New(gp.GetName())
	s := &scope{im: im, g: g, parent: parent, info: map[string]valInfo{}, used: map[string]bool{}}
	markUsed(gp, s.used)
	tl := tensorLoader{baseDir: im.opts.BaseDir}
	if len(gp.GetSparseInitializer()) > 0 {
		return nil, fmt.Errorf("graph %q: sparse initializers are not supported", g.Name)
	}
	for _, tp := range gp.GetInitializer() {
		name := tp.GetName()
		if name == "" {
			return nil, fmt.Errorf("graph %q: an initializer has no name", g.Name)
		}
		if _, dup := g.Initializers[name]; dup {
			return nil, fmt.Errorf("graph %q: initializer %q is defined twice", g.Name, name)
		}
		t, err := tl.load(tp)
		if err != nil {
			return nil, fmt.Errorf("graph %q: initializer %q: %w", g.Name, name, err)
		}
		g.Initializers[name] = t
		s.info[name] = constInfo(t)
	}
	seen := map[string]bool{}
	for _, vi := range gp.GetInput() {
		v, err := valueOf(vi)
		if err != nil {
			return nil, fmt.Errorf("graph %q: input: %w", g.Name, err)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("graph %q: input %q is listed twice", g.Name, v.Name)
		}
		seen[v.Name] = true
		if g.IsInitializer(v.Name) {
			continue // an initializer listed as an input is a constant here
		}
		if parent == nil && v.DType == tensor.Undefined {
			return nil, fmt.Errorf("graph %q: input %q has no tensor element type", g.Name, v.Name)
		}
		g.Inputs = append(g.Inputs, v)
		s.note(v)
	}
	for _, vi := range gp.GetOutput() {
		v, err := valueOf(vi)
		if err != nil {
			return nil, fmt.Errorf("graph %q: output: %w", g.Name, err)
		}
		g.Outputs = append(g.Outputs, v)
		s.note(v)
	}
	for _, vi := range gp.GetValueInfo() {
		v, err := valueOf(vi)
		if err != nil || v.DType == tensor.Undefined && !v.RankKnown {
			continue // value_info is a hint: skip what we cannot represent
		}
		g.Values[v.Name] = v
		s.note(v)
	}
	for i, np := range gp.GetNode() {
		if err := s.node(i, np); err != nil {
			return nil, err
		}
	}
	if len(s.orphans) > 0 {
		read := map[string]bool{}
		reads(g, read)
		for _, name := range s.orphans {
			if !read[name] {
				delete(g.Initializers, name)
			}
		}
	}
	return g, nil
}

// reads adds every name g's nodes (and their subgraphs) and outputs read.
func reads(g *graph.Graph, read map[string]bool) {
	for _, v := range g.Outputs {
		read[v.Name] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			read[in] = true
		}
		for _, a := range n.Attrs {
			if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
				reads(a.Graph, read)
			}
		}
	}
}

// note records a declared value's type and rank.
func (s *scope) note(v *graph.Value) {
	vi := valInfo{dt: v.DType, rank: -1}
	if v.RankKnown {
		vi.rank = len(v.Shape)
		if vi.rank == 1 && v.Shape[0].Known() {
			vi.len1 = int(v.Shape[0].Size) + 1
		}
	}
	s.info[v.Name] = vi
}

// markUsed adds every name read by gp's nodes (and their subgraphs) and gp's outputs.
func markUsed(gp *onnxpb.GraphProto, used map[string]bool) {
	for _, v := range gp.GetOutput() {
		used[v.GetName()] = true
	}
	for _, n := range gp.GetNode() {
		for _, in := range n.GetInput() {
			used[in] = true
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				markUsed(a.GetG(), used)
			}
			for _, sg := range a.GetGraphs() {
				markUsed(sg, used)
			}
		}
	}
}

// valueOf converts a ValueInfoProto. A missing type gives an untyped value of unknown rank.
func valueOf(vi *onnxpb.ValueInfoProto) (*graph.Value, error) {
	if vi == nil || vi.GetName() == "" {
		return nil, errors.New("a value has no name")
	}
	v := &graph.Value{Name: vi.GetName()}
	tp := vi.GetType()
	if tp == nil || tp.GetValue() == nil {
		return v, nil
	}
	tt := tp.GetTensorType()
	if tt == nil {
		return nil, fmt.Errorf("value %q is not a tensor (sequences, maps, optionals and sparse tensors are not supported)", v.Name)
	}
	if tt.GetElemType() != 0 {
		dt, err := dtypeOf(tt.GetElemType())
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v.Name, err)
		}
		v.DType = dt
	}
	sp := tt.GetShape()
	if sp == nil {
		return v, nil
	}
	v.RankKnown = true
	v.Shape = make(graph.Shape, len(sp.GetDim()))
	elems := int64(1)
	for i, d := range sp.GetDim() {
		switch x := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			switch {
			case x.DimValue < 0:
				v.Shape[i] = graph.Unknown() // some exporters write -1 for a dynamic dim
			case x.DimValue > maxDim:
				return nil, fmt.Errorf("value %q: dim %d is too large (%d)", v.Name, i, x.DimValue)
			default:
				v.Shape[i] = graph.D(x.DimValue)
				if x.DimValue != 0 && elems > maxElements/x.DimValue {
					return nil, fmt.Errorf("value %q: shape has too many elements", v.Name)
				}
				elems *= x.DimValue
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if x.DimParam == "" {
				v.Shape[i] = graph.Unknown()
			} else {
				v.Shape[i] = graph.P(x.DimParam)
			}
		default:
			v.Shape[i] = graph.Unknown()
		}
	}
	return v, nil
}

// node converts one NodeProto, upgrading it to canonical form, and appends the result.
func (s *scope) node(i int, np *onnxpb.NodeProto) error {
	if np == nil {
		return fmt.Errorf("graph %q: node #%d is missing", s.g.Name, i)
	}
	op, domain := np.GetOpType(), normDomain(np.GetDomain())
	label := np.GetName()
	if label == "" {
		label = fmt.Sprintf("#%d", i)
		if len(np.GetOutput()) > 0 {
			label = fmt.Sprintf("#%d (output %s)", i, np.GetOutput()[0])
		}
	}
	if op == "" {
		return fmt.Errorf("graph %q: node %q has no op type", s.g.Name, label)
	}
	if domain != "" {
		return &UnsupportedOpError{Node: label, Op: op, Domain: domain, Opset: s.im.opsets[domain]}
	}
	spec, ok := opTable[op]
	if !ok {
		return &UnsupportedOpError{Node: label, Op: op, Opset: s.im.opset}
	}
	if s.im.opset < spec.since {
		return &UnsupportedOpError{Node: label, Op: op, Opset: s.im.opset, Reason: fmt.Sprintf("it exists from opset %d", spec.since)}
	}
	attrs := map[string]*graph.Attr{}
	for _, ap := range np.GetAttribute() {
		if ap == nil || ap.GetName() == "" {
			return fmt.Errorf("node %q (%s): an attribute has no name", label, op)
		}
		if _, dup := attrs[ap.GetName()]; dup {
			return fmt.Errorf("node %q (%s): attribute %q is given twice", label, op, ap.GetName())
		}
		a, err := s.attr(ap)
		if err != nil {
			return fmt.Errorf("node %q (%s): attribute %q: %w", label, op, ap.GetName(), err)
		}
		attrs[ap.GetName()] = a
	}
	if op == "Constant" {
		return s.constantNode(label, np, attrs)
	}
	name := np.GetName()
	if name == "" {
		name = s.im.names.fresh(op)
	}
	n := &graph.Node{
		Name:    name,
		Op:      op,
		Inputs:  append([]string{}, np.GetInput()...),
		Outputs: append([]string{}, np.GetOutput()...),
		Attrs:   attrs,
	}
	nodes := []*graph.Node{n}
	if spec.upgrade != nil {
		var err error
		if nodes, err = spec.upgrade(s, n, s.im.opset); err != nil {
			var ue *UnsupportedOpError
			if errors.As(err, &ue) {
				ue.Node, ue.Op, ue.Opset = label, op, s.im.opset
				return ue
			}
			return fmt.Errorf("node %q (op %s, opset %d): %w", label, op, s.im.opset, err)
		}
	}
	for _, m := range nodes {
		s.g.Nodes = append(s.g.Nodes, m)
		s.infer(m)
	}
	return nil
}

// attr converts one attribute; graph attributes are imported with s as their outer scope.
func (s *scope) attr(ap *onnxpb.AttributeProto) (*graph.Attr, error) {
	if ap.GetRefAttrName() != "" {
		return nil, errors.New("attribute references (ref_attr_name) are only valid inside functions")
	}
	typ := ap.GetType()
	if typ == onnxpb.AttributeProto_UNDEFINED { // very old models leave the type out
		switch {
		case ap.F != nil:
			typ = onnxpb.AttributeProto_FLOAT
		case ap.I != nil:
			typ = onnxpb.AttributeProto_INT
		case ap.S != nil:
			typ = onnxpb.AttributeProto_STRING
		case ap.T != nil:
			typ = onnxpb.AttributeProto_TENSOR
		case ap.G != nil:
			typ = onnxpb.AttributeProto_GRAPH
		case len(ap.Floats) > 0:
			typ = onnxpb.AttributeProto_FLOATS
		case len(ap.Ints) > 0:
			typ = onnxpb.AttributeProto_INTS
		case len(ap.Strings) > 0:
			typ = onnxpb.AttributeProto_STRINGS
		default:
			return nil, errors.New("attribute has no type and no value")
		}
	}
	switch typ {
	case onnxpb.AttributeProto_FLOAT:
		return &graph.Attr{Type: graph.AttrFloat, Float: ap.GetF()}, nil
	case onnxpb.AttributeProto_INT:
		return &graph.Attr{Type: graph.AttrInt, Int: ap.GetI()}, nil
	case onnxpb.AttributeProto_STRING:
		return &graph.Attr{Type: graph.AttrString, String: string(ap.GetS())}, nil
	case onnxpb.AttributeProto_FLOATS:
		return &graph.Attr{Type: graph.AttrFloats, Floats: append([]float32{}, ap.GetFloats()...)}, nil
	case onnxpb.AttributeProto_INTS:
		return &graph.Attr{Type: graph.AttrInts, Ints: append([]int64{}, ap.GetInts()...)}, nil
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(ap.GetStrings()))
		for i, b := range ap.GetStrings() {
			ss[i] = string(b)
		}
		return &graph.Attr{Type: graph.AttrStrings, Strings: ss}, nil
	case onnxpb.AttributeProto_TENSOR:
		tl := tensorLoader{baseDir: s.im.opts.BaseDir}
		t, err := tl.load(ap.GetT())
		if err != nil {
			return nil, err
		}
		return &graph.Attr{Type: graph.AttrTensor, Tensor: t}, nil
	case onnxpb.AttributeProto_GRAPH:
		if ap.GetG() == nil {
			return nil, errors.New("graph attribute holds no graph")
		}
		sg, err := s.im.graph(ap.GetG(), s)
		if err != nil {
			return nil, err
		}
		return &graph.Attr{Type: graph.AttrGraph, Graph: sg}, nil
	}
	return nil, fmt.Errorf("attributes of type %v are not supported", typ)
}

// constantNode turns a Constant node into an initializer of the current graph.
func (s *scope) constantNode(label string, np *onnxpb.NodeProto, attrs map[string]*graph.Attr) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("node %q (op Constant, opset %d): %s", label, s.im.opset, fmt.Sprintf(format, args...))
	}
	if len(np.GetOutput()) != 1 || np.GetOutput()[0] == "" || len(np.GetInput()) != 0 {
		return fail("needs no inputs and exactly one named output")
	}
	if len(attrs) != 1 {
		return fail("needs exactly one value attribute, has %d", len(attrs))
	}
	var t *tensor.Tensor
	for name, a := range attrs {
		switch {
		case name == "value" && a.Type == graph.AttrTensor:
			t = a.Tensor
		case name == "value_float" && a.Type == graph.AttrFloat:
			t = tensor.FromFloat32(nil, []float32{a.Float})
		case name == "value_floats" && a.Type == graph.AttrFloats:
			t = tensor.FromFloat32([]int{len(a.Floats)}, append([]float32{}, a.Floats...))
		case name == "value_int" && a.Type == graph.AttrInt:
			t = tensor.FromInt64(nil, []int64{a.Int})
		case name == "value_ints" && a.Type == graph.AttrInts:
			t = tensor.FromInt64([]int{len(a.Ints)}, append([]int64{}, a.Ints...))
		default:
			return &UnsupportedOpError{Node: label, Op: "Constant", Opset: s.im.opset, Reason: fmt.Sprintf("value attribute %q of type %v", name, a.Type)}
		}
	}
	out := np.GetOutput()[0]
	if s.g.IsInitializer(out) {
		return fail("output %q is already defined", out)
	}
	for _, in := range s.g.Inputs {
		if in.Name == out {
			return fail("output %q is a graph input", out)
		}
	}
	s.g.Initializers[out] = t
	s.info[out] = constInfo(t)
	return nil
}
