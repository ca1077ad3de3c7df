package graph

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestInferIndex(t *testing.T) {
	slice := func(starts, ends, axes, steps []int64) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{"st": ints(starts...), "en": ints(ends...)}
		if axes != nil {
			m["ax"] = ints(axes...)
		}
		if steps != nil {
			m["sp"] = ints(steps...)
		}
		return m
	}
	s := func(v ...int64) []int64 { return v }
	runCases(t, []opCase{
		{name: "concat", ins: []*Value{in("a", f32, "N", 3, 8), in("b", f32, "N", 5, 8)},
			node: nd("Concat", names("a", "b"), names("y"), "axis", aInt(1)), want: []string{"[N,8,8]"}},
		{name: "concat negative axis, symbol resolved", ins: []*Value{in("a", f32, "N", 3), in("b", f32, 2, 5)},
			node: nd("Concat", names("a", "b"), names("y"), "axis", aInt(-1)), want: []string{"[2,8]"}},
		{name: "concat symbolic axis", ins: []*Value{in("a", f32, "T", 3), in("b", f32, 2, 3)},
			node: nd("Concat", names("a", "b"), names("y")), want: []string{"[?,3]"}},
		{name: "concat mismatch", ins: []*Value{in("a", f32, 2, 3), in("b", f32, 2, 4)},
			node: nd("Concat", names("a", "b"), names("y")), err: "differ on axis 1"},
		{name: "concat rank mismatch", ins: []*Value{in("a", f32, 2, 3), in("b", f32, 2)},
			node: nd("Concat", names("a", "b"), names("y")), err: "ranks differ"},
		{name: "split sizes", ins: []*Value{in("x", f32, "N", 10)}, inits: map[string]*tensor.Tensor{"sp": ints(3, 7)},
			node: nd("Split", names("x", "sp"), names("a", "b"), "axis", aInt(-1)), want: []string{"[N,3]", "[N,7]"}},
		{name: "split equal", ins: []*Value{in("x", f32, 12, 2)},
			node: nd("Split", names("x"), names("a", "b", "c")), want: []string{"[4,2]", "[4,2]", "[4,2]"}},
		{name: "split uneven (opset 18)", ins: []*Value{in("x", f32, 7)},
			node: nd("Split", names("x"), names("a", "b", "c"), "num_outputs", aInt(3)), want: []string{"[3]", "[3]", "[1]"}},
		{name: "split sizes mismatch", ins: []*Value{in("x", f32, 10)}, inits: map[string]*tensor.Tensor{"sp": ints(3, 8)},
			node: nd("Split", names("x", "sp"), names("a", "b")), err: "sums to 11"},
		{name: "slice basic", ins: []*Value{in("x", f32, 10, 20)}, inits: slice(s(2), s(8), s(1), nil),
			node: nd("Slice", names("x", "st", "en", "ax"), names("y")), want: []string{"[10,6]"}},
		{name: "slice negative start and axis", ins: []*Value{in("x", f32, "N", 20)}, inits: slice(s(-5), s(math.MaxInt64), s(-1), nil),
			node: nd("Slice", names("x", "st", "en", "ax"), names("y")), want: []string{"[N,5]"}},
		{name: "slice step 2", ins: []*Value{in("x", f32, 10)}, inits: slice(s(1), s(10), nil, s(2)),
			node: nd("Slice", names("x", "st", "en", "", "sp"), names("y")), want: []string{"[5]"}},
		{name: "slice negative step", ins: []*Value{in("x", f32, 10)}, inits: slice(s(-1), s(math.MinInt64), s(0), s(-3)),
			node: nd("Slice", names("x", "st", "en", "ax", "sp"), names("y")), want: []string{"[4]"}},
		{name: "slice clamps", ins: []*Value{in("x", f32, 4)}, inits: slice(s(6), s(9), nil, nil),
			node: nd("Slice", names("x", "st", "en"), names("y")), want: []string{"[0]"}},
		{name: "slice whole symbolic dim", ins: []*Value{in("x", f32, "N", 8)}, inits: slice(s(0, 2), s(math.MaxInt64, 4), s(0, 1), nil),
			node: nd("Slice", names("x", "st", "en", "ax"), names("y")), want: []string{"[N,2]"}},
		{name: "slice unknown starts", ins: []*Value{in("x", f32, "N", 8), in("st", i64, 1)}, inits: map[string]*tensor.Tensor{"en": ints(5), "ax": ints(1)},
			node: nd("Slice", names("x", "st", "en", "ax"), names("y")), want: []string{"[N,?]"}},
		{name: "gather scalar index", ins: []*Value{in("x", f32, "N", 7, 3)}, inits: map[string]*tensor.Tensor{"i": scalarInt(2)},
			node: nd("Gather", names("x", "i"), names("y"), "axis", aInt(1)), want: []string{"[N,3]"}},
		{name: "gather embedding", ins: []*Value{in("ids", i64, "B", "T")}, inits: map[string]*tensor.Tensor{"e": zeros(100, 16)},
			node: nd("Gather", names("e", "ids"), names("y")), want: []string{"[B,T,16]"}},
		{name: "gather out of range", ins: []*Value{in("x", f32, 3)}, inits: map[string]*tensor.Tensor{"i": ints(3)},
			node: nd("Gather", names("x", "i"), names("y")), err: "out of range"},
		{name: "gather elements", ins: []*Value{in("x", f32, 3, 4), in("i", i64, 3, 2)},
			node: nd("GatherElements", names("x", "i"), names("y"), "axis", aInt(1)), want: []string{"[3,2]"}},
		{name: "gather nd", ins: []*Value{in("x", f32, 2, 3, 4), in("i", i64, 5, 2)},
			node: nd("GatherND", names("x", "i"), names("y")), want: []string{"[5,4]"}},
		{name: "shape", ins: []*Value{in("x", f32, "N", 3, 4)},
			node: nd("Shape", names("x"), names("y")), want: []string{"[3]"}, dt: []tensor.DType{i64}},
		{name: "shape start end", ins: []*Value{in("x", f32, "N", 3, 4, 5)},
			node: nd("Shape", names("x"), names("y"), "start", aInt(1), "end", aInt(-1)), want: []string{"[2]"}},
		{name: "size", ins: []*Value{in("x", f32, "N", 3)},
			node: nd("Size", names("x"), names("y")), want: []string{"[]"}, dt: []tensor.DType{i64}},
		{name: "constant of shape", inits: map[string]*tensor.Tensor{"s": ints(2, 3)},
			node: nd("ConstantOfShape", names("s"), names("y"), "value", &Attr{Type: AttrTensor, Tensor: tensor.FromInt64([]int{1}, []int64{0})}),
			want: []string{"[2,3]"}, dt: []tensor.DType{i64}},
		{name: "range", inits: map[string]*tensor.Tensor{"a": scalarInt(1), "b": scalarInt(10), "d": scalarInt(3)},
			node: nd("Range", names("a", "b", "d"), names("y")), want: []string{"[3]"}, dt: []tensor.DType{i64}},
		{name: "range unknown", ins: []*Value{in("b", i64)}, inits: map[string]*tensor.Tensor{"a": scalarInt(1), "d": scalarInt(3)},
			node: nd("Range", names("a", "b", "d"), names("y")), want: []string{"[?]"}},
		{name: "constant", node: nd("Constant", nil, names("y"), "value", &Attr{Type: AttrTensor, Tensor: zeros(2, 5)}),
			want: []string{"[2,5]"}, dt: []tensor.DType{f32}},
		{name: "constant value_ints", node: nd("Constant", nil, names("y"), "value_ints", aInts(1, 2, 3)),
			want: []string{"[3]"}, dt: []tensor.DType{i64}},
		{name: "nonzero", ins: []*Value{in("x", f32, 3, 4)},
			node: nd("NonZero", names("x"), names("y")), want: []string{"[2,?]"}},
		{name: "onehot", ins: []*Value{in("i", i64, "N", 5), in("v", f32, 2)}, inits: map[string]*tensor.Tensor{"d": scalarInt(10)},
			node: nd("OneHot", names("i", "d", "v"), names("y")), want: []string{"[N,5,10]"}},
	})
}

