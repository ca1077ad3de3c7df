package onnx

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

func TestUnknownOpError(t *testing.T) {
	_, err := decodePB(t, one(13, pbNode("FancyOp", "foo", []string{"x"}, []string{"y"})))
	const want = `node "foo" (op FancyOp, opset 13): unsupported operator`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	var ue *UnsupportedOpError
	if !errors.As(err, &ue) || ue.Op != "FancyOp" || ue.Opset != 13 {
		t.Fatalf("not an UnsupportedOpError: %#v", err)
	}
	// Another domain, and a nameless node in a subgraph.
	n := pbNode("Inverse", "inv", []string{"x"}, []string{"y"})
	n.Domain = str("com.microsoft")
	m := one(13, n)
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: str("com.microsoft"), Version: proto.Int64(1)})
	if _, err := decodePB(t, m); err == nil || err.Error() != `node "inv" (op com.microsoft.Inverse, opset 1): unsupported operator` {
		t.Fatalf("other domain: %v", err)
	}
	// An op that exists only in a later opset.
	if _, err := decodePB(t, one(13, pbNode("Gelu", "ge", []string{"x"}, []string{"y"}))); err == nil || !strings.Contains(err.Error(), `node "ge" (op Gelu, opset 13): unsupported operator`) {
		t.Fatalf("Gelu at 13: %v", err)
	}
	nameless := one(13, pbNode("Nope", "", []string{"x"}, []string{"y"}))
	if _, err := decodePB(t, nameless); err == nil || !strings.Contains(err.Error(), `node "#0 (output y)" (op Nope, opset 13)`) {
		t.Fatalf("nameless: %v", err)
	}
}

func TestSupportedOps(t *testing.T) {
	ops := SupportedOps()
	want := strings.Fields(`Add AveragePool BatchNormalization Cast Clip Concat Constant Conv ConvTranspose Div
		Flatten Gemm GlobalAveragePool GreaterOrEqual HardSigmoid If LeakyRelu Log MatMul Max MaxPool Mul Pow
		ReduceMax ReduceMean Relu Reshape Resize Shape Sigmoid Slice Softmax Sqrt Squeeze Sub Transpose Unsqueeze
		HardSwish Tanh Min ReduceSum Split Gather Erf LayerNormalization Exp Neg Abs Identity Where Equal Less
		Greater Not And Or Expand ConstantOfShape Range Gelu Dropout Pad ReduceL2 ReduceSumSquare ArgMax Sum
		Mean Tile`)
	have := map[string]bool{}
	for i, op := range ops {
		have[op] = true
		if i > 0 && ops[i-1] >= op {
			t.Fatalf("SupportedOps not sorted at %q", op)
		}
	}
	for _, op := range want {
		if !have[op] {
			t.Errorf("%s is not supported", op)
		}
	}
	for _, op := range CanonicalOps() {
		if !have[op] {
			t.Errorf("canonical op %s is not in SupportedOps", op)
		}
		if op == "Constant" || op == "Upsample" || op == "Scatter" {
			t.Errorf("%s listed as canonical", op)
		}
	}
}

func TestInvalidModel(t *testing.T) {
	dir := t.TempDir()
	good, err := proto.Marshal(one(13, pbNode("Relu", "r", []string{"x"}, []string{"y"})))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   []byte("\xff\xff\xff\xff this is not a model"),
		"empty":     nil,
	} {
		_, _, err := Decode(data, DecodeOptions{})
		if err == nil || !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), "not a valid ONNX model") {
			t.Errorf("%s: error %v", name, err)
		}
		path := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a valid ONNX model") {
			t.Errorf("Load %s: error %v", name, err)
		}
	}
	if _, _, err := Load(filepath.Join(dir, "absent.onnx")); err == nil {
		t.Error("missing file loaded")
	}
	for _, opset := range []int64{8, 24} {
		if _, err := decodePB(t, one(opset, pbNode("Relu", "r", []string{"x"}, []string{"y"}))); err == nil || !strings.Contains(err.Error(), "opset") {
			t.Errorf("opset %d: %v", opset, err)
		}
	}
	// A graph that does not verify: a node reads an undefined value.
	if _, err := decodePB(t, one(13, pbNode("Add", "a", []string{"x", "nowhere"}, []string{"y"}))); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("undefined input: %v", err)
	}
}

