package ptxsim

import (
	"math"
	"math/big"
	"math/bits"
)

// canonNaN is the NaN every f32 arithmetic result that is NaN becomes (as on NVIDIA GPUs);
// neg, abs, mov and selp move bits unchanged.
const canonNaN = 0x7fffffff

func f32(x uint64) float32 { return math.Float32frombits(uint32(x)) }

// fb is the slot value of an f32 arithmetic result.
func fb(v float32) uint64 {
	if v != v {
		return canonNaN
	}
	return uint64(math.Float32bits(v))
}

// fma32 is a*b+c rounded once to f32 (fma.rn.f32). The product of two f32 values is exact in
// float64, so p+c is the exact sum rounded to float64; rounding that again to f32 is wrong only
// when it lands exactly on a midpoint between two f32 values, which is then settled by the
// sign of the float64 rounding error.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	if midpoint32(s) {
		bb := s - p
		e := (p - (s - bb)) + (float64(c) - bb) // exact: p + c == s + e
		if e > 0 {
			s = math.Nextafter(s, math.Inf(1))
		} else if e < 0 {
			s = math.Nextafter(s, math.Inf(-1))
		}
	}
	return float32(s)
}

// midpoint32 reports whether the float64 s lies exactly halfway between two adjacent f32
// values (so that rounding it to f32 ties).
func midpoint32(s float64) bool {
	b := math.Float64bits(s) &^ (1 << 63)
	if b >= 0x3810000000000000 { // |s| >= 2^-126: f32 normals, 29 bits below their last
		return b&(1<<29-1) == 1<<28 && b < 0x7ff0000000000000
	}
	if b == 0 {
		return false
	}
	m := math.Float64frombits(b) * 0x1p150 // f32 subnormal midpoints: odd multiples of 2^-150
	u := uint64(m)
	return float64(u) == m && u&1 == 1
}

// fminmax is min.f32 / max.f32: a NaN operand yields the other one, two NaNs the canonical
// NaN, and -0 orders below +0. nan selects the .NaN form (any NaN operand gives NaN).
func fminmax(x, y uint64, isMax, nan bool) uint64 {
	a, b := f32(x), f32(y)
	switch {
	case a != a && b != b, nan && (a != a || b != b):
		return canonNaN
	case a != a:
		return y
	case b != b:
		return x
	case a == b: // equal values; -0 < +0
		if math.Signbit(float64(a)) != isMax {
			return x
		}
		return y
	case (a < b) != isMax:
		return x
	}
	return y
}

// approx computes an .approx function in float64 and rounds it to f32 (hardware
// approximations differ from this by a few ulp).
func approx(f func(float64) float64, x uint64) uint64 {
	return fb(float32(f(float64(f32(x)))))
}

func rsqrt(x float64) float64 { return 1 / math.Sqrt(x) }

// roundInt rounds v to an integer value by an integer rounding mode.
func roundInt(v float64, rnd uint8) float64 {
	switch rnd {
	case rndZero:
		return math.Trunc(v)
	case rndDown:
		return math.Floor(v)
	case rndUp:
		return math.Ceil(v)
	}
	return math.RoundToEven(v)
}

// cvtF2I converts f32 x to integer type t (cvt.rXi.t.f32): rounded, then clamped to t's range;
// NaN gives 0, or 1<<63 for 64-bit destinations (PTX ISA, cvt). The result has t's width.
func cvtF2I(x float32, rnd uint8, t ptype) uint64 {
	v := float64(x)
	if v != v {
		if t.size() == 8 {
			return 1 << 63
		}
		return 0
	}
	v = roundInt(v, rnd)
	bitsN := 8 * t.size()
	if t.signed() {
		lo, hi := -math.Ldexp(1, bitsN-1), math.Ldexp(1, bitsN-1)
		switch {
		case v >= hi:
			return mask(t.size()) >> 1
		case v < lo:
			return (1 << (bitsN - 1)) & mask(t.size())
		}
		return uint64(int64(v)) & mask(t.size())
	}
	switch {
	case v <= 0:
		return 0
	case v >= math.Ldexp(1, bitsN):
		return mask(t.size())
	}
	return uint64(v)
}

// cvtI2F converts the integer of type t in the low bits of v to f32 with a float rounding.
func cvtI2F(v uint64, t ptype, rnd uint8) float32 {
	v = extend(v, t.size(), t.signed())
	var f float32
	exact := new(big.Float)
	if t.signed() {
		f = float32(int64(v))
		exact.SetInt64(int64(v))
	} else {
		f = float32(v)
		exact.SetUint64(v)
	}
	if rnd == rndNearest {
		return f
	}
	c := big.NewFloat(float64(f)).Cmp(exact) // f vs the exact value
	switch {
	case c == 0:
	case rnd == rndZero && (c > 0) == (exact.Sign() > 0):
		f = math.Nextafter32(f, 0)
	case rnd == rndDown && c > 0:
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	case rnd == rndUp && c < 0:
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// cvtInt converts between integer types as packed by cvtII.
func cvtInt(v uint64, p int64) uint64 {
	srcSize, dstSize, regSize := int(p&0xf), int(p>>8&0xf), int(p>>16&0xf)
	srcSigned, dstSigned, sat := p&(1<<4) != 0, p&(1<<12) != 0, p&(1<<24) != 0
	v = extend(v, srcSize, srcSigned)
	if sat {
		maxU := mask(dstSize)
		if dstSigned {
			maxU >>= 1
		}
		switch {
		case srcSigned && int64(v) < 0 && !dstSigned:
			v = 0
		case srcSigned && int64(v) < 0:
			if minS := -int64(maxU) - 1; int64(v) < minS {
				v = uint64(minS)
			}
		case v > maxU:
			v = maxU
		}
	}
	return extend(v&mask(dstSize), dstSize, dstSigned) & mask(regSize)
}

// mulHiS64 is the high 64 bits of the 128-bit signed product.
func mulHiS64(x, y int64) int64 {
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

// fcmp is setp on f32: eq..ge are ordered (false when either operand is NaN), equ..geu
// unordered (true when either is NaN).
func fcmp(c uint8, x, y uint64) bool {
	a, b := f32(x), f32(y)
	nan := a != a || b != b
	switch c {
	case cmpEQ:
		return a == b
	case cmpNE:
		return a != b && !nan
	case cmpLT:
		return a < b
	case cmpLE:
		return a <= b
	case cmpGT:
		return a > b
	case cmpGE:
		return a >= b
	case cmpEQU:
		return a == b || nan
	case cmpNEU:
		return a != b
	case cmpLTU:
		return a < b || nan
	case cmpLEU:
		return a <= b || nan
	case cmpGTU:
		return a > b || nan
	case cmpGEU:
		return a >= b || nan
	case cmpNUM:
		return !nan
	}
	return nan // cmpNAN
}

// icmp compares integers of one signedness (x, y already extended to 64 bits).
func icmp[T int64 | uint64](c uint8, a, b T) bool {
	switch c {
	case cmpEQ:
		return a == b
	case cmpNE:
		return a != b
	case cmpLT:
		return a < b
	case cmpLE:
		return a <= b
	case cmpGT:
		return a > b
	}
	return a >= b
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
