package graph

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestInferElementwise(t *testing.T) {
	runCases(t, []opCase{
		{name: "unary keeps shape", ins: []*Value{in("x", f32, "N", 3, "?")},
			node: nd("Relu", names("x"), names("y")), want: []string{"[N,3,?]"}, dt: []tensor.DType{f32}},
		{name: "unary unknown rank", ins: []*Value{unranked("x", f32)},
			node: nd("Sigmoid", names("x"), names("y")), want: []string{"[?...]"}},
		{name: "add broadcast right-aligned", ins: []*Value{in("a", f32, 2, 1, 4), in("b", f32, 3, 1)},
			node: nd("Add", names("a", "b"), names("y")), want: []string{"[2,3,4]"}},
		{name: "1 and symbol give the symbol", ins: []*Value{in("a", f32, 1, 8), in("b", f32, "batch", 8)},
			node: nd("Mul", names("a", "b"), names("y")), want: []string{"[batch,8]"}},
		{name: "same symbols stay", ins: []*Value{in("a", f32, "N", 8), in("b", f32, "N", 1)},
			node: nd("Sub", names("a", "b"), names("y")), want: []string{"[N,8]"}},
		{name: "different symbols give unknown", ins: []*Value{in("a", f32, "N", 8), in("b", f32, "M", 8)},
			node: nd("Div", names("a", "b"), names("y")), want: []string{"[?,8]"}},
		{name: "known beats symbol", ins: []*Value{in("a", f32, "N", 8), in("b", f32, 5, 8)},
			node: nd("Add", names("a", "b"), names("y")), want: []string{"[5,8]"}},
		{name: "scalar broadcast", ins: []*Value{in("a", f32, "N", 8), in("b", f32)},
			node: nd("Pow", names("a", "b"), names("y")), want: []string{"[N,8]"}},
		{name: "conflicting dims", ins: []*Value{in("a", f32, 2, 3), in("b", f32, 4, 3)},
			node: nd("Add", names("a", "b"), names("y")), err: "[2,3] [4,3]"},
		{name: "dtype mismatch", ins: []*Value{in("a", f32, 2), in("b", i64, 2)},
			node: nd("Add", names("a", "b"), names("y")), err: "element types"},
		{name: "compare gives bool", ins: []*Value{in("a", f32, 4, 1), in("b", f32, 5)},
			node: nd("GreaterOrEqual", names("a", "b"), names("y")), want: []string{"[4,5]"}, dt: []tensor.DType{tensor.Bool}},
		{name: "variadic max", ins: []*Value{in("a", f32, 3, 1, 1), in("b", f32, 1, 4, 1), in("c", f32, 5)},
			node: nd("Max", names("a", "b", "c"), names("y")), want: []string{"[3,4,5]"}},
		{name: "where", ins: []*Value{in("c", tensor.Bool, 1, 4), in("x", f32, "N", 1), in("y", f32)},
			node: nd("Where", names("c", "x", "y"), names("z")), want: []string{"[N,4]"}, dt: []tensor.DType{f32}},
		{name: "where non-bool condition", ins: []*Value{in("c", f32, 4), in("x", f32, 4), in("y", f32, 4)},
			node: nd("Where", names("c", "x", "y"), names("z")), err: "not bool"},
		{name: "cast", ins: []*Value{in("x", f32, "N", 2)},
			node: nd("Cast", names("x"), names("y"), "to", aInt(7)), want: []string{"[N,2]"}, dt: []tensor.DType{i64}},
		{name: "cast to unsupported type", ins: []*Value{in("x", f32, 2)},
			node: nd("Cast", names("x"), names("y"), "to", aInt(8)), err: "cast to ONNX element type 8"},
		{name: "clip with min max inputs", ins: []*Value{in("x", f32, "N", 3), in("lo", f32), in("hi", f32)},
			node: nd("Clip", names("x", "lo", "hi"), names("y")), want: []string{"[N,3]"}},
		{name: "clip omitted min", ins: []*Value{in("x", f32, 7), in("hi", f32)},
			node: nd("Clip", names("x", "", "hi"), names("y")), want: []string{"[7]"}},
		{name: "dropout mask", ins: []*Value{in("x", f32, 2, "T")},
			node: nd("Dropout", names("x"), names("y", "m")), want: []string{"[2,T]", "[2,T]"}, dt: []tensor.DType{f32, tensor.Bool}},
		{name: "prelu", ins: []*Value{in("x", f32, "N", 16, 8, 8), in("s", f32, 16, 1, 1)},
			node: nd("PRelu", names("x", "s"), names("y")), want: []string{"[N,16,8,8]"}},
	})
}
