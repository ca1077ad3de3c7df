package eltwise

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// EmitUnary emits op(x) for one f32 value.
func EmitUnary(b *kir.Builder, op ref.UnaryParams, x kir.Value) (kir.Value, error) {
	c := b.ConstF32
	zero, one := c(0), c(1)
	a, be := op.Alpha, op.Beta
	switch op.Op {
	case ref.Identity:
		return x, nil
	case ref.Relu:
		return b.Max(x, zero), nil
	case ref.LeakyRelu:
		return b.Select(b.Lt(x, zero), b.Mul(x, c(a)), x), nil
	case ref.Sigmoid:
		return Sigmoid(b, x), nil
	case ref.HardSigmoid:
		return b.Max(zero, b.Min(one, b.Add(b.Mul(c(a), x), c(be)))), nil
	case ref.HardSwish:
		return b.Mul(x, b.Max(zero, b.Min(one, b.Add(b.Div(x, c(6)), c(0.5))))), nil
	case ref.Tanh:
		return Tanh(b, x), nil
	case ref.Exp:
		return Exp(b, x), nil
	case ref.Log:
		return Log(b, x), nil
	case ref.Sqrt:
		return b.Sqrt(x), nil
	case ref.Neg:
		return b.Neg(x), nil
	case ref.Abs:
		return b.Abs(x), nil
	case ref.Floor:
		return b.Floor(x), nil
	case ref.Ceil:
		return b.Ceil(x), nil
	case ref.Round:
		return b.Round(x), nil
	case ref.Reciprocal:
		return b.Rcp(x), nil
	case ref.Sign:
		s := b.Select(b.Lt(x, zero), c(-1), x)
		return b.Select(b.Gt(x, zero), one, s), nil
	case ref.Erf:
		return Erf(b, x), nil
	case ref.Gelu:
		e := Erf(b, b.Mul(x, c(float32(1/math.Sqrt2))))
		return b.Mul(b.Mul(c(0.5), x), b.Add(one, e)), nil
	case ref.GeluTanh:
		x3 := b.Mul(b.Mul(x, x), x)
		in := b.Mul(c(float32(math.Sqrt(2/math.Pi))), b.Fma(c(0.044715), x3, x))
		return b.Mul(b.Mul(c(0.5), x), b.Add(one, Tanh(b, in))), nil
	case ref.Elu:
		return b.Select(b.Lt(x, zero), b.Mul(c(a), b.Sub(Exp(b, x), one)), x), nil
	case ref.Selu:
		neg := b.Mul(c(be), b.Sub(b.Mul(c(a), Exp(b, x)), c(a)))
		return b.Select(b.Le(x, zero), neg, b.Mul(c(be), x)), nil
	case ref.Celu:
		e := b.Mul(c(a), b.Sub(Exp(b, b.Div(x, c(a))), one))
		return b.Add(b.Max(zero, x), b.Min(zero, e)), nil
	case ref.Softplus:
		return softplus(b, x), nil
	case ref.Softsign:
		return b.Div(x, b.Add(one, b.Abs(x))), nil
	case ref.Mish:
		return b.Mul(x, Tanh(b, softplus(b, x))), nil
	case ref.ThresholdedRelu:
		return b.Select(b.Gt(x, c(a)), x, zero), nil
	case ref.Clip:
		return b.Min(b.Max(x, c(a)), c(be)), nil
	case ref.Shrink:
		r := b.Select(b.Gt(x, c(a)), b.Sub(x, c(be)), zero)
		return b.Select(b.Lt(x, c(-a)), b.Add(x, c(be)), r), nil
	}
	return x, fmt.Errorf("unary op %d is not supported", op.Op)
}

// Log1p is ln(1+u), accurate for small u (Goldberg's correction: ln(w)*u/(w-1), w = 1+u).
func Log1p(b *kir.Builder, u kir.Value) kir.Value {
	w := b.Add(b.ConstF32(1), u)
	d := b.Sub(w, b.ConstF32(1))
	r := b.Div(b.Mul(Log(b, w), u), d)
	return b.Select(b.Eq(d, b.ConstF32(0)), u, r)
}

func softplus(b *kir.Builder, x kir.Value) kir.Value {
	return b.Select(b.Gt(x, b.ConstF32(30)), x, Log1p(b, Exp(b, x)))
}

// EmitBinary emits x op y; cy, when ok, is y's constant value (Pow specialises on it).
func EmitBinary(b *kir.Builder, op ref.BinaryOp, x, y kir.Value, cy float32, ok bool) (kir.Value, error) {
	switch op {
	case ref.Add:
		return b.Add(x, y), nil
	case ref.Sub:
		return b.Sub(x, y), nil
	case ref.Mul:
		return b.Mul(x, y), nil
	case ref.Div:
		return b.Div(x, y), nil
	case ref.Max:
		return b.Max(x, y), nil
	case ref.Min:
		return b.Min(x, y), nil
	case ref.Pow:
		if ok {
			return PowConst(b, x, cy), nil
		}
		return Pow(b, x, y), nil
	case ref.FMod, ref.Mod:
		r := b.Sub(x, b.Mul(b.Trunc(b.Div(x, y)), y))
		if op == ref.Mod {
			zero := b.ConstF32(0)
			fix := b.And(b.Ne(r, zero), b.Xor(b.Lt(r, zero), b.Lt(y, zero)))
			r = b.Select(fix, b.Add(r, y), r)
		}
		return r, nil
	case ref.PRelu:
		return b.Select(b.Lt(x, b.ConstF32(0)), b.Mul(x, y), x), nil
	}
	return x, fmt.Errorf("binary op %s is not supported", op)
}

// EmitCompare emits 1 where x op y holds, else 0.
func EmitCompare(b *kir.Builder, op ref.CompareOp, x, y kir.Value) (kir.Value, error) {
	cmp := map[ref.CompareOp]kir.Cmp{ref.Equal: kir.EQ, ref.Less: kir.LT, ref.LessOrEqual: kir.LE,
		ref.Greater: kir.GT, ref.GreaterOrEqual: kir.GE}
	c, ok := cmp[op]
	if !ok {
		return x, fmt.Errorf("comparison %d is not supported", op)
	}
	return b.Select(b.Compare(c, x, y), b.ConstF32(1), b.ConstF32(0)), nil
}

// Eval emits the expression's nodes for one element, given the values of its inputs, and
// returns the last node's value.
func (p *Params) Eval(b *kir.Builder, inputs []kir.Value) (kir.Value, error) {
	vals := make([]kir.Value, len(p.Nodes))
	for i, n := range p.Nodes {
		var err error
		switch n.Kind {
		case Input:
			vals[i] = inputs[n.Input]
		case Const:
			vals[i] = b.ConstF32(n.Value)
		case Unary:
			vals[i], err = EmitUnary(b, n.Unary, vals[n.Args[0]])
		case Binary:
			y := p.Nodes[n.Args[1]]
			vals[i], err = EmitBinary(b, n.Binary, vals[n.Args[0]], vals[n.Args[1]], y.Value, y.Kind == Const)
		case Compare:
			vals[i], err = EmitCompare(b, n.Compare, vals[n.Args[0]], vals[n.Args[1]])
		case Where:
			vals[i] = b.Select(b.Ne(vals[n.Args[0]], b.ConstF32(0)), vals[n.Args[1]], vals[n.Args[2]])
		default:
			err = fmt.Errorf("kind %d", n.Kind)
		}
		if err != nil {
			return kir.Value{}, fmt.Errorf("node %d: %w", i, err)
		}
	}
	return vals[len(vals)-1], nil
}
