package passes

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Domain is the operator domain of the fused operators the passes create.
const Domain = "elasticroom"

// The fused operators (domain "elasticroom"). Their semantics, which every executor
// implements (runtime/cpu/fused.go is the reference):
//
//   - FusedConv(X, W, B?): Conv with Conv's attributes, then the activation.
//   - FusedGemm(A, B, C?): Gemm with Gemm's attributes (alpha, beta, transA, transB), then
//     the activation.
//   - FusedMatMul(A, B, Bias?): MatMul, plus Bias (broadcast to the MatMul result, never
//     widening it), then the activation.
//   - FusedElementwise(x...): the graph attribute "body" computed elementwise; body.Inputs
//     have the names of the node's inputs, in order, and body.Outputs[0] is the result.
//     Every body value has the shape of the result or broadcasts to it.
//   - Attention(Q, K, V, Mask?): softmax(scale * Q x K' + Mask) x V over the last axis, where
//     K' = K^T (last two axes swapped) when transpose_k = 1 and K' = K otherwise; attributes
//     scale (float), has_mask (int), transpose_k (int).
//
// Activation attributes: activation (string: "" or "Relu", "LeakyRelu", "Sigmoid",
// "HardSigmoid", "HardSwish", "Tanh", "Clip"), activation_alpha and activation_beta (floats:
// LeakyRelu's alpha, HardSigmoid's alpha and beta), clip_min and clip_max (floats, Clip).
const (
	OpFusedConv        = "FusedConv"
	OpFusedGemm        = "FusedGemm"
	OpFusedMatMul      = "FusedMatMul"
	OpFusedElementwise = "FusedElementwise"
	OpAttention        = "Attention"
)

// FusedOps lists the fused operators of the elasticroom domain.
func FusedOps() []string {
	return []string{OpAttention, OpFusedConv, OpFusedElementwise, OpFusedGemm, OpFusedMatMul}
}

// Activation is an activation applied in a fused op's epilogue.
type Activation struct {
	Op          string  // "" (none), Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Clip
	Alpha, Beta float32 // LeakyRelu alpha; HardSigmoid alpha, beta
	Min, Max    float32 // Clip bounds
}

// setAttrs writes the activation into n's attributes.
func (a Activation) setAttrs(n *graph.Node) {
	n.SetAttr("activation", &graph.Attr{Type: graph.AttrString, String: a.Op})
	n.SetAttr("activation_alpha", &graph.Attr{Type: graph.AttrFloat, Float: a.Alpha})
	n.SetAttr("activation_beta", &graph.Attr{Type: graph.AttrFloat, Float: a.Beta})
	if a.Op == "Clip" {
		n.SetAttr("clip_min", &graph.Attr{Type: graph.AttrFloat, Float: a.Min})
		n.SetAttr("clip_max", &graph.Attr{Type: graph.AttrFloat, Float: a.Max})
	}
}

// ActivationOf reads the activation attributes of a fused node.
func ActivationOf(n *graph.Node) Activation {
	return Activation{Op: n.AttrString("activation", ""), Alpha: n.AttrFloat("activation_alpha", 0),
		Beta: n.AttrFloat("activation_beta", 0), Min: n.AttrFloat("clip_min", float32(math.Inf(-1))),
		Max: n.AttrFloat("clip_max", float32(math.Inf(1)))}
}

// activationOf recognizes an activation node whose first input is x. Clip bounds must be
// scalar float32 initializers.
func activationOf(g *graph.Graph, n *graph.Node) (Activation, bool) {
	if n.Domain != "" || len(n.Outputs) != 1 {
		return Activation{}, false
	}
	switch n.Op {
	case "Relu", "Sigmoid", "Tanh", "HardSwish":
		return Activation{Op: n.Op}, len(n.Inputs) == 1
	case "LeakyRelu":
		return Activation{Op: n.Op, Alpha: n.AttrFloat("alpha", 0.01)}, len(n.Inputs) == 1
	case "HardSigmoid":
		return Activation{Op: n.Op, Alpha: n.AttrFloat("alpha", 0.2), Beta: n.AttrFloat("beta", 0.5)}, len(n.Inputs) == 1
	case "Clip":
		a := Activation{Op: "Clip", Min: float32(math.Inf(-1)), Max: float32(math.Inf(1))}
		for i, b := range []*float32{&a.Min, &a.Max} {
			name := n.Input(i + 1)
			if name == "" {
				continue
			}
			v, ok := scalarConst(g, name)
			if !ok {
				return Activation{}, false
			}
			*b = float32(v)
		}
		return a, len(n.Inputs) >= 1 && len(n.Inputs) <= 3
	}
	return Activation{}, false
}

