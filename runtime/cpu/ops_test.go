package cpu

import (
	"context"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestOpTable(t *testing.T) {
	type io = map[string]*tensor.Tensor
	cases := []struct {
		name  string
		n     *graph.Node
		in    io
		inits io
		want  *tensor.Tensor
	}{
		{"resize scales", node("r", "Resize", []string{"x", "", "sc"}, []string{"y"}, map[string]*graph.Attr{"mode": strA("nearest"), "coordinate_transformation_mode": strA("asymmetric"), "nearest_mode": strA("floor")}),
			io{"x": f32([]int{1, 1, 1, 2}, 1, 2)}, io{"sc": f32([]int{4}, 1, 1, 2, 2)}, f32([]int{1, 1, 2, 4}, 1, 1, 2, 2, 1, 1, 2, 2)},
		{"resize sizes linear", node("r", "Resize", []string{"x", "", "", "sz"}, []string{"y"}, map[string]*graph.Attr{"mode": strA("linear"), "coordinate_transformation_mode": strA("align_corners")}),
			io{"x": f32([]int{1, 2}, 0, 3)}, io{"sz": i64([]int{2}, 1, 4)}, f32([]int{1, 4}, 0, 1, 2, 3)},
		{"slice negative step", node("s", "Slice", []string{"x", "st", "en", "ax", "sp"}, []string{"y"}, nil),
			io{"x": i64([]int{5}, 0, 1, 2, 3, 4)}, io{"st": i64([]int{1}, -1), "en": i64([]int{1}, -6), "ax": i64([]int{1}, 0), "sp": i64([]int{1}, -2)}, i64([]int{3}, 4, 2, 0)},
		{"split sizes", node("s", "Split", []string{"x", "sz"}, []string{"a", "b"}, map[string]*graph.Attr{"axis": intA(-1)}),
			io{"x": f32([]int{1, 3}, 1, 2, 3)}, io{"sz": i64([]int{2}, 1, 2)}, f32([]int{1, 1}, 1)},
		{"pad reflect", node("p", "Pad", []string{"x", "pads"}, []string{"y"}, map[string]*graph.Attr{"mode": strA("reflect")}),
			io{"x": f32([]int{3}, 1, 2, 3)}, io{"pads": i64([]int{2}, 1, 1)}, f32([]int{5}, 2, 1, 2, 3, 2)},
		{"clip int", node("c", "Clip", []string{"x", "lo"}, []string{"y"}, nil),
			io{"x": i64([]int{3}, -5, 0, 5)}, io{"lo": i64(nil, -1)}, i64([]int{3}, -1, 0, 5)},
		{"clip float both", node("c", "Clip", []string{"x", "lo", "hi"}, []string{"y"}, nil),
			io{"x": f32([]int{3}, -5, 0.5, 5)}, io{"lo": f32(nil, 0), "hi": f32(nil, 1)}, f32([]int{3}, 0, 0.5, 1)},
		{"cast", node("c", "Cast", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"to": intA(7)}),
			io{"x": f32([]int{2}, 2.7, -2.7)}, nil, i64([]int{2}, 2, -2)},
		{"where", node("w", "Where", []string{"c", "x", "y"}, []string{"z"}, nil),
			io{"c": tensor.FromBool([]int{2}, []bool{true, false}), "x": i64([]int{2}, 1, 2), "y": i64(nil, 9)}, nil, i64([]int{2}, 1, 9)},
		{"squeeze", node("s", "Squeeze", []string{"x", "ax"}, []string{"y"}, nil),
			io{"x": f32([]int{1, 2, 1}, 1, 2)}, io{"ax": i64([]int{1}, -1)}, f32([]int{1, 2}, 1, 2)},
		{"unsqueeze", node("u", "Unsqueeze", []string{"x", "ax"}, []string{"y"}, nil),
			io{"x": f32([]int{2}, 1, 2)}, io{"ax": i64([]int{2}, 0, -1)}, f32([]int{1, 2, 1}, 1, 2)},
		{"reduce mean keepdims", node("r", "ReduceMean", []string{"x", "ax"}, []string{"y"}, nil),
			io{"x": f32([]int{2, 2}, 1, 2, 3, 4)}, io{"ax": i64([]int{1}, -1)}, f32([]int{2, 1}, 1.5, 3.5)},
		{"reduce noop", node("r", "ReduceSum", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"noop_with_empty_axes": intA(1)}),
			io{"x": f32([]int{2}, 1, 2)}, nil, f32([]int{2}, 1, 2)},
		{"argmax", node("a", "ArgMax", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"axis": intA(1), "keepdims": intA(0)}),
			io{"x": f32([]int{2, 3}, 1, 9, 2, 7, 0, 8)}, nil, i64([]int{2}, 1, 2)},
		{"gemm transB", node("g", "Gemm", []string{"a", "b", "c"}, []string{"y"}, map[string]*graph.Attr{"transB": intA(1), "alpha": floatA(2)}),
			io{"a": f32([]int{1, 2}, 1, 2)}, io{"b": f32([]int{2, 2}, 1, 0, 0, 1), "c": f32([]int{2}, 10, 20)}, f32([]int{1, 2}, 12, 24)},
		{"matmul 1d", node("m", "MatMul", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": f32([]int{2}, 1, 2)}, io{"b": f32([]int{2, 2}, 1, 2, 3, 4)}, f32([]int{2}, 7, 10)},
		{"depthtospace DCR", node("d", "DepthToSpace", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"blocksize": intA(2)}),
			io{"x": f32([]int{1, 4, 1, 1}, 1, 2, 3, 4)}, nil, f32([]int{1, 1, 2, 2}, 1, 2, 3, 4)},
		{"range int", node("r", "Range", []string{"a", "b", "d"}, []string{"y"}, nil),
			io{"a": i64(nil, 10)}, io{"b": i64(nil, 4), "d": i64(nil, -3)}, i64([]int{2}, 10, 7)},
		{"constantofshape", node("c", "ConstantOfShape", []string{"s"}, []string{"y"}, map[string]*graph.Attr{"value": {Type: graph.AttrTensor, Tensor: i64([]int{1}, 3)}}),
			io{"s": i64([]int{2}, 1, 2)}, nil, i64([]int{1, 2}, 3, 3)},
		{"equal int", node("e", "Equal", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": i64([]int{2}, 1, 2)}, io{"b": i64(nil, 2)}, tensor.FromBool([]int{2}, []bool{false, true})},
		{"mean variadic", node("m", "Mean", []string{"a", "b", "c"}, []string{"y"}, nil),
			io{"a": f32([]int{2}, 1, 2)}, io{"b": f32(nil, 4), "c": f32([]int{1}, 1)}, f32([]int{2}, 2, 7.0/3)},
		{"layernorm", node("l", "LayerNormalization", []string{"x", "s"}, []string{"y"}, nil),
			io{"x": f32([]int{1, 2}, 1, 3)}, io{"s": f32([]int{2}, 1, 1)}, f32([]int{1, 2}, -1, 1)},
		{"softmax axis0", node("s", "Softmax", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"axis": intA(0)}),
			io{"x": f32([]int{2, 1}, 0, 0)}, nil, f32([]int{2, 1}, 0.5, 0.5)},
		{"topk", node("t", "TopK", []string{"x", "k"}, []string{"v", "i"}, nil),
			io{"x": f32([]int{4}, 1, 5, 3, 4)}, io{"k": i64([]int{1}, 2)}, f32([]int{2}, 5, 4)},
		{"global max", node("g", "GlobalMaxPool", []string{"x"}, []string{"y"}, nil),
			io{"x": f32([]int{1, 1, 2, 2}, 1, 4, 3, 2)}, nil, f32([]int{1, 1, 1, 1}, 4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := run1(t, tc.n, tc.in, tc.inits)
			got := out[tc.n.Outputs[0]]
			if got.DType != tc.want.DType || !sameShape(got.Shape, tc.want.Shape) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			switch w := tc.want.Data.(type) {
			case []float32:
				if !closeF(got.Float32s(), w, 1e-5) {
					t.Fatalf("got %v, want %v", got.Data, w)
				}
			case []int64:
				for i := range w {
					if got.Int64s()[i] != w[i] {
						t.Fatalf("got %v, want %v", got.Data, w)
					}
				}
			case []bool:
				for i := range w {
					if got.Bools()[i] != w[i] {
						t.Fatalf("got %v, want %v", got.Data, w)
					}
				}
			}
		})
	}
}

