package ptx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// samples lists one instruction per (op, type, modifier) combination the kir op table allows:
// every type of every op, every cvt/bitcast source, comparison, shuffle mode, fence level,
// special register, state space, volatility and vector width. Operand and result Values carry
// only their types (IDs are 0); materialize gives them registers. Control flow ops, which have
// bodies, are covered by controlKernel.
func samples() []*kir.Inst {
	var out []*kir.Inst
	for _, op := range kir.Ops() {
		info := op.Info()
		if info.Class == kir.ClassControl {
			continue
		}
		types := info.Types
		if len(types) == 0 {
			types = []kir.Type{kir.Invalid}
		}
		for _, t := range types {
			for _, in := range variants(op, t) {
				out = append(out, in)
			}
		}
	}
	return out
}

func shape(op kir.Op, t, src kir.Type, sp kir.Space) *kir.Inst {
	info := op.Info()
	typeOf := func(o kir.Operand) kir.Type {
		switch o {
		case kir.OperT, kir.OperVec:
			return t
		case kir.OperPred:
			return kir.Pred
		case kir.OperU32:
			return kir.U32
		case kir.OperWide:
			return t.Wide()
		case kir.OperAddr:
			return sp.AddrType()
		case kir.OperAny:
			return src
		}
		return kir.Invalid
	}
	in := &kir.Inst{Op: op, T: t, Space: sp}
	for _, o := range info.Args {
		in.Args = append(in.Args, kir.Value{T: typeOf(o)})
	}
	if info.Result != kir.OperNone {
		in.Dst = []kir.Value{{T: typeOf(info.Result)}}
	}
	return in
}

func variants(op kir.Op, t kir.Type) []*kir.Inst {
	one := func(mod func(in *kir.Inst)) *kir.Inst {
		in := shape(op, t, kir.Invalid, kir.Global)
		if mod != nil {
			mod(in)
		}
		return in
	}
	var out []*kir.Inst
	switch op {
	case kir.OpConst:
		for _, bits := range []uint64{0, 1, math.MaxUint32, math.MaxUint64, 1 << 31, uint64(math.Float32bits(-1.5)), 0x7fc00000} {
			out = append(out, one(func(in *kir.Inst) { in.Imm = bits }))
		}
	case kir.OpCvt, kir.OpBitcast:
		for _, src := range kir.Types() {
			ok := op.Allows(src) && src != t
			if op == kir.OpBitcast {
				ok = src != kir.Pred && src.Size() == t.Size()
			}
			if ok {
				out = append(out, shape(op, t, src, kir.Global))
			}
		}
	case kir.OpSetp:
		for c := kir.EQ; c <= kir.GE; c++ {
			out = append(out, one(func(in *kir.Inst) { in.Cmp = c }))
		}
	case kir.OpShfl:
		for m := kir.ShflDown; m <= kir.ShflIdx; m++ {
			out = append(out, one(func(in *kir.Inst) { in.Shfl = m }))
		}
	case kir.OpMembar:
		for l := kir.LevelCTA; l <= kir.LevelSys; l++ {
			out = append(out, one(func(in *kir.Inst) { in.Level = l }))
		}
	case kir.OpSReg:
		for s := kir.TidX; s.Valid(); s++ {
			out = append(out, one(func(in *kir.Inst) { in.SReg = s }))
		}
	case kir.OpBar:
		out = append(out, one(nil), one(func(in *kir.Inst) { in.Imm = 15 }))
	case kir.OpLd, kir.OpSt:
		for _, sp := range []kir.Space{kir.Global, kir.Shared} {
			for _, vol := range []bool{false, true} {
				for _, n := range []int{1, 2, 4} {
					if _, ok := vec(t, n); !ok {
						continue
					}
					in := shape(op, t, kir.Invalid, sp)
					in.Volatile = vol
					if op == kir.OpLd {
						in.Dst = make([]kir.Value, n)
						for j := range in.Dst {
							in.Dst[j].T = t
						}
					} else {
						for len(in.Args) < n+1 {
							in.Args = append(in.Args, kir.Value{T: t})
						}
					}
					out = append(out, in)
				}
			}
		}
	case kir.OpAtomAdd, kir.OpAtomCAS, kir.OpAtomExch, kir.OpAtomMin, kir.OpAtomMax:
		out = append(out, shape(op, t, kir.Invalid, kir.Global), shape(op, t, kir.Invalid, kir.Shared))
	default:
		out = append(out, one(nil))
	}
	return out
}