// rawOf packs values little-endian.
func rawOf(vals ...any) []byte {
	var out []byte
	for _, v := range vals {
		out, _ = binary.Append(out, binary.LittleEndian, v)
	}
	return out
}

func TestInitializerDTypes(t *testing.T) {
	dt := func(et onnxpb.TensorProto_DataType) *int32 { return proto.Int32(int32(et)) }
	cases := []struct {
		name string
		tp   *onnxpb.TensorProto
		want *tensor.Tensor
	}{
		{"f32raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT), Dims: []int64{2}, RawData: rawOf(float32(1.5), float32(-2))},
			tensor.FromFloat32([]int{2}, []float32{1.5, -2})},
		{"f32typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT), Dims: []int64{1, 2}, FloatData: []float32{3, 4}},
			tensor.FromFloat32([]int{1, 2}, []float32{3, 4})},
		{"f64raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_DOUBLE), Dims: []int64{1}, RawData: rawOf(math.Pi)},
			&tensor.Tensor{DType: tensor.Float64, Shape: []int{1}, Data: []float64{math.Pi}}},
		{"f64typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_DOUBLE), Dims: []int64{2}, DoubleData: []float64{1, 2}},
			&tensor.Tensor{DType: tensor.Float64, Shape: []int{2}, Data: []float64{1, 2}}},
		{"i64raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT64), Dims: []int64{2}, RawData: rawOf(int64(-1), int64(1<<40))},
			tensor.FromInt64([]int{2}, []int64{-1, 1 << 40})},
		{"i64typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT64), Dims: nil, Int64Data: []int64{7}},
			tensor.FromInt64(nil, []int64{7})},
		{"i32raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT32), Dims: []int64{2}, RawData: rawOf(int32(-5), int32(6))},
			&tensor.Tensor{DType: tensor.Int32, Shape: []int{2}, Data: []int32{-5, 6}}},
		{"i32typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT32), Dims: []int64{1}, Int32Data: []int32{-9}},
			&tensor.Tensor{DType: tensor.Int32, Shape: []int{1}, Data: []int32{-9}}},
		{"i8typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT8), Dims: []int64{3}, Int32Data: []int32{-128, 0, 127}},
			&tensor.Tensor{DType: tensor.Int8, Shape: []int{3}, Data: []int8{-128, 0, 127}}},
		{"i8raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT8), Dims: []int64{2}, RawData: []byte{0xff, 0x02}},
			&tensor.Tensor{DType: tensor.Int8, Shape: []int{2}, Data: []int8{-1, 2}}},
		{"u8typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_UINT8), Dims: []int64{2}, Int32Data: []int32{255, 1}},
			&tensor.Tensor{DType: tensor.Uint8, Shape: []int{2}, Data: []uint8{255, 1}}},
		{"i16typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT16), Dims: []int64{2}, Int32Data: []int32{-300, 300}},
			&tensor.Tensor{DType: tensor.Int16, Shape: []int{2}, Data: []int16{-300, 300}}},
		{"i16raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_INT16), Dims: []int64{1}, RawData: rawOf(int16(-300))},
			&tensor.Tensor{DType: tensor.Int16, Shape: []int{1}, Data: []int16{-300}}},
		{"booltyped", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BOOL), Dims: []int64{3}, Int32Data: []int32{1, 0, 1}},
			tensor.FromBool([]int{3}, []bool{true, false, true})},
		{"boolraw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BOOL), Dims: []int64{2}, RawData: []byte{0, 1}},
			tensor.FromBool([]int{2}, []bool{false, true})},
		{"f16typed", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT16), Dims: []int64{2}, Int32Data: []int32{0x3c00, 0xc000}},
			&tensor.Tensor{DType: tensor.Float16, Shape: []int{2}, Data: []uint16{0x3c00, 0xc000}}},
		{"f16raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT16), Dims: []int64{1}, RawData: []byte{0x00, 0x3c}},
			&tensor.Tensor{DType: tensor.Float16, Shape: []int{1}, Data: []uint16{0x3c00}}},
		{"bf16raw", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_BFLOAT16), Dims: []int64{1}, RawData: []byte{0x80, 0x3f}},
			&tensor.Tensor{DType: tensor.BFloat16, Shape: []int{1}, Data: []uint16{0x3f80}}},
		{"empty", &onnxpb.TensorProto{DataType: dt(onnxpb.TensorProto_FLOAT), Dims: []int64{0, 3}},
			tensor.FromFloat32([]int{0, 3}, []float32{})},
	}
	for _, c := range cases {
		c.tp.Name = str("w")
		m := pbModel(13, pbGraph("g", []*onnxpb.NodeProto{pbNode("Identity", "i", []string{"w"}, []string{"y"})},
			nil, []*onnxpb.ValueInfoProto{{Name: str("y")}}, c.tp))
		g, err := decodePB(t, m)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := g.Initializers["w"]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v %#v, want %v %#v", c.name, got, got.Data, c.want, c.want.Data)
		}
	}
}

