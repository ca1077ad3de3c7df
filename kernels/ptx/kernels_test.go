package ptx

import (
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// vscaleKernel is the persistent protocol wrapping a vector-scale tile body: tile t computes
// y[t*ntid+tid] = a*x[t*ntid+tid] for indexes below n.
func vscaleKernel(t *testing.T, tg kir.Target) *kir.Kernel {
	b := kir.NewKernel("vscale", tg)
	ctl, x, y := b.ParamPtr("ctl"), b.ParamPtr("x"), b.ParamPtr("y")
	a, n := b.ParamF32("a"), b.ParamU32("n")
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		i := b.Add(b.Mul(tile, b.NTid(0)), b.Tid(0))
		b.If(b.Lt(i, n), func() { b.Store(y, i, b.Mul(a, b.LoadF32(x, i))) })
	})
	return build(t, b)
}

// protocolTileKernel is kernels/kir/protocol's test kernel (spin gate, For loop, trace).
func protocolTileKernel(t *testing.T) *kir.Kernel {
	const threads, gateFrom = 64, 20
	b := kir.NewKernel("tiles", kir.Target{MaxRegs: 64, MaxThreads: threads})
	ctl, trace := b.ParamPtr("ctl"), b.ParamPtr("trace")
	in, out, count, gate := b.ParamPtr("in"), b.ParamPtr("out"), b.ParamPtr("count"), b.ParamPtr("gate")
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		b.If(b.Ge(tile, b.ConstU32(gateFrom)), func() {
			b.While(func() kir.Value {
				return b.Eq(b.LoadVolatileU32(gate, b.ConstU32(0)), b.ConstU32(0))
			}, func() {})
		})
		i := b.Add(b.Mul(tile, b.ConstU32(threads)), b.Tid(0))
		x := b.LoadF32(in, i)
		acc := b.Var(b.ConstF32(0))
		b.For(b.ConstU32(0), b.ConstU32(8), b.ConstU32(1), func(k kir.Value) {
			b.Set(acc, b.Add(acc, b.Mul(x, b.Cvt(k, kir.F32))))
		})
		b.Store(out, i, b.Add(acc, b.Cvt(tile, kir.F32)))
		b.If(b.Eq(b.Tid(0), b.ConstU32(0)), func() { b.AtomicAdd(count, tile, b.ConstU32(1)) })
	}, protocol.Options{Trace: trace})
	return build(t, b)
}

// TestProtocolKernel: the persistent vector-scale kernel assembles for sm_80 and sm_90 within
// .maxnreg 64 without spills, with the protocol's instructions in its PTX.
func TestProtocolKernel(t *testing.T) {
	bin := needPtxas(t)
	k := vscaleKernel(t, kir.Target{MaxRegs: 64, MaxThreads: 256})
	for _, arch := range archs {
		src, res := assemble(t, bin, arch, k)
		r := res["vscale"]
		t.Logf("%s: %d registers, %d bytes smem, stack %d, spills %d/%d", arch, r.Registers,
			r.SharedBytes, r.StackBytes, r.SpillStores, r.SpillLoads)
		if r.Registers > 64 || r.Registers == 0 {
			t.Errorf("%s: %d registers, want 1..64", arch, r.Registers)
		}
		if r.SpillStores != 0 || r.SpillLoads != 0 || r.StackBytes != 0 {
			t.Errorf("%s: spills %d/%d bytes, stack %d bytes; want none", arch, r.SpillStores, r.SpillLoads, r.StackBytes)
		}
		if _, static := k.SharedLayout(); r.SharedBytes != static {
			t.Errorf("%s: %d bytes smem, the kir layout has %d", arch, r.SharedBytes, static)
		}
		asmcheck(t, "protocol "+arch, src, []string{
			`ld\.volatile\.global\.u32 %r\d+, \[%rd\d+\+12\];`, // yield (word 3)
			`ld\.volatile\.global\.u32 %r\d+, \[%rd\d+\];`,     // this SM's mask word
			`atom\.global\.add\.u32 %r\d+, \[%rd\d+\], %r\d+;`, // next_tile (word 0)
			`atom\.global\.add\.u32 %r\d+, \[%rd\d+\+8\], `,    // done (word 2)
			`mov\.u32 %r\d+, %smid;`,
			`(?m)^\tbar\.sync 0;$`,
			`membar\.gl;`,
			`\.maxnreg 64\n`,
			`\.maxntid 256, 1, 1\n`,
			`cvta\.to\.global\.u64`,
			`st\.shared\.u32 \[%r\d+\], %r\d+;`,
			`mul\.rn\.f32`,
		}, []string{`\.local`, `fma`, `\.target sm_[^89]`})
	}
}

