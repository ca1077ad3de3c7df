package onnx

import (
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// Builders of small ModelProtos, written against onnxpb directly (independent of Encode).

func pbModel(opset int64, g *onnxpb.GraphProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(7),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph:       g,
	}
}

func pbGraph(name string, nodes []*onnxpb.NodeProto, in, out []*onnxpb.ValueInfoProto, inits ...*onnxpb.TensorProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{Name: proto.String(name), Node: nodes, Input: in, Output: out, Initializer: inits}
}

// pbValue builds a tensor ValueInfo; dims are ints (dim_value), strings (dim_param) or nil
// (unknown). No dims argument at all with rank<0 means no shape.
func pbValue(name string, et onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch x := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(x)}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: x}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(et)), Shape: shape}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func pbNode(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aFloats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func aString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func aTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

func aGraph(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

func pbFloats(name string, dims []int64, v ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims, FloatData: v}
}

func pbInt64s(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: dims, Int64Data: v}
}

const f32 = onnxpb.TensorProto_FLOAT

// decodePB marshals m and decodes it.
func decodePB(t testing.TB, m *onnxpb.ModelProto) (*graph.Graph, error) {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := Decode(data, DecodeOptions{})
	return g, err
}

// mustDecodePB is decodePB that fails the test on an error.
func mustDecodePB(t testing.TB, m *onnxpb.ModelProto) *graph.Graph {
	t.Helper()
	g, err := decodePB(t, m)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sameGraph reports the first structural difference between two graphs, or nil.
func sameGraph(a, b *graph.Graph) error {
	if a.Name != b.Name {
		return fmt.Errorf("graph name %q vs %q", a.Name, b.Name)
	}
	if err := sameValues("input", a.Inputs, b.Inputs); err != nil {
		return err
	}
	if err := sameValues("output", a.Outputs, b.Outputs); err != nil {
		return err
	}
	if len(a.Initializers) != len(b.Initializers) {
		return fmt.Errorf("graph %q: %d vs %d initializers", a.Name, len(a.Initializers), len(b.Initializers))
	}
	for k, ta := range a.Initializers {
		tb, ok := b.Initializers[k]
		if !ok || !reflect.DeepEqual(ta, tb) {
			return fmt.Errorf("graph %q: initializer %q differs: %v vs %v", a.Name, k, ta, tb)
		}
	}
	if len(a.Values) != len(b.Values) {
		return fmt.Errorf("graph %q: %d vs %d values", a.Name, len(a.Values), len(b.Values))
	}
	for k, va := range a.Values {
		if err := sameValues("value", []*graph.Value{va}, []*graph.Value{b.Values[k]}); err != nil {
			return err
		}
	}
	if len(a.Nodes) != len(b.Nodes) {
		return fmt.Errorf("graph %q: %d vs %d nodes", a.Name, len(a.Nodes), len(b.Nodes))
	}
	for i, na := range a.Nodes {
		nb := b.Nodes[i]
		if na.Name != nb.Name || na.Op != nb.Op || na.Domain != nb.Domain ||
			!reflect.DeepEqual(na.Inputs, nb.Inputs) || !reflect.DeepEqual(na.Outputs, nb.Outputs) || len(na.Attrs) != len(nb.Attrs) {
			return fmt.Errorf("node %d: %+v vs %+v", i, na, nb)
		}
		for k, x := range na.Attrs {
			y, ok := nb.Attrs[k]
			if !ok || x.Type != y.Type {
				return fmt.Errorf("%v attribute %q: %+v vs %+v", na, k, x, y)
			}
			if x.Type == graph.AttrGraph {
				if err := sameGraph(x.Graph, y.Graph); err != nil {
					return fmt.Errorf("%v subgraph %q: %w", na, k, err)
				}
			} else if !reflect.DeepEqual(x, y) {
				return fmt.Errorf("%v attribute %q: %+v vs %+v", na, k, x, y)
			}
		}
	}
	return nil
}

func sameValues(what string, a, b []*graph.Value) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d vs %d %ss", len(a), len(b), what)
	}
	for i := range a {
		if a[i] == nil || b[i] == nil || a[i].String() != b[i].String() || a[i].RankKnown != b[i].RankKnown {
			return fmt.Errorf("%s %d: %v vs %v", what, i, a[i], b[i])
		}
		for j := range a[i].Shape {
			if a[i].Shape[j] != b[i].Shape[j] {
				return fmt.Errorf("%s %v dim %d: %+v vs %+v", what, a[i], j, a[i].Shape[j], b[i].Shape[j])
			}
		}
	}
	return nil
}

// findOp returns the nodes of g with op type op.
func findOp(g *graph.Graph, op string) []*graph.Node {
	var out []*graph.Node
	for _, n := range g.Nodes {
		if n.Op == op {
			out = append(out, n)
		}
	}
	return out
}

// opSeq is the list of g's op types in order.
func opSeq(g *graph.Graph) []string {
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op)
	}
	return ops
}

func str(s string) *string { return &s }
