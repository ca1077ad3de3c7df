package ptxsim

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

type evalCase struct {
	lines []string
	want  uint64
}

func c(want uint64, lines ...string) evalCase { return evalCase{lines, want} }

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		if got := eval(t, tc.lines...); got != tc.want {
			t.Errorf("%q = %#x, want %#x", tc.lines, got, tc.want)
		}
	}
}

const minS32 = 0x80000000

func TestIntegerArithmetic(t *testing.T) {
	runCases(t, []evalCase{
		c(1, "add.u32 %r10, 4294967295, 2"),
		c(0xfffffffe, "sub.s32 %r10, -5, -3"),
		c(0xfffffffe, "mul.lo.u32 %r10, 2147483647, 2"),
		c(1<<63|1, "add.u64 %rd10, 9223372036854775808, 1"),
		c(0xffffffffffffffff, "sub.s64 %rd10, 0, 1"),
		c(0x10005, "mad.lo.u32 %r10, 65536, 65537, 5"),
		c(1, "mul.hi.u32 %r10, 4294967295, 2"),
		c(0xffffffff, "mul.hi.s32 %r10, -1, 2"),
		c(0xfffffffe00000001, "mul.wide.u32 %rd10, 4294967295, 4294967295"),
		c(0xfffffffffffffffe, "mul.wide.s32 %rd10, -1, 2"),
		c(0xfffffffffffffffd, "mad.wide.s32 %rd10, -1, 2, -1"),
		c(1, "mul.hi.u64 %rd10, 9223372036854775808, 2"),
		c(0xffffffffffffffff, "mul.hi.s64 %rd10, -9223372036854775808, 1"),
		c(3, "mul.lo.u64 %rd10, 4294967297, 3", "shr.u64 %rd10, %rd10, 32"),
		c(0xfffffffd, "div.s32 %r10, -7, 2"),       // truncates toward zero
		c(0xffffffff, "rem.s32 %r10, -7, 2"),       // the sign of the dividend
		c(1, "rem.s32 %r10, 7, -2"),                //
		c(0x7ffffffc, "div.u32 %r10, -7, 2"),       // unsigned: 0xfffffff9/2
		c(minS32, "div.s32 %r10, -2147483648, -1"), // overflow wraps
		c(0, "rem.s32 %r10, -2147483648, -1"),
		c(3, "rem.u64 %rd10, 18446744073709551615, 4"),
		c(0xfffffffffffffffd, "div.s64 %rd10, -7, 2"),
		c(1, "min.u32 %r10, 4294967295, 1"),
		c(0xffffffff, "min.s32 %r10, 4294967295, 1"),
		c(0xffffffff, "max.u32 %r10, -1, 1"),
		c(1, "max.s32 %r10, -1, 1"),
		c(0xffffffffffffffff, "min.s64 %rd10, -1, 5"),
		c(5, "min.u64 %rd10, -1, 5"),
		c(minS32, "neg.s32 %r10, -2147483648"),
		c(minS32, "abs.s32 %r10, -2147483648"),
		c(7, "abs.s32 %r10, -7"),
		c(5, "neg.s64 %rd10, -5"),
	})
}

func TestShiftsAndLogic(t *testing.T) {
	runCases(t, []evalCase{
		c(minS32, "shl.b32 %r10, 1, 31"),
		c(0, "shl.b32 %r10, 1, 32"), // amounts beyond the width clamp to it
		c(0, "shl.b32 %r10, 1, 4000000000"),
		c(0, "shr.u32 %r10, 2147483648, 40"),
		c(0xffffffff, "shr.s32 %r10, -2147483648, 40"),
		c(0x08000000, "shr.b32 %r10, 2147483648, 4"),
		c(0xf8000000, "shr.s32 %r10, -2147483648, 4"),
		c(0xffffffffffffffff, "shr.s64 %rd10, -9223372036854775808, 64"),
		c(0, "shl.b64 %rd10, 1, 64"),
		c(1<<40, "shl.b64 %rd10, 1, 40"),
		c(1, "shr.u64 %rd10, 9223372036854775808, 63"),
		c(0x0f0f, "and.b32 %r10, 0xffff, 0x0f0f"),
		c(0xff0f, "or.b32 %r10, 0xff00, 0x0f0f"),
		c(0xffff, "xor.b32 %r10, 0xff00, 0x0ff0", "xor.b32 %r10, %r10, 0xf0f"),
		c(0xfffffff0, "not.b32 %r10, 15"),
		c(0xfffffffffffffff0, "not.b64 %rd10, 15"),
		c(1, "setp.lt.u32 %p1, 1, 2", "not.pred %p2, %p1", "not.pred %p3, %p2"),
		c(0, "setp.lt.u32 %p1, 1, 2", "setp.lt.u32 %p2, 2, 1", "and.pred %p3, %p1, %p2"),
		c(1, "setp.lt.u32 %p1, 1, 2", "setp.lt.u32 %p2, 2, 1", "xor.pred %p3, %p1, %p2"),
		c(9, "setp.eq.u32 %p1, 1, 1", "selp.u32 %r10, 9, 4, %p1"),
		c(4, "setp.ne.u32 %p1, 1, 1", "selp.u32 %r10, 9, 4, %p1"),
	})
}