func TestBadTensors(t *testing.T) {
	dt := proto.Int32(int32(onnxpb.TensorProto_FLOAT))
	cases := map[string]*onnxpb.TensorProto{
		"raw too short":  {DataType: dt, Dims: []int64{3}, RawData: rawOf(float32(1))},
		"raw too long":   {DataType: dt, Dims: []int64{1}, RawData: rawOf(float32(1), float32(2))},
		"typed mismatch": {DataType: dt, Dims: []int64{3}, FloatData: []float32{1}},
		"no data":        {DataType: dt, Dims: []int64{3}},
		"negative dim":   {DataType: dt, Dims: []int64{-1}, RawData: nil},
		"huge dim":       {DataType: dt, Dims: []int64{1 << 62}},
		"overflow":       {DataType: dt, Dims: []int64{1 << 30, 1 << 30, 1 << 30}},
		"string":         {DataType: proto.Int32(int32(onnxpb.TensorProto_STRING)), Dims: []int64{1}, StringData: [][]byte{[]byte("a")}},
		"bad type":       {DataType: proto.Int32(99), Dims: []int64{1}},
	}
	for name, tp := range cases {
		tp.Name = str("w")
		m := pbModel(13, pbGraph("g", []*onnxpb.NodeProto{pbNode("Identity", "i", []string{"w"}, []string{"y"})},
			nil, []*onnxpb.ValueInfoProto{{Name: str("y")}}, tp))
		if _, err := decodePB(t, m); err == nil || !strings.Contains(err.Error(), `initializer "w"`) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// Value shapes: huge dims and overflowing products.
	for _, dims := range [][]any{{1 << 50}, {1 << 30, 1 << 30, 1 << 30}} {
		m := pbModel(13, pbGraph("g", []*onnxpb.NodeProto{pbNode("Relu", "r", []string{"x"}, []string{"y"})},
			[]*onnxpb.ValueInfoProto{pbValue("x", f32, dims...)}, []*onnxpb.ValueInfoProto{{Name: str("y")}}))
		if _, err := decodePB(t, m); err == nil {
			t.Errorf("input dims %v imported", dims)
		}
	}
}

func TestValuesAndConstants(t *testing.T) {
	dt := proto.Int32(int32(onnxpb.TensorProto_FLOAT))
	g := pbGraph("main", []*onnxpb.NodeProto{
		pbNode("Constant", "c1", nil, []string{"k"}, aTensor("value", &onnxpb.TensorProto{DataType: dt, Dims: []int64{2}, RawData: rawOf(float32(1), float32(2))})),
		pbNode("Constant", "c2", nil, []string{"kf"}, aFloat("value_float", 0.5)),
		pbNode("Constant", "c3", nil, []string{"kfs"}, aFloats("value_floats", 1, 2, 3)),
		pbNode("Constant", "c4", nil, []string{"ki"}, aInt("value_int", -4)),
		pbNode("Constant", "c5", nil, []string{"kis"}, aInts("value_ints", 5, 6)),
		pbNode("Add", "a", []string{"x", "k"}, []string{"h"}),
		pbNode("Mul", "m", []string{"h", "w"}, []string{"y"}),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, "batch", 2), pbValue("w", f32, 2)},
		[]*onnxpb.ValueInfoProto{pbValue("y", f32, "batch", nil)},
		pbFloats("w", []int64{2}, 3, 4))
	g.ValueInfo = []*onnxpb.ValueInfoProto{pbValue("h", f32, "batch", 2)}
	m := pbModel(13, g)
	m.ProducerName, m.DocString = str("test"), str("doc")
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: str("ai.onnx.ml"), Version: proto.Int64(2)})
	data, _ := proto.Marshal(m)
	out, info, err := Decode(data, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.IRVersion != 7 || info.Opset() != 13 || info.Opsets["ai.onnx.ml"] != 2 || info.Producer != "test" || info.Doc != "doc" {
		t.Errorf("info %+v", info)
	}
	if len(out.Inputs) != 1 || out.Inputs[0].String() != "x: float32[batch,2]" {
		t.Errorf("inputs %v (w is an initializer)", out.Inputs)
	}
	if y := out.Outputs[0]; y.Shape[0] != graph.P("batch") || y.Shape[1] != graph.Unknown() {
		t.Errorf("output %v %+v", y, y.Shape)
	}
	if h := out.Values["h"]; h == nil || h.String() != "h: float32[batch,2]" {
		t.Errorf("value_info h: %v", h)
	}
	want := map[string]*tensor.Tensor{
		"k":   tensor.FromFloat32([]int{2}, []float32{1, 2}),
		"kf":  tensor.FromFloat32(nil, []float32{0.5}),
		"kfs": tensor.FromFloat32([]int{3}, []float32{1, 2, 3}),
		"ki":  tensor.FromInt64(nil, []int64{-4}),
		"kis": tensor.FromInt64([]int{2}, []int64{5, 6}),
		"w":   tensor.FromFloat32([]int{2}, []float32{3, 4}),
	}
	if !reflect.DeepEqual(out.Initializers, want) {
		t.Errorf("initializers %v", out.Initializers)
	}
	if got := opSeq(out); !reflect.DeepEqual(got, []string{"Add", "Mul"}) {
		t.Errorf("ops %v", got)
	}
}

