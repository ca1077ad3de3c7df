package passes_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// opts are the options tests run the pipeline with: verification on, cpu evaluation.
func opts() passes.Options { return passes.Options{Eval: cpu.EvalNode, Verify: true} }

// runCPU runs g (fused nodes included) on the cpu executor.
func runCPU(t testing.TB, g *graph.Graph, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	out, err := cpu.Run(context.Background(), g, in, cpu.Options{})
	if err != nil {
		t.Fatalf("cpu run of %q: %v", g.Name, err)
	}
	return out
}

// relErr is ||a-b|| / ||b||.
func relErr(a, b *tensor.Tensor) float64 {
	af, bf := toF64(a), toF64(b)
	if len(af) != len(bf) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range af {
		d := af[i] - bf[i]
		num += d * d
		den += bf[i] * bf[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func toF64(t *tensor.Tensor) []float64 {
	switch d := t.Data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []int64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return d
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	return nil
}

// checkSame runs g before and after the pipeline and compares every output.
func checkSame(t *testing.T, g *graph.Graph, in map[string]*tensor.Tensor, tol float64) (*graph.Graph, *passes.Report) {
	t.Helper()
	want := runCPU(t, g, in)
	og, rep, err := passes.Run(context.Background(), g, opts())
	if err != nil {
		t.Fatalf("passes.Run: %v", err)
	}
	got := runCPU(t, og, in)
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		w, g2 := want[name], got[name]
		if g2 == nil {
			t.Fatalf("output %q missing after the pipeline", name)
		}
		if !equalInts(w.Shape, g2.Shape) {
			t.Fatalf("output %q: shape %v after the pipeline, %v before", name, g2.Shape, w.Shape)
		}
		if e := relErr(g2, w); e > tol {
			t.Errorf("output %q: relative error %.3g > %.1g after the pipeline", name, e, tol)
		}
	}
	return og, rep
}

func equalInts(a, b []int) bool {
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

// realModel returns the path of a real model, skipping (or failing under
// ELASTICROOM_REQUIRE_REFS=1) when it is absent.
func realModel(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", ".cache", "models", "real", name+".onnx")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatalf("real model %s is missing (%v) and ELASTICROOM_REQUIRE_REFS=1", name, err)
		}
		t.Skipf("real model %s is absent (scripts/fetch-models fetches it)", name)
	}
	return p
}

// countOps counts nodes per op (domain-qualified for fused ops).
func countOps(g *graph.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		op := n.Op
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		m[op]++
	}
	return m
}