func TestInferReduce(t *testing.T) {
	ax := func(v ...int64) map[string]*tensor.Tensor { return map[string]*tensor.Tensor{"ax": ints(v...)} }
	runCases(t, []opCase{
		{name: "reduce mean last axis", ins: []*Value{in("x", f32, "N", "T", 64)}, inits: ax(-1),
			node: nd("ReduceMean", names("x", "ax"), names("y")), want: []string{"[N,T,1]"}},
		{name: "reduce max keepdims 0", ins: []*Value{in("x", f32, "N", 4, 5)}, inits: ax(0, 2),
			node: nd("ReduceMax", names("x", "ax"), names("y"), "keepdims", aInt(0)), want: []string{"[4]"}},
		{name: "reduce all", ins: []*Value{in("x", f32, 3, 4)},
			node: nd("ReduceSum", names("x"), names("y"), "keepdims", aInt(0)), want: []string{"[]"}},
		{name: "reduce all keepdims", ins: []*Value{in("x", f32, 3, 4)},
			node: nd("ReduceL2", names("x"), names("y")), want: []string{"[1,1]"}},
		{name: "reduce noop", ins: []*Value{in("x", f32, 3, 4)},
			node: nd("ReduceSum", names("x"), names("y"), "noop_with_empty_axes", aInt(1)), want: []string{"[3,4]"}},
		{name: "reduce unknown axes keepdims", ins: []*Value{in("x", f32, 3, 4), in("ax", i64, 1)},
			node: nd("ReduceSumSquare", names("x", "ax"), names("y")), want: []string{"[?,?]"}},
		{name: "reduce unknown axes drop", ins: []*Value{in("x", f32, 3, 4, 5), in("ax", i64, 2)},
			node: nd("ReduceMin", names("x", "ax"), names("y"), "keepdims", aInt(0)), want: []string{"[?]"}},
		{name: "reduce bad axis", ins: []*Value{in("x", f32, 3, 4)}, inits: ax(2),
			node: nd("ReduceMean", names("x", "ax"), names("y")), err: "out of range"},
		{name: "argmax", ins: []*Value{in("x", f32, "N", 10)},
			node: nd("ArgMax", names("x"), names("y"), "axis", aInt(-1), "keepdims", aInt(0)), want: []string{"[N]"}, dt: []tensor.DType{i64}},
		{name: "topk", ins: []*Value{in("x", f32, "N", 10)}, inits: map[string]*tensor.Tensor{"k": ints(3)},
			node: nd("TopK", names("x", "k"), names("v", "i")), want: []string{"[N,3]", "[N,3]"}, dt: []tensor.DType{f32, i64}},
		{name: "softmax", ins: []*Value{in("x", f32, "N", 10)},
			node: nd("Softmax", names("x"), names("y"), "axis", aInt(-1)), want: []string{"[N,10]"}},
	})
}

