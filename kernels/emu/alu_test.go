package emu

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

func fb(f float32) uint64 { return uint64(math.Float32bits(f)) }

func s32(v int32) uint64 { return uint64(uint32(v)) }

// TestALUSemantics checks edge cases of the ALU ops against hand-computed PTX results.
func TestALUSemantics(t *testing.T) {
	nan := uint64(0x7FC00000)
	type tc struct {
		name string
		op   kir.Op
		t    kir.Type
		src  kir.Type // operand type where it differs from t (cvt, mulwide result)
		args []uint64
		want uint64
		cmp  kir.Cmp
	}
	cases := []tc{
		{"add wraps", kir.OpAdd, kir.U32, 0, []uint64{0xFFFFFFFF, 2}, 1, 0},
		{"sub s32", kir.OpSub, kir.S32, 0, []uint64{s32(-5), 7}, s32(-12), 0},
		{"mul.lo", kir.OpMul, kir.U32, 0, []uint64{0x10000, 0x10000}, 0, 0},
		{"mul.hi", kir.OpMulHi, kir.U32, 0, []uint64{0x10000, 0x10000}, 1, 0},
		{"mul.hi s32", kir.OpMulHi, kir.S32, 0, []uint64{s32(-2), 0x7FFFFFFF}, 0xFFFFFFFF, 0},
		{"mul.wide u32", kir.OpMulWide, kir.U32, 0, []uint64{0xFFFFFFFF, 2}, 0x1FFFFFFFE, 0},
		{"mul.wide s32", kir.OpMulWide, kir.S32, 0, []uint64{s32(-3), 4}, 0xFFFFFFFFFFFFFFF4, 0},
		{"div s32 truncates", kir.OpDiv, kir.S32, 0, []uint64{s32(-7), 2}, s32(-3), 0},
		{"rem s32", kir.OpRem, kir.S32, 0, []uint64{s32(-7), 2}, s32(-1), 0},
		{"div by zero", kir.OpDiv, kir.U32, 0, []uint64{9, 0}, 0xFFFFFFFF, 0},
		{"mad.lo", kir.OpMad, kir.U32, 0, []uint64{0x10000, 0x10001, 5}, 0x10005, 0},
		{"shr arithmetic", kir.OpShr, kir.S32, 0, []uint64{s32(-8), 1}, s32(-4), 0},
		{"shr logical", kir.OpShr, kir.U32, 0, []uint64{0x80000000, 31}, 1, 0},
		{"shl clamps", kir.OpShl, kir.U32, 0, []uint64{1, 32}, 0, 0},
		{"shr s32 clamps", kir.OpShr, kir.S32, 0, []uint64{s32(-8), 40}, 0xFFFFFFFF, 0},
		{"shl u64", kir.OpShl, kir.U64, 0, []uint64{1, 40}, 1 << 40, 0},
		{"min s32", kir.OpMin, kir.S32, 0, []uint64{s32(-1), 1}, s32(-1), 0},
		{"min u32", kir.OpMin, kir.U32, 0, []uint64{0xFFFFFFFF, 1}, 1, 0},
		{"max f32 NaN", kir.OpMax, kir.F32, 0, []uint64{nan, fb(2)}, fb(2), 0},
		{"min f32 NaN", kir.OpMin, kir.F32, 0, []uint64{fb(-3), nan}, fb(-3), 0},
		{"neg f32 zero", kir.OpNeg, kir.F32, 0, []uint64{fb(0)}, 0x80000000, 0},
		{"abs s32", kir.OpAbs, kir.S32, 0, []uint64{s32(-5)}, 5, 0},
		{"abs f32", kir.OpAbs, kir.F32, 0, []uint64{fb(-2.5)}, fb(2.5), 0},
		{"not b32", kir.OpNot, kir.B32, 0, []uint64{0x0F0F0F0F}, 0xF0F0F0F0, 0},
		{"xor u64", kir.OpXor, kir.U64, 0, []uint64{0xFF00000000, 0x0F00000001}, 0xF000000001, 0},
		{"setp.ne f32 NaN is false", kir.OpSetp, kir.F32, 0, []uint64{nan, fb(1)}, 0, kir.NE},
		{"setp.lt s32", kir.OpSetp, kir.S32, 0, []uint64{s32(-1), 0}, 1, kir.LT},
		{"setp.lt u32", kir.OpSetp, kir.U32, 0, []uint64{0xFFFFFFFF, 0}, 0, kir.LT},
		{"setp.ge f32", kir.OpSetp, kir.F32, 0, []uint64{fb(2), fb(2)}, 1, kir.GE},
		{"cvt.rzi.s32.f32", kir.OpCvt, kir.S32, kir.F32, []uint64{fb(-3.7)}, s32(-3), 0},
		{"cvt.u32.f32 negative", kir.OpCvt, kir.U32, kir.F32, []uint64{fb(-1)}, 0, 0},
		{"cvt.s32.f32 saturates", kir.OpCvt, kir.S32, kir.F32, []uint64{fb(1e10)}, 0x7FFFFFFF, 0},
		{"cvt.s32.f32 NaN", kir.OpCvt, kir.S32, kir.F32, []uint64{nan}, 0, 0},
		{"cvt.f32.s32", kir.OpCvt, kir.F32, kir.S32, []uint64{s32(-3)}, fb(-3), 0},
		{"cvt.f32.u32 rounds", kir.OpCvt, kir.F32, kir.U32, []uint64{16777217}, fb(16777216), 0},
		{"cvt.s64.s32 extends", kir.OpCvt, kir.S64, kir.S32, []uint64{s32(-1)}, math.MaxUint64, 0},
		{"cvt.u64.u32", kir.OpCvt, kir.U64, kir.U32, []uint64{0xFFFFFFFF}, 0xFFFFFFFF, 0},
		{"cvt.u32.u64 narrows", kir.OpCvt, kir.U32, kir.U64, []uint64{0x100000005}, 5, 0},
		{"bitcast", kir.OpBitcast, kir.U32, kir.F32, []uint64{fb(1)}, 0x3F800000, 0},
		{"floor", kir.OpFloor, kir.F32, 0, []uint64{fb(-1.5)}, fb(-2), 0},
		{"ceil", kir.OpCeil, kir.F32, 0, []uint64{fb(1.1)}, fb(2), 0},
		{"trunc", kir.OpTrunc, kir.F32, 0, []uint64{fb(-1.7)}, fb(-1), 0},
		{"round to even", kir.OpRound, kir.F32, 0, []uint64{fb(2.5)}, fb(2), 0},
		{"sqrt", kir.OpSqrt, kir.F32, 0, []uint64{fb(2)}, 0x3FB504F3, 0},
		{"rcp", kir.OpRcp, kir.F32, 0, []uint64{fb(4)}, fb(0.25), 0},
		{"div.rn f32", kir.OpDiv, kir.F32, 0, []uint64{fb(1), fb(3)}, 0x3EAAAAAB, 0},
		{"fma", kir.OpFma, kir.F32, 0, []uint64{fb(2), fb(3), fb(1)}, fb(7), 0},
		{"ex2", kir.OpEx2, kir.F32, 0, []uint64{fb(3)}, fb(8), 0},
		{"lg2", kir.OpLg2, kir.F32, 0, []uint64{fb(8)}, fb(3), 0},
		{"tanh", kir.OpTanh, kir.F32, 0, []uint64{fb(0)}, fb(0), 0},
		{"rsqrt", kir.OpRsqrt, kir.F32, 0, []uint64{fb(4)}, fb(0.5), 0},
	}
	b := kir.NewKernel("alu", kir.Target{})
	out := b.ParamPtr("out")
	for i, c := range cases {
		argT := c.t
		if c.src != kir.Invalid {
			argT = c.src
		}
		var args []kir.Value
		for j, a := range c.args {
			at := argT
			if (c.op == kir.OpShl || c.op == kir.OpShr) && j == 1 {
				at = kir.U32
			}
			args = append(args, b.Const(at, a))
		}
		rt := c.t
		switch c.op {
		case kir.OpSetp:
			rt = kir.Pred
		case kir.OpMulWide:
			rt = c.t.Wide()
		}
		d := b.NewReg(rt)
		b.Emit(&kir.Inst{Op: c.op, T: c.t, Dst: []kir.Value{d}, Args: args, Cmp: c.cmp})
		if rt == kir.Pred {
			d = b.Select(d, b.ConstU32(1), b.ConstU32(0))
		}
		b.St(kir.Global, b.Index(out, b.ConstU32(uint32(i)), 8), 0, d)
	}
	k := build(t, b)
	dev := newDev(t, 1)
	p := must[Ptr](t)(dev.Alloc(8 * len(cases)))
	if err := dev.Launch(k, [3]int{1}, [3]int{1}, 0, p); err != nil {
		t.Fatal(err)
	}
	w := must[[]uint32](t)(dev.ReadU32(p, 2*len(cases)))
	for i, c := range cases {
		got := uint64(w[2*i])
		if c.t.Size() == 8 || c.op == kir.OpMulWide {
			got |= uint64(w[2*i+1]) << 32
		}
		if got != c.want {
			t.Errorf("%s (%s.%s): got %#x, want %#x", c.name, c.op, c.t, got, c.want)
		}
	}
}

