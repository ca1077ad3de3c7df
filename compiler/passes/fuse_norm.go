package passes

import (
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fuseLayerNorm rewrites the decomposed layer norm of exporters,
//
//	m = ReduceMean(x, trailing axes); d = x - m; v = ReduceMean(d^2 | d*d); n = d / Sqrt(v + eps)
//	y = n * gamma + beta        (gamma and beta optional, constant)
//
// into LayerNormalization(x, gamma, beta) {axis, epsilon}. Every intermediate value must have
// no reader outside the pattern.
func fuseLayerNorm(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	nm := newNamer(g)
	dead := map[*graph.Node]bool{}
	changes := 0
	for _, m1 := range g.Nodes {
		if dead[m1] || !isOp(m1, "ReduceMean") {
			continue
		}
		x := m1.Input(0)
		axis, k, ok := trailingAxes(g, m1)
		if !ok {
			continue
		}
		sub, ok := ix.only(m1.Outputs[0])
		if !ok || !isOp(sub, "Sub") || sub.Input(0) != x || sub.Input(1) != m1.Outputs[0] {
			continue
		}
		d := sub.Outputs[0]
		var sq, div *graph.Node
		for _, c := range distinct(ix.consumers[d]) {
			switch {
			case isOp(c, "Pow") && c.Input(0) == d && isConst(g, c.Input(1), 2):
				sq = c
			case isOp(c, "Mul") && c.Input(0) == d && c.Input(1) == d:
				sq = c
			case isOp(c, "Div") && c.Input(0) == d:
				div = c
			default:
				sq, div = nil, nil
			}
			if sq == nil && div == nil {
				break
			}
		}
		if sq == nil || div == nil || len(distinct(ix.consumers[d])) != 2 || ix.output[d] {
			continue
		}
		m2, ok := ix.only(sq.Outputs[0])
		if !ok || !isOp(m2, "ReduceMean") || m2.Input(0) != sq.Outputs[0] {
			continue
		}
		if a2, k2, ok := trailingAxes(g, m2); !ok || a2 != axis || k2 != k {
			continue
		}
		addEps, ok := ix.only(m2.Outputs[0])
		if !ok || !isOp(addEps, "Add") {
			continue
		}
		eps, ok := otherConst(g, addEps, m2.Outputs[0])
		if !ok {
			continue
		}
		sqrt, ok := ix.only(addEps.Outputs[0])
		if !ok || !isOp(sqrt, "Sqrt") {
			continue
		}
		if c, ok := ix.only(sqrt.Outputs[0]); !ok || c != div || div.Input(1) != sqrt.Outputs[0] {
			continue
		}
		xs, ok := concreteShape(g, x)
		if !ok || dtypeOf(g, x) != tensor.Float32 {
			continue
		}
		norm := xs[axis:]
		last := div
		var gamma, beta []float32
		var mulNode *graph.Node
		if mul, ok := ix.only(div.Outputs[0]); ok && isOp(mul, "Mul") {
			if c := otherInput(mul, div.Outputs[0]); c != "" {
				gamma = affineConst(g, c, norm)
			}
			if gamma != nil {
				last, mulNode = mul, mul
				if add, ok := ix.only(mul.Outputs[0]); ok && isOp(add, "Add") {
					if c := otherInput(add, mul.Outputs[0]); c != "" {
						if beta = affineConst(g, c, norm); beta != nil {
							last = add
						}
					}
				}
			}
		}
		if gamma == nil {
			gamma = make([]float32, tensor.NumElements(norm))
			for i := range gamma {
				gamma[i] = 1
			}
		}
		gn := nm.fresh(last.Outputs[0] + "/ln_scale")
		g.Initializers[gn] = tensor.FromFloat32(norm, gamma)
		ins := []string{x, gn}
		if beta != nil {
			bn := nm.fresh(last.Outputs[0] + "/ln_bias")
			g.Initializers[bn] = tensor.FromFloat32(norm, beta)
			ins = append(ins, bn)
		}
		for _, n := range []*graph.Node{m1, sub, sq, m2, addEps, sqrt, div} {
			dead[n] = true
		}
		if mulNode != nil {
			dead[mulNode] = true
		}
		*last = graph.Node{Name: last.Name, Op: "LayerNormalization", Inputs: ins, Outputs: []string{last.Outputs[0]},
			Attrs: map[string]*graph.Attr{
				"axis":    {Type: graph.AttrInt, Int: int64(axis)},
				"epsilon": {Type: graph.AttrFloat, Float: float32(eps)},
			}}
		delete(dead, last)
		changes++
		ix = buildIndex(g)
	}
	removeNodes(g, dead)
	return changes, nil
}

// trailingAxes reads a ReduceMean with keepdims over the last k axes of a known-rank input:
// it returns the first normalized axis and k.
func trailingAxes(g *graph.Graph, n *graph.Node) (int, int, bool) {
	if n.AttrInt("keepdims", 1) != 1 || len(n.Outputs) != 1 {
		return 0, 0, false
	}
	v, ok := g.Value(n.Input(0))
	if !ok || !v.RankKnown {
		return 0, 0, false
	}
	r := len(v.Shape)
	axes := n.AttrInts("axes", nil)
	if a := n.Input(1); a != "" {
		t, ok := g.Initializers[a]
		if !ok || t.DType != tensor.Int64 {
			return 0, 0, false
		}
		axes = t.Int64s()
	}
	if len(axes) == 0 || len(axes) > r {
		return 0, 0, false
	}
	seen := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < int64(r-len(axes)) || a >= int64(r) {
			return 0, 0, false
		}
		seen[int(a)] = true
	}
	if len(seen) != len(axes) {
		return 0, 0, false
	}
	return r - len(axes), len(axes), true
}

