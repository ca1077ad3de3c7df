package cpu

import (
	"math"
	"runtime"
	"sync"
	"weak"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fusion is a Conv/ConvTranspose whose result feeds only a following BatchNormalization
// (Conv only; folded into the weights) and/or an activation and Max/Min with constant
// scalars that the kernel applies in its epilogue: the absorbed nodes are skipped and the
// output of the last of them takes the conv's result.
type fusion struct {
	act   ref.Activation
	bn    *graph.Node // folded BatchNormalization, or nil
	last  int         // index of the last absorbed node, whose output the result takes
	skips []int       // indices of the absorbed nodes
}

// planFusions finds conv [-> BatchNormalization] [-> activation] [-> Max/Min]... chains in
// g. BN parameters, the conv weights, Clip bounds and the other operand of Max/Min (one
// float32 element, not NaN) must be initializers.
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
	// next returns the only reader of node i's single output when it reads it as input 0.
	next := func(i int) (int, bool) {
		n := g.Nodes[i]
		if len(n.Outputs) != 1 {
			return 0, false
		}
		out := n.Outputs[0]
		r := readers[out]
		if outputs[out] || len(r) != 1 {
			return 0, false
		}
		a := g.Nodes[r[0]]
		if len(a.Inputs) == 0 || a.Inputs[0] != out || a.Domain != "" || r[0] <= i {
			return 0, false
		}
		return r[0], true
	}
	plan := map[int]fusion{}
	for i, n := range g.Nodes {
		if (n.Op != "Conv" && n.Op != "ConvTranspose") || n.Domain != "" || len(n.Outputs) != 1 {
			continue
		}
		f := fusion{last: i}
		j, ok := next(i)
		if ok && n.Op == "Conv" && foldableBN(g, n, g.Nodes[j]) {
			f.bn, f.last, f.skips = g.Nodes[j], j, []int{j}
			j, ok = next(j)
		}
		if ok {
			if act, isAct := activationOf(g, g.Nodes[j]); isAct {
				f.act, f.last, f.skips = act, j, append(f.skips, j)
				j, ok = next(j)
			}
		}
		rank := 3 // of the conv's output, at least
		if w, isInit := g.Initializers[n.Input(1)]; isInit {
			rank = len(w.Shape)
		}
		for ok && boundOf(g, g.Nodes[j], rank, &f.act) {
			f.last, f.skips = j, append(f.skips, j)
			j, ok = next(j)
		}
		if len(f.skips) > 0 {
			plan[i] = f
		}
	}
	return plan
}

func activationOf(g *graph.Graph, n *graph.Node) (ref.Activation, bool) {
	switch n.Op {
	case "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish":
		if len(n.Inputs) != 1 || len(n.Outputs) != 1 {
			return ref.Activation{}, false
		}
		p := unaryOps[n.Op].params(&opCtx{node: n})
		return ref.Activation{Op: p.Op, Alpha: p.Alpha, Beta: p.Beta}, true
	case "Clip":
		if len(n.Outputs) != 1 {
			return ref.Activation{}, false
		}
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

// boundOf adds n to act's Bounded step when n is a Max or Min of its input 0 (of rank at
// least rank) with a float32 one-element initializer that is not NaN and does not raise the
// rank.
func boundOf(g *graph.Graph, n *graph.Node, rank int, act *ref.Activation) bool {
	if (n.Op != "Max" && n.Op != "Min") || len(n.Inputs) != 2 || len(n.Outputs) != 1 {
		return false
	}
	t, ok := g.Initializers[n.Inputs[1]]
	if !ok || t.DType != tensor.Float32 || t.Len() != 1 || len(t.Shape) > rank {
		return false
	}
	v := t.Float32s()[0]
	if v != v {
		return false
	}
	if !act.Bounded {
		act.Bounded, act.Lo, act.Hi = true, float32(math.Inf(-1)), float32(math.Inf(1))
	}
	if n.Op == "Max" {
		act.Lo, act.Hi = max(act.Lo, v), max(act.Hi, v) // max(min(max(y, lo), hi), v)
	} else {
		act.Lo, act.Hi = min(act.Lo, v), min(act.Hi, v)
	}
	return true
}

// foldableBN reports whether bn (reading conv's output) is inference BatchNormalization with
// initializer parameters that can be folded into conv's initializer weights and bias.
func foldableBN(g *graph.Graph, conv, bn *graph.Node) bool {
	if bn.Op != "BatchNormalization" || len(bn.Inputs) != 5 || bn.AttrInt("training_mode", 0) != 0 {
		return false
	}
	for _, o := range bn.Outputs[1:] {
		if o != "" {
			return false
		}
	}
	w, ok := g.Initializers[conv.Input(1)]
	if !ok || w.DType != tensor.Float32 || len(w.Shape) < 3 {
		return false
	}
	m := w.Shape[0]
	if b := conv.Input(2); b != "" {
		t, ok := g.Initializers[b]
		if !ok || t.DType != tensor.Float32 || t.Len() != m {
			return false
		}
	}
	for _, name := range bn.Inputs[1:] {
		t, ok := g.Initializers[name]
		if !ok || t.DType != tensor.Float32 || t.Len() != m {
			return false
		}
	}
	return true
}

// folded is a conv's weights and bias with a BatchNormalization folded in, and the tensors
// it was computed from (the cache entry is stale when they change).
type folded struct {
	from [6]*tensor.Tensor
	eps  float32
	w, b *tensor.Tensor
}

// foldCache holds folded weights per conv node for the life of the node.
var foldCache sync.Map // weak.Pointer[graph.Node] -> *folded

// foldBN returns conv's weights w and bias b (nil for none) with bn folded in:
// w'[m] = w[m]*a[m], b'[m] = (b[m]-mean[m])*a[m] + beta[m], a = scale/sqrt(var+eps).
func foldBN(conv, bn *graph.Node, w, b, scale, beta, mean, variance *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	eps := bn.AttrFloat("epsilon", 1e-5)
	from := [6]*tensor.Tensor{w, b, scale, beta, mean, variance}
	key := weak.Make(conv)
	if v, ok := foldCache.Load(key); ok {
		if f := v.(*folded); f.from == from && f.eps == eps {
			return f.w, f.b
		}
	}
	m := w.Shape[0]
	per := w.Len() / m
	wd := w.Float32s()
	nw := make([]float32, len(wd))
	nb := make([]float32, m)
	sd, bd, md, vd := scale.Float32s(), beta.Float32s(), mean.Float32s(), variance.Float32s()
	for i := 0; i < m; i++ {
		a := float64(sd[i]) / math.Sqrt(float64(vd[i])+float64(eps))
		for k := i * per; k < (i+1)*per; k++ {
			nw[k] = float32(float64(wd[k]) * a)
		}
		var bias float64
		if b != nil {
			bias = float64(b.Float32s()[i])
		}
		nb[i] = float32((bias-float64(md[i]))*a + float64(bd[i]))
	}
	f := &folded{from: from, eps: eps, w: tensor.FromFloat32(w.Shape, nw), b: tensor.FromFloat32([]int{m}, nb)}
	if _, loaded := foldCache.Swap(key, f); !loaded {
		runtime.AddCleanup(conv, func(k weak.Pointer[graph.Node]) { foldCache.Delete(k) }, key)
	}
	return f.w, f.b
}