// TestVectorAndSharedAccess: v4 global loads, v2 shared stores/loads, a dynamic shared array,
// 64-bit loads and shuffles in up/idx mode.
func TestVectorAndSharedAccess(t *testing.T) {
	b := kir.NewKernel("vec", kir.Target{})
	in, out := b.ParamPtr("in"), b.ParamPtr("out")
	dyn := b.SharedDynamic("dyn", kir.F32, 16)
	tid := b.Tid(0)
	v := b.LdVec(kir.Global, kir.F32, b.Index(in, tid, 16), 0, 4) // in[4t..4t+3]
	base := b.SharedBase(dyn)
	addr := b.Mad(tid, b.ConstU32(8), base)
	b.St(kir.Shared, addr, 0, b.Add(v[0], v[1]), b.Add(v[2], v[3]))
	b.Barrier()
	// read the pair of the next thread (wrapping)
	nt := b.Rem(b.Add(tid, b.ConstU32(1)), b.NTid(0))
	p := b.LdVec(kir.Shared, kir.F32, b.Mad(nt, b.ConstU32(8), base), 0, 2)
	up := b.Shfl(kir.ShflUp, p[0], b.ConstU32(1))
	idx := b.ShflIdx(p[1], b.ConstU32(3))
	o := b.Index(out, tid, 16)
	b.St(kir.Global, o, 0, p[0], p[1], up, idx)
	k := build(t, b)
	d := newDev(t, 1)
	const n = 32
	xs := make([]float32, 4*n)
	for i := range xs {
		xs[i] = float32(i)
	}
	pin := must[Ptr](t)(d.AllocF32(xs))
	pout := must[Ptr](t)(d.Alloc(16 * n))
	if err := d.Launch(k, [3]int{1}, [3]int{n}, 8*n, pin, pout); err != nil {
		t.Fatal(err)
	}
	got := must[[]float32](t)(d.ReadF32(pout, 4*n))
	pair := func(t int) (float32, float32) {
		t %= n
		return xs[4*t] + xs[4*t+1], xs[4*t+2] + xs[4*t+3]
	}
	for i := 0; i < n; i++ {
		a0, a1 := pair(i + 1)
		u0 := a0
		if i > 0 {
			u0, _ = pair(i)
		}
		_, i1 := pair(4)
		want := []float32{a0, a1, u0, i1}
		for j := range want {
			if got[4*i+j] != want[j] {
				t.Fatalf("thread %d value %d: %v, want %v", i, j, got[4*i+j], want[j])
			}
		}
	}
	// not enough dynamic shared memory: the access is out of bounds
	if err := d.Launch(k, [3]int{1}, [3]int{n}, 8*(n-1), pin, pout); err == nil {
		t.Fatal("shared access beyond the dynamic size was accepted")
	}
}

// TestFastBinMatchesTable checks every fast-path closure against binTable's entry.
func TestFastBinMatchesTable(t *testing.T) {
	vals := []uint64{0, 1, 2, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff, 0x3f800000, 0xbf800000, 0x7fc00000,
		0x7f800000, 0x00000001, 0x1234567890, 0xffffffffffffffff}
	n := 0
	for op, m := range binTable {
		for ty, f := range m {
			g := fastBin(op, ty, 0, 1, 2)
			if g == nil {
				continue
			}
			n++
			th := &thread{r: make([]uint64, 3)}
			for _, x := range vals {
				for _, y := range vals {
					if ty.Size() == 4 {
						x, y = uint64(uint32(x)), uint64(uint32(y))
					}
					th.r[1], th.r[2] = x, y
					g(th)
					if want := f(x, y); th.r[0] != want {
						t.Fatalf("%v %v (%#x, %#x) = %#x, table says %#x", op, ty, x, y, th.r[0], want)
					}
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d fast ops checked", n)
	}
}