func TestHalfPrecisionAdd(t *testing.T) {
	// float16 1.5 (0x3e00) + 2.25 (0x4080) = 3.75 (0x4380)
	a := &tensor.Tensor{DType: tensor.Float16, Shape: []int{1}, Data: []uint16{0x3e00}}
	b := &tensor.Tensor{DType: tensor.Float16, Shape: []int{1}, Data: []uint16{0x4080}}
	out := run1(t, node("a", "Add", []string{"a", "b"}, []string{"c"}, nil), map[string]*tensor.Tensor{"a": a, "b": b}, nil)
	c := out["c"]
	if c.DType != tensor.Float16 || c.Data.([]uint16)[0] != 0x4380 {
		t.Fatalf("got %v %#x", c, c.Data)
	}
}

func TestFusedClip(t *testing.T) {
	// Conv (1x1, weight 2) -> Clip(0, 6): fused into the conv epilogue
	g := graph.New("fuse")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(1, 1, 1, 4))}
	g.Outputs = []*graph.Value{{Name: "y"}}
	g.Initializers["w"] = f32([]int{1, 1, 1, 1}, 2)
	g.Initializers["lo"] = f32(nil, 0)
	g.Initializers["hi"] = f32(nil, 6)
	g.Nodes = []*graph.Node{
		node("c", "Conv", []string{"x", "w"}, []string{"h"}, nil),
		node("k", "Clip", []string{"h", "lo", "hi"}, []string{"y"}, nil),
	}
	if p := planFusions(g); len(p) != 1 {
		t.Fatalf("fusion plan %v", p)
	}
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": f32([]int{1, 1, 1, 4}, -1, 1, 3, 5)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !closeF(out["y"].Float32s(), []float32{0, 2, 6, 6}, 0) {
		t.Fatalf("got %v", out["y"].Data)
	}
	// a conv output that is also a graph output must not be fused
	g.Outputs = append(g.Outputs, &graph.Value{Name: "h"})
	if p := planFusions(g); len(p) != 0 {
		t.Fatalf("fused a graph output: %v", p)
	}
}