func TestSetp(t *testing.T) {
	nan := "0f7FC00000"
	runCases(t, []evalCase{
		c(0, "setp.lt.u32 %p1, 4294967295, 1"),
		c(1, "setp.lt.s32 %p1, 4294967295, 1"),
		c(1, "setp.lo.u32 %p1, 1, 4294967295"),
		c(1, "setp.hs.u32 %p1, 4294967295, 4294967295"),
		c(1, "setp.hi.u64 %p1, 18446744073709551615, 1"),
		c(0, "setp.gt.s64 %p1, -1, 1"),
		c(1, "setp.ne.b32 %p1, 1, 2"),
		c(0, "setp.eq.f32 %p1, "+nan+", "+nan),
		c(0, "setp.ne.f32 %p1, "+nan+", 0f3F800000"), // ordered: false on NaN
		c(1, "setp.neu.f32 %p1, "+nan+", 0f3F800000"),
		c(1, "setp.ltu.f32 %p1, "+nan+", 0f3F800000"),
		c(0, "setp.lt.f32 %p1, "+nan+", 0f3F800000"),
		c(0, "setp.ge.f32 %p1, "+nan+", 0f3F800000"),
		c(1, "setp.eq.f32 %p1, 0f80000000, 0f00000000"), // -0 == +0
		c(0, "setp.lt.f32 %p1, 0f80000000, 0f00000000"),
		c(1, "setp.nan.f32 %p1, 0f3F800000, "+nan),
		c(0, "setp.num.f32 %p1, 0f3F800000, "+nan),
		c(1, "setp.le.f32 %p1, "+lit(-1)+", "+lit(math.Inf(-1))+"", "not.pred %p1, %p1"),
	})
}

func TestFloatArithmetic(t *testing.T) {
	nan, qnan := "0f7FC00000", "0fFFC00001"
	runCases(t, []evalCase{
		c(fbits(0.3), "add.rn.f32 %f10, "+lit(0.1)+", "+lit(0.2)),
		c(fbits(float64(float32(0.1))-float64(float32(0.2))), "sub.f32 %f10, "+lit(0.1)+", "+lit(0.2)),
		c(fbits(float64(float32(0.1)*float32(3))), "mul.rn.f32 %f10, "+lit(0.1)+", "+lit(3)),
		c(fbits(float64(float32(1)/float32(3))), "div.rn.f32 %f10, "+lit(1)+", "+lit(3)),
		c(fbits(float64(float32(1)/float32(3))), "rcp.rn.f32 %f10, "+lit(3)),
		c(fbits(math.Sqrt2), "sqrt.rn.f32 %f10, "+lit(2)),
		c(canonNaN, "sqrt.rn.f32 %f10, "+lit(-1)),
		c(canonNaN, "add.f32 %f10, "+qnan+", "+lit(1)), // NaN results are canonical
		c(canonNaN, "mul.rn.f32 %f10, "+lit(0)+", "+lit(math.Inf(1))),
		// a*b+c rounded once: the float64 sum lands on an f32 midpoint here
		c(0x1797c9cf, "fma.rn.f32 %f10, 0f00000007, "+lit(1e20)+", 0f00000007"),
		c(fbits(7), "fma.rn.f32 %f10, "+lit(2)+", "+lit(3)+", "+lit(1)),
		c(fbits(7), "mad.rn.f32 %f10, "+lit(2)+", "+lit(3)+", "+lit(1)),
		c(fbits(1), "min.f32 %f10, "+nan+", "+lit(1)),
		c(fbits(1), "max.f32 %f10, "+lit(1)+", "+nan),
		c(canonNaN, "min.f32 %f10, "+nan+", "+qnan),
		c(canonNaN, "min.NaN.f32 %f10, "+nan+", "+lit(1)),
		c(0x80000000, "min.f32 %f10, 0f00000000, 0f80000000"), // -0 < +0
		c(0x00000000, "max.f32 %f10, 0f80000000, 0f00000000"),
		c(0x7fc00001|0x80000000, "neg.f32 %f10, 0f7FC00001"), // neg and abs move bits
		c(0x7fc00001, "abs.f32 %f10, 0fFFC00001"),
		c(fbits(2), "ex2.approx.f32 %f10, "+lit(1)),
		c(fbits(3), "lg2.approx.f32 %f10, "+lit(8)),
		c(fbits(math.Inf(-1)), "lg2.approx.f32 %f10, "+lit(0)),
		c(fbits(0.5), "rsqrt.approx.f32 %f10, "+lit(4)),
		c(fbits(math.Inf(-1)), "rsqrt.approx.f32 %f10, 0f80000000"),
		c(fbits(math.Sin(1)), "sin.approx.f32 %f10, "+lit(1)),
		c(fbits(math.Cos(1)), "cos.approx.f32 %f10, "+lit(1)),
		c(fbits(math.Tanh(0.5)), "tanh.approx.f32 %f10, "+lit(0.5)),
		c(fbits(1)|0x80000000, "tanh.approx.f32 %f10, "+lit(-100)),
		c(fbits(2.5), "mov.f32 %f10, 2.5"),
		c(0x40200000, "mov.b32 %r10, 0f40200000"),
		c(0x40200000, "mov.b32 %r10, 0f40200000", "mov.b32 %f10, %r10"),
	})
}

