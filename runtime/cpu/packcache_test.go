package cpu

import (
	"context"
	"testing"
	"weak"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// TestPackedConvWeights checks that constant conv weights are packed once and reused (same
// results run after run), and that weights given as a graph input are not cached.
func TestPackedConvWeights(t *testing.T) {
	const c, m, hw = 16, 24, 12
	wv := make([]float32, m*c)
	for i := range wv {
		wv[i] = float32(i%7)*0.125 - 0.3
	}
	xv := make([]float32, c*hw*hw)
	for i := range xv {
		xv[i] = float32(i%11)*0.1 - 0.5
	}
	build := func(constW bool) (*graph.Graph, map[string]*tensor.Tensor) {
		g := graph.New("pack")
		g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(1, c, hw, hw))}
		g.Outputs = []*graph.Value{{Name: "y"}}
		g.Nodes = []*graph.Node{node("c", "Conv", []string{"x", "w"}, []string{"y"}, nil)}
		in := map[string]*tensor.Tensor{"x": f32([]int{1, c, hw, hw}, xv...)}
		w := f32([]int{m, c, 1, 1}, wv...)
		if constW {
			g.Initializers["w"] = w
		} else {
			g.Inputs = append(g.Inputs, graph.NewValue("w", tensor.Float32, graph.Dims(m, c, 1, 1)))
			in["w"] = w
		}
		return g, in
	}
	var first []float32
	for _, constW := range []bool{true, false} {
		g, in := build(constW)
		for run := 0; run < 2; run++ {
			out, err := Run(context.Background(), g, in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := out["y"].Float32s()
			if first == nil {
				first = append([]float32(nil), got...)
			} else if !closeF(got, first, 0) {
				t.Fatalf("const %v run %d differs from the first run", constW, run)
			}
		}
		w := g.Initializers["w"]
		if !constW {
			w = in["w"]
		}
		_, cached := packCache.Load(weak.Make(w))
		if cached != constW {
			t.Fatalf("weights constant %v: cached %v", constW, cached)
		}
	}
}
