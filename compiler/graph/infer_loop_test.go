package graph

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestInferLoop(t *testing.T) {
	// for i < M: acc = acc + x (carried, [N,4]); grow = Concat(grow, x) (carried, changes
	// shape each iteration); scan out: acc*2 per iteration.
	body := New("body")
	body.Inputs = []*Value{in("i", i64), in("cin", tensor.Bool), unranked("acc_in", f32), unranked("grow_in", f32)}
	body.Nodes = []*Node{
		nd("Identity", names("cin"), names("cout")),
		nd("Add", names("acc_in", "x"), names("acc_out")),
		nd("Concat", names("grow_in", "x"), names("grow_out"), "axis", aInt(0)),
		nd("Add", names("acc_out", "acc_out"), names("scan_out")),
	}
	body.Outputs = []*Value{{Name: "cout"}, {Name: "acc_out"}, {Name: "grow_out"}, {Name: "scan_out"}}
	g := build([]*Value{in("x", f32, "N", 4), in("m", i64), in("acc0", f32, "N", 4), in("grow0", f32, 2, 4)}, nil,
		nd("Loop", names("m", "", "acc0", "grow0"), names("acc", "grow", "scans"), "body", &Attr{Type: AttrGraph, Graph: body}))
	if got := outShape(t, g, "acc"); got != "[N,4]" {
		t.Errorf("acc %s, want [N,4]", got)
	}
	if got := shapeStr(g.Values["grow"]); got != "[?,4]" {
		t.Errorf("grow %s, want [?,4]", got)
	}
	if got := shapeStr(g.Values["scans"]); got != "[?,N,4]" {
		t.Errorf("scans %s, want [?,N,4]", got)
	}
}

func TestInferScan(t *testing.T) {
	// A running sum over axis 1 of x [B,T,8]: state [B,8], scan output per step [B,8]
	// stacked on axis 1.
	body := New("body")
	body.Inputs = []*Value{unranked("s_in", f32), unranked("x_t", f32)}
	body.Nodes = []*Node{
		nd("Add", names("s_in", "x_t"), names("s_out")),
		nd("Identity", names("s_out"), names("y_t")),
	}
	body.Outputs = []*Value{{Name: "s_out"}, {Name: "y_t"}}
	g := build([]*Value{in("s0", f32, "B", 8), in("x", f32, "B", 5, 8)}, nil,
		nd("Scan", names("s0", "x"), names("s", "y"), "body", &Attr{Type: AttrGraph, Graph: body},
			"num_scan_inputs", aInt(1), "scan_input_axes", aInts(1), "scan_output_axes", aInts(-2)))
	if got := outShape(t, g, "s"); got != "[B,8]" {
		t.Errorf("s %s, want [B,8]", got)
	}
	if got := shapeStr(g.Values["y"]); got != "[B,5,8]" {
		t.Errorf("y %s, want [B,5,8]", got)
	}
	if got := shapeStr(body.Values["s_out"]); got != "[B,8]" {
		t.Errorf("body s_out %s, want [B,8]", got)
	}
}