func TestConversions(t *testing.T) {
	nan := "0f7FC00000"
	f := func(v float64) string { return lit(v) }
	runCases(t, []evalCase{
		c(2, "cvt.rzi.s32.f32 %r10, "+f(2.5)),
		c(0xfffffffe, "cvt.rzi.s32.f32 %r10, "+f(-2.5)),
		c(2, "cvt.rni.s32.f32 %r10, "+f(2.5)), // ties to even
		c(0xfffffffe, "cvt.rni.s32.f32 %r10, "+f(-2.5)),
		c(4, "cvt.rni.s32.f32 %r10, "+f(3.5)),
		c(2, "cvt.rmi.s32.f32 %r10, "+f(2.5)),
		c(0xfffffffd, "cvt.rmi.s32.f32 %r10, "+f(-2.5)),
		c(3, "cvt.rpi.s32.f32 %r10, "+f(2.5)),
		c(0x7fffffff, "cvt.rzi.s32.f32 %r10, "+f(1e20)), // float -> int saturates
		c(minS32, "cvt.rzi.s32.f32 %r10, "+f(-1e20)),
		c(0, "cvt.rzi.u32.f32 %r10, "+f(-1)),
		c(0xffffffff, "cvt.rzi.u32.f32 %r10, "+f(5e9)),
		c(0, "cvt.rzi.s32.f32 %r10, "+nan), // NaN -> 0 ...
		c(0, "cvt.rzi.u32.f32 %r10, "+nan),
		c(1<<63, "cvt.rzi.s64.f32 %rd10, "+nan), // ... but 1<<63 for 64-bit destinations
		c(1<<63, "cvt.rzi.u64.f32 %rd10, "+nan),
		c(math.MaxInt64, "cvt.rzi.s64.f32 %rd10, "+f(math.Inf(1))),
		c(math.MaxUint64, "cvt.rzi.u64.f32 %rd10, "+f(1e30)),
		c(0xffffffffffffff85, "cvt.rzi.s64.f32 %rd10, "+f(-123.9)),
		c(0x7f, "cvt.rzi.s8.f32 %r10, "+f(300)),        // s8 saturates, then
		c(0xffffff80, "cvt.rzi.s8.f32 %r10, "+f(-300)), // sign-extends into the register
		c(fbits(4294967296), "cvt.rn.f32.u32 %f10, 4294967295"),
		c(0x4f7fffff, "cvt.rz.f32.u32 %f10, 4294967295"),
		c(0x4f7fffff, "cvt.rm.f32.u32 %f10, 4294967295"),
		c(fbits(-16777218), "cvt.rm.f32.s32 %f10, -16777217"),
		c(fbits(-16777216), "cvt.rp.f32.s32 %f10, -16777217"),
		c(fbits(16777218), "cvt.rp.f32.s32 %f10, 16777217"),
		c(fbits(-16777216), "cvt.rz.f32.s32 %f10, -16777217"),
		c(fbits(-1), "cvt.rn.f32.s32 %f10, -1"),
		c(fbits(-1), "cvt.rn.f32.s64 %f10, -1"),
		c(fbits(18446744073709551615), "cvt.rn.f32.u64 %f10, 18446744073709551615"),
		c(0xffffffff, "mov.u32 %r11, 4294967295", "cvt.u64.u32 %rd10, %r11"),
		c(0xffffffffffffffff, "mov.s32 %r11, -1", "cvt.s64.s32 %rd10, %r11"),
		c(0x89abcdef, "mov.u64 %rd11, 0x0123456789abcdef", "cvt.u32.u64 %r10, %rd11"),
		c(0x89abcdef, "mov.u64 %rd11, 0x0123456789abcdef", "cvt.u64.u32 %rd10, %rd11"), // low bits of a wider source
		c(0xffffffff89abcdef, "mov.u64 %rd11, 0x0123456789abcdef", "cvt.s64.s32 %rd10, %rd11"),
		c(0x89abcdef, "mov.u64 %rd11, 0x0123456789abcdef", "cvt.u32.u32 %r10, %rd11"),
		c(0, "cvt.sat.u8.s32 %r10, -5"),
		c(255, "cvt.sat.u8.s32 %r10, 300"),
		c(0x2c, "cvt.u8.s32 %r10, 300"),
		c(0xffffffc8, "cvt.s8.s32 %r10, 200"),
		c(0x7fffffff, "cvt.sat.s32.u32 %r10, 4294967295"),
		c(0, "cvt.sat.u32.s32 %r10, -1"),
		c(0x7fffffff, "cvt.sat.s32.s64 %r10, 9223372036854775807"),
		c(minS32, "cvt.sat.s32.s64 %r10, -9223372036854775807"),
		c(0xffffffff, "cvt.sat.u32.u64 %r10, 18446744073709551615"),
		c(fbits(2), "cvt.rni.f32.f32 %f10, "+f(2.5)),
		c(fbits(-1), "cvt.rmi.f32.f32 %f10, "+f(-0.5)),
		c(0x80000000, "cvt.rpi.f32.f32 %f10, "+f(-0.5)), // -0
		c(fbits(-2), "cvt.rzi.f32.f32 %f10, "+f(-2.9)),
		c(0, "cvt.sat.f32.f32 %f10, "+nan),
		c(fbits(1), "cvt.sat.f32.f32 %f10, "+f(2)),
		c(0, "cvt.sat.f32.f32 %f10, "+f(-3)),
		c(fbits(0.25), "cvt.sat.f32.f32 %f10, "+f(0.25)),
	})
}