func TestInferResize(t *testing.T) {
	empty := tensor.FromFloat32([]int{0}, nil)
	runCases(t, []opCase{
		{name: "scales", ins: []*Value{in("x", f32, 1, 96, 20, 30)}, inits: map[string]*tensor.Tensor{"roi": empty, "sc": floats(1, 1, 2, 2)},
			node: nd("Resize", names("x", "roi", "sc"), names("y"), "mode", aStr("nearest")), want: []string{"[1,96,40,60]"}},
		{name: "scales floor", ins: []*Value{in("x", f32, "N", 3, 7, 7)}, inits: map[string]*tensor.Tensor{"sc": floats(1, 1, 0.5, 1.5)},
			node: nd("Resize", names("x", "", "sc"), names("y")), want: []string{"[N,3,3,10]"}},
		{name: "sizes with empty scales", ins: []*Value{in("x", f32, "N", 3, 7, 7)}, inits: map[string]*tensor.Tensor{"sc": empty, "sz": ints(1, 3, 14, 28)},
			node: nd("Resize", names("x", "", "sc", "sz"), names("y")), want: []string{"[1,3,14,28]"}},
		{name: "sizes with axes", ins: []*Value{in("x", f32, "N", 3, 7, 7)}, inits: map[string]*tensor.Tensor{"sz": ints(14, 21)},
			node: nd("Resize", names("x", "", "", "sz"), names("y"), "axes", aInts(-2, -1)), want: []string{"[N,3,14,21]"}},
		{name: "sizes not larger", ins: []*Value{in("x", f32, 1, 1, 4, 8)}, inits: map[string]*tensor.Tensor{"sz": ints(8, 8)},
			node: nd("Resize", names("x", "", "", "sz"), names("y"), "axes", aInts(2, 3), "keep_aspect_ratio_policy", aStr("not_larger")),
			want: []string{"[1,1,4,8]"}},
		{name: "unknown scales", ins: []*Value{in("x", f32, "N", 3, 7, 7), in("sc", f32, 4)},
			node: nd("Resize", names("x", "", "sc"), names("y")), want: []string{"[?,?,?,?]"}},
		{name: "scales wrong length", ins: []*Value{in("x", f32, 1, 3, 7, 7)}, inits: map[string]*tensor.Tensor{"sc": floats(2, 2)},
			node: nd("Resize", names("x", "", "sc"), names("y")), err: "do not match"},
		{name: "neither", ins: []*Value{in("x", f32, 1, 3, 7, 7)},
			node: nd("Resize", names("x"), names("y")), err: "needs scales or sizes"},
	})
}
