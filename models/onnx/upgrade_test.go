package onnx

import (
	"reflect"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// one builds a model with a single node from x (f32 [2,3,4]) to y.
func one(opset int64, n *onnxpb.NodeProto, inits ...*onnxpb.TensorProto) *onnxpb.ModelProto {
	return pbModel(opset, pbGraph("g", []*onnxpb.NodeProto{n},
		[]*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4)},
		[]*onnxpb.ValueInfoProto{{Name: str(n.Output[0])}}, inits...))
}

// constOf returns the initializer feeding input i of n, failing when there is none.
func constOf(t *testing.T, g *graph.Graph, n *graph.Node, i int) *tensor.Tensor {
	t.Helper()
	c := g.Initializers[n.Input(i)]
	if c == nil {
		t.Fatalf("%v input %d (%q) is not an initializer; inputs %v", n, i, n.Input(i), n.Inputs)
	}
	return c
}

func TestUpgradeClip9(t *testing.T) {
	g := mustDecodePB(t, one(9, pbNode("Clip", "c", []string{"x"}, []string{"y"}, aFloat("min", -1.5), aFloat("max", 6))))
	n := g.Nodes[0]
	if n.Op != "Clip" || len(n.Inputs) != 3 || len(n.Attrs) != 0 {
		t.Fatalf("got %v inputs %v attrs %v", n, n.Inputs, n.Attrs)
	}
	lo, hi := constOf(t, g, n, 1), constOf(t, g, n, 2)
	if lo.DType != tensor.Float32 || len(lo.Shape) != 0 || lo.Float32s()[0] != -1.5 || hi.Float32s()[0] != 6 {
		t.Fatalf("min %v %v max %v %v", lo, lo.Data, hi, hi.Data)
	}
	// Only max given: min is an omitted input.
	g = mustDecodePB(t, one(6+3, pbNode("Clip", "c", []string{"x"}, []string{"y"}, aFloat("max", 2))))
	n = g.Nodes[0]
	if len(n.Inputs) != 3 || n.Inputs[1] != "" || constOf(t, g, n, 2).Float32s()[0] != 2 {
		t.Fatalf("max only: inputs %v", n.Inputs)
	}
	// Synthetic names never collide with the model's own, even ones that look generated.
	m := pbModel(9, pbGraph("g", []*onnxpb.NodeProto{
		pbNode("Relu", "r", []string{"x"}, []string{"c_min__er1"}),
		pbNode("Clip", "c", []string{"c_min__er1"}, []string{"y"}, aFloat("min", 0)),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, 2)}, []*onnxpb.ValueInfoProto{{Name: str("y")}}))
	g = mustDecodePB(t, m)
	if in := g.Nodes[1].Inputs; in[0] != "c_min__er1" || in[1] == "c_min__er1" || !g.IsInitializer(in[1]) {
		t.Fatalf("clip inputs %v", in)
	}
	// Opset 11: already canonical.
	g = mustDecodePB(t, one(11, pbNode("Clip", "c", []string{"x", "lo"}, []string{"y"}), pbFloats("lo", nil, 0)))
	if !reflect.DeepEqual(g.Nodes[0].Inputs, []string{"x", "lo"}) {
		t.Fatalf("opset 11 inputs %v", g.Nodes[0].Inputs)
	}
}

func TestUpgradeUnsqueezeSqueeze11(t *testing.T) {
	g := mustDecodePB(t, one(11, pbNode("Unsqueeze", "u", []string{"x"}, []string{"y"}, aInts("axes", 0, -1))))
	n := g.Nodes[0]
	if n.Op != "Unsqueeze" || len(n.Attrs) != 0 || len(n.Inputs) != 2 {
		t.Fatalf("got %v %v %v", n, n.Inputs, n.Attrs)
	}
	if axes := constOf(t, g, n, 1); axes.DType != tensor.Int64 || !reflect.DeepEqual(axes.Shape, []int{2}) || !reflect.DeepEqual(axes.Int64s(), []int64{0, -1}) {
		t.Fatalf("axes %v %v", axes, axes.Data)
	}
	g = mustDecodePB(t, one(11, pbNode("Squeeze", "s", []string{"x"}, []string{"y"}, aInts("axes", 1))))
	if !reflect.DeepEqual(constOf(t, g, g.Nodes[0], 1).Int64s(), []int64{1}) {
		t.Fatal("squeeze axes")
	}
	g = mustDecodePB(t, one(11, pbNode("Squeeze", "s", []string{"x"}, []string{"y"})))
	if len(g.Nodes[0].Inputs) != 1 {
		t.Fatalf("squeeze without axes: %v", g.Nodes[0].Inputs)
	}
	if _, err := decodePB(t, one(11, pbNode("Unsqueeze", "u", []string{"x"}, []string{"y"}))); err == nil {
		t.Fatal("Unsqueeze-11 without axes imported")
	}
}

