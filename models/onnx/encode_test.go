package onnx

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// exportGraph is a small graph in canonical form, built directly in the IR: MatMul, a
// ReduceSum with an axes-less form, an If whose branches read the outer h, a Reshape with
// an int64 shape, and unused initializers of every element type.
func exportGraph() *graph.Graph {
	g := graph.New("main")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(2)})}
	g.Outputs = []*graph.Value{graph.NewValue("y", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3)})}
	g.Values["h"] = graph.NewValue("h", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3)})
	g.Initializers["w"] = tensor.FromFloat32([]int{2, 3}, []float32{1, -2, 3, -4, 5, -6})
	g.Initializers["zero"] = tensor.FromFloat32(nil, []float32{0})
	g.Initializers["shape"] = tensor.FromInt64([]int{2}, []int64{-1, 3})
	g.Initializers["u_f16"] = &tensor.Tensor{DType: tensor.Float16, Shape: []int{2}, Data: []uint16{0x3c00, 0x7bff}}
	g.Initializers["u_bf16"] = &tensor.Tensor{DType: tensor.BFloat16, Shape: []int{1}, Data: []uint16{0x3f80}}
	g.Initializers["u_f64"] = &tensor.Tensor{DType: tensor.Float64, Shape: []int{1}, Data: []float64{math.E}}
	g.Initializers["u_i8"] = &tensor.Tensor{DType: tensor.Int8, Shape: []int{2}, Data: []int8{-128, 127}}
	g.Initializers["u_u8"] = &tensor.Tensor{DType: tensor.Uint8, Shape: []int{1}, Data: []uint8{200}}
	g.Initializers["u_i16"] = &tensor.Tensor{DType: tensor.Int16, Shape: []int{1}, Data: []int16{-30000}}
	g.Initializers["u_i32"] = &tensor.Tensor{DType: tensor.Int32, Shape: []int{1, 1}, Data: []int32{-7}}
	g.Initializers["u_bool"] = tensor.FromBool([]int{2}, []bool{true, false})
	g.Initializers["u_empty"] = tensor.FromFloat32([]int{0}, []float32{})

	branch := func(name, op, out string) *graph.Graph {
		b := graph.New(name)
		b.Outputs = []*graph.Value{graph.NewValue(out, tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3)})}
		b.Nodes = []*graph.Node{{Name: name + "_op", Op: op, Inputs: []string{"h"}, Outputs: []string{out}, Attrs: map[string]*graph.Attr{}}}
		return b
	}
	g.Nodes = []*graph.Node{
		{Name: "mm", Op: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}, Attrs: map[string]*graph.Attr{}},
		{Name: "rs", Op: "ReduceSum", Inputs: []string{"h"}, Outputs: []string{"s"},
			Attrs: map[string]*graph.Attr{"keepdims": {Type: graph.AttrInt, Int: 0}}},
		{Name: "ge", Op: "GreaterOrEqual", Inputs: []string{"s", "zero"}, Outputs: []string{"c"}, Attrs: map[string]*graph.Attr{}},
		{Name: "if", Op: "If", Inputs: []string{"c"}, Outputs: []string{"y1"}, Attrs: map[string]*graph.Attr{
			"then_branch": {Type: graph.AttrGraph, Graph: branch("then", "Relu", "t")},
			"else_branch": {Type: graph.AttrGraph, Graph: branch("else", "Neg", "e")},
		}},
		{Name: "rsh", Op: "Reshape", Inputs: []string{"y1", "shape"}, Outputs: []string{"y"}, Attrs: map[string]*graph.Attr{}},
	}
	return g
}