// ifModel is a model with an If whose branches read an outer value.
func ifModel() *onnxpb.ModelProto {
	then := pbGraph("then", []*onnxpb.NodeProto{pbNode("Relu", "tr", []string{"h"}, []string{"t_out"})}, nil,
		[]*onnxpb.ValueInfoProto{pbValue("t_out", f32, "batch", 3)})
	els := pbGraph("else", []*onnxpb.NodeProto{pbNode("Neg", "en", []string{"h"}, []string{"e_out"})}, nil,
		[]*onnxpb.ValueInfoProto{pbValue("e_out", f32, "batch", 3)})
	return pbModel(13, pbGraph("main", []*onnxpb.NodeProto{
		pbNode("MatMul", "mm", []string{"x", "w"}, []string{"h"}),
		pbNode("ReduceSum", "rs", []string{"h"}, []string{"s"}, aInt("keepdims", 0)),
		pbNode("GreaterOrEqual", "ge", []string{"s", "zero"}, []string{"c"}),
		pbNode("If", "if", []string{"c"}, []string{"y"}, aGraph("then_branch", then), aGraph("else_branch", els)),
	}, []*onnxpb.ValueInfoProto{pbValue("x", f32, "batch", 2)},
		[]*onnxpb.ValueInfoProto{pbValue("y", f32, "batch", 3)},
		pbFloats("w", []int64{2, 3}, 1, -2, 3, -4, 5, -6), pbFloats("zero", nil, 0)))
}

