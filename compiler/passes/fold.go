package passes

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// neverFold are ops whose result is not a function of their inputs, or that hold subgraphs.
var neverFold = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true, "RandomUniformLike": true,
	"Multinomial": true, "Bernoulli": true, "If": true, "Loop": true, "Scan": true,
}

// foldConstants replaces every node whose inputs are all initializers by initializers holding
// its outputs (computed with opt.Eval), and Shape/Size nodes of values with known shapes by
// their result. A node whose output would be much larger than its inputs (Expand,
// ConstantOfShape, Tile, ...) is left alone: its result would bloat the plan's weights.
func foldConstants(s *state) (int, error) {
	g := s.g
	limit := s.opt.FoldLimit
	if limit <= 0 {
		limit = 1 << 20
	}
	dead := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		if n.Domain != "" || len(n.Outputs) == 0 {
			continue
		}
		if t, ok := foldShape(g, n); ok {
			g.Initializers[n.Outputs[0]] = t
			dead[n] = true
			continue
		}
		if s.opt.Eval == nil || neverFold[n.Op] || hasSubgraph(n) {
			continue
		}
		ins := make([]*tensor.Tensor, len(n.Inputs))
		var inBytes int64
		constant := true
		for i, in := range n.Inputs {
			if in == "" {
				continue
			}
			t, ok := g.Initializers[in]
			if !ok || isGraphInput(g, in) { // an initializer that is also an input can be overridden
				constant = false
				break
			}
			ins[i] = t
			inBytes += int64(t.Len() * t.DType.Size())
		}
		if !constant || tooBig(g, n, inBytes+limit) {
			continue
		}
		outs, err := s.opt.Eval(s.ctx, n, ins)
		if err != nil || len(outs) != len(n.Outputs) {
			continue // left for the executor, which reports the problem with its context
		}
		var outBytes int64
		ok := true
		for _, t := range outs {
			if t == nil || t.Check() != nil {
				ok = false
				break
			}
			outBytes += int64(t.Len() * t.DType.Size())
		}
		if !ok || outBytes > inBytes+limit {
			continue
		}
		for i, o := range n.Outputs {
			if o != "" {
				g.Initializers[o] = outs[i]
			}
		}
		dead[n] = true
	}
	removeNodes(g, dead)
	return len(dead), nil
}

// foldShape computes Shape and Size of a value whose shape is fully known.
func foldShape(g *graph.Graph, n *graph.Node) (*tensor.Tensor, bool) {
	if (n.Op != "Shape" && n.Op != "Size") || len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return nil, false
	}
	shape, ok := concreteShape(g, n.Inputs[0])
	if !ok {
		return nil, false
	}
	if n.Op == "Size" {
		return tensor.FromInt64(nil, []int64{int64(tensor.NumElements(shape))}), true
	}
	r := int64(len(shape))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(n.AttrInt("start", 0)), clamp(n.AttrInt("end", r))
	out := []int64{}
	for i := start; i < end; i++ {
		out = append(out, int64(shape[i]))
	}
	return tensor.FromInt64([]int{len(out)}, out), true
}

// tooBig reports whether n's inferred outputs are known to exceed limit bytes together.
func tooBig(g *graph.Graph, n *graph.Node, limit int64) bool {
	var total int64
	for _, o := range n.Outputs {
		v, ok := g.Values[o]
		if !ok || !v.RankKnown {
			continue
		}
		if s, ok := v.Shape.Concrete(); ok {
			total += int64(tensor.NumElements(s) * max(v.DType.Size(), 1))
		}
	}
	return total > limit
}

func hasSubgraph(n *graph.Node) bool {
	for _, a := range n.Attrs {
		if a != nil && a.Type == graph.AttrGraph {
			return true
		}
	}
	return false
}

