package exec

import (
	"context"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// evalNode runs one node with runtime/cpu. extra holds outer-scope values its subgraphs read:
// they become inputs of the one-node graph the node runs in.
func evalNode(ctx context.Context, n *graph.Node, ins []*tensor.Tensor, extra map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(extra) == 0 {
		return cpu.EvalNode(ctx, n, ins)
	}
	g := graph.New(n.Name)
	feed := map[string]*tensor.Tensor{}
	add := func(name string, t *tensor.Tensor) {
		if name == "" || t == nil {
			return
		}
		if _, dup := feed[name]; dup {
			return
		}
		feed[name] = t
		g.Inputs = append(g.Inputs, graph.NewValue(name, t.DType, graph.Dims(t.Shape...)))
	}
	for i, name := range n.Inputs {
		add(name, ins[i])
	}
	for name, t := range extra {
		add(name, t)
	}
	for _, o := range n.Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, &graph.Value{Name: o})
		}
	}
	g.Nodes = []*graph.Node{n}
	res, err := cpu.Run(ctx, g, feed, cpu.Options{})
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != "" {
			out[i] = res[o]
		}
	}
	return out, nil
}