// activationNode builds the ONNX node computing a on x into y; Clip bounds become
// initializers of g named after y.
func (a Activation) node(g *graph.Graph, name, x, y string) *graph.Node {
	n := &graph.Node{Name: name, Op: a.Op, Inputs: []string{x}, Outputs: []string{y}}
	switch a.Op {
	case "LeakyRelu":
		n.SetAttr("alpha", &graph.Attr{Type: graph.AttrFloat, Float: a.Alpha})
	case "HardSigmoid":
		n.SetAttr("alpha", &graph.Attr{Type: graph.AttrFloat, Float: a.Alpha})
		n.SetAttr("beta", &graph.Attr{Type: graph.AttrFloat, Float: a.Beta})
	case "Clip":
		lo, hi := y+"/clip_min", y+"/clip_max"
		g.Initializers[lo] = tensor.FromFloat32(nil, []float32{a.Min})
		g.Initializers[hi] = tensor.FromFloat32(nil, []float32{a.Max})
		n.Inputs = append(n.Inputs, lo, hi)
	}
	return n
}

// scalarConst reads a one-element numeric initializer as float64.
func scalarConst(g *graph.Graph, name string) (float64, bool) {
	t, ok := g.Initializers[name]
	if !ok || t.Len() != 1 {
		return 0, false
	}
	switch d := t.Data.(type) {
	case []float32:
		return float64(d[0]), true
	case []float64:
		return d[0], true
	case []int64:
		return float64(d[0]), true
	case []int32:
		return float64(d[0]), true
	}
	return 0, false
}

// decompose returns the ONNX nodes (default domain) that compute the fused node n, with
// fresh internal value names prefixed by n's name, adding the constants they need to g.
// It is the executable definition of the fused ops, used for shape inference.
func decompose(g *graph.Graph, n *graph.Node) ([]*graph.Node, error) {
	if len(n.Outputs) != 1 {
		return nil, fmt.Errorf("%v: fused ops have one output, got %d", n, len(n.Outputs))
	}
	y := n.Outputs[0]
	tmp := func(s string) string { return y + "/" + s }
	withAct := func(core *graph.Node) []*graph.Node {
		a := ActivationOf(n)
		if a.Op == "" {
			core.Outputs = []string{y}
			return []*graph.Node{core}
		}
		core.Outputs = []string{tmp("pre")}
		return []*graph.Node{core, a.node(g, n.Name+"/act", tmp("pre"), y)}
	}
	switch n.Op {
	case OpFusedConv, OpFusedGemm:
		op := map[string]string{OpFusedConv: "Conv", OpFusedGemm: "Gemm"}[n.Op]
		core := &graph.Node{Name: n.Name + "/core", Op: op, Inputs: n.Inputs, Attrs: map[string]*graph.Attr{}}
		for k, v := range n.Attrs {
			if !isActivationAttr(k) {
				core.Attrs[k] = v
			}
		}
		return withAct(core), nil
	case OpFusedMatMul:
		if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
			return nil, fmt.Errorf("%v: takes 2 or 3 inputs, got %d", n, len(n.Inputs))
		}
		mm := &graph.Node{Name: n.Name + "/matmul", Op: "MatMul", Inputs: n.Inputs[:2]}
		if n.Input(2) == "" {
			return withAct(mm), nil
		}
		mm.Outputs = []string{tmp("mm")}
		add := &graph.Node{Name: n.Name + "/bias", Op: "Add", Inputs: []string{tmp("mm"), n.Inputs[2]}}
		return append([]*graph.Node{mm}, withAct(add)...), nil
	case OpFusedElementwise:
		return inlineBody(g, n)
	case OpAttention:
		if len(n.Inputs) < 3 {
			return nil, fmt.Errorf("%v: takes 3 or 4 inputs, got %d", n, len(n.Inputs))
		}
		var out []*graph.Node
		k := n.Inputs[1]
		if n.AttrInt("transpose_k", 0) != 0 {
			v, ok := g.Value(k)
			if !ok || !v.RankKnown || len(v.Shape) < 2 {
				return nil, fmt.Errorf("%v: transpose_k needs K's rank", n)
			}
			perm := make([]int64, len(v.Shape))
			for i := range perm {
				perm[i] = int64(i)
			}
			r := len(perm)
			perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
			out = append(out, &graph.Node{Name: n.Name + "/kt", Op: "Transpose", Inputs: []string{k}, Outputs: []string{tmp("kt")},
				Attrs: map[string]*graph.Attr{"perm": {Type: graph.AttrInts, Ints: perm}}})
			k = tmp("kt")
		}
		scale := tmp("scale_value")
		g.Initializers[scale] = tensor.FromFloat32(nil, []float32{n.AttrFloat("scale", 1)})
		out = append(out,
			&graph.Node{Name: n.Name + "/qk", Op: "MatMul", Inputs: []string{n.Inputs[0], k}, Outputs: []string{tmp("qk")}},
			&graph.Node{Name: n.Name + "/scale", Op: "Mul", Inputs: []string{tmp("qk"), scale}, Outputs: []string{tmp("scaled")}})
		s := tmp("scaled")
		if n.AttrInt("has_mask", 0) != 0 && n.Input(3) != "" {
			out = append(out, &graph.Node{Name: n.Name + "/mask", Op: "Add", Inputs: []string{s, n.Inputs[3]}, Outputs: []string{tmp("masked")}})
			s = tmp("masked")
		}
		out = append(out,
			&graph.Node{Name: n.Name + "/softmax", Op: "Softmax", Inputs: []string{s}, Outputs: []string{tmp("probs")},
				Attrs: map[string]*graph.Attr{"axis": {Type: graph.AttrInt, Int: -1}}},
			&graph.Node{Name: n.Name + "/pv", Op: "MatMul", Inputs: []string{tmp("probs"), n.Inputs[2]}, Outputs: []string{y}})
		return out, nil
	}
	return nil, fmt.Errorf("%v: unknown op %q in domain %q", n, n.Op, n.Domain)
}

