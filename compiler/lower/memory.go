package lower

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/compiler/plan"
)

// isAliasOp reports whether n only renames its input's bytes (the output has the input's
// elements in the same order).
func isAliasOp(n *graph.Node) bool {
	if n.Domain != "" || len(n.Inputs) == 0 || len(n.Outputs) == 0 {
		return false
	}
	switch n.Op {
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity":
		return len(n.Outputs) == 1
	case "Dropout":
		for _, o := range n.Outputs[1:] {
			if o != "" {
				return false // the mask output is computed
			}
		}
		return true
	}
	return false
}

// findAliases returns, for every alias node whose output can share its input's buffer, the
// output's root: the value (through chains of aliases) whose bytes it is. A buffer cannot be
// shared when the root is a weight (weights are not in the arena), when either value is read
// inside a subgraph (the host runs those by name with their own lifetimes), or when the sizes
// differ.
func findAliases(g *graph.Graph) map[string]string {
	sub := subgraphReads(g)
	aliases := map[string]string{}
	for _, n := range g.Nodes {
		if !isAliasOp(n) {
			continue
		}
		x, y := n.Inputs[0], n.Outputs[0]
		root := x
		if r, ok := aliases[x]; ok {
			root = r
		}
		if x == "" || y == "" || g.IsInitializer(root) || sub[x] || sub[y] || sub[root] {
			continue
		}
		xv, ok1 := g.Value(root)
		yv, ok2 := g.Value(y)
		if !ok1 || !ok2 || !xv.RankKnown || !yv.RankKnown || xv.DType != yv.DType {
			continue
		}
		xs, ok1 := xv.Shape.Concrete()
		ys, ok2 := yv.Shape.Concrete()
		if !ok1 || !ok2 || prod(xs) != prod(ys) {
			continue
		}
		aliases[y] = root
	}
	return aliases
}

// subgraphReads collects every name read by a node inside a subgraph of g (at any depth).
func subgraphReads(g *graph.Graph) map[string]bool {
	out := map[string]bool{}
	var walk func(sg *graph.Graph)
	walk = func(sg *graph.Graph) {
		for _, n := range sg.Nodes {
			for _, in := range n.Inputs {
				out[in] = true
			}
			for _, a := range n.Attrs {
				if a.Graph != nil {
					walk(a.Graph)
				}
			}
		}
		for _, v := range sg.Outputs {
			out[v.Name] = true
		}
	}
	for _, n := range g.Nodes {
		for _, a := range n.Attrs {
			if a.Graph != nil && n.Op != passes.OpFusedElementwise {
				walk(a.Graph)
			}
		}
	}
	return out
}

// planMemory runs passes.PlanMemory on g with the alias nodes removed and their readers
// reading the roots, so a root stays live as long as any alias of it; each alias then gets
// its root's offset and live interval (intervals are in g's node indices).
func planMemory(g *graph.Graph, aliases map[string]string) (*plan.MemoryPlan, error) {
	ren := func(s string) string {
		if r, ok := aliases[s]; ok {
			return r
		}
		return s
	}
	sg := &graph.Graph{Name: g.Name, Inputs: g.Inputs, Initializers: g.Initializers, Values: g.Values}
	var orig []int
	for i, n := range g.Nodes {
		if isAliasOp(n) && aliases[n.Outputs[0]] != "" {
			continue
		}
		c := *n
		c.Inputs = make([]string, len(n.Inputs))
		for j, in := range n.Inputs {
			c.Inputs[j] = ren(in)
		}
		sg.Nodes = append(sg.Nodes, &c)
		orig = append(orig, i)
	}
	for _, v := range g.Outputs {
		if r, ok := aliases[v.Name]; ok {
			c := *v
			c.Name = r
			v = &c
		}
		sg.Outputs = append(sg.Outputs, v)
	}
	mp, err := passes.PlanMemory(sg)
	if err != nil {
		return nil, err
	}
	at := func(i int) int {
		switch {
		case i < 0:
			return i
		case i >= len(orig):
			return len(g.Nodes)
		}
		return orig[i]
	}
	for name, l := range mp.Live {
		mp.Live[name] = [2]int{at(l[0]), at(l[1])}
	}
	for y, root := range aliases {
		off, ok := mp.Offsets[root]
		if !ok {
			return nil, fmt.Errorf("plan memory: alias %q of %q: the root has no buffer", y, root)
		}
		mp.Offsets[y], mp.Sizes[y], mp.Live[y] = off, mp.Sizes[root], mp.Live[root]
	}
	return mp, nil
}
