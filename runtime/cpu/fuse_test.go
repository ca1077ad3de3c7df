package cpu

import (
	"context"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// TestFusedMaxMin checks that Max/Min with constant scalars after a conv's activation are
// fused into its epilogue and give what the unfused nodes give.
func TestFusedMaxMin(t *testing.T) {
	g := graph.New("bounds")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(1, 1, 1, 6))}
	g.Outputs = []*graph.Value{{Name: "y"}}
	g.Initializers["w"] = f32([]int{1, 1, 1, 1}, 2)
	g.Initializers["lo"] = f32([]int{1, 1, 1, 1}, -0.4)
	g.Initializers["hi"] = f32([]int{1}, 3)
	g.Nodes = []*graph.Node{
		node("c", "Conv", []string{"x", "w"}, []string{"h"}, nil),
		node("l", "LeakyRelu", []string{"h"}, []string{"a"}, map[string]*graph.Attr{"alpha": floatA(0.25)}),
		node("mx", "Max", []string{"a", "lo"}, []string{"b"}, nil),
		node("mn", "Min", []string{"b", "hi"}, []string{"y"}, nil),
	}
	p := planFusions(g)
	if f, ok := p[0]; !ok || len(p) != 1 || f.last != 3 || !f.act.Bounded || f.act.Lo != -0.4 || f.act.Hi != 3 {
		t.Fatalf("fusion plan %+v", p)
	}
	x := []float32{-5, -0.5, 0.1, 1, 2, float32(math.NaN())}
	out, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": f32([]int{1, 1, 1, 6}, x...)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// conv 2x; leaky: -2.5 -0.25 0.2 2 4; max -0.4: -0.4 -0.25 0.2 2 4; min 3: ... 3
	got := out["y"].Float32s()
	if !closeF(got[:5], []float32{-0.4, -0.25, 0.2, 2, 3}, 1e-7) || got[5] == got[5] {
		t.Fatalf("got %v", got)
	}
	// the same nodes unfused (every intermediate is a graph output) agree
	for _, v := range []string{"h", "a", "b"} {
		g.Outputs = append(g.Outputs, &graph.Value{Name: v})
	}
	if p := planFusions(g); len(p) != 0 {
		t.Fatalf("fused graph outputs: %+v", p)
	}
	out2, err := Run(context.Background(), g, map[string]*tensor.Tensor{"x": f32([]int{1, 1, 1, 6}, x...)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !closeF(out2["y"].Float32s()[:5], got[:5], 0) {
		t.Fatalf("unfused %v, fused %v", out2["y"].Data, got)
	}
	// a constant that raises the rank is not fused
	g.Outputs = g.Outputs[:1]
	g.Initializers["lo"] = f32([]int{1, 1, 1, 1, 1}, -0.4)
	if f := planFusions(g)[0]; f.last != 1 || f.act.Bounded {
		t.Fatalf("fused a rank-raising Max: %+v", f)
	}
}
