package cpu

// Fused operators of the "elasticroom" domain, created by compiler/passes (see its ops.go for
// their definition). They are registered in opTable under "elasticroom.<Op>" so that no name
// can collide with a default-domain ONNX op (ONNX has its own Attention); opKey gives the
// table key of a node.

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// FusedDomain is the domain of the compiler's fused operators.
const FusedDomain = "elasticroom"

func init() {
	register(fusedConvOp, FusedDomain+".FusedConv")
	register(fusedGemmOp, FusedDomain+".FusedGemm")
	register(fusedMatMulOp, FusedDomain+".FusedMatMul")
	register(fusedElementwiseOp, FusedDomain+".FusedElementwise")
	register(attentionOp, FusedDomain+".Attention")
}

// opKey is n's key in opTable: the op type for the default ONNX domain, "elasticroom.<Op>"
// for the fused ops; ok is false for any other domain.
func opKey(n *graph.Node) (string, bool) {
	switch n.Domain {
	case "", "ai.onnx":
		return n.Op, true
	case FusedDomain:
		return FusedDomain + "." + n.Op, true
	}
	return "", false
}

// fusedActivation reads a fused node's activation attributes.
func fusedActivation(n *graph.Node) (ref.Activation, error) {
	alpha, beta := n.AttrFloat("activation_alpha", 0), n.AttrFloat("activation_beta", 0)
	switch op := n.AttrString("activation", ""); op {
	case "":
		return ref.Activation{Op: ref.Identity}, nil
	case "Relu":
		return ref.Activation{Op: ref.Relu}, nil
	case "LeakyRelu":
		return ref.Activation{Op: ref.LeakyRelu, Alpha: alpha}, nil
	case "Sigmoid":
		return ref.Activation{Op: ref.Sigmoid}, nil
	case "HardSigmoid":
		return ref.Activation{Op: ref.HardSigmoid, Alpha: alpha, Beta: beta}, nil
	case "HardSwish":
		return ref.Activation{Op: ref.HardSwish}, nil
	case "Tanh":
		return ref.Activation{Op: ref.Tanh}, nil
	case "Clip":
		return ref.Activation{Op: ref.Clip, Alpha: n.AttrFloat("clip_min", float32(math.Inf(-1))),
			Beta: n.AttrFloat("clip_max", float32(math.Inf(1)))}, nil
	default:
		return ref.Activation{}, fmt.Errorf("unknown activation %q", op)
	}
}

// applyAct applies act in place to a float32 tensor.
func applyAct(t *tensor.Tensor, act ref.Activation) error {
	if act.Op == ref.Identity {
		return nil
	}
	d := t.Float32s()
	if t.DType != tensor.Float32 || d == nil {
		return fmt.Errorf("fused activation on element type %v (want float32)", t.DType)
	}
	return ref.Unary(ref.UnaryParams{Op: act.Op, Alpha: act.Alpha, Beta: act.Beta}, d, d)
}

// base runs the default-domain op of a fused node on c's inputs (the first n of them).
func base(c *opCtx, op string, n int, act ref.Activation) (*tensor.Tensor, error) {
	f, ok := opTable[op]
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, ErrUnsupportedOp)
	}
	in := c.in
	if len(in) > n {
		in = in[:n]
	}
	sub := &opCtx{node: c.node, r: c.r, env: c.env, g: c.g, folded: c.folded, in: in, out: make([]*tensor.Tensor, 1), act: act}
	if err := f(sub); err != nil {
		return nil, err
	}
	if sub.out[0] == nil {
		return nil, fmt.Errorf("%s produced no output", op)
	}
	return sub.out[0], nil
}

func fusedConvOp(c *opCtx) error {
	act, err := fusedActivation(c.node)
	if err != nil {
		return err
	}
	out, err := base(c, "Conv", 3, act) // Conv applies act in its epilogue
	c.out[0] = out
	return err
}

func fusedGemmOp(c *opCtx) error {
	act, err := fusedActivation(c.node)
	if err != nil {
		return err
	}
	out, err := base(c, "Gemm", 3, ref.Activation{Op: ref.Identity})
	if err != nil {
		return err
	}
	c.out[0] = out
	return applyAct(out, act)
}

func fusedMatMulOp(c *opCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	act, err := fusedActivation(c.node)
	if err != nil {
		return err
	}
	out, err := base(c, "MatMul", 2, ref.Activation{Op: ref.Identity})
	if err != nil {
		return err
	}
	if b := c.opt(2); b != nil {
		bd := b.Float32s()
		if b.DType != tensor.Float32 || bd == nil || out.DType != tensor.Float32 {
			return fmt.Errorf("bias (input 2) has element type %v, want float32", b.DType)
		}
		if err := addInPlace(out, b); err != nil {
			return fmt.Errorf("bias (input 2): %w", err)
		}
	}
	c.out[0] = out
	return applyAct(out, act)
}

