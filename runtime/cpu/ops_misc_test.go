package cpu

import (
	"context"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestLpNormalization(t *testing.T) {
	x := f32([]int{2, 2}, 3, 4, 0, 0)
	cases := []struct {
		attrs map[string]*graph.Attr
		want  []float32
	}{
		{nil, []float32{0.6, 0.8, 0, 0}},                                          // p=2 over the last axis; zero row stays zero
		{map[string]*graph.Attr{"p": intA(1)}, []float32{3.0 / 7, 4.0 / 7, 0, 0}}, // p=1
		{map[string]*graph.Attr{"axis": intA(0)}, []float32{1, 1, 0, 0}},          // down the columns
	}
	for i, tc := range cases {
		out := run1(t, node("lp", "LpNormalization", []string{"x"}, []string{"y"}, tc.attrs), map[string]*tensor.Tensor{"x": x}, nil)
		if y := out["y"]; !sameShape(y.Shape, []int{2, 2}) || !closeF(y.Float32s(), tc.want, 1e-6) {
			t.Errorf("case %d: got %v %v, want %v", i, y.Shape, y.Data, tc.want)
		}
	}
}

func TestOneHot(t *testing.T) {
	idx := i64([]int{3}, 0, -1, 5) // -1 -> depth-1; 5 is out of range
	depth := i64(nil, 3)
	vals := f32([]int{2}, -1, 7)
	out := run1(t, node("oh", "OneHot", []string{"i", "d", "v"}, []string{"y"}, nil),
		map[string]*tensor.Tensor{"i": idx, "d": depth, "v": vals}, nil)
	want := []float32{7, -1, -1, -1, -1, 7, -1, -1, -1}
	if y := out["y"]; !sameShape(y.Shape, []int{3, 3}) || !closeF(y.Float32s(), want, 0) {
		t.Fatalf("axis -1: %v %v", y.Shape, y.Data)
	}
	// axis 0: the depth axis comes first; int64 values, float indices
	out = run1(t, node("oh", "OneHot", []string{"i", "d", "v"}, []string{"y"}, map[string]*graph.Attr{"axis": intA(0)}),
		map[string]*tensor.Tensor{"i": f32([]int{2}, 1, 2), "d": depth, "v": i64([]int{2}, 0, 1)}, nil)
	if y := out["y"]; !sameShape(y.Shape, []int{3, 2}) || !equalI64(y.Int64s(), []int64{0, 0, 1, 0, 0, 1}) {
		t.Fatalf("axis 0: %v %v", y.Shape, y.Data)
	}
}

func equalI64(a, b []int64) bool {
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

func TestTrilu(t *testing.T) {
	x := i64([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	cases := []struct {
		upper int64
		k     *tensor.Tensor
		want  []int64
	}{
		{1, nil, []int64{1, 2, 3, 0, 5, 6, 0, 0, 9}},
		{0, nil, []int64{1, 0, 0, 4, 5, 0, 7, 8, 9}},
		{1, i64(nil, 1), []int64{0, 2, 3, 0, 0, 6, 0, 0, 0}},
		{0, i64(nil, -1), []int64{0, 0, 0, 4, 0, 0, 7, 8, 0}},
		{1, i64(nil, -5), []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for i, tc := range cases {
		ins := []string{"x"}
		inputs := map[string]*tensor.Tensor{"x": x}
		if tc.k != nil {
			ins = append(ins, "k")
			inputs["k"] = tc.k
		}
		out := run1(t, node("tri", "Trilu", ins, []string{"y"}, map[string]*graph.Attr{"upper": intA(tc.upper)}), inputs, nil)
		if y := out["y"]; !sameShape(y.Shape, []int{3, 3}) || !equalI64(y.Int64s(), tc.want) {
			t.Errorf("case %d: got %v, want %v", i, y.Data, tc.want)
		}
	}
	// batched and non-square float input
	out := run1(t, node("tri", "Trilu", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"upper": intA(0)}),
		map[string]*tensor.Tensor{"x": f32([]int{2, 2, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)}, nil)
	if y := out["y"].Float32s(); !closeF(y, []float32{1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0}, 0) {
		t.Fatalf("batched: %v", y)
	}
}

// scanGraph builds Scan over x [2, 3] along axis 1 with a running-sum state s [2]: each step
// s += x[:, k] and the scan output is the new s.
func scanGraph(attrs map[string]*graph.Attr) *graph.Graph {
	body := graph.New("body")
	body.Inputs = []*graph.Value{graph.NewValue("s", tensor.Float32, graph.Dims(2)), graph.NewValue("xi", tensor.Float32, graph.Dims(2))}
	body.Outputs = []*graph.Value{{Name: "s2"}, {Name: "y"}}
	body.Nodes = []*graph.Node{
		node("add", "Add", []string{"s", "xi"}, []string{"s2"}, nil),
		node("cp", "Identity", []string{"s2"}, []string{"y"}, nil),
	}
	a := map[string]*graph.Attr{"body": graphA(body), "num_scan_inputs": intA(1), "scan_input_axes": intsA(1)}
	for k, v := range attrs {
		a[k] = v
	}
	g := graph.New("scan")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2, 3))}
	g.Initializers["s0"] = f32([]int{2}, 0, 0)
	g.Outputs = []*graph.Value{{Name: "final"}, {Name: "all"}}
	g.Nodes = []*graph.Node{node("scan", "Scan", []string{"s0", "x"}, []string{"final", "all"}, a)}
	return g
}

func TestScan(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 10, 20, 30)
	cases := []struct {
		name  string
		attrs map[string]*graph.Attr
		final []float32
		shape []int
		all   []float32
	}{
		{"forward", nil, []float32{6, 60}, []int{3, 2}, []float32{1, 10, 3, 30, 6, 60}},
		{"output axis 1", map[string]*graph.Attr{"scan_output_axes": intsA(-1)}, []float32{6, 60}, []int{2, 3}, []float32{1, 3, 6, 10, 30, 60}},
		{"reversed", map[string]*graph.Attr{"scan_input_directions": intsA(1), "scan_output_directions": intsA(1), "scan_output_axes": intsA(1)},
			[]float32{6, 60}, []int{2, 3}, []float32{6, 5, 3, 60, 50, 30}},
		{"reversed input only", map[string]*graph.Attr{"scan_input_directions": intsA(1)}, []float32{6, 60}, []int{3, 2}, []float32{3, 30, 5, 50, 6, 60}},
	}
	for _, tc := range cases {
		out, err := Run(context.Background(), scanGraph(tc.attrs), map[string]*tensor.Tensor{"x": x}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if f := out["final"]; !closeF(f.Float32s(), tc.final, 0) {
			t.Errorf("%s: final %v, want %v", tc.name, f.Data, tc.final)
		}
		if a := out["all"]; !sameShape(a.Shape, tc.shape) || !closeF(a.Float32s(), tc.all, 0) {
			t.Errorf("%s: scan output %v %v, want %v %v", tc.name, a.Shape, a.Data, tc.shape, tc.all)
		}
	}
	// mismatched step counts and bad attributes are errors
	g := scanGraph(map[string]*graph.Attr{"num_scan_inputs": intA(3)})
	if _, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": x}, Options{}); err == nil {
		t.Error("num_scan_inputs 3 with 2 inputs: no error")
	}
	g = scanGraph(map[string]*graph.Attr{"scan_input_axes": intsA(2)})
	if _, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": x}, Options{}); err == nil {
		t.Error("scan_input_axes out of range: no error")
	}
}
