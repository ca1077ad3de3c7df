package passes

import (
	"fmt"
	"sort"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// PlanMemory places every graph input, node output and graph output of g (whose shapes must
// all be concrete; initializers are not placed) in one arena. A value is live from the node
// that produces it (graph inputs: from the start) to its last reader (graph outputs: to the
// end); values whose live intervals intersect never share bytes. Placement is greedy by
// size: the largest value first, each into the best-fitting gap among the values already
// placed that are live at the same time (TFLite's "greedy by size" arena planner).
func PlanMemory(g *graph.Graph) (*plan.MemoryPlan, error) {
	const align = plan.DefaultAlignment
	type buf struct {
		name       string
		size       int64
		start, end int
	}
	bufs := map[string]*buf{}
	var order []string
	end := len(g.Nodes)
	add := func(name string, at int) error {
		if name == "" || g.IsInitializer(name) {
			return nil
		}
		if _, ok := bufs[name]; ok {
			return nil
		}
		v, ok := g.Value(name)
		if !ok || !v.RankKnown {
			return fmt.Errorf("plan memory: value %q has no known shape", name)
		}
		s, ok := v.Shape.Concrete()
		if !ok {
			return fmt.Errorf("plan memory: value %q has shape %v, not concrete (specialize the graph first)", name, v.Shape)
		}
		if v.DType.Size() == 0 {
			return fmt.Errorf("plan memory: value %q has element type %v", name, v.DType)
		}
		bufs[name] = &buf{name: name, size: int64(tensor.NumElements(s) * v.DType.Size()), start: at, end: at}
		order = append(order, name)
		return nil
	}
	for _, v := range g.Inputs {
		if err := add(v.Name, -1); err != nil {
			return nil, err
		}
	}
	for i, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			if b, ok := bufs[in]; ok {
				b.end = max(b.end, i)
			}
		}
		for _, o := range n.Outputs {
			if err := add(o, i); err != nil {
				return nil, fmt.Errorf("%v: %w", n, err)
			}
		}
	}
	for _, v := range g.Outputs {
		if b, ok := bufs[v.Name]; ok {
			b.end = end
		}
	}
	list := make([]*buf, 0, len(order))
	for _, name := range order {
		list = append(list, bufs[name])
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].size > list[j].size })
	mp := &plan.MemoryPlan{Offsets: map[string]int64{}, Sizes: map[string]int64{}, Alignment: align, Live: map[string][2]int{}}
	var placed []*buf
	for _, b := range list {
		mp.Sizes[b.name], mp.Live[b.name] = b.size, [2]int{b.start, b.end}
		// The placed buffers live at the same time as b, by offset.
		var busy []*buf
		for _, p := range placed {
			if p.start <= b.end && b.start <= p.end {
				busy = append(busy, p)
			}
		}
		sort.Slice(busy, func(i, j int) bool { return mp.Offsets[busy[i].name] < mp.Offsets[busy[j].name] })
		best, bestGap := int64(-1), int64(-1)
		var cur int64
		for _, p := range busy {
			off := mp.Offsets[p.name]
			if gap := off - cur; gap >= b.size && (bestGap < 0 || gap < bestGap) {
				best, bestGap = cur, gap
			}
			cur = max(cur, alignUp(off+p.size, align))
		}
		if best < 0 {
			best = cur
		}
		mp.Offsets[b.name] = best
		mp.ArenaBytes = max(mp.ArenaBytes, alignUp(best+b.size, align))
		placed = append(placed, b)
	}
	return mp, nil
}

func alignUp(v, a int64) int64 { return (v + a - 1) / a * a }
