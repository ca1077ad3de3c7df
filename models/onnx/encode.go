package onnx

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// Producer is the producer_name of exported models.
const Producer = "elasticroom"

// DefaultIRVersion is the ir_version of exported models (ONNX 1.14's IR; onnxruntime loads it
// with opset 21).
const DefaultIRVersion = 9

// maxProtoBytes is the largest model protobuf can serialize in one message.
const maxProtoBytes = 2<<30 - 1

// ExportOptions tunes Encode.
type ExportOptions struct {
	IRVersion       int64  // 0: DefaultIRVersion
	ProducerVersion string // optional
	Doc             string // model doc_string
}

// Save writes g as an ONNX model file.
func Save(g *graph.Graph, path string) error {
	data, err := Encode(g, ExportOptions{})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("save ONNX model: %w", err)
	}
	return nil
}

// Encode serializes a graph in canonical form as a ModelProto at opset 21 of the default
// domain, initializers as raw_data, declared shapes with symbolic dims as dim_param.
func Encode(g *graph.Graph, opts ExportOptions) ([]byte, error) {
	m, err := EncodeProto(g, opts)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("export graph %q: %w", g.Name, err)
	}
	return data, nil
}

// EncodeProto is Encode without the serialization.
func EncodeProto(g *graph.Graph, opts ExportOptions) (*onnxpb.ModelProto, error) {
	if g == nil {
		return nil, errors.New("export: nil graph")
	}
	if err := g.Verify(); err != nil {
		return nil, fmt.Errorf("export graph %q: %w", g.Name, err)
	}
	ir := opts.IRVersion
	if ir == 0 {
		ir = DefaultIRVersion
	}
	e := &encoder{}
	gp, err := e.graph(g)
	if err != nil {
		return nil, fmt.Errorf("export graph %q: %w", g.Name, err)
	}
	if e.bytes > maxProtoBytes {
		return nil, fmt.Errorf("export graph %q: %d bytes of weights exceed the 2 GiB limit of one ONNX file", g.Name, e.bytes)
	}
	m := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(ir),
		ProducerName: proto.String(Producer),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(graph.CanonicalOpset)}},
		Graph:        gp,
	}
	if opts.ProducerVersion != "" {
		m.ProducerVersion = proto.String(opts.ProducerVersion)
	}
	if opts.Doc != "" {
		m.DocString = proto.String(opts.Doc)
	}
	domains := map[string]bool{}
	e.domains(g, domains)
	for _, d := range sortedKeys(domains) {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(1)})
	}
	return m, nil
}

type encoder struct {
	bytes int64
}

// domains collects the non-default domains nodes use.
func (e *encoder) domains(g *graph.Graph, out map[string]bool) {
	for _, n := range g.Nodes {
		if d := normDomain(n.Domain); d != "" {
			out[d] = true
		}
		for _, a := range n.Attrs {
			if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
				e.domains(a.Graph, out)
			}
		}
	}
}

