package lower

import (
	"strconv"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
)

// legalize rewrites g (in place, replacing rather than mutating shared nodes and values) into
// an equivalent graph the templates cover better. Today: an Attention whose K is given as
// [.., D, Sk] (transpose_k = 0) gets K as [.., Sk, D], the attention template's layout, by
// composing the swap into the Transpose that produces K when this attention is its only
// reader (BERT's key path), or else by a new Transpose node before it.
func legalize(g *graph.Graph) int {
	readers := map[string]int{}
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			readers[in]++
		}
		for _, o := range n.Outputs {
			producer[o] = i
		}
	}
	for _, v := range g.Outputs {
		readers[v.Name]++
	}
	changes := 0
	var out []*graph.Node
	for _, n := range g.Nodes {
		if n.Domain != passes.Domain || n.Op != passes.OpAttention || n.AttrInt("transpose_k", 0) != 0 || len(n.Inputs) < 3 {
			out = append(out, n)
			continue
		}
		k := n.Inputs[1]
		kv, ok := g.Value(k)
		if !ok || !kv.RankKnown || len(kv.Shape) < 2 {
			out = append(out, n)
			continue
		}
		r := len(kv.Shape)
		swapped := append(graph.Shape(nil), kv.Shape...)
		swapped[r-1], swapped[r-2] = swapped[r-2], swapped[r-1]
		pi, hasProducer := producer[k]
		if p := g.Nodes[pi]; hasProducer && readers[k] == 1 && p.Op == "Transpose" && p.Domain == "" && len(p.Outputs) == 1 {
			perm := p.AttrInts("perm", nil)
			if perm == nil {
				for i := range r {
					perm = append(perm, int64(r-1-i))
				}
			}
			if len(perm) == r {
				np := copyNode(p)
				nperm := append([]int64(nil), perm...)
				nperm[r-1], nperm[r-2] = nperm[r-2], nperm[r-1]
				np.SetAttr("perm", &graph.Attr{Type: graph.AttrInts, Ints: nperm})
				g.Nodes[pi] = np
				replaceNode(out, p, np)
				g.Values[k] = &graph.Value{Name: k, DType: kv.DType, Shape: swapped, RankKnown: true}
				na := copyNode(n)
				na.SetAttr("transpose_k", &graph.Attr{Type: graph.AttrInt, Int: 1})
				out = append(out, na)
				changes++
				continue
			}
		}
		kt := fresh(g, n.Name+"/k_transposed")
		perm := make([]int64, r)
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
		out = append(out, &graph.Node{Name: kt, Op: "Transpose", Inputs: []string{k}, Outputs: []string{kt},
			Attrs: map[string]*graph.Attr{"perm": {Type: graph.AttrInts, Ints: perm}}})
		g.Values[kt] = &graph.Value{Name: kt, DType: kv.DType, Shape: swapped, RankKnown: true}
		na := copyNode(n)
		na.Inputs[1] = kt
		na.SetAttr("transpose_k", &graph.Attr{Type: graph.AttrInt, Int: 1})
		out = append(out, na)
		changes++
	}
	g.Nodes = out
	return changes
}

func copyNode(n *graph.Node) *graph.Node {
	c := *n
	c.Inputs = append([]string(nil), n.Inputs...)
	c.Outputs = append([]string(nil), n.Outputs...)
	c.Attrs = make(map[string]*graph.Attr, len(n.Attrs))
	for k, a := range n.Attrs {
		c.Attrs[k] = a
	}
	return &c
}

func replaceNode(list []*graph.Node, old, repl *graph.Node) {
	for i, n := range list {
		if n == old {
			list[i] = repl
		}
	}
}

// fresh returns a value/node name based on want that g does not use.
func fresh(g *graph.Graph, want string) string {
	name := want
	for i := 1; ; i++ {
		if _, ok := g.Value(name); !ok {
			return name
		}
		name = want + "_" + strconv.Itoa(i)
	}
}
