package passes

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// cloneGraph copies what passes change: the node list and every node (inputs, outputs,
// attribute maps), subgraphs recursively, the initializer and value maps. Tensors and
// attribute values are shared: passes replace them, never write into them.
func cloneGraph(g *graph.Graph) *graph.Graph {
	c := *g
	c.Inputs = append([]*graph.Value(nil), g.Inputs...)
	c.Outputs = append([]*graph.Value(nil), g.Outputs...)
	c.Initializers = make(map[string]*tensor.Tensor, len(g.Initializers))
	for k, v := range g.Initializers {
		c.Initializers[k] = v
	}
	c.Values = make(map[string]*graph.Value, len(g.Values))
	for k, v := range g.Values {
		c.Values[k] = v
	}
	c.Nodes = make([]*graph.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		if n == nil {
			continue
		}
		nn := *n
		nn.Inputs = append([]string(nil), n.Inputs...)
		nn.Outputs = append([]string(nil), n.Outputs...)
		if n.Attrs != nil {
			nn.Attrs = make(map[string]*graph.Attr, len(n.Attrs))
			for k, a := range n.Attrs {
				if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
					na := *a
					na.Graph = cloneGraph(a.Graph)
					a = &na
				}
				nn.Attrs[k] = a
			}
		}
		c.Nodes[i] = &nn
	}
	return &c
}

// index is who produces and who reads every value of one graph.
type index struct {
	producer  map[string]*graph.Node
	consumers map[string][]*graph.Node // a node reading a value twice appears twice
	output    map[string]bool          // graph outputs
}

func buildIndex(g *graph.Graph) *index {
	ix := &index{producer: map[string]*graph.Node{}, consumers: map[string][]*graph.Node{}, output: map[string]bool{}}
	for _, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			if in != "" {
				ix.consumers[in] = append(ix.consumers[in], n)
			}
		}
		for _, o := range n.Outputs {
			if o != "" {
				ix.producer[o] = n
			}
		}
	}
	for _, v := range g.Outputs {
		ix.output[v.Name] = true
	}
	return ix
}

// only reports whether value v is read by exactly one node, once, and is not a graph output:
// a fusion may then hide it inside the fused node.
func (ix *index) only(v string) (*graph.Node, bool) {
	c := ix.consumers[v]
	if len(c) != 1 || ix.output[v] {
		return nil, false
	}
	return c[0], true
}

// nodeReads is the names a node reads: its inputs and the outer values its subgraphs read.
func nodeReads(n *graph.Node) []string {
	reads := n.Inputs
	for _, a := range n.Attrs {
		if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
			if len(reads) == len(n.Inputs) {
				reads = append([]string(nil), n.Inputs...)
			}
			reads = append(reads, freeVars(a.Graph)...)
		}
	}
	return reads
}

// freeVars is the names a subgraph reads that it does not define itself.
func freeVars(g *graph.Graph) []string {
	defined := map[string]bool{}
	for _, v := range g.Inputs {
		defined[v.Name] = true
	}
	for name := range g.Initializers {
		defined[name] = true
	}
	var free []string
	for _, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			if in != "" && !defined[in] {
				free = append(free, in)
			}
		}
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	for _, v := range g.Outputs {
		if !defined[v.Name] {
			free = append(free, v.Name)
		}
	}
	return free
}

// removeNodes drops the nodes in dead from g, keeping the order of the others.
func removeNodes(g *graph.Graph, dead map[*graph.Node]bool) {
	if len(dead) == 0 {
		return
	}
	out := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !dead[n] {
			out = append(out, n)
		}
	}
	for i := len(out); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = out
}

// namer hands out value and node names not yet used in a graph.
type namer struct {
	used map[string]bool
}

func newNamer(g *graph.Graph) *namer {
	nm := &namer{used: map[string]bool{}}
	var walk func(g *graph.Graph)
	walk = func(g *graph.Graph) {
		for _, v := range g.Inputs {
			nm.used[v.Name] = true
		}
		for k := range g.Initializers {
			nm.used[k] = true
		}
		for k := range g.Values {
			nm.used[k] = true
		}
		for _, n := range g.Nodes {
			nm.used[n.Name] = true
			for _, o := range n.Outputs {
				nm.used[o] = true
			}
			for _, a := range n.Attrs {
				if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
					walk(a.Graph)
				}
			}
		}
	}
	walk(g)
	return nm
}

func (nm *namer) fresh(base string) string {
	if !nm.used[base] {
		nm.used[base] = true
		return base
	}
	for i := 1; ; i++ {
		s := fmt.Sprintf("%s_%d", base, i)
		if !nm.used[s] {
			nm.used[s] = true
			return s
		}
	}
}

// concreteShape is the known shape of a value, if every dim is known.
func concreteShape(g *graph.Graph, name string) ([]int, bool) {
	if t, ok := g.Initializers[name]; ok {
		return t.Shape, true
	}
	v, ok := g.Value(name)
	if !ok || !v.RankKnown {
		return nil, false
	}
	return v.Shape.Concrete()
}

// sameShape reports whether two values have the same known shape (symbolic dims equal
// when they carry the same name).
func sameShape(g *graph.Graph, a, b string) bool {
	va, ok1 := g.Value(a)
	vb, ok2 := g.Value(b)
	if !ok1 || !ok2 || !va.RankKnown || !vb.RankKnown || len(va.Shape) != len(vb.Shape) {
		return false
	}
	for i := range va.Shape {
		da, db := va.Shape[i], vb.Shape[i]
		switch {
		case da.Known() && db.Known():
			if da.Size != db.Size {
				return false
			}
		case !da.Known() && !db.Known() && da.Param != "" && da.Param == db.Param:
		default:
			return false
		}
	}
	return true
}