func isActivationAttr(k string) bool {
	switch k {
	case "activation", "activation_alpha", "activation_beta", "clip_min", "clip_max":
		return true
	}
	return false
}

// inlineBody copies a FusedElementwise body into g's namespace: body inputs become the
// node's inputs, the body output becomes the node's output, other values get fresh names.
func inlineBody(g *graph.Graph, n *graph.Node) ([]*graph.Node, error) {
	body := n.AttrGraph("body")
	if body == nil {
		return nil, fmt.Errorf("%v: no body graph", n)
	}
	if len(body.Inputs) != len(n.Inputs) || len(body.Outputs) != 1 {
		return nil, fmt.Errorf("%v: body has %d inputs and %d outputs, the node %d inputs and 1 output", n, len(body.Inputs), len(body.Outputs), len(n.Inputs))
	}
	ren := map[string]string{}
	for i, v := range body.Inputs {
		ren[v.Name] = n.Inputs[i]
	}
	for name, t := range body.Initializers {
		fresh := n.Outputs[0] + "/" + name
		g.Initializers[fresh] = t
		ren[name] = fresh
	}
	for _, bn := range body.Nodes {
		for _, o := range bn.Outputs {
			ren[o] = n.Outputs[0] + "/" + o
		}
	}
	// The body's output is bound to the node's output (after inner names were assigned, so
	// an output that is also a body input still maps through a copy below).
	outName := body.Outputs[0].Name
	var out []*graph.Node
	for _, bn := range body.Nodes {
		c := *bn
		c.Inputs = make([]string, len(bn.Inputs))
		for i, in := range bn.Inputs {
			if r, ok := ren[in]; ok {
				in = r
			}
			c.Inputs[i] = in
		}
		c.Outputs = make([]string, len(bn.Outputs))
		for i, o := range bn.Outputs {
			if o == outName {
				c.Outputs[i] = n.Outputs[0]
			} else {
				c.Outputs[i] = ren[o]
			}
		}
		c.Name = n.Name + "/" + bn.Name
		out = append(out, &c)
	}
	produced := false
	for _, bn := range body.Nodes {
		for _, o := range bn.Outputs {
			produced = produced || o == outName
		}
	}
	if !produced {
		src, ok := ren[outName]
		if !ok {
			return nil, fmt.Errorf("%v: body output %q is not computed by the body", n, outName)
		}
		out = append(out, &graph.Node{Name: n.Name + "/out", Op: "Identity", Inputs: []string{src}, Outputs: []string{n.Outputs[0]}})
	}
	return out, nil
}