func TestRoundTrip(t *testing.T) {
	g := exportGraph()
	// Attribute kinds the runnable graph lacks, on a node that only has to survive the trip.
	g.Nodes = append(g.Nodes, &graph.Node{Name: "attrs", Op: "ConstantOfShape", Inputs: []string{"shape"}, Outputs: []string{"unused"},
		Attrs: map[string]*graph.Attr{
			"value": {Type: graph.AttrTensor, Tensor: tensor.FromFloat32([]int{1}, []float32{2.5})},
			"f":     {Type: graph.AttrFloat, Float: -0.25},
			"fs":    {Type: graph.AttrFloats, Floats: []float32{1, 2}},
			"is":    {Type: graph.AttrInts, Ints: []int64{3, -4}},
			"s":     {Type: graph.AttrString, String: "nearest"},
			"ss":    {Type: graph.AttrStrings, Strings: []string{"a", "b"}},
		}})
	g.Values["unused"] = &graph.Value{Name: "unused", DType: tensor.Float32} // rank unknown
	data, err := Encode(g, ExportOptions{ProducerVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	back, info, err := Decode(data, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Producer != Producer || info.Opset() != 21 || info.IRVersion != DefaultIRVersion {
		t.Errorf("info %+v", info)
	}
	if err := sameGraph(g, back); err != nil {
		t.Fatal(err)
	}
	// And a real model survives the trip (after its import into canonical form).
	dir := filepath.Join(repoRoot(), ".cache", "models", "real")
	if _, err := os.Stat(filepath.Join(dir, "oww_hey_jarvis.onnx")); err == nil {
		real, _, err := Load(filepath.Join(dir, "oww_hey_jarvis.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		data, err := Encode(real, ExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := Decode(data, DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sameGraph(real, back); err != nil {
			t.Fatalf("hey_jarvis: %v", err)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	g := exportGraph()
	g.Nodes[0].Inputs[0] = "undefined"
	if _, err := Encode(g, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("unverified graph: %v", err)
	}
	g = exportGraph()
	g.Initializers["bad"] = &tensor.Tensor{DType: tensor.Float32, Shape: []int{3}, Data: []float32{1}}
	if _, err := Encode(g, ExportOptions{}); err == nil {
		t.Error("inconsistent tensor exported")
	}
	if _, err := Encode(nil, ExportOptions{}); err == nil {
		t.Error("nil graph exported")
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ortScript loads a model in onnxruntime-node and runs it on one float32 input.
const ortScript = `
const ort = require(process.argv[1]);
(async () => {
  const s = await ort.InferenceSession.create(process.argv[2]);
  const inp = JSON.parse(process.argv[3]);
  const feeds = {};
  feeds[inp.name] = new ort.Tensor('float32', Float32Array.from(inp.data), inp.dims);
  const r = await s.run(feeds);
  const out = {};
  for (const k of Object.keys(r)) out[k] = {dims: r[k].dims, data: Array.from(r[k].data)};
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
`

// ortOrSkip returns node and the onnxruntime-node module, or skips the test.
func ortOrSkip(t *testing.T) (node, mod string) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the onnxruntime check")
	}
	mod = filepath.Join(repoRoot(), ".cache", "ort", "node_modules", "onnxruntime-node")
	if _, err := os.Stat(mod); err != nil {
		t.Skipf("onnxruntime-node is not installed at %s: skipping the onnxruntime check", mod)
	}
	return node, mod
}

func TestExportRunsInOnnxruntime(t *testing.T) {
	node, mod := ortOrSkip(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := Save(exportGraph(), path); err != nil {
		t.Fatal(err)
	}
	in := `{"name":"x","dims":[2,2],"data":[1,2,3,-4]}`
	out, err := exec.Command(node, "-e", ortScript, mod, path, in).CombinedOutput()
	if err != nil {
		t.Fatalf("onnxruntime: %v\n%s", err, out)
	}
	var res map[string]struct {
		Dims []int     `json:"dims"`
		Data []float64 `json:"data"`
	}
	if err := json.Unmarshal(out[strings.LastIndexByte(strings.TrimSpace(string(out)), '\n')+1:], &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// h = x @ w = [[-7 8 -9] [19 -26 33]]; sum(h) = 18 >= 0, so y = Relu(h).
	want := []float64{0, 8, 0, 19, 0, 33}
	y := res["y"]
	if len(y.Dims) != 2 || y.Dims[0] != 2 || y.Dims[1] != 3 || len(y.Data) != 6 {
		t.Fatalf("y = %+v", y)
	}
	for i := range want {
		if y.Data[i] != want[i] {
			t.Fatalf("y = %v, want %v", y.Data, want)
		}
	}
}