func TestUpgradeSoftmax11(t *testing.T) {
	// Axis 1 of a 3-D input: coerce-to-2D semantics need Flatten -> Softmax(-1) -> Reshape(Shape(x)).
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		g := mustDecodePB(t, one(11, pbNode(op, "sm", []string{"x"}, []string{"y"}, aInt("axis", 1))))
		if err := g.Verify(); err != nil {
			t.Fatal(err)
		}
		if got, want := opSeq(g), []string{"Flatten", op, "Shape", "Reshape"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: ops %v, want %v", op, got, want)
		}
		fl, sm, sh, rs := g.Nodes[0], g.Nodes[1], g.Nodes[2], g.Nodes[3]
		if fl.Inputs[0] != "x" || fl.AttrInt("axis", -99) != 1 {
			t.Errorf("flatten %v axis %d", fl.Inputs, fl.AttrInt("axis", -99))
		}
		if sm.Inputs[0] != fl.Outputs[0] || sm.AttrInt("axis", -99) != -1 || sm.Name != "sm" {
			t.Errorf("softmax %v %v axis %d", sm.Name, sm.Inputs, sm.AttrInt("axis", -99))
		}
		if sh.Inputs[0] != "x" || rs.Inputs[0] != sm.Outputs[0] || rs.Inputs[1] != sh.Outputs[0] || rs.Outputs[0] != "y" {
			t.Errorf("shape %v reshape %v -> %v", sh.Inputs, rs.Inputs, rs.Outputs)
		}
	}
	// Default axis (1) as well.
	g := mustDecodePB(t, one(11, pbNode("Softmax", "sm", []string{"x"}, []string{"y"})))
	if got := opSeq(g); len(got) != 4 || g.Nodes[0].AttrInt("axis", -99) != 1 {
		t.Fatalf("default axis: %v", got)
	}
	// The last axis (2 or -1) is the same in both semantics: one node.
	for _, axis := range []int64{2, -1} {
		g := mustDecodePB(t, one(11, pbNode("Softmax", "sm", []string{"x"}, []string{"y"}, aInt("axis", axis))))
		if a := g.Nodes[0].AttrInt("axis", -99); len(g.Nodes) != 1 || g.Nodes[0].Op != "Softmax" || (a != 2 && a != -1) {
			t.Fatalf("axis %d: %v axis %d", axis, opSeq(g), g.Nodes[0].AttrInt("axis", -99))
		}
	}
	// Rank known only through the chain: Relu keeps rank 3.
	m := pbModel(11, pbGraph("g", []*onnxpb.NodeProto{
		pbNode("Relu", "r", []string{"x"}, []string{"h"}),
		pbNode("Softmax", "sm", []string{"h"}, []string{"y"}, aInt("axis", 2)),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4)}, []*onnxpb.ValueInfoProto{{Name: str("y")}}))
	if g := mustDecodePB(t, m); len(g.Nodes) != 2 {
		t.Fatalf("rank through Relu: %v", opSeq(g))
	}
	// Opset 13: untouched.
	g = mustDecodePB(t, one(13, pbNode("Softmax", "sm", []string{"x"}, []string{"y"}, aInt("axis", 1))))
	if len(g.Nodes) != 1 || g.Nodes[0].AttrInt("axis", -99) != 1 {
		t.Fatalf("opset 13: %v", opSeq(g))
	}
}

func TestUpgradeSlice9(t *testing.T) {
	g := mustDecodePB(t, one(9, pbNode("Slice", "s", []string{"x"}, []string{"y"},
		aInts("starts", 0, 1), aInts("ends", 1, 1000), aInts("axes", 0, 2))))
	n := g.Nodes[0]
	if len(n.Attrs) != 0 || len(n.Inputs) != 4 {
		t.Fatalf("got %v attrs %v", n.Inputs, n.Attrs)
	}
	for i, want := range [][]int64{{0, 1}, {1, 1000}, {0, 2}} {
		if got := constOf(t, g, n, i+1).Int64s(); !reflect.DeepEqual(got, want) {
			t.Errorf("input %d = %v, want %v", i+1, got, want)
		}
	}
	g = mustDecodePB(t, one(9, pbNode("Slice", "s", []string{"x"}, []string{"y"}, aInts("starts", 1), aInts("ends", 2))))
	if len(g.Nodes[0].Inputs) != 3 {
		t.Fatalf("without axes: %v", g.Nodes[0].Inputs)
	}
}