// TestFma32: fma32 is a*b+c rounded once, against math/big, on random operands whose sums
// cancel, underflow into subnormals and land on f32 midpoints after a float64 rounding.
func TestFma32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	exact := func(a, b, c float32) float32 {
		f := func(v float32) *big.Float { return new(big.Float).SetPrec(600).SetFloat64(float64(v)) }
		e := f(a)
		e.Add(e.Mul(e, f(b)), f(c))
		v, _ := e.Float32()
		return v
	}
	rnd := func() float32 {
		m := float32(1 + r.Float64())
		if r.IntN(2) == 0 {
			m = -m
		}
		return float32(math.Ldexp(float64(m), r.IntN(120)-100))
	}
	bad := 0
	for i := 0; i < 200000; i++ {
		a, b := rnd(), rnd()
		var c float32
		switch i % 5 {
		case 4: // a*b is an exact f32 midpoint, c a nudge the float64 sum loses
			k1, k2, e := 2*r.IntN(2048)+1, 2*r.IntN(2048)+1, r.IntN(40)-20
			a = float32(math.Ldexp(1+float64(k1)/4096, e))
			b = float32(math.Ldexp(1+float64(k2)/4096, -e))
			c = float32(math.Ldexp(1, -60-r.IntN(40)))
			if r.IntN(2) == 0 {
				c = -c
			}
		case 0:
			c = rnd()
		case 1: // cancellation
			c = -a * b
		case 2: // a tiny addend: the float64 sum is inexact
			c = float32(math.Ldexp(float64(rnd()), -40))
		default:
			c = math.Float32frombits(r.Uint32() & 0x807fffff) // subnormal
		}
		got, want := fma32(a, b, c), exact(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			if bad++; bad < 5 {
				t.Errorf("fma(%g, %g, %g) = %g, want %g", a, b, c, got, want)
			}
		}
	}
	// the case kernels/emu's float32(math.FMA(...)) rounds twice
	if got := fma32(math.Float32frombits(7), 1e20, math.Float32frombits(7)); math.Float32bits(got) != 0x1797c9cf {
		t.Errorf("midpoint case: %#x", math.Float32bits(got))
	}
}
