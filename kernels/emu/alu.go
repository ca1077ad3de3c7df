package emu

import (
	"math"
	"math/bits"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// Register slots hold 32-bit values zero-extended, f32 as its bits and predicates as 0/1.

type (
	unFn  func(x uint64) uint64
	binFn func(x, y uint64) uint64
	cmpFn func(x, y uint64) bool
)

type ints interface {
	~int32 | ~uint32 | ~int64 | ~uint64
}

func f32(x uint64) float32   { return math.Float32frombits(uint32(x)) }
func pf32(v float32) uint64  { return uint64(math.Float32bits(v)) }
func f64of(x uint64) float64 { return float64(f32(x)) }

// typed builds the per-type function of an integer op from its four instantiations.
func intBin(u32 func(x, y uint32) uint32, s32 func(x, y int32) int32,
	u64 func(x, y uint64) uint64, s64 func(x, y int64) int64) map[kir.Type]binFn {
	m := map[kir.Type]binFn{}
	if u32 != nil {
		m[kir.U32] = func(x, y uint64) uint64 { return uint64(u32(uint32(x), uint32(y))) }
		m[kir.B32] = m[kir.U32]
	}
	if s32 != nil {
		m[kir.S32] = func(x, y uint64) uint64 { return uint64(uint32(s32(int32(x), int32(y)))) }
	}
	if u64 != nil {
		m[kir.U64] = u64
	}
	if s64 != nil {
		m[kir.S64] = func(x, y uint64) uint64 { return uint64(s64(int64(x), int64(y))) }
	}
	return m
}

func add[T ints](x, y T) T { return x + y }
func sub[T ints](x, y T) T { return x - y }
func mul[T ints](x, y T) T { return x * y }
func and[T ints](x, y T) T { return x & y }
func or[T ints](x, y T) T  { return x | y }
func xor[T ints](x, y T) T { return x ^ y }
func imin[T ints](x, y T) T {
	if y < x {
		return y
	}
	return x
}
func imax[T ints](x, y T) T {
	if y > x {
		return y
	}
	return x
}
func div[T ints](x, y T) T {
	if y == 0 {
		return ^T(0)
	}
	return x / y
}
func rem[T ints](x, y T) T {
	if y == 0 {
		return x
	}
	return x % y
}

func mulhiS64(x, y int64) int64 {
	hi, _ := bits.Mul64(uint64(x), uint64(y))
	h := int64(hi)
	if x < 0 {
		h -= y
	}
	if y < 0 {
		h -= x
	}
	return h
}

func fmin(x, y float32) float32 {
	switch {
	case x != x:
		return y
	case y != y:
		return x
	case x == y:
		if math.Signbit(float64(x)) {
			return x
		}
		return y
	case x < y:
		return x
	}
	return y
}

func fmax(x, y float32) float32 {
	switch {
	case x != x:
		return y
	case y != y:
		return x
	case x == y:
		if math.Signbit(float64(x)) {
			return y
		}
		return x
	case x > y:
		return x
	}
	return y
}

func fbin(f func(x, y float32) float32) binFn {
	return func(x, y uint64) uint64 { return pf32(f(f32(x), f32(y))) }
}

func fun(f func(x float64) float64) unFn {
	return func(x uint64) uint64 { return pf32(float32(f(f64of(x)))) }
}

// binTable holds every binary ALU op per type.
var binTable = map[kir.Op]map[kir.Type]binFn{
	kir.OpAdd: withF(intBin(add[uint32], add[int32], add[uint64], add[int64]), func(x, y float32) float32 { return x + y }),
	kir.OpSub: withF(intBin(sub[uint32], sub[int32], sub[uint64], sub[int64]), func(x, y float32) float32 { return x - y }),
	kir.OpMul: withF(intBin(mul[uint32], mul[int32], mul[uint64], mul[int64]), func(x, y float32) float32 { return x * y }),
	kir.OpDiv: withF(intBin(div[uint32], div[int32], div[uint64], div[int64]), func(x, y float32) float32 { return x / y }),
	kir.OpRem: intBin(rem[uint32], rem[int32], rem[uint64], rem[int64]),
	kir.OpMin: withF(intBin(imin[uint32], imin[int32], imin[uint64], imin[int64]), fmin),
	kir.OpMax: withF(intBin(imax[uint32], imax[int32], imax[uint64], imax[int64]), fmax),
	kir.OpAnd: withPred(intBin(and[uint32], and[int32], and[uint64], and[int64]), func(x, y uint64) uint64 { return x & y }),
	kir.OpOr:  withPred(intBin(or[uint32], or[int32], or[uint64], or[int64]), func(x, y uint64) uint64 { return x | y }),
	kir.OpXor: withPred(intBin(xor[uint32], xor[int32], xor[uint64], xor[int64]), func(x, y uint64) uint64 { return x ^ y }),
	kir.OpMulHi: intBin(
		func(x, y uint32) uint32 { return uint32(uint64(x) * uint64(y) >> 32) },
		func(x, y int32) int32 { return int32(int64(x) * int64(y) >> 32) },
		func(x, y uint64) uint64 { hi, _ := bits.Mul64(x, y); return hi },
		mulhiS64),
	kir.OpShl: intBin(
		func(x, s uint32) uint32 { return x << s },
		func(x, s int32) int32 { return x << uint32(s) },
		func(x, s uint64) uint64 { return x << uint32(s) },
		func(x, s int64) int64 { return x << uint32(s) }),
	kir.OpShr: intBin(
		func(x, s uint32) uint32 { return x >> s },
		func(x, s int32) int32 { return x >> uint32(s) },
		func(x, s uint64) uint64 { return x >> uint32(s) },
		func(x, s int64) int64 { return x >> uint32(s) }),
	kir.OpMulWide: {
		kir.U32: func(x, y uint64) uint64 { return uint64(uint32(x)) * uint64(uint32(y)) },
		kir.S32: func(x, y uint64) uint64 { return uint64(int64(int32(x)) * int64(int32(y))) },
	},
}

func withF(m map[kir.Type]binFn, f func(x, y float32) float32) map[kir.Type]binFn {
	m[kir.F32] = fbin(f)
	return m
}

func withPred(m map[kir.Type]binFn, f binFn) map[kir.Type]binFn {
	m[kir.Pred] = f
	return m
}

// unTable holds every unary ALU op per type.
var unTable = map[kir.Op]map[kir.Type]unFn{
	kir.OpNeg: {
		kir.S32: func(x uint64) uint64 { return uint64(uint32(-int32(x))) },
		kir.S64: func(x uint64) uint64 { return uint64(-int64(x)) },
		kir.F32: func(x uint64) uint64 { return x ^ 0x80000000 },
	},
	kir.OpAbs: {
		kir.S32: func(x uint64) uint64 {
			v := int32(x)
			if v < 0 {
				v = -v
			}
			return uint64(uint32(v))
		},
		kir.S64: func(x uint64) uint64 {
			v := int64(x)
			if v < 0 {
				v = -v
			}
			return uint64(v)
		},
		kir.F32: func(x uint64) uint64 { return x &^ 0x80000000 },
	},
	kir.OpNot: {
		kir.Pred: func(x uint64) uint64 { return x ^ 1 },
		kir.B32:  func(x uint64) uint64 { return uint64(^uint32(x)) },
		kir.U32:  func(x uint64) uint64 { return uint64(^uint32(x)) },
		kir.S32:  func(x uint64) uint64 { return uint64(^uint32(x)) },
		kir.U64:  func(x uint64) uint64 { return ^x },
		kir.S64:  func(x uint64) uint64 { return ^x },
	},
	kir.OpRcp:   {kir.F32: func(x uint64) uint64 { return pf32(1 / f32(x)) }},
	kir.OpSqrt:  {kir.F32: fun(math.Sqrt)},
	kir.OpRsqrt: {kir.F32: fun(func(x float64) float64 { return 1 / math.Sqrt(x) })},
	kir.OpEx2:   {kir.F32: fun(math.Exp2)},
	kir.OpLg2:   {kir.F32: fun(math.Log2)},
	kir.OpSin:   {kir.F32: fun(math.Sin)},
	kir.OpCos:   {kir.F32: fun(math.Cos)},
	kir.OpTanh:  {kir.F32: fun(math.Tanh)},
	kir.OpFloor: {kir.F32: fun(math.Floor)},
	kir.OpCeil:  {kir.F32: fun(math.Ceil)},
	kir.OpTrunc: {kir.F32: fun(math.Trunc)},
	kir.OpRound: {kir.F32: fun(math.RoundToEven)},
}

func fcmp(c kir.Cmp) cmpFn {
	switch c {
	case kir.EQ:
		return func(x, y uint64) bool { return f32(x) == f32(y) }
	case kir.NE: // ordered: false when either is NaN
		return func(x, y uint64) bool { a, b := f32(x), f32(y); return a < b || a > b }
	case kir.LT:
		return func(x, y uint64) bool { return f32(x) < f32(y) }
	case kir.LE:
		return func(x, y uint64) bool { return f32(x) <= f32(y) }
	case kir.GT:
		return func(x, y uint64) bool { return f32(x) > f32(y) }
	case kir.GE:
		return func(x, y uint64) bool { return f32(x) >= f32(y) }
	}
	return nil
}

func icmp[T ints](c kir.Cmp) cmpFn {
	switch c {
	case kir.EQ:
		return func(x, y uint64) bool { return T(x) == T(y) }
	case kir.NE:
		return func(x, y uint64) bool { return T(x) != T(y) }
	case kir.LT:
		return func(x, y uint64) bool { return T(x) < T(y) }
	case kir.LE:
		return func(x, y uint64) bool { return T(x) <= T(y) }
	case kir.GT:
		return func(x, y uint64) bool { return T(x) > T(y) }
	case kir.GE:
		return func(x, y uint64) bool { return T(x) >= T(y) }
	}
	return nil
}

// compare returns the comparison c at type t.
func compare(c kir.Cmp, t kir.Type) cmpFn {
	switch t {
	case kir.U32:
		return icmp[uint32](c)
	case kir.S32:
		return icmp[int32](c)
	case kir.U64:
		return icmp[uint64](c)
	case kir.S64:
		return icmp[int64](c)
	case kir.F32:
		return fcmp(c)
	}
	return nil
}

// cvt converts a register value of type from to type to (PTX cvt with .rzi for float -> int,
// saturating, NaN giving 0 for 32-bit and 1<<63 for 64-bit integers as the PTX ISA says; .rn
// for int -> float; integer narrowing keeps the low bits, widening extends by the source).
func cvt(from, to kir.Type) unFn {
	if from == to {
		return func(x uint64) uint64 { return x }
	}
	if from == kir.F32 {
		switch to {
		case kir.U32:
			return func(x uint64) uint64 { return uint64(uint32(satTrunc(f64of(x), 0, math.MaxUint32))) }
		case kir.S32:
			return func(x uint64) uint64 {
				return uint64(uint32(int32(satTrunc(f64of(x), math.MinInt32, math.MaxInt32))))
			}
		case kir.U64:
			return func(x uint64) uint64 {
				v := f64of(x)
				if v != v { // PTX: NaN to a 64-bit integer is 1<<63
					return 1 << 63
				}
				if v <= 0 {
					return 0
				}
				if v >= 1<<64 {
					return math.MaxUint64
				}
				return uint64(v)
			}
		case kir.S64:
			return func(x uint64) uint64 {
				v := math.Trunc(f64of(x))
				switch {
				case v != v: // PTX: NaN to a 64-bit integer is 1<<63
					return 1 << 63
				case v >= 1<<63:
					return math.MaxInt64
				case v < -(1 << 63):
					return 1 << 63
				}
				return uint64(int64(v))
			}
		}
		return nil
	}
	// integer source: extend to 64 bits by its signedness
	var ext func(x uint64) uint64
	switch from {
	case kir.U32, kir.B32:
		ext = func(x uint64) uint64 { return uint64(uint32(x)) }
	case kir.S32:
		ext = func(x uint64) uint64 { return uint64(int64(int32(x))) }
	case kir.U64, kir.S64:
		ext = func(x uint64) uint64 { return x }
	default:
		return nil
	}
	switch to {
	case kir.F32:
		if from.IsSigned() {
			return func(x uint64) uint64 { return pf32(float32(int64(ext(x)))) }
		}
		return func(x uint64) uint64 { return pf32(float32(ext(x))) }
	case kir.U32, kir.S32, kir.B32:
		return func(x uint64) uint64 { return uint64(uint32(ext(x))) }
	case kir.U64, kir.S64:
		return ext
	}
	return nil
}

// satTrunc truncates v toward zero and clamps it to [lo, hi]; NaN gives 0.
func satTrunc(v, lo, hi float64) float64 {
	if v != v {
		return 0
	}
	v = math.Trunc(v)
	return math.Max(lo, math.Min(hi, v))
}

// fma32 is a*b+c rounded once to f32, as fma.rn.f32. The product of two f32 values is exact
// in float64; the sum is rounded to odd in float64 (from its exact rounding error), and a
// round-to-odd result with more than 2*24+1 bits rounds correctly to f32. (math.FMA rounded
// to f32 would round twice, one ulp off when the float64 sum lands on an f32 midpoint.)
func fma32(a, b, c float32) float32 {
	p, z := float64(a)*float64(b), float64(c)
	s := p + z
	if math.IsInf(s, 0) || s != s {
		return float32(s)
	}
	bv := s - p
	e := (p - (s - bv)) + (z - bv) // p + z == s + e exactly
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}