func (e *encoder) graph(g *graph.Graph) (*onnxpb.GraphProto, error) {
	name := g.Name
	if name == "" {
		name = "graph"
	}
	gp := &onnxpb.GraphProto{Name: proto.String(name)}
	for _, k := range sortedKeys(g.Initializers) {
		tp, err := toProto(k, g.Initializers[k])
		if err != nil {
			return nil, err
		}
		e.bytes += int64(len(tp.RawData))
		gp.Initializer = append(gp.Initializer, tp)
	}
	declared := map[string]bool{}
	for _, v := range g.Inputs {
		vi, err := valueInfo(v)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		declared[v.Name] = true
		gp.Input = append(gp.Input, vi)
	}
	for _, v := range g.Outputs {
		vi, err := valueInfo(v)
		if err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		declared[v.Name] = true
		gp.Output = append(gp.Output, vi)
	}
	for _, k := range sortedKeys(g.Values) {
		v := g.Values[k]
		if declared[k] || g.IsInitializer(k) || v == nil {
			continue
		}
		vi, err := valueInfo(v)
		if err != nil {
			return nil, fmt.Errorf("value_info: %w", err)
		}
		gp.ValueInfo = append(gp.ValueInfo, vi)
	}
	for _, n := range g.Nodes {
		np, err := e.node(n)
		if err != nil {
			return nil, err
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

func (e *encoder) node(n *graph.Node) (*onnxpb.NodeProto, error) {
	np := &onnxpb.NodeProto{
		OpType: proto.String(n.Op),
		Input:  append([]string{}, n.Inputs...),
		Output: append([]string{}, n.Outputs...),
	}
	if n.Name != "" {
		np.Name = proto.String(n.Name)
	}
	if d := normDomain(n.Domain); d != "" {
		np.Domain = proto.String(d)
	}
	for _, k := range sortedKeys(n.Attrs) {
		ap, err := e.attr(k, n.Attrs[k])
		if err != nil {
			return nil, fmt.Errorf("%v attribute %q: %w", n, k, err)
		}
		np.Attribute = append(np.Attribute, ap)
	}
	return np, nil
}

func (e *encoder) attr(name string, a *graph.Attr) (*onnxpb.AttributeProto, error) {
	if a == nil {
		return nil, errors.New("nil attribute")
	}
	ap := &onnxpb.AttributeProto{Name: proto.String(name)}
	typ := func(t onnxpb.AttributeProto_AttributeType) { ap.Type = t.Enum() }
	switch a.Type {
	case graph.AttrFloat:
		typ(onnxpb.AttributeProto_FLOAT)
		ap.F = proto.Float32(a.Float)
	case graph.AttrInt:
		typ(onnxpb.AttributeProto_INT)
		ap.I = proto.Int64(a.Int)
	case graph.AttrString:
		typ(onnxpb.AttributeProto_STRING)
		ap.S = []byte(a.String)
	case graph.AttrFloats:
		typ(onnxpb.AttributeProto_FLOATS)
		ap.Floats = append([]float32{}, a.Floats...)
	case graph.AttrInts:
		typ(onnxpb.AttributeProto_INTS)
		ap.Ints = append([]int64{}, a.Ints...)
	case graph.AttrStrings:
		typ(onnxpb.AttributeProto_STRINGS)
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case graph.AttrTensor:
		typ(onnxpb.AttributeProto_TENSOR)
		tp, err := toProto("", a.Tensor)
		if err != nil {
			return nil, err
		}
		tp.Name = nil
		e.bytes += int64(len(tp.RawData))
		ap.T = tp
	case graph.AttrGraph:
		typ(onnxpb.AttributeProto_GRAPH)
		if a.Graph == nil {
			return nil, errors.New("graph attribute holds no graph")
		}
		gp, err := e.graph(a.Graph)
		if err != nil {
			return nil, fmt.Errorf("subgraph %q: %w", a.Graph.Name, err)
		}
		ap.G = gp
	default:
		return nil, fmt.Errorf("attribute type %v cannot be exported", a.Type)
	}
	return ap, nil
}

// valueInfo converts a Value; an undefined element type leaves the type out.
func valueInfo(v *graph.Value) (*onnxpb.ValueInfoProto, error) {
	if v == nil || v.Name == "" {
		return nil, errors.New("a value has no name")
	}
	vi := &onnxpb.ValueInfoProto{Name: proto.String(v.Name)}
	if v.DType == tensor.Undefined {
		return vi, nil
	}
	et, err := onnxType(v.DType)
	if err != nil {
		return nil, fmt.Errorf("value %q: %w", v.Name, err)
	}
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(et)}
	if v.RankKnown {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(v.Shape))}
		for i, d := range v.Shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d.Known():
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case d.Param != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
			}
			tt.Shape.Dim[i] = dim
		}
	}
	vi.Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
	return vi, nil
}
