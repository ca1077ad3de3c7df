package lower

import (
	"fmt"
	"math"
	"strconv"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// unarySpec is a unary ONNX op with the attributes that feed Alpha and Beta (the same table
// as runtime/cpu's, which is the reference semantics).
type unarySpec struct {
	op                       ref.UnaryOp
	alpha, beta              string
	alphaDefault, betaDefaul float32
}

var unaryOps = map[string]unarySpec{
	"Relu": {op: ref.Relu}, "LeakyRelu": {op: ref.LeakyRelu, alpha: "alpha", alphaDefault: 0.01},
	"Sigmoid":     {op: ref.Sigmoid},
	"HardSigmoid": {op: ref.HardSigmoid, alpha: "alpha", alphaDefault: 0.2, beta: "beta", betaDefaul: 0.5},
	"HardSwish":   {op: ref.HardSwish}, "Tanh": {op: ref.Tanh}, "Exp": {op: ref.Exp}, "Log": {op: ref.Log},
	"Sqrt": {op: ref.Sqrt}, "Neg": {op: ref.Neg}, "Abs": {op: ref.Abs}, "Floor": {op: ref.Floor},
	"Ceil": {op: ref.Ceil}, "Round": {op: ref.Round}, "Reciprocal": {op: ref.Reciprocal}, "Sign": {op: ref.Sign},
	"Erf": {op: ref.Erf}, "Elu": {op: ref.Elu, alpha: "alpha", alphaDefault: 1},
	"Selu": {op: ref.Selu, alpha: "alpha", alphaDefault: 1.67326319217681884765625, beta: "gamma", betaDefaul: 1.05070102214813232421875},
	"Celu": {op: ref.Celu, alpha: "alpha", alphaDefault: 1}, "Softplus": {op: ref.Softplus},
	"Softsign": {op: ref.Softsign}, "Mish": {op: ref.Mish},
	"ThresholdedRelu": {op: ref.ThresholdedRelu, alpha: "alpha", alphaDefault: 1},
	"Shrink":          {op: ref.Shrink, alpha: "lambd", alphaDefault: 0.5, beta: "bias"},
}

var binaryOps = map[string]ref.BinaryOp{
	"Add": ref.Add, "Sub": ref.Sub, "Mul": ref.Mul, "Div": ref.Div, "Pow": ref.Pow, "PRelu": ref.PRelu,
}

// variadicOps take one or more inputs, folded left to right (Mean divides by the count).
var variadicOps = map[string]ref.BinaryOp{"Max": ref.Max, "Min": ref.Min, "Sum": ref.Add, "Mean": ref.Add}

func isElementwiseOp(op string) bool {
	_, u := unaryOps[op]
	_, b := binaryOps[op]
	_, v := variadicOps[op]
	return u || b || v || op == "Gelu" || op == "Clip"
}

// expr builds an eltwise expression from ONNX elementwise nodes.
type expr struct {
	p      eltwise.Params
	vals   map[string]int // value name -> expression node
	ext    []string       // buffers of the expression's inputs, in order
	consts func(name string) (*tensor.Tensor, bool)
	// buffer turns a constant the expression needs as a buffer (not a scalar) into a value
	// name the launch can bind; shapeOf gives a buffer value's shape.
	buffer  func(name string, t *tensor.Tensor) (string, error)
	shapeOf func(name string) ([]int, error)
}

func (e *expr) add(n eltwise.Node) int {
	e.p.Nodes = append(e.p.Nodes, n)
	return len(e.p.Nodes) - 1
}

// operand returns the expression node of a value: computed before, a scalar constant, or a
// new input buffer.
func (e *expr) operand(name string) (int, error) {
	if i, ok := e.vals[name]; ok {
		return i, nil
	}
	if t, ok := e.consts(name); ok {
		f, _, err := floatsOf(t)
		if err != nil {
			return 0, fmt.Errorf("constant %q: %w", name, err)
		}
		if len(f) == 1 {
			i := e.add(eltwise.Node{Kind: eltwise.Const, Value: f[0]})
			e.vals[name] = i
			return i, nil
		}
		if t.DType != tensor.Float32 {
			return 0, fmt.Errorf("constant %q is %v", name, t.DType)
		}
		buf, err := e.buffer(name, t)
		if err != nil {
			return 0, err
		}
		i := e.add(eltwise.Node{Kind: eltwise.Input, Input: len(e.ext)})
		e.ext = append(e.ext, buf)
		e.p.Inputs = append(e.p.Inputs, append([]int(nil), t.Shape...))
		e.vals[name] = i
		return i, nil
	}
	s, err := e.shapeOf(name)
	if err != nil {
		return 0, err
	}
	i := e.add(eltwise.Node{Kind: eltwise.Input, Input: len(e.ext)})
	e.ext = append(e.ext, name)
	e.p.Inputs = append(e.p.Inputs, s)
	e.vals[name] = i
	return i, nil
}

// node appends one ONNX elementwise node.
func (e *expr) node(n *graph.Node) error {
	if len(n.Outputs) != 1 {
		return fmt.Errorf("%v: %d outputs", n, len(n.Outputs))
	}
	var args []int
	for k, in := range n.Inputs {
		if in == "" {
			args = append(args, -1)
			continue
		}
		if n.Op == "Clip" && k > 0 {
			args = append(args, -1) // resolved below
			continue
		}
		a, err := e.operand(in)
		if err != nil {
			return fmt.Errorf("%v: %w", n, err)
		}
		args = append(args, a)
	}
	if len(args) == 0 || args[0] < 0 {
		return fmt.Errorf("%v: no first input", n)
	}
	var out int
	switch {
	case n.Op == "Clip":
		out = args[0]
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		constant := true
		for k, b := range []*float32{&lo, &hi} {
			name := n.Input(k + 1)
			if name == "" {
				continue
			}
			t, ok := e.consts(name)
			if !ok || t.Len() != 1 {
				constant = false
				continue
			}
			f, _, err := floatsOf(t)
			if err != nil {
				return fmt.Errorf("%v: %w", n, err)
			}
			*b = f[0]
		}
		if constant {
			out = e.add(eltwise.Node{Kind: eltwise.Unary, Unary: ref.UnaryParams{Op: ref.Clip, Alpha: lo, Beta: hi}, Args: []int{out}})
			break
		}
		// Bounds that are tensors: max(x, lo) then min(., hi).
		for k, op := range []ref.BinaryOp{ref.Max, ref.Min} {
			name := n.Input(k + 1)
			if name == "" {
				continue
			}
			b, err := e.operand(name)
			if err != nil {
				return fmt.Errorf("%v: %w", n, err)
			}
			out = e.add(eltwise.Node{Kind: eltwise.Binary, Binary: op, Args: []int{out, b}})
		}
	case n.Op == "Gelu":
		op := ref.Gelu
		if n.AttrString("approximate", "none") == "tanh" {
			op = ref.GeluTanh
		}
		out = e.add(eltwise.Node{Kind: eltwise.Unary, Unary: ref.UnaryParams{Op: op}, Args: args[:1]})
	default:
		if s, ok := unaryOps[n.Op]; ok {
			if len(args) != 1 {
				return fmt.Errorf("%v: %d inputs, want 1", n, len(args))
			}
			p := ref.UnaryParams{Op: s.op, Alpha: s.alphaDefault, Beta: s.betaDefaul}
			if s.alpha != "" {
				p.Alpha = n.AttrFloat(s.alpha, s.alphaDefault)
			}
			if s.beta != "" {
				p.Beta = n.AttrFloat(s.beta, s.betaDefaul)
			}
			out = e.add(eltwise.Node{Kind: eltwise.Unary, Unary: p, Args: args})
			break
		}
		if op, ok := binaryOps[n.Op]; ok {
			if len(args) != 2 || args[1] < 0 {
				return fmt.Errorf("%v: %d inputs, want 2", n, len(args))
			}
			out = e.add(eltwise.Node{Kind: eltwise.Binary, Binary: op, Args: args})
			break
		}
		op, ok := variadicOps[n.Op]
		if !ok {
			return fmt.Errorf("%v: not an elementwise op the kernels implement", n)
		}
		out = args[0]
		for _, a := range args[1:] {
			if a < 0 {
				return fmt.Errorf("%v: omitted input", n)
			}
			out = e.add(eltwise.Node{Kind: eltwise.Binary, Binary: op, Args: []int{out, a}})
		}
		if n.Op == "Mean" && len(args) > 1 {
			c := e.add(eltwise.Node{Kind: eltwise.Const, Value: float32(len(args))})
			out = e.add(eltwise.Node{Kind: eltwise.Binary, Binary: ref.Div, Args: []int{out, c}})
		}
	}
	e.vals[n.Outputs[0]] = out
	return nil
}

// newExpr starts an expression whose input buffers are values of m's graph.
func (m *mapper) newExpr(out []int) *expr {
	return &expr{
		p:    eltwise.Params{Shape: out},
		vals: map[string]int{},
		consts: func(name string) (*tensor.Tensor, bool) {
			t, ok := m.g.Initializers[name]
			return t, ok
		},
		buffer:  func(name string, _ *tensor.Tensor) (string, error) { return name, nil },
		shapeOf: m.shape,
	}
}

// elementwise maps one plain elementwise ONNX node (float32) onto kernels/eltwise.
func (m *mapper) elementwise(n *graph.Node) (*job, error) {
	sh, err := m.f32(outputOf(n))
	if err != nil {
		return nil, err
	}
	for _, in := range n.Inputs {
		if in != "" && !m.g.IsInitializer(in) {
			if _, err := m.f32(in); err != nil {
				return nil, err
			}
		}
	}
	e := m.newExpr(sh[0])
	if err := e.node(n); err != nil {
		return nil, err
	}
	return m.exprJob(e, outputOf(n))
}

// fusedElementwise maps a FusedElementwise node: its body's nodes become one expression.
// Body constants larger than a scalar become initializers of the graph (named after the node)
// so the kernel can read them as buffers.
func (m *mapper) fusedElementwise(n *graph.Node) (*job, error) {
	body := n.AttrGraph("body")
	if body == nil || len(body.Inputs) != len(n.Inputs) || len(body.Outputs) != 1 {
		return nil, fmt.Errorf("FusedElementwise without a well-formed body")
	}
	sh, err := m.f32(append([]string{outputOf(n)}, n.Inputs...)...)
	if err != nil {
		return nil, err
	}
	e := m.newExpr(sh[0])
	ren := map[string]string{} // body input -> graph value
	for i, v := range body.Inputs {
		ren[v.Name] = n.Inputs[i]
	}
	e.consts = func(name string) (*tensor.Tensor, bool) {
		if _, ok := ren[name]; ok {
			return nil, false
		}
		t, ok := body.Initializers[name]
		return t, ok
	}
	e.shapeOf = func(name string) ([]int, error) {
		outer, ok := ren[name]
		if !ok {
			return nil, fmt.Errorf("body value %q is neither an input nor computed before", name)
		}
		return m.shape(outer)
	}
	e.buffer = func(name string, t *tensor.Tensor) (string, error) {
		return m.addConst(n.Name+"/"+name, t), nil
	}
	for _, bn := range body.Nodes {
		if bn.Domain != "" {
			return nil, fmt.Errorf("body node %v in domain %q", bn, bn.Domain)
		}
		if err := e.node(bn); err != nil {
			return nil, err
		}
	}
	res := body.Outputs[0].Name
	if _, ok := e.vals[res]; !ok {
		if _, err := e.operand(res); err != nil {
			return nil, err
		}
	}
	if last := e.vals[res]; last != len(e.p.Nodes)-1 {
		// The result must be the last node: repeat it as an identity.
		e.add(eltwise.Node{Kind: eltwise.Unary, Unary: ref.UnaryParams{Op: ref.Identity}, Args: []int{last}})
	}
	// Body inputs are referred to by their graph names from here on.
	for i, name := range e.ext {
		if outer, ok := ren[name]; ok {
			e.ext[i] = outer
		}
	}
	return m.exprJob(e, outputOf(n))
}

// addConst adds t to the graph's initializers under a fresh name based on want (reusing an
// initializer of that name holding the same tensor) and returns the name.
func (m *mapper) addConst(want string, t *tensor.Tensor) string {
	name := want
	for i := 1; ; i++ {
		old, ok := m.g.Initializers[name]
		if !ok {
			m.g.Initializers[name] = t
			return name
		}
		if old == t {
			return name
		}
		name = want + "#" + strconv.Itoa(i)
	}
}

func (m *mapper) exprJob(e *expr, out string) (*job, error) {
	p := e.p
	if err := p.Validate(); err != nil {
		return nil, err
	}
	bind := map[string]string{"y": out}
	for i, name := range e.ext {
		bind[fmt.Sprintf("x%d", i)] = name
	}
	return &job{family: "eltwise", configs: eltwise.Configs(p), bind: bind, key: key("eltwise", p), hint: p.FLOPsPerElement(),
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return eltwise.Build(p, cfg, t) }}, nil
}
