package eltwise

import (
	"math"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// The functions below emit f32 math with about 1-2e-7 relative error (a few ulp), built on
// the exactly rounded kir ops and ex2.approx only where its error is scaled down. They are
// exported so that other templates (softmax, norm, attention) share one definition.

func poly(b *kir.Builder, u kir.Value, c []float64) kir.Value {
	r := b.ConstF32(float32(c[len(c)-1]))
	for j := len(c) - 2; j >= 0; j-- {
		r = b.Fma(r, u, b.ConstF32(float32(c[j])))
	}
	return r
}

func notNaN(b *kir.Builder, x kir.Value) kir.Value { return b.Eq(x, x) }

// pow2i is 2**n for an s32 n in [-126, 127], built from its exponent bits.
func pow2i(b *kir.Builder, n kir.Value) kir.Value {
	e := b.Shl(b.Add(n, b.ConstS32(127)), b.ConstU32(23))
	return b.Bitcast(e, kir.F32)
}

// Exp is e**x with Cody-Waite range reduction: x = n*ln2 + r, |r| <= ln2/2, e**r from ex2.approx
// on a small argument, 2**n from exponent bits (split in two factors so that results down to
// the denormals and up to overflow are right). NaN propagates.
func Exp(b *kir.Builder, x kir.Value) kir.Value {
	xc := b.Min(b.Max(x, b.ConstF32(-104)), b.ConstF32(89))
	n := b.Round(b.Mul(xc, b.ConstF32(float32(math.Log2E))))
	r := b.Fma(n, b.ConstF32(-0.693145751953125), xc) // ln2 hi (exact in 16 bits)
	r = b.Fma(n, b.ConstF32(-1.428606765330187e-06), r)
	e := b.Ex2(b.Mul(r, b.ConstF32(float32(math.Log2E))))
	ni := b.Cvt(n, kir.S32)
	n1 := b.Shr(ni, b.ConstU32(1))
	n2 := b.Sub(ni, n1)
	y := b.Mul(b.Mul(e, pow2i(b, n1)), pow2i(b, n2))
	return b.Select(notNaN(b, x), y, x)
}

// Log is ln(x): x = m*2**k with m in [sqrt(1/2), sqrt(2)), ln(m) = 2*atanh(f/(2+f)) by its
// series, plus k*ln2 in two parts. Zero gives -Inf, negatives NaN, +Inf and NaN themselves.
func Log(b *kir.Builder, x kir.Value) kir.Value {
	tiny := b.Lt(x, b.ConstF32(1.1754943508222875e-38))
	xs := b.Select(tiny, b.Mul(x, b.ConstF32(8388608)), x) // denormals: scale by 2**23
	bits := b.Bitcast(xs, kir.S32)
	// k such that m = x / 2**k lies in [sqrt(1/2), sqrt(2)): offset the bits by those of sqrt(1/2)
	off := b.Sub(bits, b.ConstS32(0x3f3504f3))
	k := b.Shr(off, b.ConstU32(23))
	m := b.Bitcast(b.Sub(bits, b.Shl(k, b.ConstU32(23))), kir.F32)
	k = b.Sub(k, b.Select(tiny, b.ConstS32(23), b.ConstS32(0)))
	f := b.Sub(m, b.ConstF32(1))
	z := b.Div(f, b.Add(f, b.ConstF32(2)))
	s := b.Mul(z, z)
	p := poly(b, s, []float64{2, 2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11})
	lm := b.Mul(z, p)
	kf := b.Cvt(k, kir.F32)
	y := b.Fma(kf, b.ConstF32(1.428606765330187e-06), lm)
	y = b.Fma(kf, b.ConstF32(0.693145751953125), y)
	inf := b.ConstF32(float32(math.Inf(1)))
	y = b.Select(b.Eq(x, inf), inf, y)
	y = b.Select(b.Eq(x, b.ConstF32(0)), b.ConstF32(float32(math.Inf(-1))), y)
	nan := b.ConstF32(float32(math.NaN()))
	y = b.Select(b.Lt(x, b.ConstF32(0)), nan, y)
	return b.Select(notNaN(b, x), y, x)
}

// Erf is erf(x): |x| < 1: x*P(x**2) (a least-squares fit on Chebyshev nodes, 1.7e-7 relative);
// 1 <= |x| < 3.92: 1 - exp(Q(|x|)) with Q a fit of ln(erfc) (1.8e-7 relative); beyond, +-1.
func Erf(b *kir.Builder, x kir.Value) kir.Value {
	t := b.Abs(x)
	s := b.Mul(x, x)
	small := b.Mul(x, poly(b, b.Fma(s, b.ConstF32(2), b.ConstF32(-1)), []float64{
		0.9654687771263051, -0.14053609728153754, 0.01985180492518246,
		-0.0022854195288911174, 0.00021935945001696152, -1.7669080812943525e-05}))
	tc := b.Min(b.Max(t, b.ConstF32(1)), b.ConstF32(3.92))
	u := b.Fma(tc, b.ConstF32(float32(2/2.92)), b.ConstF32(float32(-4.92/2.92)))
	q := poly(b, u, []float64{-7.594217576027512, -7.704743949578675, -2.0091813923297916,
		-0.03489236148762901, 0.010228922509991415, -0.0029137938949392274,
		0.0007852143833368748, -0.0001952550130138395, 3.396094240315589e-05})
	big := b.Sub(b.ConstF32(1), Exp(b, q))
	big = b.Select(b.Lt(x, b.ConstF32(0)), b.Neg(big), big)
	y := b.Select(b.Lt(t, b.ConstF32(1)), small, big)
	return b.Select(notNaN(b, x), y, x)
}

// Tanh is tanh(x): |x| < 0.25 by its Taylor series, beyond as 1 - 2/(e**(2|x|) + 1).
func Tanh(b *kir.Builder, x kir.Value) kir.Value {
	t := b.Abs(x)
	s := b.Mul(x, x)
	p := poly(b, s, []float64{1, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925})
	small := b.Mul(x, p)
	e := Exp(b, b.Add(t, t))
	big := b.Sub(b.ConstF32(1), b.Div(b.ConstF32(2), b.Add(e, b.ConstF32(1))))
	big = b.Select(b.Lt(x, b.ConstF32(0)), b.Neg(big), big)
	return b.Select(b.Lt(t, b.ConstF32(0.25)), small, big)
}

// Sigmoid is 1/(1 + e**-x).
func Sigmoid(b *kir.Builder, x kir.Value) kir.Value {
	return b.Rcp(b.Add(b.ConstF32(1), Exp(b, b.Neg(x))))
}

// Pow is a**p for f32 a and p: exp(p*ln|a|), negated for a negative base and an odd integer
// exponent, NaN for a negative base and a non-integer exponent, 1 for p == 0.
func Pow(b *kir.Builder, a, p kir.Value) kir.Value {
	r := Exp(b, b.Mul(p, Log(b, b.Abs(a))))
	isInt := b.Eq(b.Floor(p), p)
	half := b.Mul(p, b.ConstF32(0.5))
	odd := b.And(isInt, b.Ne(b.Floor(half), half))
	neg := b.Lt(a, b.ConstF32(0))
	r = b.Select(b.And(neg, odd), b.Neg(r), r)
	r = b.Select(b.And(neg, b.Not(isInt)), b.ConstF32(float32(math.NaN())), r)
	return b.Select(b.Eq(p, b.ConstF32(0)), b.ConstF32(1), r)
}

// PowConst is a**p for a constant exponent: x*x, sqrt, 1/x, ... for the common ones.
func PowConst(b *kir.Builder, a kir.Value, p float32) kir.Value {
	switch p {
	case 0:
		return b.ConstF32(1)
	case 1:
		return a
	case 2:
		return b.Mul(a, a)
	case 3:
		return b.Mul(b.Mul(a, a), a)
	case 4:
		s := b.Mul(a, a)
		return b.Mul(s, s)
	case 0.5:
		return b.Sqrt(a)
	case -1:
		return b.Rcp(a)
	case -0.5:
		return b.Rcp(b.Sqrt(a))
	case -2:
		return b.Rcp(b.Mul(a, a))
	}
	return Pow(b, a, b.ConstF32(p))
}
