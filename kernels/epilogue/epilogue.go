// Package epilogue emits the fused output stage shared by the GEMM and convolution kernel
// templates (kernels/gemm, kernels/conv): a ref.Activation applied to one f32 register, with the
// same semantics as kernels/ref (the numerical ground truth) up to f32 rounding and the
// accuracy of the hardware's approximate exp2/log2.
//
// epilogue imports kernels/kir and kernels/ref (for the Activation type) only; never
// compiler/ or runtime/ packages.
package epilogue

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// ErrUnsupported is wrapped by Check's error when a template cannot fuse an activation; the
// compiler then keeps the activation as a separate kernel.
var ErrUnsupported = fmt.Errorf("activation not supported in a fused epilogue")

var supported = map[ref.UnaryOp]string{
	ref.Identity: "identity", ref.Relu: "relu", ref.LeakyRelu: "leaky_relu", ref.Clip: "clip",
	ref.Sigmoid: "sigmoid", ref.HardSigmoid: "hard_sigmoid", ref.HardSwish: "hard_swish",
	ref.Tanh: "tanh", ref.Erf: "erf", ref.Gelu: "gelu", ref.GeluTanh: "gelu_tanh", ref.Elu: "elu",
	ref.Selu: "selu", ref.Softplus: "softplus", ref.Softsign: "softsign", ref.Mish: "mish",
	ref.ThresholdedRelu: "thresholded_relu",
}

// Check reports whether act can be fused (an error wrapping ErrUnsupported when not).
func Check(act ref.Activation) error {
	if _, ok := supported[act.Op]; !ok {
		return fmt.Errorf("unary op %d: %w", act.Op, ErrUnsupported)
	}
	return nil
}

// Name is a short name of act for kernel names ("" for Identity).
func Name(act ref.Activation) string {
	if act.Op == ref.Identity {
		return ""
	}
	if n, ok := supported[act.Op]; ok {
		return n
	}
	return fmt.Sprintf("unary%d", act.Op)
}

// Apply emits act(x) for an f32 register x and returns the result (x itself for Identity).
// Call Check first: an unsupported op records an error in b.
func Apply(b *kir.Builder, act ref.Activation, x kir.Value) kir.Value {
	c := b.ConstF32
	a, be := act.Alpha, act.Beta
	switch act.Op {
	case ref.Identity:
		return x
	case ref.Relu:
		return b.Max(x, c(0))
	case ref.LeakyRelu:
		return b.Select(b.Lt(x, c(0)), b.Mul(x, c(a)), x)
	case ref.Clip:
		return b.Min(b.Max(x, c(a)), c(be))
	case ref.Sigmoid:
		return sigmoid(b, x)
	case ref.HardSigmoid:
		return b.Max(c(0), b.Min(c(1), b.Add(b.Mul(x, c(a)), c(be))))
	case ref.HardSwish:
		return b.Mul(x, b.Max(c(0), b.Min(c(1), b.Add(b.Div(x, c(6)), c(0.5)))))
	case ref.Tanh:
		return tanh(b, x)
	case ref.Erf:
		return erf(b, x)
	case ref.Gelu: // 0.5*x*(1+erf(x/sqrt2))
		e := erf(b, b.Mul(x, c(float32(1/math.Sqrt2))))
		return b.Mul(b.Mul(x, c(0.5)), b.Add(c(1), e))
	case ref.GeluTanh:
		x3 := b.Mul(b.Mul(x, x), x)
		u := b.Mul(c(float32(math.Sqrt(2/math.Pi))), b.Add(x, b.Mul(c(0.044715), x3)))
		return b.Mul(b.Mul(x, c(0.5)), b.Add(c(1), tanh(b, u)))
	case ref.Elu:
		return b.Select(b.Lt(x, c(0)), b.Mul(c(a), expm1(b, x)), x)
	case ref.Selu:
		return b.Select(b.Le(x, c(0)), b.Mul(c(be), b.Mul(c(a), expm1(b, x))), b.Mul(c(be), x))
	case ref.Softplus:
		return softplus(b, x)
	case ref.Softsign:
		return b.Div(x, b.Add(c(1), b.Abs(x)))
	case ref.Mish:
		return b.Mul(x, tanh(b, softplus(b, x)))
	case ref.ThresholdedRelu:
		return b.Select(b.Gt(x, c(a)), x, c(0))
	}
	b.Errorf("epilogue: unary op %d: %v", act.Op, ErrUnsupported)
	return x
}

