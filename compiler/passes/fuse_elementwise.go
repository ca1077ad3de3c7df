package passes

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// elementwiseOps are the ops a FusedElementwise body may hold: numpy-broadcasting binary
// arithmetic and unary float functions.
var elementwiseOps = map[string]int{ // op -> number of inputs (Clip: 1 to 3)
	"Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Pow": 2, "Max": 2, "Min": 2, "PRelu": 2,
	"Relu": 1, "LeakyRelu": 1, "Sigmoid": 1, "HardSigmoid": 1, "HardSwish": 1, "Tanh": 1, "Exp": 1,
	"Log": 1, "Sqrt": 1, "Neg": 1, "Abs": 1, "Erf": 1, "Reciprocal": 1, "Floor": 1, "Ceil": 1,
	"Softplus": 1, "Softsign": 1, "Gelu": 1, "Elu": 1, "Selu": 1, "Celu": 1, "Sin": 1, "Cos": 1,
	"Mish": 1, "Sign": 1, "Round": 1, "ThresholdedRelu": 1, "Clip": 3,
}

// smallConst is the largest initializer (elements) a body takes in as its own constant.
const smallConst = 64

func isElementwise(g *graph.Graph, n *graph.Node) bool {
	want, ok := elementwiseOps[n.Op]
	if !ok || n.Domain != "" || len(n.Outputs) != 1 || len(n.Inputs) == 0 {
		return false
	}
	if n.Op == "Clip" {
		if len(n.Inputs) > 3 {
			return false
		}
	} else if len(n.Inputs) != want {
		return false
	}
	for _, in := range n.Inputs {
		if in == "" && n.Op != "Clip" {
			return false
		}
	}
	dt := dtypeOf(g, n.Outputs[0])
	return dt == tensor.Float32 && dtypeOf(g, n.Inputs[0]) == tensor.Float32
}

// fuseElementwise groups chains of elementwise nodes, each the only reader of the previous
// one's result, into FusedElementwise nodes whose "body" subgraph holds the chain.
func fuseElementwise(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	nm := newNamer(g)
	taken := map[*graph.Node]bool{}
	replace := map[*graph.Node]*graph.Node{}
	changes := 0
	for _, n := range g.Nodes {
		if taken[n] || !isElementwise(g, n) {
			continue
		}
		group := []*graph.Node{n}
		cur := n
		for {
			c, ok := ix.only(cur.Outputs[0])
			if !ok || taken[c] || !isElementwise(g, c) {
				break
			}
			group = append(group, c)
			cur = c
		}
		if len(group) < 2 {
			continue
		}
		for _, m := range group {
			taken[m] = true
		}
		replace[cur] = buildFused(g, nm, group)
		changes++
	}
	out := g.Nodes[:0]
	for _, n := range g.Nodes {
		if f, ok := replace[n]; ok {
			out = append(out, f)
		} else if !taken[n] {
			out = append(out, n)
		}
	}
	for i := len(out); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = out
	return changes, nil
}

// buildFused makes the FusedElementwise node computing group (a chain, in order).
func buildFused(g *graph.Graph, nm *namer, group []*graph.Node) *graph.Node {
	last := group[len(group)-1]
	inner := map[string]bool{}
	for _, m := range group {
		inner[m.Outputs[0]] = true
	}
	body := graph.New(nm.fresh(last.Name + "/body"))
	var ext []string
	seen := map[string]bool{}
	for _, m := range group {
		c := *m
		c.Inputs = append([]string(nil), m.Inputs...)
		c.Outputs = append([]string(nil), m.Outputs...)
		body.Nodes = append(body.Nodes, &c)
		for _, in := range m.Inputs {
			if in == "" || inner[in] || seen[in] {
				continue
			}
			seen[in] = true
			if t, ok := g.Initializers[in]; ok && t.Len() <= smallConst && !isGraphInput(g, in) {
				body.Initializers[in] = t
				continue
			}
			ext = append(ext, in)
			v, ok := g.Value(in)
			if !ok {
				v = &graph.Value{Name: in}
			}
			body.Inputs = append(body.Inputs, v)
		}
		if m != last {
			if v, ok := g.Values[m.Outputs[0]]; ok {
				body.Values[m.Outputs[0]] = v
			}
		}
	}
	ov, ok := g.Value(last.Outputs[0])
	if !ok {
		ov = &graph.Value{Name: last.Outputs[0]}
	}
	body.Outputs = []*graph.Value{ov}
	for _, m := range group[:len(group)-1] {
		delete(g.Values, m.Outputs[0])
	}
	return &graph.Node{Name: last.Name, Op: OpFusedElementwise, Domain: Domain, Inputs: ext,
		Outputs: []string{last.Outputs[0]}, Attrs: map[string]*graph.Attr{"body": {Type: graph.AttrGraph, Graph: body}}}
}
