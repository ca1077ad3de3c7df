package graph

import (
	"maps"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// inputsGraph: x [batch,3,48,?] f32, mask [batch,T] bool, and a defaulted input "scale".
func inputsGraph() *Graph {
	g := build([]*Value{in("x", f32, "batch", 3, 48, "?"), in("mask", tensor.Bool, "batch", "T"), in("scale", f32, 1)},
		map[string]*tensor.Tensor{"scale": floats(2)},
		nd("Mul", names("x", "scale"), names("y")))
	return g
}

func TestCheckInputs(t *testing.T) {
	x := func(s ...int) *tensor.Tensor { return tensor.MustNew(f32, s) }
	m := func(s ...int) *tensor.Tensor { return tensor.MustNew(tensor.Bool, s) }
	cases := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   []string // substrings of the error; none: must pass
	}{
		{name: "ok", inputs: map[string]*tensor.Tensor{"x": x(2, 3, 48, 100), "mask": m(2, 7)}},
		{name: "ok with default overridden", inputs: map[string]*tensor.Tensor{"x": x(1, 3, 48, 1), "mask": m(1, 1), "scale": x(1)}},
		{name: "missing", inputs: map[string]*tensor.Tensor{"x": x(2, 3, 48, 100)},
			want: []string{`input "mask" (bool[batch,T]) is missing`}},
		{name: "unknown name", inputs: map[string]*tensor.Tensor{"x": x(2, 3, 48, 100), "mask": m(2, 7), "images": x(1)},
			want: []string{`input "images" is not an input of the model`, `"x" float32[batch,3,48,?]`, `"mask" bool[batch,T]`}},
		{name: "wrong dtype", inputs: map[string]*tensor.Tensor{"x": tensor.MustNew(i64, []int{2, 3, 48, 100}), "mask": m(2, 7)},
			want: []string{`input "x": expected element type float32, got int64`}},
		{name: "wrong rank", inputs: map[string]*tensor.Tensor{"x": x(3, 48, 100), "mask": m(2, 7)},
			want: []string{`input "x": expected shape [batch,3,48,?] (rank 4), got [3 48 100] (rank 3)`}},
		{name: "wrong known dim", inputs: map[string]*tensor.Tensor{"x": x(2, 3, 32, 100), "mask": m(2, 7)},
			want: []string{`input "x": expected shape [batch,3,48,?], got [2 3 32 100] (dim 2 is 32, not 48)`}},
		{name: "inconsistent symbol", inputs: map[string]*tensor.Tensor{"x": x(2, 3, 48, 100), "mask": m(4, 7)},
			want: []string{`input "mask"`, `dim 0 (batch) is 4 here but 2 in input "x"`}},
		{name: "malformed tensor", inputs: map[string]*tensor.Tensor{"x": {DType: f32, Shape: []int{2, 3, 48, 1}, Data: []float32{1}}, "mask": m(2, 7)},
			want: []string{`input "x"`, "needs 288 elements"}},
		{name: "several problems at once", inputs: map[string]*tensor.Tensor{"x": tensor.MustNew(i64, []int{2, 3, 48, 100})},
			want: []string{"element type", `"mask"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := inputsGraph().CheckInputs(tc.inputs)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBindAndSpecialize(t *testing.T) {
	g := build([]*Value{in("x", f32, "batch", 3, "H", "W")},
		map[string]*tensor.Tensor{"w": zeros(8, 3, 3, 3)},
		nd("Conv", names("x", "w"), names("y"), "strides", aInts(2, 2), "pads", aInts(1, 1, 1, 1)))
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(g.Outputs[0]); got != "[batch,8,?,?]" {
		t.Fatalf("symbolic output %s, want [batch,8,?,?]", got)
	}
	bind, err := g.BindSymbols(map[string]*tensor.Tensor{"x": tensor.MustNew(f32, []int{2, 3, 64, 33})})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"batch": 2, "H": 64, "W": 33}; !maps.Equal(bind, want) {
		t.Fatalf("bindings %v, want %v", bind, want)
	}
	s, err := Specialize(g, bind)
	if err != nil {
		t.Fatal(err)
	}
	// (64 + 2 - 3) / 2 + 1 = 32; (33 + 2 - 3) / 2 + 1 = 17
	if got := shapeStr(s.Outputs[0]); got != "[2,8,32,17]" {
		t.Errorf("specialized output %s, want [2,8,32,17]", got)
	}
	if got := shapeStr(g.Outputs[0]); got != "[batch,8,?,?]" {
		t.Errorf("Specialize changed the original: %s", got)
	}
	// Binding only the batch keeps the other symbols.
	s, err = Specialize(g, map[string]int64{"batch": 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(s.Outputs[0]); got != "[4,8,?,?]" {
		t.Errorf("batch-only output %s, want [4,8,?,?]", got)
	}
	if _, err := SpecializeShapes(g, map[string][]int{"x": {2, 4, 64, 64}}); err == nil || !strings.Contains(err.Error(), "dim 1 is 4, not 3") {
		t.Errorf("SpecializeShapes with a wrong channel count: %v", err)
	}
	if _, err := SpecializeShapes(g, map[string][]int{"y": {1}}); err == nil || !strings.Contains(err.Error(), `"y" is not an input`) {
		t.Errorf("SpecializeShapes with an unknown input: %v", err)
	}
}

func TestSpecializeSubgraphsAreCopied(t *testing.T) {
	then := New("then")
	then.Nodes = []*Node{nd("Relu", names("x"), names("t0"))}
	then.Outputs = []*Value{{Name: "t0"}}
	els := New("else")
	els.Nodes = []*Node{nd("Neg", names("x"), names("e0"))}
	els.Outputs = []*Value{{Name: "e0"}}
	g := build([]*Value{in("x", f32, "N", 4), in("c", tensor.Bool)}, nil,
		nd("If", names("c"), names("o"),
			"then_branch", &Attr{Type: AttrGraph, Graph: then}, "else_branch", &Attr{Type: AttrGraph, Graph: els}))
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	s, err := Specialize(g, map[string]int64{"N": 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(s.Outputs[0]); got != "[3,4]" {
		t.Errorf("specialized If output %s, want [3,4]", got)
	}
	if got := shapeStr(then.Values["t0"]); got != "[N,4]" {
		t.Errorf("the original branch was changed: t0 %s", got)
	}
}