func TestFusedBatchNorm(t *testing.T) {
	// Conv (1x1, weight 2, bias 1) -> BatchNormalization -> Relu: BN folded into the conv
	g := graph.New("fold")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(1, 1, 1, 4))}
	g.Outputs = []*graph.Value{{Name: "y"}}
	g.Initializers["w"] = f32([]int{1, 1, 1, 1}, 2)
	g.Initializers["b"] = f32([]int{1}, 1)
	g.Initializers["scale"] = f32([]int{1}, -0.5)
	g.Initializers["beta"] = f32([]int{1}, 1)
	g.Initializers["mean"] = f32([]int{1}, 3)
	g.Initializers["var"] = f32([]int{1}, 3)
	g.Nodes = []*graph.Node{
		node("c", "Conv", []string{"x", "w", "b"}, []string{"h"}, nil),
		node("bn", "BatchNormalization", []string{"h", "scale", "beta", "mean", "var"}, []string{"z"}, map[string]*graph.Attr{"epsilon": floatA(1)}),
		node("r", "Relu", []string{"z"}, []string{"y"}, nil),
	}
	if p := planFusions(g); len(p) != 1 || p[0].bn == nil || p[0].act.Op != ref.Relu || p[0].last != 2 {
		t.Fatalf("fusion plan %+v", p)
	}
	x := map[string]*tensor.Tensor{"x": f32([]int{1, 1, 1, 4}, -1, 1, 3, 5)}
	// conv: -1 3 7 11; bn: -0.5*(h-3)/sqrt(3+1) + 1 = 2 1 0 -1; relu: 2 1 0 0
	for run := 0; run < 2; run++ { // the second run takes the cached folded weights
		out, err := Run(context.Background(), g, x, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !closeF(out["y"].Float32s(), []float32{2, 1, 0, 0}, 1e-6) {
			t.Fatalf("run %d: got %v", run, out["y"].Data)
		}
	}
	// a new scale tensor invalidates the cache: 0.5*(h-3)/2 + 1 = 0 1 2 3
	g.Initializers["scale"] = f32([]int{1}, 0.5)
	out, err := Run(context.Background(), g, x, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !closeF(out["y"].Float32s(), []float32{0, 1, 2, 3}, 1e-6) {
		t.Fatalf("after the change: got %v", out["y"].Data)
	}
	// the initializers themselves are untouched
	if w := g.Initializers["w"].Float32s()[0]; w != 2 {
		t.Fatalf("weight initializer changed to %v", w)
	}
}