func sigmoid(b *kir.Builder, x kir.Value) kir.Value {
	one := b.ConstF32(1)
	return b.Rcp(b.Add(one, b.Exp(b.Neg(x))))
}

// expm1 is exp(x)-1, with a Taylor series near 0 where the subtraction would cancel.
func expm1(b *kir.Builder, x kir.Value) kir.Value {
	c := b.ConstF32
	big := b.Sub(b.Exp(x), c(1))
	// x + x^2/2 + x^3/6 + x^4/24 + x^5/120 for |x| < 2^-4 (error < x^6/720)
	p := b.Fma(x, c(1.0/120), c(1.0/24))
	p = b.Fma(x, p, c(1.0/6))
	p = b.Fma(x, p, c(0.5))
	p = b.Fma(x, p, c(1))
	small := b.Mul(x, p)
	return b.Select(b.Lt(b.Abs(x), c(1.0/16)), small, big)
}

// tanh(x) = sign(x)*(1-t)/(1+t), t = exp(-2|x|); an odd polynomial for |x| < 1/8, where
// 1-t would lose digits. (PTX tanh.approx is only good to about 2^-11, too coarse here.)
func tanh(b *kir.Builder, x kir.Value) kir.Value {
	c := b.ConstF32
	ax := b.Abs(x)
	t := b.Exp(b.Mul(ax, c(-2)))
	r := b.Div(b.Sub(c(1), t), b.Add(c(1), t))
	big := b.Select(b.Lt(x, c(0)), b.Neg(r), r)
	x2 := b.Mul(x, x)
	p := b.Fma(x2, c(-17.0/315), c(2.0/15))
	p = b.Fma(x2, p, c(-1.0/3))
	small := b.Fma(b.Mul(x, x2), p, x)
	return b.Select(b.Lt(ax, c(0.125)), small, big)
}

// erf: the Taylor series for |x| < 1/2, Abramowitz-Stegun 7.1.26 (absolute error 1.5e-7)
// elsewhere.
func erf(b *kir.Builder, x kir.Value) kir.Value {
	c := b.ConstF32
	ax := b.Abs(x)
	x2 := b.Mul(x, x)
	// 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360)
	p := b.Fma(x2, c(1.0/9360), c(-1.0/1320))
	p = b.Fma(x2, p, c(1.0/216))
	p = b.Fma(x2, p, c(-1.0/42))
	p = b.Fma(x2, p, c(1.0/10))
	p = b.Fma(x2, p, c(-1.0/3))
	p = b.Fma(x2, p, c(1))
	small := b.Mul(b.Mul(x, p), c(float32(2/math.SqrtPi)))
	t := b.Rcp(b.Fma(ax, c(0.3275911), c(1)))
	q := b.Fma(t, c(1.061405429), c(-1.453152027))
	q = b.Fma(t, q, c(1.421413741))
	q = b.Fma(t, q, c(-0.284496736))
	q = b.Fma(t, q, c(0.254829592))
	q = b.Mul(q, t)
	r := b.Sub(c(1), b.Mul(q, b.Exp(b.Neg(x2))))
	big := b.Select(b.Lt(x, c(0)), b.Neg(r), r)
	return b.Select(b.Lt(ax, c(0.5)), small, big)
}

// softplus(x) = x for x > 30 (as kernels/ref), else log(1+exp(x)); for x < -16 exp(x) itself.
func softplus(b *kir.Builder, x kir.Value) kir.Value {
	c := b.ConstF32
	e := b.Exp(x)
	v := b.Log(b.Add(c(1), e))
	v = b.Select(b.Lt(x, c(-16)), e, v)
	return b.Select(b.Gt(x, c(30)), x, v)
}