// TestExampleKernels: the kernels of the emulator's and the protocol's tests render and
// assemble (one module, both targets).
func TestExampleKernels(t *testing.T) {
	bin := needPtxas(t)
	ks := []*kir.Kernel{vaddKernel(t), reduceKernel(t), ticketsKernel(t), spinKernel(t),
		protocolTileKernel(t), vec4Kernel(t), dynSharedKernel(t)}
	for _, arch := range archs {
		_, res := assemble(t, bin, arch, ks...)
		for _, k := range ks {
			r := res[k.Name]
			if r.SpillStores != 0 || r.SpillLoads != 0 {
				t.Errorf("%s %s: spills %d/%d", arch, k.Name, r.SpillStores, r.SpillLoads)
			}
			// A module-scope .extern .shared array (dyn's) makes ptxas round every kernel's
			// static shared block up to its alignment.
			if _, static := k.SharedLayout(); r.SharedBytes < static || r.SharedBytes > (static+15)/16*16 {
				t.Errorf("%s %s: %d bytes smem, the kir layout has %d", arch, k.Name, r.SharedBytes, static)
			}
			if k.Target.MaxRegs > 0 && r.Registers > k.Target.MaxRegs {
				t.Errorf("%s %s: %d registers over .maxnreg %d", arch, k.Name, r.Registers, k.Target.MaxRegs)
			}
		}
	}
}

func vaddKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("vadd", kir.Target{})
	x, y, z, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("z"), b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
	b.If(b.Lt(i, n), func() {
		b.Store(z, i, b.Add(b.LoadF32(x, i), b.LoadF32(y, i)))
	})
	return build(t, b)
}

// reduceKernel is kernels/emu's block reduction: strided For loop, shuffles, shared memory,
// barrier, 2D grid and block.
func reduceKernel(t *testing.T) *kir.Kernel {
	const perBlock, threads = 1024, 256
	b := kir.NewKernel("reduce", kir.Target{MaxThreads: threads})
	x, out := b.ParamPtr("x"), b.ParamPtr("out")
	partial := b.Shared("partial", kir.F32, threads/32)
	tid := b.FlatTid()
	blk := b.Add(b.Mul(b.CtaID(1), b.NCtaID(0)), b.CtaID(0))
	base := b.Mul(blk, b.ConstU32(perBlock))
	acc := b.Var(b.ConstF32(0))
	b.For(tid, b.ConstU32(perBlock), b.ConstU32(threads), func(i kir.Value) {
		b.Set(acc, b.Add(acc, b.LoadF32(x, b.Add(base, i))))
	})
	v := acc
	for off := 16; off >= 1; off /= 2 {
		v = b.Add(v, b.ShflDown(v, off))
	}
	lane, warp := b.LaneID(), b.Div(tid, b.ConstU32(32))
	b.If(b.Eq(lane, b.ConstU32(0)), func() { b.StoreShared(partial, warp, v) })
	b.Barrier()
	b.If(b.Lt(tid, b.ConstU32(32)), func() {
		w := b.Var(b.ConstF32(0))
		b.If(b.Lt(tid, b.ConstU32(threads/32)), func() { b.Set(w, b.LoadShared(partial, tid)) })
		s := b.WarpReduce(kir.OpAdd, w)
		b.If(b.Eq(tid, b.ConstU32(0)), func() { b.Store(out, blk, s) })
	})
	return build(t, b)
}

func ticketsKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("tickets", kir.Target{})
	ctr, seen, fsum := b.ParamPtr("ctr"), b.ParamPtr("seen"), b.ParamPtr("fsum")
	old := b.AtomicAdd(ctr, b.ConstU32(0), b.ConstU32(1))
	b.AtomicAdd(seen, old, b.ConstU32(1))
	b.AtomicAdd(fsum, b.ConstU32(0), b.ConstF32(0.5))
	b.Atom(kir.OpAtomMax, kir.Global, b.Index(ctr, b.ConstU32(1), 4), 0, old)
	return build(t, b)
}

func spinKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("spin", kir.Target{})
	flag, out := b.ParamPtr("flag"), b.ParamPtr("out")
	b.While(func() kir.Value { return b.Eq(b.LoadVolatileU32(flag, b.ConstU32(0)), b.ConstU32(0)) }, func() {})
	b.Store(out, b.Tid(0), b.LoadVolatileU32(flag, b.ConstU32(0)))
	return build(t, b)
}

// vec4Kernel copies 4 floats per thread with 128-bit loads and stores.
func vec4Kernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("copy4", kir.Target{})
	x, y := b.ParamPtr("x"), b.ParamPtr("y")
	i := b.Mul(b.Tid(0), b.ConstU32(4))
	v := b.LdVec(kir.Global, kir.F32, b.Index(x, i, 4), 0, 4)
	b.St(kir.Global, b.Index(y, i, 4), 16, v...)
	return build(t, b)
}

// dynSharedKernel has a static and a dynamic shared array.
func dynSharedKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("dyn", kir.Target{})
	out := b.ParamPtr("out")
	st := b.SharedAligned("flag", kir.U32, 3, 4)
	dy := b.SharedDynamic("rows", kir.F32, 16)
	tid := b.Tid(0)
	b.StoreShared(dy, tid, b.Cvt(tid, kir.F32))
	b.StoreShared(st, b.ConstU32(2), tid)
	b.Barrier()
	b.Store(out, tid, b.Add(b.LoadShared(dy, tid), b.Cvt(b.LoadShared(st, b.ConstU32(2)), kir.F32)))
	return build(t, b)
}

// TestAsmChecks pins what kernels must and must not contain (Go's test/codegen, on PTX).
func TestAsmChecks(t *testing.T) {
	asmcheck(t, "copy4", render(t, vec4Kernel(t)),
		[]string{`ld\.global\.v4\.f32 \{%f1, %f2, %f3, %f4\}, \[%rd\d+\];`,
			`st\.global\.v4\.f32 \[%rd\d+\+16\], \{%f1, %f2, %f3, %f4\};`},
		[]string{`\.local`, `\.maxnreg`, `\.maxntid`})
	asmcheck(t, "vadd", render(t, vaddKernel(t)),
		[]string{`\.version 7\.8\n`, `\.target sm_80\n`, `\.address_size 64\n`,
			`\.visible \.entry vadd\(\n\t\.param \.u64 vadd_param_0,`, `\.param \.u32 vadd_param_3\n\)`,
			`\.reg \.pred %p<2>;`, `\.reg \.f32 %f<4>;`, `setp\.lt\.u32 %p1, %r\d+, %r1;`,
			`@!%p1 bra \$L__endif1;`, `add\.rn\.f32 %f3, %f1, %f2;`},
		[]string{`\.local`, `\.shared`})
	asmcheck(t, "reduce", render(t, reduceKernel(t)),
		[]string{`shfl\.sync\.down\.b32 %f\d+, %f\d+, %r\d+, 31, 0xffffffff;`,
			`shfl\.sync\.bfly\.b32 %f\d+, %f\d+, %r\d+, 31, 0xffffffff;`,
			`\.shared \.align 16 \.b8 reduce_smem\[32\];`, `mov\.u32 %r\d+, reduce_smem;`,
			`mov\.u32 %r\d+, %laneid;`, `(?m)^\$L__for\d+:$`},
		[]string{`\.local`})
	asmcheck(t, "dyn", render(t, dynSharedKernel(t)),
		[]string{`\.extern \.shared \.align 16 \.b8 dyn_dyn_smem\[\];`, `mov\.u32 %r\d+, dyn_dyn_smem;`,
			`\.shared \.align 16 \.b8 dyn_smem\[16\];`, `st\.shared\.u32 \[%r\d+\+8\], %r1;`},
		nil)

	b := kir.NewKernel("consts", kir.Target{Arch: "sm_90", MaxRegs: 32})
	out := b.ParamPtr("out")
	p := b.Lt(b.Tid(0), b.ConstU32(4))
	b.Store(out, b.ConstU32(0), b.Select(p, b.ConstF32(1), b.ConstF32(-2.5)))
	b.Store(out, b.ConstU32(1), b.Select(b.True(), b.ConstS32(-7), b.ConstS32(2147483647)))
	b.Store(out, b.ConstU32(2), b.ConstU64(1<<63+5))
	b.Store(out, b.ConstU32(3), b.Const(kir.S64, uint64(1<<64-3)))
	b.Store(out, b.ConstU32(4), b.Fma(b.ConstF32(2), b.ConstF32(3), b.ConstF32(4)))
	asmcheck(t, "consts", render(t, build(t, b)),
		[]string{`\.target sm_90\n`, `\.maxnreg 32\n`, `mov\.f32 %f\d+, 0f3F800000;`,
			`mov\.f32 %f\d+, 0fC0200000;`, `selp\.f32 %f\d+, %f\d+, %f\d+, %p1;`,
			`mov\.pred %p\d+, 1;`, `mov\.s32 %r\d+, -7;`, `mov\.s32 %r\d+, 2147483647;`,
			`mov\.u64 %rd\d+, 9223372036854775813;`, `mov\.s64 %rd\d+, -3;`,
			`fma\.rn\.f32 %f\d+, %f\d+, %f\d+, %f\d+;`},
		[]string{`\.maxntid`})
}