func TestUpgradeReduce(t *testing.T) {
	cases := []struct {
		op      string
		opset   int64
		upgrade bool
	}{
		{"ReduceMean", 13, true}, {"ReduceMax", 11, true}, {"ReduceSum", 11, true},
		{"ReduceL2", 17, true}, {"ReduceSumSquare", 9, true},
	}
	for _, c := range cases {
		g := mustDecodePB(t, one(c.opset, pbNode(c.op, "r", []string{"x"}, []string{"y"}, aInts("axes", -1), aInt("keepdims", 0))))
		n := g.Nodes[0]
		if _, has := n.Attrs["axes"]; has || n.AttrInt("keepdims", 1) != 0 {
			t.Fatalf("%s-%d attrs %v", c.op, c.opset, n.Attrs)
		}
		if got := constOf(t, g, n, 1).Int64s(); !reflect.DeepEqual(got, []int64{-1}) {
			t.Fatalf("%s-%d axes %v", c.op, c.opset, got)
		}
	}
	// ReduceSum-13 with axes as an attribute is invalid.
	if _, err := decodePB(t, one(13, pbNode("ReduceSum", "r", []string{"x"}, []string{"y"}, aInts("axes", 1)))); err == nil {
		t.Fatal("ReduceSum-13 with an axes attribute imported")
	}
}

func TestUpgradeSplitPadDropoutBN(t *testing.T) {
	g := mustDecodePB(t, pbModel(11, pbGraph("g", []*onnxpb.NodeProto{
		pbNode("Split", "s", []string{"x"}, []string{"a", "b"}, aInt("axis", 2), aInts("split", 1, 3)),
		pbNode("Split", "e", []string{"x"}, []string{"c", "d", "f"}, aInt("axis", 1)),
		pbNode("Pad", "p", []string{"x"}, []string{"pd"}, aInts("pads", 0, 0, 1, 0, 0, 1), aFloat("value", 2.5)),
		pbNode("Dropout", "dr", []string{"x"}, []string{"dy", "mask"}, aFloat("ratio", 0.3)),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4)},
		[]*onnxpb.ValueInfoProto{{Name: str("a")}, {Name: str("f")}, {Name: str("pd")}, {Name: str("dy")}})))
	// Pad-10 is its own test below (opset 11 is canonical); here Split and Dropout.
	s, e := g.Nodes[0], g.Nodes[1]
	if got := constOf(t, g, s, 1).Int64s(); !reflect.DeepEqual(got, []int64{1, 3}) || len(s.Attrs) != 1 {
		t.Fatalf("split sizes %v attrs %v", got, s.Attrs)
	}
	if len(e.Inputs) != 1 || e.AttrInt("num_outputs", 0) != 3 {
		t.Fatalf("even split: %v num_outputs %d", e.Inputs, e.AttrInt("num_outputs", 0))
	}
	if d := g.Nodes[3]; d.Op != "Identity" || !reflect.DeepEqual(d.Outputs, []string{"dy"}) {
		t.Fatalf("dropout -> %v %v", d, d.Outputs)
	}

	g = mustDecodePB(t, one(10, pbNode("Pad", "p", []string{"x"}, []string{"y"}, aInts("pads", 0, 0, 1, 0, 0, 1), aFloat("value", 2.5), aString("mode", "constant"))))
	n := g.Nodes[0]
	if got := constOf(t, g, n, 1).Int64s(); !reflect.DeepEqual(got, []int64{0, 0, 1, 0, 0, 1}) {
		t.Fatalf("pads %v", got)
	}
	if v := constOf(t, g, n, 2); v.Float32s()[0] != 2.5 || n.AttrString("mode", "") != "constant" || len(n.Attrs) != 1 {
		t.Fatalf("value %v attrs %v", v.Data, n.Attrs)
	}

	bn := pbNode("BatchNormalization", "bn", []string{"x", "s", "b", "m", "v"}, []string{"y", "m1", "v1", "sm", "sv"},
		aInt("spatial", 1), aInt("is_test", 1), aFloat("epsilon", 1e-3))
	c3 := func(name string) *onnxpb.TensorProto { return pbFloats(name, []int64{3}, 1, 2, 3) }
	g = mustDecodePB(t, one(9, bn, c3("s"), c3("b"), c3("m"), c3("v")))
	n = g.Nodes[0]
	if len(n.Outputs) != 1 || len(n.Attrs) != 1 || n.AttrFloat("epsilon", 0) != 1e-3 {
		t.Fatalf("bn outputs %v attrs %v", n.Outputs, n.Attrs)
	}
}