// addInPlace adds b, which must broadcast to out's shape without widening it, into out.
func addInPlace(out, b *tensor.Tensor) error {
	od, bd := out.Float32s(), b.Float32s()
	if len(b.Shape) > len(out.Shape) {
		return fmt.Errorf("shape %v does not broadcast into %v", b.Shape, out.Shape)
	}
	off := len(out.Shape) - len(b.Shape)
	for i, d := range b.Shape {
		if d != 1 && d != out.Shape[off+i] {
			return fmt.Errorf("shape %v does not broadcast into %v", b.Shape, out.Shape)
		}
	}
	if len(bd) == 0 {
		return nil
	}
	last := out.Shape[len(out.Shape)-1]
	if len(bd) == 1 || len(bd) == last && b.Shape[len(b.Shape)-1] == last { // the common cases
		for i := range od {
			od[i] += bd[i%len(bd)]
		}
		return nil
	}
	sum, shape, err := ref.Binary(ref.Add, od, out.Shape, bd, b.Shape)
	if err != nil {
		return err
	}
	if tensor.NumElements(shape) != len(od) {
		return fmt.Errorf("shape %v widens %v", b.Shape, out.Shape)
	}
	copy(od, sum)
	return nil
}

// fusedElementwiseOp runs the node's body graph with the node's inputs bound to the body's
// inputs, in a scope below the node's own.
func fusedElementwiseOp(c *opCtx) error {
	body := c.node.AttrGraph("body")
	if body == nil {
		return errors.New(`no "body" graph attribute`)
	}
	if len(body.Inputs) != len(c.in) || len(body.Outputs) != 1 {
		return fmt.Errorf("body has %d inputs and %d outputs; the node has %d inputs and needs 1 output", len(body.Inputs), len(body.Outputs), len(c.in))
	}
	e := &env{vals: map[string]*tensor.Tensor{}, parent: c.env}
	for i, v := range body.Inputs {
		if c.in[i] == nil {
			return fmt.Errorf("input %d (%q) is missing", i, v.Name)
		}
		e.vals[v.Name] = c.in[i]
	}
	if err := c.r.runGraph(body, e); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	t, ok := e.get(body.Outputs[0].Name)
	if !ok {
		return fmt.Errorf("body output %q was not computed", body.Outputs[0].Name)
	}
	c.out[0] = t
	return nil
}

// attentionOp computes softmax(scale * Q x K' + mask) x V over the last axis.
func attentionOp(c *opCtx) error {
	if err := c.arity(3, 4); err != nil {
		return err
	}
	q, qd, err := c.f32(0)
	if err != nil {
		return err
	}
	k, kd, err := c.f32(1)
	if err != nil {
		return err
	}
	v, vd, err := c.f32(2)
	if err != nil {
		return err
	}
	kshape := k.Shape
	if c.node.AttrInt("transpose_k", 0) != 0 {
		r := len(k.Shape)
		if r < 2 {
			return fmt.Errorf("K has shape %v; transpose_k needs rank >= 2", k.Shape)
		}
		perm := make([]int, r)
		for i := range perm {
			perm[i] = i
		}
		perm[r-2], perm[r-1] = r-1, r-2
		if kd, kshape, err = ref.Transpose(kd, k.Shape, perm); err != nil {
			return err
		}
	}
	s, sshape, err := ref.MatMul(qd, q.Shape, kd, kshape, c.r.opt.Workers)
	if err != nil {
		return fmt.Errorf("Q x K': %w", err)
	}
	if len(sshape) == 0 {
		return fmt.Errorf("Q %v and K' %v give scalar scores", q.Shape, kshape)
	}
	scale := c.node.AttrFloat("scale", 1)
	if scale != 1 {
		for i := range s {
			s[i] *= scale
		}
	}
	if c.node.AttrInt("has_mask", 0) != 0 {
		m, _, err := c.f32(3)
		if err != nil {
			return fmt.Errorf("mask: %w", err)
		}
		st := tensor.FromFloat32(sshape, s)
		if err := addInPlace(st, m); err != nil {
			return fmt.Errorf("mask (input 3): %w", err)
		}
	}
	p := make([]float32, len(s))
	if err := ref.Softmax(s, sshape, len(sshape)-1, false, p); err != nil {
		return err
	}
	out, oshape, err := ref.MatMul(p, sshape, vd, v.Shape, c.r.opt.Workers)
	if err != nil {
		return fmt.Errorf("P x V: %w", err)
	}
	c.out[0] = f32Tensor(oshape, out)
	return nil
}

// EvalNode runs one node on inputs (nil where an optional input is omitted) and returns its
// outputs, in order (nil for omitted outputs). It is the evaluator compiler/passes uses for
// constant folding. A node whose subgraphs read values other than its inputs cannot be run
// alone and fails.
func EvalNode(ctx context.Context, n *graph.Node, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if n == nil {
		return nil, errors.New("cpu: eval of a nil node")
	}
	if len(inputs) != len(n.Inputs) {
		return nil, fmt.Errorf("cpu: %v takes %d inputs, got %d", n, len(n.Inputs), len(inputs))
	}
	g := graph.New(n.Name)
	feed := map[string]*tensor.Tensor{}
	nn := *n
	nn.Inputs = make([]string, len(n.Inputs))
	for i, name := range n.Inputs {
		t := inputs[i]
		if name == "" || t == nil {
			continue
		}
		nn.Inputs[i] = name
		if prev, dup := feed[name]; dup {
			if prev != t {
				return nil, fmt.Errorf("cpu: %v: input %q given two different tensors", n, name)
			}
			continue
		}
		feed[name] = t
		g.Inputs = append(g.Inputs, graph.NewValue(name, t.DType, graph.Dims(t.Shape...)))
	}
	for _, o := range n.Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, &graph.Value{Name: o})
		}
	}
	g.Nodes = []*graph.Node{&nn}
	res, err := Run(ctx, g, feed, Options{})
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
