package passes

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fuseAttention rewrites scaled dot-product attention,
//
//	s = MatMul(Q, K')            K' = Transpose(K) swapping the last two axes, or any [.., D, Sk]
//	s = s * c | s / c            (optional, c a scalar constant)
//	s = s + mask                 (optional; mask broadcasts to s without widening it)
//	y = MatMul(Softmax(s, axis=-1), V)
//
// into Attention(Q, K, V, mask?) {scale, has_mask, transpose_k}. Intermediates must have no
// other reader.
func fuseAttention(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	dead := map[*graph.Node]bool{}
	changes := 0
	for _, sm := range g.Nodes {
		if dead[sm] || !isOp(sm, "Softmax") {
			continue
		}
		sv, ok := g.Value(sm.Input(0))
		if !ok || !sv.RankKnown || len(sv.Shape) < 2 || sv.DType != tensor.Float32 {
			continue
		}
		r := int64(len(sv.Shape))
		if ax := sm.AttrInt("axis", -1); ax != -1 && ax != r-1 {
			continue
		}
		pv, ok := ix.only(sm.Outputs[0])
		if !ok || !isOp(pv, "MatMul") || pv.Input(0) != sm.Outputs[0] || pv.Input(1) == sm.Outputs[0] {
			continue
		}
		var chain []*graph.Node
		cur := ix.producer[sm.Input(0)]
		mask := ""
		scale := float32(1)
		if isOp(cur, "Add") && single(ix, cur, sm) {
			for _, i := range []int{0, 1} {
				p := ix.producer[cur.Input(i)]
				if p != nil && (isOp(p, "MatMul") || isOp(p, "Mul") || isOp(p, "Div")) && single(ix, p, cur) && fitsInto(g, cur.Input(1-i), sm.Input(0)) {
					mask = cur.Input(1 - i)
					chain = append(chain, cur)
					cur = p
					break
				}
			}
			if mask == "" {
				continue
			}
		}
		next := sm
		if len(chain) > 0 {
			next = chain[0]
		}
		if (isOp(cur, "Mul") || isOp(cur, "Div")) && single(ix, cur, next) {
			found := false
			for _, i := range []int{0, 1} {
				if cur.Op == "Div" && i == 1 {
					break
				}
				p := ix.producer[cur.Input(i)]
				c, ok := scalarConst(g, cur.Input(1-i))
				if ok && isOp(p, "MatMul") && single(ix, p, cur) {
					scale = float32(c)
					if cur.Op == "Div" {
						scale = float32(1 / c)
					}
					chain = append(chain, cur)
					next, cur, found = cur, p, true
					break
				}
			}
			if !found {
				continue
			}
		}
		if !isOp(cur, "MatMul") || !single(ix, cur, next) || len(cur.Inputs) != 2 {
			continue
		}
		qk := cur
		k, transK := qk.Input(1), int64(0)
		if t := ix.producer[k]; isOp(t, "Transpose") && single(ix, t, qk) && swapsLastTwo(t) {
			k, transK = t.Input(0), 1
			dead[t] = true
		}
		for _, n := range append(chain, qk, sm) {
			dead[n] = true
		}
		ins := []string{qk.Input(0), k, pv.Input(1)}
		hasMask := int64(0)
		if mask != "" {
			ins, hasMask = append(ins, mask), 1
		}
		*pv = graph.Node{Name: pv.Name, Op: OpAttention, Domain: Domain, Inputs: ins, Outputs: []string{pv.Outputs[0]},
			Attrs: map[string]*graph.Attr{
				"scale":       {Type: graph.AttrFloat, Float: scale},
				"has_mask":    {Type: graph.AttrInt, Int: hasMask},
				"transpose_k": {Type: graph.AttrInt, Int: transK},
			}}
		changes++
		ix = buildIndex(g)
	}
	removeNodes(g, dead)
	return changes, nil
}

// single reports whether p's only output is read only by c, once, and is no graph output.
func single(ix *index, p, c *graph.Node) bool {
	if p == nil || len(p.Outputs) != 1 {
		return false
	}
	o, ok := ix.only(p.Outputs[0])
	return ok && o == c
}

func swapsLastTwo(t *graph.Node) bool {
	perm := t.AttrInts("perm", nil)
	r := len(perm)
	if r < 2 {
		return false
	}
	for i, p := range perm {
		want := int64(i)
		switch i {
		case r - 2:
			want = int64(r - 1)
		case r - 1:
			want = int64(r - 2)
		}
		if p != want {
			return false
		}
	}
	return true
}

// fitsInto reports whether value a broadcasts to b's shape without widening it.
func fitsInto(g *graph.Graph, a, b string) bool {
	va, ok1 := g.Value(a)
	vb, ok2 := g.Value(b)
	if !ok1 || !ok2 || !va.RankKnown || !vb.RankKnown || len(va.Shape) > len(vb.Shape) {
		return false
	}
	off := len(vb.Shape) - len(va.Shape)
	for i, d := range va.Shape {
		e := vb.Shape[off+i]
		switch {
		case d.Known() && d.Size == 1:
		case d.Known() && e.Known() && d.Size == e.Size:
		case !d.Known() && !e.Known() && d.Param != "" && d.Param == e.Param:
		default:
			return false
		}
	}
	return true
}
