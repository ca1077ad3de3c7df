package cpu

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// unarySpec is a unary float op with the attributes that feed Alpha and Beta.
type unarySpec struct {
	op           ref.UnaryOp
	alpha, beta  string // attribute names ("" for none)
	alphaDefault float32
	betaDefault  float32
}

var unaryOps = map[string]unarySpec{
	"Relu":            {op: ref.Relu},
	"LeakyRelu":       {op: ref.LeakyRelu, alpha: "alpha", alphaDefault: 0.01},
	"Sigmoid":         {op: ref.Sigmoid},
	"HardSigmoid":     {op: ref.HardSigmoid, alpha: "alpha", alphaDefault: 0.2, beta: "beta", betaDefault: 0.5},
	"HardSwish":       {op: ref.HardSwish},
	"Tanh":            {op: ref.Tanh},
	"Exp":             {op: ref.Exp},
	"Log":             {op: ref.Log},
	"Sqrt":            {op: ref.Sqrt},
	"Neg":             {op: ref.Neg},
	"Abs":             {op: ref.Abs},
	"Floor":           {op: ref.Floor},
	"Ceil":            {op: ref.Ceil},
	"Round":           {op: ref.Round},
	"Reciprocal":      {op: ref.Reciprocal},
	"Sign":            {op: ref.Sign},
	"Sin":             {op: ref.Sin},
	"Cos":             {op: ref.Cos},
	"Tan":             {op: ref.Tan},
	"Asin":            {op: ref.Asin},
	"Acos":            {op: ref.Acos},
	"Atan":            {op: ref.Atan},
	"Sinh":            {op: ref.Sinh},
	"Cosh":            {op: ref.Cosh},
	"Asinh":           {op: ref.Asinh},
	"Acosh":           {op: ref.Acosh},
	"Atanh":           {op: ref.Atanh},
	"Erf":             {op: ref.Erf},
	"Elu":             {op: ref.Elu, alpha: "alpha", alphaDefault: 1},
	"Selu":            {op: ref.Selu, alpha: "alpha", alphaDefault: 1.67326319217681884765625, beta: "gamma", betaDefault: 1.05070102214813232421875},
	"Celu":            {op: ref.Celu, alpha: "alpha", alphaDefault: 1},
	"Softplus":        {op: ref.Softplus},
	"Softsign":        {op: ref.Softsign},
	"Mish":            {op: ref.Mish},
	"ThresholdedRelu": {op: ref.ThresholdedRelu, alpha: "alpha", alphaDefault: 1},
	"Shrink":          {op: ref.Shrink, alpha: "lambd", alphaDefault: 0.5, beta: "bias", betaDefault: 0},
}

func init() {
	for name, spec := range unaryOps {
		register(halfWrap(unaryOp(spec)), name)
	}
	register(halfWrap(geluOp), "Gelu")
	register(halfWrap(clipOp), "Clip")
}

func (s unarySpec) params(c *opCtx) ref.UnaryParams {
	p := ref.UnaryParams{Op: s.op, Alpha: s.alphaDefault, Beta: s.betaDefault}
	if s.alpha != "" {
		p.Alpha = c.node.AttrFloat(s.alpha, s.alphaDefault)
	}
	if s.beta != "" {
		p.Beta = c.node.AttrFloat(s.beta, s.betaDefault)
	}
	return p
}

func unaryOp(spec unarySpec) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(1, 1); err != nil {
			return err
		}
		return runUnary(c, spec.params(c))
	}
}

func runUnary(c *opCtx, p ref.UnaryParams) error {
	x, err := c.req(0)
	if err != nil {
		return err
	}
	switch d := x.Data.(type) {
	case []float32:
		out := c.alloc(len(d))
		if err := ref.Unary(p, d, out); err != nil {
			return err
		}
		c.out[0] = f32Tensor(x.Shape, out)
		return nil
	case []float64:
		out := make([]float64, len(d))
		if err := ref.Unary(p, d, out); err != nil {
			return err
		}
		c.out[0] = &tensor.Tensor{DType: tensor.Float64, Shape: x.Shape, Data: out}
		return nil
	}
	return unaryIntT(c, x, p.Op, 0, 0)
}

// unaryIntT runs the integer-capable unary ops; clip bounds come as float64.
func unaryIntT(c *opCtx, x *tensor.Tensor, op ref.UnaryOp, lo, hi float64) error {
	var err error
	var out any
	switch d := x.Data.(type) {
	case []int64:
		o := make([]int64, len(d))
		err = ref.UnaryInt(op, d, o, int64(bound(lo, math.MinInt64, math.MaxInt64)), int64(bound(hi, math.MinInt64, math.MaxInt64)))
		out = o
	case []int32:
		o := make([]int32, len(d))
		err = ref.UnaryInt(op, d, o, int32(bound(lo, math.MinInt32, math.MaxInt32)), int32(bound(hi, math.MinInt32, math.MaxInt32)))
		out = o
	case []int16:
		o := make([]int16, len(d))
		err = ref.UnaryInt(op, d, o, int16(bound(lo, math.MinInt16, math.MaxInt16)), int16(bound(hi, math.MinInt16, math.MaxInt16)))
		out = o
	case []int8:
		o := make([]int8, len(d))
		err = ref.UnaryInt(op, d, o, int8(bound(lo, math.MinInt8, math.MaxInt8)), int8(bound(hi, math.MinInt8, math.MaxInt8)))
		out = o
	case []uint8:
		o := make([]uint8, len(d))
		err = ref.UnaryInt(op, d, o, uint8(bound(lo, 0, math.MaxUint8)), uint8(bound(hi, 0, math.MaxUint8)))
		out = o
	default:
		return fmt.Errorf("not defined on element type %v", x.DType)
	}
	if err != nil {
		return fmt.Errorf("element type %v: %w", x.DType, err)
	}
	c.out[0] = &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: out}
	return nil
}

func geluOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	p := ref.UnaryParams{Op: ref.Gelu}
	switch a := c.node.AttrString("approximate", "none"); a {
	case "none":
	case "tanh":
		p.Op = ref.GeluTanh
	default:
		return fmt.Errorf("approximate %q is not supported", a)
	}
	return runUnary(c, p)
}

func clipOp(c *opCtx) error {
	if err := c.arity(1, 3); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	for i, b := range []*float64{&lo, &hi} {
		if t := c.opt(i + 1); t != nil {
			if t.DType != x.DType {
				return fmt.Errorf("bound %d has element type %v, input has %v", i+1, t.DType, x.DType)
			}
			if *b, err = scalarFloat(t); err != nil {
				return fmt.Errorf("bound %d: %w", i+1, err)
			}
		}
	}
	if x.DType.IsFloat() {
		return runUnary(c, ref.UnaryParams{Op: ref.Clip, Alpha: float32(lo), Beta: float32(hi)})
	}
	return unaryIntT(c, x, ref.Clip, lo, hi)
}

// bound clamps a float64 bound into [lo, hi] of an integer type without overflowing.
func bound(v float64, lo, hi int64) int64 {
	switch {
	case v <= float64(lo):
		return lo
	case v >= float64(hi):
		return hi
	}
	return int64(v)
}