func TestSubgraphs(t *testing.T) {
	g := mustDecodePB(t, ifModel())
	n := findOp(g, "If")[0]
	then := n.AttrGraph("then_branch")
	if then == nil || n.AttrGraph("else_branch") == nil || then.Nodes[0].Inputs[0] != "h" {
		t.Fatalf("If branches: %+v", n.Attrs)
	}
	if err := then.VerifyIn(map[string]bool{"h": true}); err != nil {
		t.Fatal(err)
	}
	// A branch reading a value that the outer graph defines only later is an error.
	m := ifModel()
	nodes := m.Graph.Node
	m.Graph.Node = []*onnxpb.NodeProto{nodes[1], nodes[2], nodes[3], nodes[0]}
	if _, err := decodePB(t, m); err == nil {
		t.Fatal("out-of-order outer reference imported")
	}
	// An unsupported op deep inside a subgraph names the node.
	m = ifModel()
	m.Graph.Node[3].Attribute[0].G.Node[0].OpType = str("Bogus")
	if _, err := decodePB(t, m); err == nil || !strings.Contains(err.Error(), `node "tr" (op Bogus, opset 13): unsupported operator`) {
		t.Fatalf("subgraph unknown op: %v", err)
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	weights := rawOf(float32(9), float32(1), float32(2), float32(3))
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), weights, 0o644); err != nil {
		t.Fatal(err)
	}
	ext := func(loc, offset, length string) *onnxpb.TensorProto {
		tp := &onnxpb.TensorProto{Name: str("w"), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: []int64{3},
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
		for _, kv := range [][2]string{{"location", loc}, {"offset", offset}, {"length", length}} {
			if kv[1] != "" {
				tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: str(kv[0]), Value: str(kv[1])})
			}
		}
		return tp
	}
	model := func(tp *onnxpb.TensorProto) string {
		m := pbModel(13, pbGraph("g", []*onnxpb.NodeProto{pbNode("Identity", "i", []string{"w"}, []string{"y"})},
			nil, []*onnxpb.ValueInfoProto{{Name: str("y")}}, tp))
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "m.onnx")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	g, _, err := Load(model(ext("w.bin", "4", "12")))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Initializers["w"].Float32s(); !reflect.DeepEqual(got, []float32{1, 2, 3}) {
		t.Fatalf("external tensor %v", got)
	}
	for name, c := range map[string]struct {
		tp   *onnxpb.TensorProto
		want []string
	}{
		"missing":   {ext("nope.bin", "", ""), []string{`initializer "w"`, filepath.Join(dir, "nope.bin")}},
		"escape":    {ext("../w.bin", "", ""), []string{`initializer "w"`, "escapes the model directory"}},
		"absolute":  {ext("/etc/passwd", "", ""), []string{`initializer "w"`, "escapes"}},
		"too short": {ext("w.bin", "8", "12"), []string{`initializer "w"`, "too short"}},
		"length":    {ext("w.bin", "0", "8"), []string{`initializer "w"`, "length 8"}},
	} {
		_, _, err := Load(model(c.tp))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want it to say %q", name, err, w)
			}
		}
	}
	// Decode without a base directory cannot read external data.
	data, _ := os.ReadFile(model(ext("w.bin", "4", "12")))
	if _, _, err := Decode(data, DecodeOptions{}); err == nil {
		t.Error("external data decoded without a base directory")
	}
}

func TestLoopScanAndDomainAlias(t *testing.T) {
	body := pbGraph("body", []*onnxpb.NodeProto{
		pbNode("Identity", "bc", []string{"cond_in"}, []string{"cond_out"}),
		pbNode("Add", "ba", []string{"acc_in", "x"}, []string{"acc_out"}),
	}, []*onnxpb.ValueInfoProto{pbValue("i", onnxpb.TensorProto_INT64), {Name: str("cond_in")}, {Name: str("acc_in")}},
		[]*onnxpb.ValueInfoProto{{Name: str("cond_out")}, {Name: str("acc_out")}})
	loop := pbNode("Loop", "loop", []string{"n", "", "x"}, []string{"y"}, aGraph("body", body))
	loop.Domain = str("ai.onnx")
	m := pbModel(13, pbGraph("main", []*onnxpb.NodeProto{loop},
		[]*onnxpb.ValueInfoProto{pbValue("x", f32, 2, 3, 4)}, []*onnxpb.ValueInfoProto{{Name: str("y")}},
		pbInt64s("n", nil, 3)))
	m.OpsetImport[0].Domain = str("ai.onnx")
	g := mustDecodePB(t, m)
	n := g.Nodes[0]
	b := n.AttrGraph("body")
	if n.Op != "Loop" || n.Domain != "" || b == nil || len(b.Inputs) != 3 || b.Inputs[1].RankKnown || b.Inputs[2].DType != tensor.Undefined {
		t.Fatalf("loop %+v body %+v", n, b)
	}
	if !reflect.DeepEqual(n.Inputs, []string{"n", "", "x"}) {
		t.Fatalf("loop inputs %v", n.Inputs)
	}
	// The body reads x from the outer graph.
	if err := b.VerifyIn(map[string]bool{}); err == nil {
		t.Error("the body verifies without its outer scope")
	}
}
