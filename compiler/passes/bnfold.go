package passes

import (
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// foldBatchNorm folds BatchNormalization into the Conv, ConvTranspose or Gemm that feeds it
// when that producer's output has no other reader, its weights and the BN parameters are
// float32 initializers: W' = W * s per output channel, B' = (B - mean) * s + bias, with
// s = scale / sqrt(var + eps). The folded weights are new initializers (the old ones may be
// shared); dce drops what is left unread.
func foldBatchNorm(s *state) (int, error) {
	g := s.g
	ix := buildIndex(g)
	nm := newNamer(g)
	dead := map[*graph.Node]bool{}
	for _, bn := range g.Nodes {
		if bn.Op != "BatchNormalization" || bn.Domain != "" || len(bn.Inputs) != 5 || bn.AttrInt("training_mode", 0) != 0 {
			continue
		}
		if len(bn.Outputs) > 1 {
			extra := false
			for _, o := range bn.Outputs[1:] {
				extra = extra || o != ""
			}
			if extra {
				continue
			}
		}
		p := ix.producer[bn.Inputs[0]]
		if p == nil || p.Domain != "" || dead[p] || len(p.Outputs) != 1 {
			continue
		}
		if c, ok := ix.only(bn.Inputs[0]); !ok || c != bn {
			continue
		}
		params := make([][]float32, 4)
		ok := true
		for i := range params {
			params[i] = f32Init(g, bn.Inputs[i+1])
			ok = ok && params[i] != nil && len(params[i]) == len(params[0])
		}
		if !ok {
			continue
		}
		eps := float64(bn.AttrFloat("epsilon", 1e-5))
		ch := len(params[0])
		sc := make([]float64, ch)
		for i := range sc {
			sc[i] = float64(params[0][i]) / math.Sqrt(float64(params[3][i])+eps)
		}
		if !foldInto(g, nm, p, sc, params[1], params[2]) {
			continue
		}
		p.Outputs[0] = bn.Outputs[0]
		delete(g.Values, bn.Inputs[0])
		dead[bn] = true
	}
	removeNodes(g, dead)
	return len(dead), nil
}

// foldInto rewrites p's weight and bias for a per-channel affine y*sc + (bias - mean*sc).
func foldInto(g *graph.Graph, nm *namer, p *graph.Node, sc []float64, bias, mean []float32) bool {
	ch := len(sc)
	wName := p.Input(1)
	w, ok := g.Initializers[wName]
	if !ok || w.DType != tensor.Float32 || isGraphInput(g, wName) || len(w.Shape) < 2 {
		return false
	}
	var old []float32 // the existing bias, broadcast to ch (nil = zero)
	if b := p.Input(2); b != "" {
		old = f32Init(g, b)
		if old == nil {
			return false
		}
	}
	wd := w.Float32s()
	nw := make([]float32, len(wd))
	beta := float64(1)
	switch p.Op {
	case "Conv":
		if w.Shape[0] != ch || (old != nil && len(old) != ch) {
			return false
		}
		per := len(wd) / ch
		for i, v := range wd {
			nw[i] = float32(float64(v) * sc[i/per])
		}
	case "ConvTranspose":
		grp := int(p.AttrInt("group", 1))
		if grp < 1 || w.Shape[0]%grp != 0 || w.Shape[1]*grp != ch || (old != nil && len(old) != ch) {
			return false
		}
		mg, cg := w.Shape[1], w.Shape[0]/grp
		sp := len(wd) / (w.Shape[0] * mg)
		for i, v := range wd {
			c, j := i/(mg*sp), (i/sp)%mg
			nw[i] = float32(float64(v) * sc[(c/cg)*mg+j])
		}
	case "Gemm":
		if len(w.Shape) != 2 {
			return false
		}
		transB := p.AttrInt("transB", 0) != 0
		k, n := w.Shape[0], w.Shape[1]
		if transB {
			k, n = n, k
		}
		if n != ch {
			return false
		}
		if old != nil {
			ct := g.Initializers[p.Input(2)]
			if ct.Len() != 1 && ct.Len() != ch || len(ct.Shape) == 2 && ct.Shape[0] != 1 {
				return false
			}
			if ct.Len() == 1 {
				v := old[0]
				old = make([]float32, ch)
				for i := range old {
					old[i] = v
				}
			}
		}
		for i, v := range wd {
			col := i % n
			if transB {
				col = i / k
			}
			nw[i] = float32(float64(v) * sc[col])
		}
		beta = float64(p.AttrFloat("beta", 1))
		p.SetAttr("beta", &graph.Attr{Type: graph.AttrFloat, Float: 1})
	default:
		return false
	}
	nb := make([]float32, ch)
	for i := range nb {
		o := 0.0
		if old != nil {
			o = beta * float64(old[i])
		}
		nb[i] = float32((o-float64(mean[i]))*sc[i] + float64(bias[i]))
	}
	wn := nm.fresh(wName + "/bnfold")
	g.Initializers[wn] = tensor.FromFloat32(w.Shape, nw)
	bname := nm.fresh(p.Outputs[0] + "/bnfold_bias")
	g.Initializers[bname] = tensor.FromFloat32([]int{ch}, nb)
	p.Inputs[1] = wn
	if len(p.Inputs) < 3 {
		p.Inputs = append(p.Inputs, bname)
	} else {
		p.Inputs[2] = bname
	}
	return true
}

// f32Init returns the data of a float32 initializer (not overridable as a graph input).
func f32Init(g *graph.Graph, name string) []float32 {
	t, ok := g.Initializers[name]
	if !ok || t.DType != tensor.Float32 || isGraphInput(g, name) {
		return nil
	}
	return t.Float32s()
}