func TestUpgradeResizeUpsample(t *testing.T) {
	scales := pbFloats("sc", []int64{3}, 1, 2, 2)
	g := mustDecodePB(t, one(9, pbNode("Upsample", "u", []string{"x", "sc"}, []string{"y"}, aString("mode", "nearest")), scales))
	n := g.Nodes[0]
	if n.Op != "Resize" || !reflect.DeepEqual(n.Inputs, []string{"x", "", "sc"}) ||
		n.AttrString("coordinate_transformation_mode", "") != "asymmetric" || n.AttrString("nearest_mode", "") != "floor" {
		t.Fatalf("upsample -> %v %v %v", n, n.Inputs, n.Attrs)
	}
	g = mustDecodePB(t, one(10, pbNode("Resize", "r", []string{"x", "sc"}, []string{"y"}, aString("mode", "linear")), scales))
	n = g.Nodes[0]
	if !reflect.DeepEqual(n.Inputs, []string{"x", "", "sc"}) || n.AttrString("mode", "") != "linear" ||
		n.AttrString("coordinate_transformation_mode", "") != "asymmetric" {
		t.Fatalf("resize-10 -> %v %v", n.Inputs, n.Attrs)
	}
	// Resize-11 with an empty roi and empty scales next to sizes.
	empty := pbFloats("empty", []int64{0})
	sizes := pbInt64s("sz", []int64{3}, 2, 6, 8)
	g = mustDecodePB(t, one(11, pbNode("Resize", "r", []string{"x", "empty", "empty", "sz"}, []string{"y"}), empty, sizes))
	if n := g.Nodes[0]; !reflect.DeepEqual(n.Inputs, []string{"x", "", "", "sz"}) {
		t.Fatalf("resize-11 inputs %v", n.Inputs)
	}
	if g.IsInitializer("empty") {
		t.Error("the empty roi/scales initializer nothing reads any more is still there")
	}
}

func TestUpgradeTopKScatter(t *testing.T) {
	g := mustDecodePB(t, pbModel(9, pbGraph("g", []*onnxpb.NodeProto{
		pbNode("TopK", "k", []string{"x"}, []string{"v", "i"}, aInt("k", 2), aInt("axis", -1)),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4)}, []*onnxpb.ValueInfoProto{{Name: str("v")}, {Name: str("i")}})))
	if n := g.Nodes[0]; constOf(t, g, n, 1).Int64s()[0] != 2 || n.AttrInt("axis", 0) != -1 || len(n.Attrs) != 1 {
		t.Fatalf("topk %v %v", n.Inputs, n.Attrs)
	}
	g = mustDecodePB(t, pbModel(9, pbGraph("g", []*onnxpb.NodeProto{
		pbNode("Scatter", "s", []string{"x", "idx", "x"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4), pbValue("idx", onnxpb.TensorProto_INT64, 2, 3, 4)}, []*onnxpb.ValueInfoProto{{Name: str("y")}})))
	if g.Nodes[0].Op != "ScatterElements" {
		t.Fatal(g.Nodes[0].Op)
	}
}

func TestFloat16Bits(t *testing.T) {
	// Reference bit patterns from the IEEE 754 half-precision table.
	cases := map[float32]uint16{0: 0, 1: 0x3c00, -2: 0xc000, 65504: 0x7bff, 1e6: 0x7c00,
		0.5: 0x3800, 5.960464477539063e-08: 0x0001, 6.103515625e-05: 0x0400, 0.333333343: 0x3555}
	for f, want := range cases {
		if got := float16Bits(f); got != want {
			t.Errorf("float16Bits(%g) = %#04x, want %#04x", f, got, want)
		}
	}
	if got := bfloat16Bits(1.5); got != 0x3fc0 {
		t.Errorf("bfloat16Bits(1.5) = %#04x", got)
	}
}
