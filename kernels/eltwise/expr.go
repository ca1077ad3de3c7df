// Package eltwise is the kernel template for fused elementwise chains: an expression over
// broadcast inputs (a small SSA list of Nodes: inputs, constants, ref's unary and binary ops,
// comparisons and Where) evaluated per output element in one kernel, so a chain of ONNX
// elementwise nodes costs one read of each input and one write. Loads and stores are 4-wide
// when the shapes allow it. It also exports the f32 math (Exp, Log, Erf, Tanh, Pow, ...) and
// the broadcast index arithmetic (Collapse, Coords, Offset) other templates share.
//
// Buffer roles: "x0", "x1", ... (the inputs, in Params.Inputs order) and "y" (the output);
// every buffer is f32, 16-byte aligned. eltwise imports kernels, kernels/kir,
// kernels/kir/protocol, kernels/ref (for op types and the host-side broadcast stride math)
// and kernels/tensor; never compiler/ or runtime/.
package eltwise

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Kind is what a Node computes.
type Kind uint8

// Node kinds.
const (
	Input   Kind = iota // the broadcast value of Params.Inputs[Node.Input]
	Const               // Node.Value
	Unary               // Node.Unary applied to Args[0]
	Binary              // Node.Binary of Args[0], Args[1]
	Compare             // Node.Compare of Args[0], Args[1]: 1 where true, else 0
	Where               // Args[0] != 0 ? Args[1] : Args[2]
)

// Node is one step of an expression. Args index earlier nodes.
type Node struct {
	Kind    Kind
	Input   int
	Value   float32
	Unary   ref.UnaryParams
	Binary  ref.BinaryOp
	Compare ref.CompareOp
	Args    []int
}

// Params is a fused elementwise expression: Nodes are evaluated in order for every element of
// the output (shape Shape); the last node is the output. Inputs are the shapes of the input
// buffers, each broadcastable (numpy rules) to Shape.
type Params struct {
	Shape  []int
	Inputs [][]int
	Nodes  []Node
}

// The unary ops the template implements (others are an error naming the op).
var unarySupported = map[ref.UnaryOp]bool{
	ref.Identity: true, ref.Relu: true, ref.LeakyRelu: true, ref.Sigmoid: true,
	ref.HardSigmoid: true, ref.HardSwish: true, ref.Tanh: true, ref.Exp: true, ref.Log: true,
	ref.Sqrt: true, ref.Neg: true, ref.Abs: true, ref.Floor: true, ref.Ceil: true,
	ref.Round: true, ref.Reciprocal: true, ref.Sign: true, ref.Erf: true, ref.Gelu: true,
	ref.GeluTanh: true, ref.Elu: true, ref.Selu: true, ref.Celu: true, ref.Softplus: true,
	ref.Softsign: true, ref.Mish: true, ref.ThresholdedRelu: true, ref.Clip: true,
	ref.Shrink: true,
}

// Validate checks shapes, node references and op support.
func (p *Params) Validate() error {
	if len(p.Nodes) == 0 {
		return fmt.Errorf("eltwise: empty expression")
	}
	for _, d := range p.Shape {
		if d < 0 {
			return fmt.Errorf("eltwise: output shape %v", p.Shape)
		}
	}
	for i, s := range p.Inputs {
		if len(s) > len(p.Shape) {
			return fmt.Errorf("eltwise: input %d shape %v has higher rank than the output %v", i, s, p.Shape)
		}
		off := len(p.Shape) - len(s)
		for j, d := range s {
			if d != 1 && d != p.Shape[off+j] {
				return fmt.Errorf("eltwise: input %d shape %v does not broadcast to %v", i, s, p.Shape)
			}
		}
	}
	want := map[Kind]int{Input: 0, Const: 0, Unary: 1, Binary: 2, Compare: 2, Where: 3}
	for i, n := range p.Nodes {
		k, ok := want[n.Kind]
		if !ok {
			return fmt.Errorf("eltwise: node %d: kind %d", i, n.Kind)
		}
		if len(n.Args) != k {
			return fmt.Errorf("eltwise: node %d: %d operands, want %d", i, len(n.Args), k)
		}
		for _, a := range n.Args {
			if a < 0 || a >= i {
				return fmt.Errorf("eltwise: node %d: operand %d is not an earlier node", i, a)
			}
		}
		switch n.Kind {
		case Input:
			if n.Input < 0 || n.Input >= len(p.Inputs) {
				return fmt.Errorf("eltwise: node %d: input %d of %d", i, n.Input, len(p.Inputs))
			}
		case Unary:
			if !unarySupported[n.Unary.Op] {
				return fmt.Errorf("eltwise: node %d: unary op %d is not supported", i, n.Unary.Op)
			}
		case Binary:
			if n.Binary > ref.PRelu {
				return fmt.Errorf("eltwise: node %d: binary op %s is not supported", i, n.Binary)
			}
		case Compare:
			if n.Compare > ref.GreaterOrEqual {
				return fmt.Errorf("eltwise: node %d: comparison %d", i, n.Compare)
			}
		}
	}
	return nil
}

// UnaryOf is the expression op(x) for one input of shape shape.
func UnaryOf(shape []int, op ref.UnaryParams) Params {
	return Params{Shape: shape, Inputs: [][]int{shape}, Nodes: []Node{
		{Kind: Input, Input: 0}, {Kind: Unary, Unary: op, Args: []int{0}}}}
}

// BinaryOf is the expression a op b with broadcasting.
func BinaryOf(a, b []int, op ref.BinaryOp) (Params, error) {
	s, err := ref.BroadcastShape(a, b)
	if err != nil {
		return Params{}, fmt.Errorf("eltwise: %s: %w", op, err)
	}
	return Params{Shape: s, Inputs: [][]int{a, b}, Nodes: []Node{
		{Kind: Input, Input: 0}, {Kind: Input, Input: 1}, {Kind: Binary, Binary: op, Args: []int{0, 1}}}}, nil
}

// FLOPsPerElement estimates the arithmetic of one output element.
func (p *Params) FLOPsPerElement() int {
	f := 0
	for _, n := range p.Nodes {
		switch n.Kind {
		case Unary:
			switch n.Unary.Op {
			case ref.Identity, ref.Relu, ref.Neg, ref.Abs:
				f++
			case ref.Erf, ref.Gelu, ref.Tanh, ref.GeluTanh, ref.Mish, ref.Log, ref.Softplus:
				f += 30
			default:
				f += 10
			}
		case Binary:
			f++
			if n.Binary == ref.Pow {
				f += 40
			}
		case Compare, Where:
			f++
		}
	}
	return max(f, 1)
}
