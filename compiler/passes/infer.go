package passes

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// InferShapes is graph.InferShapes for graphs that may hold fused (elasticroom) nodes: each
// fused node is decomposed into the ONNX nodes that define it, the copy is inferred, and the
// types and shapes of g's own values are copied back into g.Values and g.Outputs.
func InferShapes(g *graph.Graph) error {
	if !hasFused(g) {
		return graph.InferShapes(g)
	}
	e := *g
	e.Initializers = make(map[string]*tensor.Tensor, len(g.Initializers))
	for k, v := range g.Initializers {
		e.Initializers[k] = v
	}
	e.Values = make(map[string]*graph.Value, len(g.Values))
	for k, v := range g.Values {
		e.Values[k] = v
	}
	e.Outputs = append([]*graph.Value(nil), g.Outputs...)
	e.Nodes = make([]*graph.Node, 0, len(g.Nodes)+8)
	for _, n := range g.Nodes {
		if n == nil || n.Domain != Domain {
			e.Nodes = append(e.Nodes, n)
			continue
		}
		ns, err := decompose(&e, n)
		if err != nil {
			return fmt.Errorf("graph %q: %w", g.Name, err)
		}
		e.Nodes = append(e.Nodes, ns...)
	}
	if err := graph.InferShapes(&e); err != nil {
		return err
	}
	vals := make(map[string]*graph.Value, len(g.Values))
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if v, ok := e.Values[o]; ok {
				vals[o] = v
			}
		}
	}
	g.Values = vals
	g.Outputs = e.Outputs
	return nil
}

func hasFused(g *graph.Graph) bool {
	for _, n := range g.Nodes {
		if n != nil && n.Domain == Domain {
			return true
		}
	}
	return false
}
