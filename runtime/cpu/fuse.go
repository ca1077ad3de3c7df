package cpu

import (
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fusion is a Conv/ConvTranspose whose only consumer is an activation the kernel applies in
// its epilogue: the activation node is skipped and its output takes the conv's result.
type fusion struct {
	act  ref.Activation
	with int // index of the activation node
}

// planFusions finds conv -> activation pairs in g. Clip bounds must be initializers.
func planFusions(g *graph.Graph) map[int]fusion {
	readers := map[string][]int{}
	for i, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			readers[in] = append(readers[in], i)
		}
	}
	outputs := map[string]bool{}
	for _, v := range g.Outputs {
		outputs[v.Name] = true
	}
	plan := map[int]fusion{}
	for i, n := range g.Nodes {
		if (n.Op != "Conv" && n.Op != "ConvTranspose") || n.Domain != "" || len(n.Outputs) != 1 {
			continue
		}
		out := n.Outputs[0]
		r := readers[out]
		if outputs[out] || len(r) != 1 {
			continue
		}
		a := g.Nodes[r[0]]
		if len(a.Inputs) == 0 || a.Inputs[0] != out || a.Domain != "" {
			continue
		}
		act, ok := activationOf(g, a)
		if ok {
			plan[i] = fusion{act: act, with: r[0]}
		}
	}
	return plan
}

func activationOf(g *graph.Graph, n *graph.Node) (ref.Activation, bool) {
	switch n.Op {
	case "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish":
		if len(n.Inputs) != 1 {
			return ref.Activation{}, false
		}
		p := unaryOps[n.Op].params(&opCtx{node: n})
		return ref.Activation{Op: p.Op, Alpha: p.Alpha, Beta: p.Beta}, true
	case "Clip":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		for i, b := range []*float32{&lo, &hi} {
			name := n.Input(i + 1)
			if name == "" {
				continue
			}
			t, ok := g.Initializers[name]
			if !ok || t.DType != tensor.Float32 || t.Len() != 1 {
				return ref.Activation{}, false
			}
			*b = t.Float32s()[0]
		}
		return ref.Activation{Op: ref.Clip, Alpha: lo, Beta: hi}, true
	}
	return ref.Activation{}, false
}
