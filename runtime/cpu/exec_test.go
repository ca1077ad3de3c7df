package cpu

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func node(name, op string, ins, outs []string, attrs map[string]*graph.Attr) *graph.Node {
	return &graph.Node{Name: name, Op: op, Inputs: ins, Outputs: outs, Attrs: attrs}
}

func intsA(v ...int64) *graph.Attr { return &graph.Attr{Type: graph.AttrInts, Ints: v} }
func intA(v int64) *graph.Attr     { return &graph.Attr{Type: graph.AttrInt, Int: v} }
func strA(v string) *graph.Attr    { return &graph.Attr{Type: graph.AttrString, String: v} }
func floatA(v float32) *graph.Attr { return &graph.Attr{Type: graph.AttrFloat, Float: v} }
func graphA(g *graph.Graph) *graph.Attr {
	return &graph.Attr{Type: graph.AttrGraph, Graph: g}
}

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromFloat32(shape, v) }
func i64(shape []int, v ...int64) *tensor.Tensor   { return tensor.FromInt64(shape, v) }

// oneNode builds a graph around one node whose inputs are graph inputs (or initializers
// from inits) and whose outputs are the graph outputs.
func oneNode(n *graph.Node, inputs map[string]*tensor.Tensor, inits map[string]*tensor.Tensor) *graph.Graph {
	g := graph.New("t")
	for _, name := range n.Inputs {
		if name == "" {
			continue
		}
		if t, ok := inits[name]; ok {
			g.Initializers[name] = t
			continue
		}
		t := inputs[name]
		g.Inputs = append(g.Inputs, graph.NewValue(name, t.DType, graph.Dims(t.Shape...)))
	}
	for _, o := range n.Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, &graph.Value{Name: o})
		}
	}
	g.Nodes = []*graph.Node{n}
	return g
}

func run1(t *testing.T, n *graph.Node, inputs, inits map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	out, err := Run(context.Background(), oneNode(n, inputs, inits), inputs, Options{})
	if err != nil {
		t.Fatalf("%v: %v", n, err)
	}
	return out
}

func closeF(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSupportedOps(t *testing.T) {
	ops := SupportedOps()
	if !sort.StringsAreSorted(ops) {
		t.Fatal("not sorted")
	}
	have := map[string]bool{}
	for _, o := range ops {
		have[o] = true
	}
	required := strings.Fields(`Add AveragePool BatchNormalization Cast Clip Concat Constant Conv ConvTranspose Div Flatten
		Gemm GlobalAveragePool GreaterOrEqual HardSigmoid If LeakyRelu Log MatMul Max MaxPool Mul Pow ReduceMax ReduceMean
		Relu Reshape Resize Shape Sigmoid Slice Softmax Sqrt Squeeze Sub Transpose Unsqueeze HardSwish Tanh Min ReduceSum
		Split Gather Erf LayerNormalization Exp Neg Abs Identity Where Equal Less Greater Not And Or Expand ConstantOfShape
		Range Gelu Dropout Pad ReduceL2 ReduceSumSquare ArgMax Sum Mean Tile Size LessOrEqual Xor Floor Ceil Round
		Reciprocal Sign Sin Cos Elu Selu Softplus PRelu Mish Mod ReduceProd ReduceMin ReduceL1 ReduceLogSumExp
		InstanceNormalization DepthToSpace SpaceToDepth TopK Loop GlobalMaxPool LogSoftmax`)
	for _, o := range required {
		if !have[o] {
			t.Errorf("op %s is not supported", o)
		}
	}
}

func TestConvReluGraph(t *testing.T) {
	// x [1,1,3,3] * ones 2x2 kernel, pad 0, bias -10, then Relu
	g := graph.New("conv")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(1, 1, 3, 3))}
	g.Outputs = []*graph.Value{{Name: "y"}}
	g.Initializers["w"] = f32([]int{1, 1, 2, 2}, 1, 1, 1, 1)
	g.Initializers["b"] = f32([]int{1}, -10)
	g.Nodes = []*graph.Node{
		node("c", "Conv", []string{"x", "w", "b"}, []string{"h"}, map[string]*graph.Attr{"kernel_shape": intsA(2, 2)}),
		node("r", "Relu", []string{"h"}, []string{"y"}, nil),
	}
	x := f32([]int{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": x}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	y := out["y"]
	// window sums: 12 16 24 28 -> minus 10 -> 2 6 14 18
	if !sameShape(y.Shape, []int{1, 1, 2, 2}) || !closeF(y.Float32s(), []float32{2, 6, 14, 18}, 0) {
		t.Fatalf("got %v %v", y.Shape, y.Data)
	}
}

func TestShapeArithmeticInt64(t *testing.T) {
	// Reshape x [2,3,4] to [2, 12] computed from Shape/Gather/Mul/Concat on int64 tensors.
	g := graph.New("shape")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2, 3, 4))}
	g.Outputs = []*graph.Value{{Name: "y"}, {Name: "s"}}
	g.Initializers["i0"] = i64(nil, 0)
	g.Initializers["i12"] = i64([]int{2}, 1, 2)
	g.Initializers["ax0"] = i64([]int{1}, 0)
	g.Nodes = []*graph.Node{
		node("shape", "Shape", []string{"x"}, []string{"sh"}, nil),
		node("g0", "Gather", []string{"sh", "i0"}, []string{"d0"}, nil),
		node("g12", "Gather", []string{"sh", "i12"}, []string{"d12"}, nil),
		node("prod", "ReduceProd", []string{"d12"}, []string{"p"}, map[string]*graph.Attr{"keepdims": intA(1)}),
		node("u0", "Unsqueeze", []string{"d0", "ax0"}, []string{"d0u"}, nil),
		node("cat", "Concat", []string{"d0u", "p"}, []string{"s"}, map[string]*graph.Attr{"axis": intA(0)}),
		node("rs", "Reshape", []string{"x", "s"}, []string{"y"}, nil),
	}
	x, _ := tensor.New(tensor.Float32, []int{2, 3, 4})
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": x}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := out["s"].Int64s(); len(s) != 2 || s[0] != 2 || s[1] != 12 {
		t.Fatalf("shape %v", out["s"].Data)
	}
	if !sameShape(out["y"].Shape, []int{2, 12}) {
		t.Fatalf("y shape %v", out["y"].Shape)
	}
	// int64 broadcasting arithmetic
	o := run1(t, node("sub", "Sub", []string{"a", "b"}, []string{"c"}, nil),
		map[string]*tensor.Tensor{"a": i64([]int{2, 1}, 10, 20), "b": i64([]int{3}, 1, 2, 3)}, nil)
	if c := o["c"].Int64s(); !sameShape(o["c"].Shape, []int{2, 3}) || c[0] != 9 || c[5] != 17 {
		t.Fatalf("int sub %v %v", o["c"].Shape, c)
	}
}