func isGraphInput(g *graph.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// deadNodes removes nodes none of whose outputs reach a graph output, then initializers and
// recorded values nothing reads.
func deadNodes(s *state) (int, error) {
	g := s.g
	live := map[string]bool{}
	for _, v := range g.Outputs {
		live[v.Name] = true
	}
	dead := map[*graph.Node]bool{}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		used := false
		for _, o := range n.Outputs {
			used = used || (o != "" && live[o])
		}
		if !used {
			dead[n] = true
			continue
		}
		for _, in := range nodeReads(n) {
			live[in] = true
		}
	}
	removeNodes(g, dead)
	removed := len(dead)
	for name := range g.Initializers {
		if !live[name] && !isGraphInput(g, name) {
			delete(g.Initializers, name)
			removed++
		}
	}
	for name := range g.Values {
		if !live[name] {
			delete(g.Values, name)
		}
	}
	return removed, nil
}

// onnxDTypes maps ONNX TensorProto.DataType codes to element types (for Cast's "to").
var onnxDTypes = map[int64]tensor.DType{1: tensor.Float32, 2: tensor.Uint8, 3: tensor.Int8, 5: tensor.Int16,
	6: tensor.Int32, 7: tensor.Int64, 9: tensor.Bool, 10: tensor.Float16, 11: tensor.Float64, 16: tensor.BFloat16}

// isNoop reports whether n passes its first input through unchanged.
func isNoop(g *graph.Graph, n *graph.Node) bool {
	if n.Domain != "" || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
		return false
	}
	x, y := n.Inputs[0], n.Outputs[0]
	switch n.Op {
	case "Identity":
		return len(n.Outputs) == 1
	case "Dropout":
		return len(n.Outputs) == 1 || n.Outputs[1] == "" || len(buildIndex(g).consumers[n.Outputs[1]]) == 0 && !buildIndex(g).output[n.Outputs[1]]
	case "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Expand":
		return len(n.Outputs) == 1 && sameShape(g, x, y) && dtypeOf(g, x) == dtypeOf(g, y)
	case "Cast":
		to, ok := onnxDTypes[n.AttrInt("to", 0)]
		return ok && len(n.Outputs) == 1 && dtypeOf(g, x) == to
	}
	return false
}

func dtypeOf(g *graph.Graph, name string) tensor.DType {
	if v, ok := g.Value(name); ok {
		return v.DType
	}
	return tensor.Undefined
}

// eliminateIdentity removes nodes that pass their input through: Identity, Dropout (whose
// mask nobody reads), and Reshape/Squeeze/Unsqueeze/Flatten/Expand/Cast that change neither
// shape nor type. Readers of the output read the input instead; when the output is a graph
// output, the input's producer writes it directly.
func eliminateIdentity(s *state) (int, error) {
	g := s.g
	changes := 0
	for {
		ix := buildIndex(g)
		done := true
		for _, n := range g.Nodes {
			if !isNoop(g, n) {
				continue
			}
			x, y := n.Inputs[0], n.Outputs[0]
			if ix.output[y] {
				p := ix.producer[x]
				if p == nil || ix.output[x] || hasSubgraph(p) {
					continue
				}
				for i, o := range p.Outputs {
					if o == x {
						p.Outputs[i] = y
					}
				}
				removeNodes(g, map[*graph.Node]bool{n: true})
				renameReads(g, x, y)
			} else {
				removeNodes(g, map[*graph.Node]bool{n: true})
				renameReads(g, y, x)
			}
			delete(g.Values, y)
			changes++
			done = false
			break
		}
		if done {
			return changes, nil
		}
	}
}

// renameReads makes every reader of from (in g and in subgraphs that do not define from
// themselves) read to instead.
func renameReads(g *graph.Graph, from, to string) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
		for _, a := range n.Attrs {
			if a != nil && a.Type == graph.AttrGraph && a.Graph != nil && !defines(a.Graph, from) {
				renameReads(a.Graph, from, to)
				for i, v := range a.Graph.Outputs {
					if v.Name == from {
						nv := *v
						nv.Name = to
						a.Graph.Outputs[i] = &nv
					}
				}
			}
		}
	}
}

func defines(g *graph.Graph, name string) bool {
	if g.IsInitializer(name) || isGraphInput(g, name) {
		return true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return true
			}
		}
	}
	return false
}