// TestEveryOpHasARow fails when an op of the kir op table, at any type and modifier it allows,
// has no PTX template.
func TestEveryOpHasARow(t *testing.T) {
	for _, op := range kir.Ops() {
		if _, ok := table[op]; !ok {
			t.Errorf("op %s has no row in the PTX table", op)
		}
	}
	for _, in := range samples() {
		r, ok := table[in.Op]
		if !ok {
			continue
		}
		if r.ins(in) == "" {
			t.Errorf("%s: no PTX instruction", in)
		}
	}
	for _, op := range []kir.Op{kir.OpIf, kir.OpWhile, kir.OpBreak, kir.OpContinue, kir.OpReturn} {
		if table[op].ins(&kir.Inst{Op: op}) == "" {
			t.Errorf("%s: no control row", op)
		}
	}
	for _, ty := range kir.OpFor.Info().Types {
		if table[kir.OpFor].ins(&kir.Inst{Op: kir.OpFor, T: ty}) == "" {
			t.Errorf("for at %s: no control row", ty)
		}
	}
}

// TestTemplates pins a few rows to their PTX (written from the PTX ISA, not from the table).
func TestTemplates(t *testing.T) {
	v := func(ty kir.Type) kir.Value { return kir.Value{T: ty} }
	cases := []struct {
		in   *kir.Inst
		want string
	}{
		{&kir.Inst{Op: kir.OpAdd, T: kir.F32}, "add.rn.f32"},
		{&kir.Inst{Op: kir.OpMul, T: kir.S32}, "mul.lo.s32"},
		{&kir.Inst{Op: kir.OpMul, T: kir.F32}, "mul.rn.f32"},
		{&kir.Inst{Op: kir.OpDiv, T: kir.F32}, "div.rn.f32"},
		{&kir.Inst{Op: kir.OpShr, T: kir.S64}, "shr.s64"},
		{&kir.Inst{Op: kir.OpShl, T: kir.S32}, "shl.b32"},
		{&kir.Inst{Op: kir.OpAnd, T: kir.Pred}, "and.pred"},
		{&kir.Inst{Op: kir.OpXor, T: kir.U64}, "xor.b64"},
		{&kir.Inst{Op: kir.OpSetp, T: kir.F32, Cmp: kir.NE}, "setp.ne.f32"},
		{&kir.Inst{Op: kir.OpSetp, T: kir.U32, Cmp: kir.LT}, "setp.lt.u32"},
		{&kir.Inst{Op: kir.OpCvt, T: kir.S32, Args: []kir.Value{v(kir.F32)}}, "cvt.rzi.s32.f32"},
		{&kir.Inst{Op: kir.OpCvt, T: kir.F32, Args: []kir.Value{v(kir.U64)}}, "cvt.rn.f32.u64"},
		{&kir.Inst{Op: kir.OpCvt, T: kir.U64, Args: []kir.Value{v(kir.S32)}}, "cvt.s64.s32"},
		{&kir.Inst{Op: kir.OpCvt, T: kir.S64, Args: []kir.Value{v(kir.U32)}}, "cvt.u64.u32"},
		{&kir.Inst{Op: kir.OpCvt, T: kir.S32, Args: []kir.Value{v(kir.U64)}}, "cvt.u32.u64"},
		{&kir.Inst{Op: kir.OpBitcast, T: kir.F32, Args: []kir.Value{v(kir.U32)}}, "mov.b32"},
		{&kir.Inst{Op: kir.OpRound, T: kir.F32}, "cvt.rni.f32.f32"},
		{&kir.Inst{Op: kir.OpEx2, T: kir.F32}, "ex2.approx.f32"},
		{&kir.Inst{Op: kir.OpAtomCAS, T: kir.U32, Space: kir.Shared}, "atom.shared.cas.b32"},
		{&kir.Inst{Op: kir.OpAtomExch, T: kir.F32}, "atom.global.exch.b32"},
		{&kir.Inst{Op: kir.OpAtomAdd, T: kir.F32}, "atom.global.add.f32"},
		{&kir.Inst{Op: kir.OpLd, T: kir.U32, Volatile: true, Dst: []kir.Value{v(kir.U32)}}, "ld.volatile.global.u32"},
		{&kir.Inst{Op: kir.OpLd, T: kir.F32, Dst: make([]kir.Value, 4)}, "ld.global.v4.f32"},
		{&kir.Inst{Op: kir.OpSt, T: kir.U64, Space: kir.Shared, Args: make([]kir.Value, 3)}, "st.shared.v2.u64"},
		{&kir.Inst{Op: kir.OpShfl, T: kir.F32, Shfl: kir.ShflBfly}, "shfl.sync.bfly.b32"},
		{&kir.Inst{Op: kir.OpMembar, Level: kir.LevelGL}, "membar.gl"},
		{&kir.Inst{Op: kir.OpBar}, "bar.sync 0"},
	}
	for _, c := range cases {
		if got := table[c.in.Op].ins(c.in); got != c.want {
			t.Errorf("%s: got %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []*kir.Inst{
		{Op: kir.OpLd, T: kir.U64, Dst: make([]kir.Value, 4)},
		{Op: kir.OpBar, Imm: 16},
		{Op: kir.OpAdd, T: kir.Pred},
	} {
		if got := table[in.Op].ins(in); got != "" {
			t.Errorf("%s: got %q, want no instruction", in, got)
		}
	}
}

// materialize emits a copy of the sample into b: operands become constants (addresses: the
// global pointer or the shared base), results fresh registers, and every result is stored
// (so nothing is dead before ptxas).
func materialize(b *kir.Builder, s *kir.Inst, gptr, sbase, sink kir.Value) {
	in := *s
	in.Args = make([]kir.Value, len(s.Args))
	in.Dst = make([]kir.Value, len(s.Dst))
	for j, a := range s.Args {
		switch {
		case j == 0 && (in.Op == kir.OpLd || in.Op == kir.OpSt || in.Op.Info().Class == kir.ClassAtomic):
			in.Args[j] = gptr
			if in.Space == kir.Shared {
				in.Args[j] = sbase
			}
		case a.T == kir.Pred:
			in.Args[j] = b.True()
		default:
			in.Args[j] = b.Const(a.T, 3)
		}
	}
	for j, d := range s.Dst {
		in.Dst[j] = b.NewReg(d.T)
	}
	if in.Op == kir.OpParam {
		k := b.Kernel()
		in.Imm = uint64(len(k.Params))
		k.Params = append(k.Params, kir.Param{Name: fmt.Sprintf("p%d", len(k.Params)), T: in.T})
	}
	b.Emit(&in)
	for _, d := range in.Dst {
		switch {
		case d.T == kir.Pred:
			b.St(kir.Global, sink, 0, b.Select(d, b.ConstU32(1), b.ConstU32(0)))
		default:
			b.St(kir.Global, sink, 0, d)
		}
	}
}

// opKernels builds the samples into kernels of at most per instructions each.
func opKernels(t *testing.T, per int) []*kir.Kernel {
	var ks []*kir.Kernel
	all := samples()
	for lo := 0; lo < len(all); lo += per {
		b := kir.NewKernel(fmt.Sprintf("ops%d", len(ks)), kir.Target{})
		gptr, sink := b.ParamPtr("g"), b.ParamPtr("sink")
		arr := b.Shared("buf", kir.U64, 8)
		sbase := b.SharedBase(arr)
		for _, s := range all[lo:min(lo+per, len(all))] {
			materialize(b, s, gptr, sbase, sink)
		}
		ks = append(ks, build(t, b))
	}
	return append(ks, controlKernel(t))
}

// controlKernel uses every control flow row: For at every integer type with Break and
// Continue, While with a condition block, If with and without Else, nested loops, Return.
func controlKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("control", kir.Target{})
	out := b.ParamPtr("out")
	tid := b.Tid(0)
	acc := b.Var(b.ConstU32(0))
	for _, ty := range kir.OpFor.Info().Types {
		b.For(b.Const(ty, 0), b.Const(ty, 10), b.Const(ty, 1), func(i kir.Value) {
			b.If(b.Eq(i, b.Const(ty, 7)), func() { b.Break() })
			b.IfElse(b.Eq(b.And(i, b.Const(ty, 1)), b.Const(ty, 0)), func() { b.Continue() }, func() {
				b.Set(acc, b.Add(acc, b.Cvt(i, kir.U32)))
			})
		})
	}
	n := b.Var(tid)
	b.While(func() kir.Value { return b.Lt(n, b.ConstU32(100)) }, func() {
		b.Set(n, b.Add(n, b.ConstU32(3)))
		b.For(b.ConstU32(0), n, b.ConstU32(1), func(j kir.Value) {
			b.If(b.Gt(j, b.ConstU32(5)), func() { b.Break() })
			b.Set(acc, b.Add(acc, j))
		})
		b.If(b.Eq(n, b.ConstU32(50)), func() { b.Continue() })
	})
	b.Loop(func() { b.Break() })
	b.If(b.Eq(acc, b.ConstU32(12345)), func() { b.Return() })
	b.Store(out, tid, acc)
	return build(t, b)
}

// TestEveryRowAssembles renders every sample (and the control flow kernel) and assembles the
// module with ptxas for sm_80 and sm_90.
func TestEveryRowAssembles(t *testing.T) {
	bin := needPtxas(t)
	ks := opKernels(t, 150)
	for _, arch := range archs {
		src, _ := assemble(t, bin, arch, ks...)
		if n := strings.Count(src, ".entry"); n != len(ks) {
			t.Errorf("%s: %d entries, want %d", arch, n, len(ks))
		}
	}
	if n := len(samples()); n < 300 {
		t.Errorf("only %d samples: the sample generator lost rows", n)
	}
}