func TestIfWithOuterScope(t *testing.T) {
	then := graph.New("then")
	then.Outputs = []*graph.Value{{Name: "t_out"}}
	then.Nodes = []*graph.Node{node("ta", "Add", []string{"x", "outer"}, []string{"t_out"}, nil)}
	els := graph.New("else")
	els.Outputs = []*graph.Value{{Name: "e_out"}}
	els.Nodes = []*graph.Node{node("ea", "Mul", []string{"x", "outer"}, []string{"e_out"}, nil)}
	g := graph.New("if")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2)), graph.NewValue("c", tensor.Bool, graph.Dims())}
	g.Outputs = []*graph.Value{{Name: "y"}}
	g.Nodes = []*graph.Node{
		node("o", "Neg", []string{"x"}, []string{"outer"}, nil),
		node("if", "If", []string{"c"}, []string{"y"}, map[string]*graph.Attr{"then_branch": graphA(then), "else_branch": graphA(els)}),
	}
	for _, cond := range []bool{true, false} {
		out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": f32([]int{2}, 2, 3), "c": tensor.FromBool(nil, []bool{cond})}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{0, 0}
		if !cond {
			want = []float32{-4, -9}
		}
		if !closeF(out["y"].Float32s(), want, 0) {
			t.Fatalf("cond %v: %v", cond, out["y"].Data)
		}
	}
}

func TestLoop(t *testing.T) {
	// sum = sum + i for i < 4; scan out = sum
	body := graph.New("body")
	body.Inputs = []*graph.Value{graph.NewValue("i", tensor.Int64, graph.Dims()), graph.NewValue("cin", tensor.Bool, graph.Dims()), graph.NewValue("s", tensor.Int64, graph.Dims())}
	body.Outputs = []*graph.Value{{Name: "cout"}, {Name: "s2"}, {Name: "scan"}}
	body.Nodes = []*graph.Node{
		node("id", "Identity", []string{"cin"}, []string{"cout"}, nil),
		node("add", "Add", []string{"s", "i"}, []string{"s2"}, nil),
		node("cp", "Identity", []string{"s2"}, []string{"scan"}, nil),
	}
	g := graph.New("loop")
	g.Inputs = []*graph.Value{graph.NewValue("m", tensor.Int64, graph.Dims())}
	g.Initializers["c"] = tensor.FromBool(nil, []bool{true})
	g.Initializers["s0"] = i64(nil, 100)
	g.Outputs = []*graph.Value{{Name: "final"}, {Name: "all"}}
	g.Nodes = []*graph.Node{node("loop", "Loop", []string{"m", "c", "s0"}, []string{"final", "all"}, map[string]*graph.Attr{"body": graphA(body)})}
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"m": i64(nil, 4)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := out["final"].Int64s(); f[0] != 106 {
		t.Fatalf("final %v", f)
	}
	if a := out["all"].Int64s(); !sameShape(out["all"].Shape, []int{4}) || a[0] != 100 || a[3] != 106 {
		t.Fatalf("scan %v %v", out["all"].Shape, a)
	}
}

