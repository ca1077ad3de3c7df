package passes_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/models/zoo"
)

// checkPlan checks PlanMemory's invariants independently: every value placed, aligned, inside
// the arena, and no two values overlapping in bytes while their live intervals (recomputed
// here from the graph) intersect.
func checkPlan(t *testing.T, g *graph.Graph, mp *plan.MemoryPlan) (sum int64) {
	t.Helper()
	first, last := map[string]int{}, map[string]int{}
	for _, v := range g.Inputs {
		if !g.IsInitializer(v.Name) {
			first[v.Name], last[v.Name] = -1, -1
		}
	}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			if _, ok := first[in]; ok {
				last[in] = i
			}
		}
		for _, a := range n.Attrs { // subgraph reads keep outer values alive
			if a.Type == graph.AttrGraph {
				for name := range first {
					if bytes.Contains([]byte(passes.Format(a.Graph)), []byte("%"+name+")")) || bytes.Contains([]byte(passes.Format(a.Graph)), []byte("%"+name+",")) {
						last[name] = i
					}
				}
			}
		}
		for _, o := range n.Outputs {
			first[o], last[o] = i, i
		}
	}
	for _, v := range g.Outputs {
		last[v.Name] = len(g.Nodes)
	}
	names := make([]string, 0, len(first))
	for name := range first {
		off, ok := mp.Offsets[name]
		if !ok {
			t.Fatalf("value %q has no offset", name)
		}
		if off%mp.Alignment != 0 || off < 0 || off+mp.Sizes[name] > mp.ArenaBytes {
			t.Errorf("value %q at %d+%d: misaligned or outside the arena of %d", name, off, mp.Sizes[name], mp.ArenaBytes)
		}
		sum += mp.Sizes[name]
		names = append(names, name)
	}
	for i, a := range names {
		for _, b := range names[i+1:] {
			if first[a] > last[b] || first[b] > last[a] {
				continue
			}
			oa, ob := mp.Offsets[a], mp.Offsets[b]
			if oa < ob+mp.Sizes[b] && ob < oa+mp.Sizes[a] && mp.Sizes[a] > 0 && mp.Sizes[b] > 0 {
				t.Errorf("%q [%d,%d] at %d+%d overlaps %q [%d,%d] at %d+%d", a, first[a], last[a], oa, mp.Sizes[a], b, first[b], last[b], ob, mp.Sizes[b])
			}
		}
	}
	return sum
}

func TestPlanMemoryChain(t *testing.T) {
	b := newGB("chain")
	x := b.input("x", 1, 8, 16, 16)
	y := x
	for i := range 6 {
		y = b.node("Relu", []string{conv(b, y, 8, 8, 3)}, nil)
		if i%2 == 1 {
			y = b.node("Add", []string{y, x}, nil) // residual: x stays live
		}
	}
	b.output(y)
	if err := graph.InferShapes(b.g); err != nil {
		t.Fatal(err)
	}
	mp, err := passes.PlanMemory(b.g)
	if err != nil {
		t.Fatal(err)
	}
	sum := checkPlan(t, b.g, mp)
	one := int64(8 * 16 * 16 * 4)
	if mp.ArenaBytes > 3*one { // x, the current value and the next one
		t.Errorf("arena %d bytes, want at most %d (sum of buffers %d)", mp.ArenaBytes, 3*one, sum)
	}
}

func TestPlanMemoryZooAndErrors(t *testing.T) {
	g, err := zoo.Build("resnet18", zooOpts)
	if err != nil {
		t.Fatal(err)
	}
	og, _, err := passes.Run(context.Background(), g, opts())
	if err != nil {
		t.Fatal(err)
	}
	mp, err := passes.PlanMemory(og)
	if err != nil {
		t.Fatal(err)
	}
	sum := checkPlan(t, og, mp)
	if mp.ArenaBytes >= sum/2 {
		t.Errorf("resnet18 arena %d bytes, sum of buffers %d: expected reuse", mp.ArenaBytes, sum)
	}
	t.Logf("resnet18: arena %d KiB, buffers %d KiB, %d values", mp.ArenaBytes>>10, sum>>10, len(mp.Offsets))

	sym, err := zoo.Build("mlp", zoo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passes.PlanMemory(sym); err == nil {
		t.Error("PlanMemory of a graph with a symbolic batch succeeded")
	}
}
