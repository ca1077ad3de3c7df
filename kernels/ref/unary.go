package ref

import (
	"fmt"
	"math"
)

// UnaryOp is an elementwise float op. Alpha/Beta in UnaryParams carry the op's attributes.
type UnaryOp uint8

// The unary float ops.
const (
	Identity UnaryOp = iota
	Relu
	LeakyRelu   // alpha
	Sigmoid     //
	HardSigmoid // max(0, min(1, alpha*x+beta))
	HardSwish   // x * HardSigmoid(x; 1/6, 0.5)
	Tanh
	Exp
	Log
	Sqrt
	Neg
	Abs
	Floor
	Ceil
	Round // half to even
	Reciprocal
	Sign
	Sin
	Cos
	Tan
	Asin
	Acos
	Atan
	Sinh
	Cosh
	Asinh
	Acosh
	Atanh
	Erf
	Gelu     // exact (erf) form
	GeluTanh // tanh approximation
	Elu      // alpha
	Selu     // alpha, gamma=beta
	Celu     // alpha
	Softplus
	Softsign
	Mish
	ThresholdedRelu // alpha
	Clip            // min=alpha, max=beta
	Shrink          // lambd=alpha, bias=beta
	unaryCount
)

// UnaryParams is an op with its attributes.
type UnaryParams struct {
	Op          UnaryOp
	Alpha, Beta float32
}

// Unary applies p elementwise: out[i] = f(in[i]). out may alias in.
func Unary[T Float](p UnaryParams, in, out []T) error {
	if len(out) != len(in) {
		return fmt.Errorf("unary: %d inputs, %d outputs", len(in), len(out))
	}
	if p.Op >= unaryCount {
		return fmt.Errorf("unknown unary op %d", p.Op)
	}
	if fin, ok := any(in).([]float32); ok {
		switch act := (Activation{Op: p.Op, Alpha: p.Alpha, Beta: p.Beta}); p.Op {
		case Relu, Clip, LeakyRelu, HardSigmoid, HardSwish:
			if haveFMA {
				fout := any(out).([]float32)
				parallelFor(len(in), elemGrain, 0, func(i, j int) {
					biasActTo(act, fin[i:j], fout[i:j], 0)
				})
				return nil
			}
		}
	}
	parallelFor(len(in), elemGrain/4, 0, func(lo, hi int) {
		unaryRange(p, in[lo:hi], out[lo:hi])
	})
	return nil
}

func unaryRange[T Float](p UnaryParams, in, out []T) {
	out = out[:len(in)]
	a, b := T(p.Alpha), T(p.Beta)
	switch p.Op {
	case Identity:
		copy(out, in)
	case Relu:
		for i, x := range in {
			out[i] = max(x, 0)
		}
	case LeakyRelu:
		for i, x := range in {
			if x < 0 {
				x *= a
			}
			out[i] = x
		}
	case Clip:
		for i, x := range in {
			if x < a {
				x = a
			}
			if x > b {
				x = b
			}
			out[i] = x
		}
	case Sigmoid:
		for i, x := range in {
			out[i] = sigmoid(x)
		}
	case HardSigmoid:
		for i, x := range in {
			out[i] = max(0, min(1, a*x+b))
		}
	case HardSwish:
		for i, x := range in {
			out[i] = x * max(0, min(1, x/6+0.5))
		}
	case Neg:
		for i, x := range in {
			out[i] = -x
		}
	case Abs:
		for i, x := range in {
			out[i] = T(math.Abs(float64(x)))
		}
	case Sqrt:
		for i, x := range in {
			out[i] = T(math.Sqrt(float64(x)))
		}
	case Reciprocal:
		for i, x := range in {
			out[i] = 1 / x
		}
	default:
		f := unaryFunc(p)
		for i, x := range in {
			out[i] = T(f(float64(x)))
		}
	}
}

func sigmoid[T Float](x T) T {
	if x >= 0 {
		return T(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return T(e / (1 + e))
}

func unaryFunc(p UnaryParams) func(float64) float64 {
	a, b := float64(p.Alpha), float64(p.Beta)
	switch p.Op {
	case Tanh:
		return math.Tanh
	case Exp:
		return math.Exp
	case Log:
		return math.Log
	case Floor:
		return math.Floor
	case Ceil:
		return math.Ceil
	case Round:
		return math.RoundToEven
	case Sign:
		return func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0 or NaN
		}
	case Sin:
		return math.Sin
	case Cos:
		return math.Cos
	case Tan:
		return math.Tan
	case Asin:
		return math.Asin
	case Acos:
		return math.Acos
	case Atan:
		return math.Atan
	case Sinh:
		return math.Sinh
	case Cosh:
		return math.Cosh
	case Asinh:
		return math.Asinh
	case Acosh:
		return math.Acosh
	case Atanh:
		return math.Atanh
	case Erf:
		return math.Erf
	case Gelu:
		return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	case GeluTanh:
		return func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}
	case Elu:
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}
	case Selu:
		return func(x float64) float64 {
			if x <= 0 {
				return b * (a*math.Exp(x) - a)
			}
			return b * x
		}
	case Celu:
		return func(x float64) float64 { return max(0, x) + min(0, a*(math.Exp(x/a)-1)) }
	case Softplus:
		return func(x float64) float64 {
			if x > 30 {
				return x
			}
			return math.Log1p(math.Exp(x))
		}
	case Softsign:
		return func(x float64) float64 { return x / (1 + math.Abs(x)) }
	case Mish:
		return func(x float64) float64 {
			sp := x
			if x <= 30 {
				sp = math.Log1p(math.Exp(x))
			}
			return x * math.Tanh(sp)
		}
	case ThresholdedRelu:
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}
	case Shrink:
		return func(x float64) float64 {
			switch {
			case x < -a:
				return x + b
			case x > a:
				return x - b
			}
			return 0
		}
	}
	return func(x float64) float64 { return x }
}

// UnaryInt applies the ops that make sense on integers (Neg, Abs, Sign, Relu, Clip with
// integer bounds in lo/hi, Identity).
func UnaryInt[T Number](op UnaryOp, in, out []T, lo, hi T) error {
	if len(out) != len(in) {
		return fmt.Errorf("unary: %d inputs, %d outputs", len(in), len(out))
	}
	for i, x := range in {
		switch op {
		case Identity:
		case Neg:
			x = -x
		case Abs:
			if x < 0 {
				x = -x
			}
		case Sign:
			switch {
			case x > 0:
				x = 1
			case x < 0:
				x = 0
				x--
			}
		case Relu:
			x = max(x, 0)
		case Clip:
			x = min(max(x, lo), hi)
		default:
			return fmt.Errorf("unary op %d is not defined on integers", op)
		}
		out[i] = x
	}
	return nil
}