func TestRunErrors(t *testing.T) {
	g := oneNode(node("add1", "Add", []string{"a", "b"}, []string{"c"}, nil),
		map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0), "b": f32([]int{2}, 0, 0)}, nil)
	ctx := context.Background()
	cases := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   string
	}{
		{"missing", map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0)}, `"b" is missing`},
		{"dtype", map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0), "b": i64([]int{2}, 0, 0)}, "element type int64"},
		{"rank", map[string]*tensor.Tensor{"a": f32([]int{6}, 0, 0, 0, 0, 0, 0), "b": f32([]int{2}, 0, 0)}, "[2,3]"},
		{"broadcast", map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0), "b": f32([]int{2}, 0, 0)}, `node "add1" (Add)`},
		{"extra", map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0), "b": f32([]int{3}, 0, 0, 0), "zz": f32([]int{1}, 0)}, "zz"},
	}
	for _, tc := range cases {
		_, err := Run(ctx, g, tc.inputs, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// unknown op
	g2 := oneNode(node("n", "FancyOp", []string{"a"}, []string{"c"}, nil), map[string]*tensor.Tensor{"a": f32([]int{1}, 0)}, nil)
	if _, err := Run(ctx, g2, map[string]*tensor.Tensor{"a": f32([]int{1}, 0)}, Options{}); !errors.Is(err, ErrUnsupportedOp) || !strings.Contains(err.Error(), "FancyOp") {
		t.Errorf("unknown op: %v", err)
	}
	// wrong input count
	g3 := oneNode(node("r", "Relu", []string{"a", "b"}, []string{"c"}, nil), map[string]*tensor.Tensor{"a": f32([]int{1}, 0), "b": f32([]int{1}, 0)}, nil)
	if _, err := Run(ctx, g3, map[string]*tensor.Tensor{"a": f32([]int{1}, 0), "b": f32([]int{1}, 0)}, Options{}); err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Errorf("arity: %v", err)
	}
	// conv with mismatched weight
	in := map[string]*tensor.Tensor{"x": f32([]int{1, 2, 2, 2}, 0, 0, 0, 0, 0, 0, 0, 0), "w": f32([]int{1, 3, 1, 1}, 0, 0, 0)}
	if _, err := Run(ctx, oneNode(node("cv", "Conv", []string{"x", "w"}, []string{"y"}, nil), in, nil), in, Options{}); err == nil || !strings.Contains(err.Error(), `node "cv" (Conv): input 1 has shape [1 3 1 1]`) {
		t.Errorf("conv mismatch: %v", err)
	}
	// cancelled context
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, g, map[string]*tensor.Tensor{"a": f32([]int{2, 3}, 0, 0, 0, 0, 0, 0), "b": f32([]int{3}, 0, 0, 0)}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestLivenessKeepsOutputs(t *testing.T) {
	// h is both a graph output and consumed later; it must survive.
	g := graph.New("live")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2))}
	g.Outputs = []*graph.Value{{Name: "h"}, {Name: "y"}}
	g.Nodes = []*graph.Node{
		node("a", "Exp", []string{"x"}, []string{"h"}, nil),
		node("b", "Neg", []string{"h"}, []string{"t"}, nil),
		node("c", "Add", []string{"t", "h"}, []string{"y"}, nil),
	}
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": f32([]int{2}, 0, 1)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !closeF(out["h"].Float32s(), []float32{1, float32(math.E)}, 1e-6) || !closeF(out["y"].Float32s(), []float32{0, 0}, 0) {
		t.Fatalf("%v %v", out["h"].Data, out["y"].Data)
	}
	lu := lastUses(g)
	if len(lu[2]) != 2 { // t and y (last use / produced at c); h last used at c too
		found := map[string]bool{}
		for _, n := range lu[2] {
			found[n] = true
		}
		if !found["t"] {
			t.Fatalf("t is not freed after its last use: %v", lu)
		}
	}
}