// affineConst returns constant c as a float32 vector of the normalized shape, when it
// broadcasts to it (leading dims 1, trailing dims equal or 1) without widening x.
func affineConst(g *graph.Graph, c string, norm []int) []float32 {
	d := f32Init(g, c)
	if d == nil {
		return nil
	}
	t := g.Initializers[c]
	if len(t.Shape) > len(norm) {
		for _, s := range t.Shape[:len(t.Shape)-len(norm)] {
			if s != 1 {
				return nil
			}
		}
	}
	shape := t.Shape[max(0, len(t.Shape)-len(norm)):]
	full := make([]int, len(norm))
	for i := range full {
		full[i] = 1
	}
	copy(full[len(norm)-len(shape):], shape)
	for i, s := range full {
		if s != 1 && s != norm[i] {
			return nil
		}
	}
	out := make([]float32, tensor.NumElements(norm))
	// broadcast full -> norm
	idx := make([]int, len(norm))
	for i := range out {
		off, st := 0, 1
		for a := len(norm) - 1; a >= 0; a-- {
			if full[a] != 1 {
				off += idx[a] * st
			}
			st *= full[a]
		}
		out[i] = d[off]
		for a := len(norm) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < norm[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

func isOp(n *graph.Node, op string) bool {
	return n != nil && n.Op == op && n.Domain == "" && len(n.Outputs) == 1
}

// isConst reports whether name is a one-element initializer equal to v.
func isConst(g *graph.Graph, name string, v float64) bool {
	c, ok := scalarConst(g, name)
	return ok && math.Abs(c-v) <= 1e-6*math.Max(1, math.Abs(v))
}

// otherInput returns the input of binary n that is not x ("" when both are x).
func otherInput(n *graph.Node, x string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	switch x {
	case n.Inputs[0]:
		if n.Inputs[1] != x {
			return n.Inputs[1]
		}
	case n.Inputs[1]:
		return n.Inputs[0]
	}
	return ""
}

// otherConst reads the scalar constant operand of binary n whose other operand is x.
func otherConst(g *graph.Graph, n *graph.Node, x string) (float64, bool) {
	c := otherInput(n, x)
	if c == "" {
		return 0, false
	}
	return scalarConst(g, c)
}

func distinct(ns []*graph.Node) []*graph.Node {
	var out []*graph.Node
	for _, n := range ns {
		dup := false
		for _, o := range out {
			dup = dup || o == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}

// fuseGelu rewrites x * 0.5 * (1 + erf(x / sqrt(2))) (Div by sqrt 2 or Mul by 1/sqrt 2; the
// halving on either side) into Gelu(x).
func fuseGelu(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	dead := map[*graph.Node]bool{}
	changes := 0
	for _, e := range g.Nodes {
		if dead[e] || !isOp(e, "Erf") {
			continue
		}
		d := ix.producer[e.Input(0)]
		if !isOp(d, "Div") && !isOp(d, "Mul") {
			continue
		}
		if c, ok := ix.only(d.Outputs[0]); !ok || c != e {
			continue
		}
		x := d.Input(0)
		want := math.Sqrt2
		if d.Op == "Mul" {
			want = 1 / math.Sqrt2
			if !isConst(g, d.Input(1), want) {
				x = d.Input(1)
				if !isConst(g, d.Input(0), want) {
					continue
				}
			}
		}
		if x == "" || !isConstTol(g, otherInput(d, x), want) {
			continue
		}
		a, ok := ix.only(e.Outputs[0])
		if !ok || !isOp(a, "Add") || !isConstTol(g, otherInput(a, e.Outputs[0]), 1) {
			continue
		}
		m, ok := ix.only(a.Outputs[0])
		if !ok || !isOp(m, "Mul") {
			continue
		}
		other := otherInput(m, a.Outputs[0])
		var last *graph.Node
		var mid []*graph.Node
		switch {
		case other == x: // (x * (1+erf)) * 0.5
			if y, ok := ix.only(m.Outputs[0]); ok && isOp(y, "Mul") && isConstTol(g, otherInput(y, m.Outputs[0]), 0.5) {
				last, mid = y, []*graph.Node{m}
			}
		case isConstTol(g, other, 0.5): // x * ((1+erf) * 0.5)
			if y, ok := ix.only(m.Outputs[0]); ok && isOp(y, "Mul") && otherInput(y, m.Outputs[0]) == x {
				last, mid = y, []*graph.Node{m}
			}
		default: // (x * 0.5) * (1+erf)
			h := ix.producer[other]
			if isOp(h, "Mul") && otherInput(h, x) != "" && isConstTol(g, otherInput(h, x), 0.5) {
				if c, ok := ix.only(h.Outputs[0]); ok && c == m {
					last, mid = m, []*graph.Node{h}
				}
			}
		}
		if last == nil {
			continue
		}
		for _, n := range append(mid, d, e, a) {
			dead[n] = true
		}
		*last = graph.Node{Name: last.Name, Op: "Gelu", Inputs: []string{x}, Outputs: []string{last.Outputs[0]},
			Attrs: map[string]*graph.Attr{"approximate": {Type: graph.AttrString, String: "none"}}}
		changes++
	}
	removeNodes(g, dead)
	return changes, nil
}

func isConstTol(g *graph.Graph, name string, v float64) bool {
	c, ok := scalarConst(g, name)
	return ok && math.Abs(c-v) <= 1e-4*math.Max(1, math.Abs(v))
}
