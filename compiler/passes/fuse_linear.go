package passes

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fuseLinearAct fuses into Conv, Gemm and MatMul the bias Add and the activation that follow
// them when the intermediate values have no other reader:
//   - Conv + Add(per-channel constant) -> Conv with the sum as its bias;
//   - Gemm(no C) + Add(constant row) -> Gemm with C;
//   - MatMul + Add(constant broadcast along the last axis) -> FusedMatMul(A, B, bias);
//   - then Conv/Gemm/MatMul + activation -> FusedConv/FusedGemm/FusedMatMul.
func fuseLinearAct(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	nm := newNamer(g)
	dead := map[*graph.Node]bool{}
	changes := 0
	for _, p := range g.Nodes {
		if dead[p] || p.Domain != "" || len(p.Outputs) != 1 || (p.Op != "Conv" && p.Op != "Gemm" && p.Op != "MatMul") {
			continue
		}
		var bias string // FusedMatMul's bias input
		// Bias: absorb one Add of a constant.
		if add, ok := ix.only(p.Outputs[0]); ok && add.Op == "Add" && add.Domain == "" && len(add.Inputs) == 2 && !dead[add] {
			c := add.Inputs[1]
			if c == p.Outputs[0] {
				c = add.Inputs[0]
			}
			absorbed := false
			switch p.Op {
			case "Conv":
				absorbed = addConvBias(g, nm, p, c)
			case "Gemm":
				absorbed = addGemmBias(g, p, c)
			case "MatMul":
				if matMulBias(g, p, c) {
					bias, absorbed = c, true
				}
			}
			if absorbed {
				delete(g.Values, p.Outputs[0])
				p.Outputs[0] = add.Outputs[0]
				dead[add] = true
				changes++
				ix = buildIndex(g) // p's output changed
			}
		}
		act := Activation{}
		if a, ok := ix.only(p.Outputs[0]); ok && !dead[a] && a.Input(0) == p.Outputs[0] {
			if at, ok := activationOf(g, a); ok {
				act = at
				delete(g.Values, p.Outputs[0])
				p.Outputs[0] = a.Outputs[0]
				dead[a] = true
				changes++
				ix = buildIndex(g)
			}
		}
		if act.Op == "" && bias == "" {
			continue
		}
		p.Domain = Domain
		p.Op = map[string]string{"Conv": OpFusedConv, "Gemm": OpFusedGemm, "MatMul": OpFusedMatMul}[p.Op]
		if bias != "" {
			p.Inputs = append(p.Inputs, bias)
		}
		if p.Attrs == nil {
			p.Attrs = map[string]*graph.Attr{}
		}
		act.setAttrs(p)
	}
	removeNodes(g, dead)
	return changes, nil
}

// addConvBias adds constant c, if it is per output channel, to conv p's bias.
func addConvBias(g *graph.Graph, nm *namer, p *graph.Node, c string) bool {
	cd := f32Init(g, c)
	w, ok := g.Initializers[p.Input(1)]
	if cd == nil || !ok || len(w.Shape) < 3 {
		return false
	}
	m, r := w.Shape[0], len(w.Shape)
	ct := g.Initializers[c]
	if len(ct.Shape) > r {
		return false
	}
	shape := append(make([]int, r-len(ct.Shape)), ct.Shape...)
	for i := range r - len(ct.Shape) {
		shape[i] = 1
	}
	for i, d := range shape {
		if i != 1 && d != 1 || i == 1 && d != 1 && d != m {
			return false
		}
	}
	nb := make([]float32, m)
	if b := p.Input(2); b != "" {
		old := f32Init(g, b)
		if len(old) != m {
			return false
		}
		copy(nb, old)
	}
	for i := range nb {
		nb[i] += cd[min(i, len(cd)-1)]
	}
	name := nm.fresh(p.Outputs[0] + "/bias")
	g.Initializers[name] = tensor.FromFloat32([]int{m}, nb)
	if len(p.Inputs) < 3 {
		p.Inputs = append(p.Inputs, name)
	} else {
		p.Inputs[2] = name
	}
	return true
}

// addGemmBias makes constant row c the C input of a Gemm that has none.
func addGemmBias(g *graph.Graph, p *graph.Node, c string) bool {
	if p.Input(2) != "" || f32Init(g, c) == nil {
		return false
	}
	out, ok := concreteShape(g, p.Outputs[0])
	ct := g.Initializers[c]
	if !ok || len(out) != 2 || len(ct.Shape) > 2 {
		return false
	}
	n := out[1]
	switch {
	case ct.Len() == 1 && len(ct.Shape) <= 2:
	case len(ct.Shape) == 1 && ct.Shape[0] == n:
	case len(ct.Shape) == 2 && ct.Shape[0] == 1 && ct.Shape[1] == n:
	default:
		return false
	}
	p.Inputs = append(p.Inputs[:2], c)
	p.SetAttr("beta", &graph.Attr{Type: graph.AttrFloat, Float: 1})
	return true
}

// matMulBias reports whether constant c broadcasts along the last axis of p's result without
// widening it.
func matMulBias(g *graph.Graph, p *graph.Node, c string) bool {
	ct, ok := g.Initializers[c]
	if !ok || ct.DType != tensor.Float32 || isGraphInput(g, c) {
		return false
	}
	v, ok := g.Value(p.Outputs[0])
	if !ok || !v.RankKnown || len(v.Shape) == 0 || len(ct.Shape) > len(v.Shape) {
		return false
	}
	last := v.Shape[len(v.Shape)-1]
	for i, d := range ct.Shape {
		if i == len(ct.Shape)-1 {
			if d != 1 && (!last.Known() || int64(d) != last.Size) {
				return false
			}
		} else if d != 1 {
			return false
		}
	}
	return true
}