// TestRenderErrors: what PTX cannot express is an error naming the instruction, not a panic.
func TestRenderErrors(t *testing.T) {
	mk := func(name string, f func(b *kir.Builder)) *kir.Kernel {
		b := kir.NewKernel(name, kir.Target{})
		f(b)
		return build(t, b)
	}
	ld4 := mk("ld4", func(b *kir.Builder) {
		p := b.ParamPtr("p")
		v := b.LdVec(kir.Global, kir.U64, p, 0, 4)
		b.St(kir.Global, p, 0, v[3])
	})
	bar16 := mk("bar16", func(b *kir.Builder) { b.Emit(&kir.Inst{Op: kir.OpBar, Imm: 16}) })
	vadd := vaddKernel(t)
	cases := []struct {
		name string
		ks   []*kir.Kernel
		arch string
		want string
	}{
		{"v4 of u64", []*kir.Kernel{ld4}, "", "ld.global.u64"},
		{"v4 of u64 reason", []*kir.Kernel{ld4}, "", "128 bits"},
		{"barrier 16", []*kir.Kernel{bar16}, "", "barrier 16"},
		{"old target", []*kir.Kernel{vadd}, "sm_70", "sm_75"},
		{"bad target", []*kir.Kernel{vadd}, "compute_80", "sm_XX"},
		{"two of a name", []*kir.Kernel{vadd, vadd}, "", `two kernels named "vadd"`},
		{"none", nil, "", "no kernels"},
		{"nil", []*kir.Kernel{nil}, "", "nil"},
		{"arch conflict", []*kir.Kernel{mk("k90", func(b *kir.Builder) { b.Kernel().Target.Arch = "sm_90" })}, "sm_80", "targets sm_90"},
		{"maxnreg", []*kir.Kernel{mk("r", func(b *kir.Builder) { b.Kernel().Target.MaxRegs = 256 })}, "", ".maxnreg 256"},
		{"maxntid", []*kir.Kernel{mk("n", func(b *kir.Builder) { b.Kernel().Target.MaxThreads = 2048 })}, "", ".maxntid 2048"},
		{"symbol clash", []*kir.Kernel{dynSharedKernel(t), mk("dyn_dyn_smem", func(*kir.Builder) {})}, "", "two kernels named"},
		{"name", []*kir.Kernel{mk("a-b", func(*kir.Builder) {})}, "", "not a PTX identifier"},
		{"unverified", []*kir.Kernel{{Name: "bad", Regs: []kir.Type{kir.Invalid}, Body: []*kir.Inst{{Op: kir.OpAdd, T: kir.U32}}}}, "", "verify"},
	}
	for _, c := range cases {
		_, err := RenderModule(c.ks, c.arch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := Render(nil); err == nil {
		t.Error("Render(nil) succeeded")
	}
}

// TestDeterministic: the same kernels give the same text (the text is a cache key), and a
// module of several kernels holds each kernel's own text.
func TestDeterministic(t *testing.T) {
	a, b := render(t, reduceKernel(t)), render(t, reduceKernel(t))
	if a != b {
		t.Fatal("two renders of one kernel differ")
	}
	m, err := RenderModule([]*kir.Kernel{vaddKernel(t), reduceKernel(t)}, "sm_90")
	if err != nil {
		t.Fatal(err)
	}
	body := a[strings.Index(a, ".visible .entry"):]
	if !strings.Contains(m, body) || strings.Count(m, ".version") != 1 {
		t.Errorf("module does not hold the kernel's text once:\n%s", m)
	}
}
