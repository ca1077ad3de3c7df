package ptx

import (
	"context"
	"math"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxsim"
)

// Differential tests: every example kernel runs on kernels/emu (the IR's executable
// specification) and, rendered to PTX, on ptxsim (PTX semantics written from the ISA); the
// outputs must agree bit for bit. Float buffers compare NaN with NaN whatever the payload:
// ptxsim produces the canonical NaN as NVIDIA hardware does, emu Go's.

// diffArg is one kernel argument: a buffer (its initial words) or a scalar.
type diffArg struct {
	words  []uint32 // a buffer's contents; nil for a scalar
	bits   uint64   // a scalar's param value
	emu    any      // the scalar as kernels/emu takes it
	float  bool     // a buffer of f32: NaNs compare equal
	nondet bool     // a buffer whose contents depend on scheduling: not compared
	// check, when set, must hold for every word of both results (a reference beside the
	// two simulators, so that agreeing on a wrong value fails too).
	check func(word int, got uint32) bool
}

func words(w []uint32) diffArg    { return diffArg{words: w} }
func floats(w []uint32) diffArg   { return diffArg{words: w, float: true} }
func scalarU32(v uint32) diffArg  { return diffArg{bits: uint64(v), emu: v} }
func scalarF32(v float32) diffArg { return diffArg{bits: uint64(math.Float32bits(v)), emu: v} }

// hostWords gives a host goroutine atomic access to the words of the buffer arguments.
type hostWords interface {
	load(arg, i int) uint32
	store(arg, i int, v uint32)
}

type diffCase struct {
	k           *kir.Kernel
	grid, block [3]int
	dyn         int
	sms, perSM  int
	args        []diffArg
	host        func(h hostWords) // runs beside each launch and must return
}

type emuHost struct {
	t    *testing.T
	d    *emu.Device
	ptrs []emu.Ptr
}

func (h emuHost) load(a, i int) uint32 {
	v, err := h.d.Load32(h.ptrs[a].Add(4 * i))
	if err != nil {
		h.t.Error(err)
	}
	return v
}

func (h emuHost) store(a, i int, v uint32) {
	if err := h.d.Store32(h.ptrs[a].Add(4*i), v); err != nil {
		h.t.Error(err)
	}
}

type simHost struct {
	t     *testing.T
	a     *ptxsim.Arena
	addrs []uint64
}

func (h simHost) load(a, i int) uint32 {
	v, err := h.a.Load32(h.addrs[a] + uint64(4*i))
	if err != nil {
		h.t.Error(err)
	}
	return v
}

func (h simHost) store(a, i int, v uint32) {
	if err := h.a.Store32(h.addrs[a]+uint64(4*i), v); err != nil {
		h.t.Error(err)
	}
}

// beside runs host (if any) in a goroutine while launch runs.
func beside(host func(hostWords), h hostWords, launch func()) {
	var wg sync.WaitGroup
	if host != nil {
		wg.Add(1)
		go func() { defer wg.Done(); host(h) }()
	}
	launch()
	wg.Wait()
}

// runDiff runs c on both simulators, compares every deterministic buffer and returns ptxsim's
// buffers (nil for scalars).
func runDiff(t *testing.T, c diffCase) [][]uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dev, err := emu.NewDevice(emu.Config{SMs: c.sms, MaxBlocksPerSM: c.perSM, TimeSlice: 256})
	if err != nil {
		t.Fatal(err)
	}
	arena := ptxsim.NewArena()
	eh, sh := emuHost{t, dev, make([]emu.Ptr, len(c.args))}, simHost{t, arena, make([]uint64, len(c.args))}
	var emuArgs []any
	var params []uint64
	for i, a := range c.args {
		if a.words == nil {
			emuArgs, params = append(emuArgs, a.emu), append(params, a.bits)
			continue
		}
		if eh.ptrs[i], err = dev.AllocU32(a.words); err != nil {
			t.Fatal(err)
		}
		if sh.addrs[i], err = arena.AllocU32(a.words); err != nil {
			t.Fatal(err)
		}
		emuArgs, params = append(emuArgs, eh.ptrs[i]), append(params, sh.addrs[i])
	}
	beside(c.host, eh, func() {
		_, err = dev.LaunchWith(ctx, c.k, emu.LaunchConfig{Grid: c.grid, Block: c.block, SharedBytes: c.dyn}, emuArgs...)
	})
	if err != nil {
		t.Fatalf("emu: %v", err)
	}
	m, err := ptxsim.Parse(render(t, c.k))
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Kernel(c.k.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, static := c.k.SharedLayout(); k.StaticShared() != static || len(k.Params()) != len(c.k.Params) ||
		k.MaxThreads() != c.k.Target.MaxThreads || k.MaxRegs() != c.k.Target.MaxRegs {
		t.Errorf("ptxsim reads %d params, %d static shared bytes, .maxntid %d, .maxnreg %d; the kernel has %d, %d, %d, %d",
			len(k.Params()), k.StaticShared(), k.MaxThreads(), k.MaxRegs(), len(c.k.Params), static, c.k.Target.MaxThreads, c.k.Target.MaxRegs)
	}
	var st ptxsim.Stats
	beside(c.host, sh, func() {
		st, err = ptxsim.Run(ctx, k, arena, ptxsim.Config{SMs: c.sms, BlocksPerSM: c.perSM, TimeSlice: 256},
			ptxsim.Launch{Grid: c.grid, Block: c.block, DynShared: c.dyn, Params: params})
	})
	if err != nil {
		t.Fatalf("ptxsim: %v", err)
	}
	t.Logf("%s: %d blocks, %d instructions", c.k.Name, st.Blocks, st.Instructions)
	out := make([][]uint32, len(c.args))
	for i, a := range c.args {
		if a.words == nil {
			continue
		}
		want, err := dev.ReadU32(eh.ptrs[i], len(a.words))
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = arena.ReadU32(sh.addrs[i], len(a.words)); err != nil {
			t.Fatal(err)
		}
		if a.nondet {
			continue
		}
		bad := 0
		for j, w := range want {
			g := out[i][j]
			nan := a.float && math.IsNaN(float64(math.Float32frombits(w))) && math.IsNaN(float64(math.Float32frombits(g)))
			if g != w && !nan {
				if bad++; bad <= 8 {
					t.Errorf("%s: arg %d word %d: ptxsim %#08x, emu %#08x", c.k.Name, i, j, g, w)
				}
			}
			if a.check != nil && (!a.check(j, g) || !a.check(j, w)) {
				if bad++; bad <= 8 {
					t.Errorf("%s: arg %d word %d: ptxsim %#08x, emu %#08x, the reference disagrees", c.k.Name, i, j, g, w)
				}
			}
		}
	}
	return out
}

func randomF32(n int, seed uint64) []uint32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]uint32, n)
	for i := range out {
		out[i] = math.Float32bits(float32(r.NormFloat64()))
	}
	return out
}

func TestSimExampleKernels(t *testing.T) {
	const n = 1000
	x, y := randomF32(n, 1), randomF32(n, 2)
	t.Run("vadd", func(t *testing.T) {
		runDiff(t, diffCase{k: vaddKernel(t), grid: [3]int{(n + 127) / 128}, block: [3]int{128}, sms: 2, perSM: 2,
			args: []diffArg{floats(x), floats(y), floats(make([]uint32, n)), scalarU32(n)}})
	})
	t.Run("reduce", func(t *testing.T) {
		runDiff(t, diffCase{k: reduceKernel(t), grid: [3]int{3, 2}, block: [3]int{16, 16}, sms: 3, perSM: 1,
			args: []diffArg{floats(randomF32(6*1024, 3)), floats(make([]uint32, 6))}})
	})
	t.Run("tickets", func(t *testing.T) {
		runDiff(t, diffCase{k: ticketsKernel(t), grid: [3]int{4}, block: [3]int{64}, sms: 2, perSM: 2,
			args: []diffArg{words(make([]uint32, 2)), words(make([]uint32, 256)), floats(make([]uint32, 1))}})
	})
	t.Run("copy4", func(t *testing.T) {
		runDiff(t, diffCase{k: vec4Kernel(t), grid: [3]int{1}, block: [3]int{64}, sms: 1, perSM: 1,
			args: []diffArg{floats(x[:256]), floats(make([]uint32, 256+4))}})
	})
	t.Run("dyn", func(t *testing.T) {
		runDiff(t, diffCase{k: dynSharedKernel(t), grid: [3]int{1}, block: [3]int{16}, dyn: 64, sms: 1, perSM: 1,
			args: []diffArg{floats(make([]uint32, 16))}})
	})
	t.Run("spin", func(t *testing.T) {
		// the host raises the flag while the threads spin on volatile loads
		host := func(h hostWords) { time.Sleep(20 * time.Millisecond); h.store(0, 0, 7) }
		out := runDiff(t, diffCase{k: spinKernel(t), grid: [3]int{1}, block: [3]int{32}, sms: 2, perSM: 1, host: host,
			args: []diffArg{words([]uint32{0}), words(make([]uint32, 32))}})
		if out[1][31] != 7 {
			t.Errorf("spin: out[31] = %d, want 7", out[1][31])
		}
	})
	t.Run("vscale", func(t *testing.T) {
		const sms, perSM = 3, 2
		k := vscaleKernel(t, kir.Target{MaxRegs: 64, MaxThreads: 256})
		ctl, err := protocol.NewControl((n+255)/256, sms)
		if err != nil {
			t.Fatal(err)
		}
		runDiff(t, diffCase{k: k, grid: [3]int{sms * perSM}, block: [3]int{256}, sms: sms, perSM: perSM,
			args: []diffArg{words(ctl.Words()), floats(x), floats(make([]uint32, n)), scalarF32(-1.5), scalarU32(n)}})
	})
	t.Run("tiles", func(t *testing.T) { simTiles(t) })
}

// simTiles runs kernels/kir/protocol's test kernel: tiles from 20 on spin until the host opens
// a gate, which it does once 20 tiles are done; the trace (which SM ran each tile) depends on
// scheduling and is only range-checked.
func simTiles(t *testing.T) {
	const sms, perSM, ntiles, threads, gateFrom = 4, 3, 48, 64, 20
	ctl, err := protocol.NewControl(ntiles, sms)
	if err != nil {
		t.Fatal(err)
	}
	host := func(h hostWords) {
		deadline := time.Now().Add(20 * time.Second)
		for h.load(0, protocol.WordDone) < gateFrom && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		h.store(5, 0, 1)
	}
	trace := words(make([]uint32, ntiles))
	trace.nondet = true
	out := runDiff(t, diffCase{k: protocolTileKernel(t), grid: [3]int{sms * perSM}, block: [3]int{threads},
		sms: sms, perSM: perSM, host: host,
		args: []diffArg{words(ctl.Words()), trace, floats(randomF32(ntiles*threads, 4)),
			floats(make([]uint32, ntiles*threads)), words(make([]uint32, ntiles)), words([]uint32{0})}})
	for tile, sm := range out[1] {
		if sm >= sms {
			t.Errorf("tile %d traced on SM %d of %d", tile, sm, sms)
		}
	}
	if c := out[0][protocol.WordDone]; c != ntiles {
		t.Errorf("done = %d, want %d", c, ntiles)
	}
}

// zooKernel applies every ALU op of kir at every type to thread i's pair (x[i], y[i]) and
// stores the results: f32 results to fout, the others to iout (64-bit ones as two words,
// predicates as 0/1), each op's results contiguous (n per op).
func zooKernel(t *testing.T) (k *kir.Kernel, fslots, islots, fmaSlot int) {
	b := kir.NewKernel("zoo", kir.Target{})
	xs, ys, fo, io := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("fout"), b.ParamPtr("iout")
	n := b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
	b.If(b.Lt(i, n), func() {
		fst := func(vs ...kir.Value) {
			for _, v := range vs {
				b.Store(fo, b.Add(b.Mul(b.ConstU32(uint32(fslots)), n), i), v)
				fslots++
			}
		}
		var ist func(vs ...kir.Value)
		ist = func(vs ...kir.Value) {
			for _, v := range vs {
				switch v.T {
				case kir.Pred:
					v = b.Select(v, b.ConstU32(1), b.ConstU32(0))
				case kir.S32:
					v = b.Bitcast(v, kir.U32)
				case kir.U64, kir.S64:
					ist(b.Cvt(v, kir.U32), b.Cvt(b.Shr(b.Bitcast(v, kir.U64), b.ConstU32(32)), kir.U32))
					continue
				}
				b.Store(io, b.Add(b.Mul(b.ConstU32(uint32(islots)), n), i), v)
				islots++
			}
		}
		cmps := func(x, y kir.Value) {
			for _, c := range []kir.Cmp{kir.EQ, kir.NE, kir.LT, kir.LE, kir.GT, kir.GE} {
				ist(b.Compare(c, x, y))
			}
		}
		x, y := b.LoadU32(xs, i), b.LoadU32(ys, i)
		nz := b.Select(b.Eq(y, b.ConstU32(0)), b.ConstU32(7), y) // PTX leaves x/0 undefined
		sh := b.And(y, b.ConstU32(63))
		ist(b.Add(x, y), b.Sub(x, y), b.Mul(x, y), b.Mad(x, y, x), b.MulHi(x, y), b.MulWide(x, y),
			b.Div(x, nz), b.Rem(x, nz), b.Min(x, y), b.Max(x, y), b.And(x, y), b.Or(x, y), b.Xor(x, y),
			b.Not(x), b.Shl(x, sh), b.Shr(x, sh))
		cmps(x, y)
		sx, sy, snz := b.Bitcast(x, kir.S32), b.Bitcast(y, kir.S32), b.Bitcast(nz, kir.S32)
		ist(b.Add(sx, sy), b.Mul(sx, sy), b.MulHi(sx, sy), b.MulWide(sx, sy), b.Div(sx, snz), b.Rem(sx, snz),
			b.Min(sx, sy), b.Max(sx, sy), b.Shr(sx, sh), b.Neg(sx), b.Abs(sx), b.Cvt(sx, kir.U64),
			b.Cvt(sx, kir.S64), b.Select(b.Lt(sx, sy), sx, sy))
		cmps(sx, sy)
		x64 := b.Or(b.Shl(b.Cvt(x, kir.U64), b.ConstU32(32)), b.Cvt(y, kir.U64))
		y64 := b.Or(b.Shl(b.Cvt(y, kir.U64), b.ConstU32(32)), b.Cvt(x, kir.U64))
		nz64 := b.Or(y64, b.ConstU64(1))
		sh64 := b.And(y, b.ConstU32(127))
		ist(b.Add(x64, y64), b.Sub(x64, y64), b.Mul(x64, y64), b.MulHi(x64, y64), b.Div(x64, nz64),
			b.Rem(x64, nz64), b.Min(x64, y64), b.Max(x64, y64), b.Shl(x64, sh64), b.Shr(x64, sh64),
			b.Not(x64), b.Xor(x64, y64), b.Cvt(x64, kir.U32), b.Mad(x64, y64, x64))
		cmps(x64, y64)
		s64, t64, snz64 := b.Bitcast(x64, kir.S64), b.Bitcast(y64, kir.S64), b.Bitcast(nz64, kir.S64)
		ist(b.MulHi(s64, t64), b.Div(s64, snz64), b.Rem(s64, snz64), b.Shr(s64, sh64), b.Min(s64, t64),
			b.Max(s64, t64), b.Neg(s64), b.Abs(s64), b.Cvt(s64, kir.S32))
		cmps(s64, t64)
		fx, fy := b.Bitcast(x, kir.F32), b.Bitcast(y, kir.F32)
		fmaSlot = fslots + 4
		fst(b.Add(fx, fy), b.Sub(fx, fy), b.Mul(fx, fy), b.Div(fx, fy), b.Fma(fx, fy, fx), b.Min(fx, fy),
			b.Max(fx, fy), b.Neg(fx), b.Abs(fx), b.Rcp(fx), b.Sqrt(fx), b.Rsqrt(fx), b.Ex2(fx), b.Lg2(fx),
			b.Sin(fx), b.Cos(fx), b.Tanh(fx), b.Floor(fx), b.Ceil(fx), b.Trunc(fx), b.Round(fx),
			b.Exp(fx), b.Log(fx), b.Cvt(x, kir.F32), b.Cvt(sx, kir.F32), b.Cvt(x64, kir.F32),
			b.Cvt(s64, kir.F32), b.Select(b.Gt(fx, fy), fx, fy))
		ist(b.Cvt(fx, kir.U32), b.Cvt(fx, kir.S32), b.Cvt(fx, kir.U64), b.Cvt(fx, kir.S64),
			b.Bitcast(fx, kir.U32))
		cmps(fx, fy)
	})
	return build(t, b), fslots, islots, fmaSlot
}

// zooValues are the operands: integer and float edge cases (as bits) and random words.
func zooValues() []uint32 {
	f := func(v float64) uint32 { return math.Float32bits(float32(v)) }
	vals := []uint32{0, 1, 2, 7, 31, 32, 33, 63, 64, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff9,
		f(0), 0x80000000, f(1), f(-1), f(0.5), f(1.5), f(2.5), f(-2.5), f(-0.49999997), f(3e9), f(5e9),
		f(-5e9), f(1e20), f(-1e20), f(16777217), f(2147483520), f(1e-40), f(-1e-40), f(math.MaxFloat32),
		f(math.Inf(1)), f(math.Inf(-1)), 0x7fc00000, 0xffc00001, f(math.Pi), f(-100.25), f(88.7), f(-104)}
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		vals = append(vals, r.Uint32())
	}
	return vals
}

func TestSimALUZoo(t *testing.T) {
	k, fslots, islots, fmaSlot := zooKernel(t)
	vals := zooValues()
	var x, y []uint32
	for _, a := range vals {
		for _, c := range vals {
			x, y = append(x, a), append(y, c)
		}
	}
	n := len(x)
	fout := floats(make([]uint32, fslots*n))
	// Both must round fma once: math/big says what that gives.
	fout.check = func(j int, got uint32) bool {
		i := j - fmaSlot*n
		if i < 0 || i >= n {
			return true
		}
		w := exactFma(x[i], y[i], x[i])
		return got == w || math.IsNaN(float64(math.Float32frombits(got))) && math.IsNaN(float64(math.Float32frombits(w)))
	}
	runDiff(t, diffCase{k: k, grid: [3]int{(n + 127) / 128}, block: [3]int{128}, sms: 2, perSM: 2,
		args: []diffArg{words(x), words(y), fout, words(make([]uint32, islots*n)), scalarU32(uint32(n))}})
}

// exactFma is a*b+c rounded once to f32, computed with math/big (float64 for operands that
// are not finite, where no rounding is involved).
func exactFma(a, b, c uint32) uint32 {
	fa, fb, fc := float64(math.Float32frombits(a)), float64(math.Float32frombits(b)), float64(math.Float32frombits(c))
	if math.IsInf(fa+fb+fc, 0) || math.IsNaN(fa+fb+fc) {
		return math.Float32bits(float32(math.FMA(fa, fb, fc)))
	}
	f := func(w uint32) *big.Float {
		return new(big.Float).SetPrec(1000).SetFloat64(float64(math.Float32frombits(w)))
	}
	e := f(a)
	e.Add(e.Mul(e, f(b)), f(c))
	v, _ := e.Float32()
	return math.Float32bits(v)
}

// shflKernel shuffles with every mode and lane operands that vary per lane, some of them 32 or
// more (PTX reads only their low 5 bits, as kir does).
func shflKernel(t *testing.T) *kir.Kernel {
	b := kir.NewKernel("shfl", kir.Target{})
	in, out := b.ParamPtr("in"), b.ParamPtr("out")
	tid := b.Tid(0)
	v := b.LoadF32(in, tid)
	lane := b.LaneID()
	k := b.And(b.Mul(lane, b.ConstU32(7)), b.ConstU32(63))
	for j, m := range []kir.ShflMode{kir.ShflDown, kir.ShflUp, kir.ShflBfly, kir.ShflIdx} {
		s := b.Shfl(m, v, k)
		b.Store(out, b.Add(b.Mul(b.ConstU32(uint32(j)), b.NTid(0)), tid), s)
		v = b.Add(v, s)
	}
	b.Store(out, b.Add(b.Mul(b.ConstU32(4), b.NTid(0)), tid), b.WarpReduce(kir.OpMax, v))
	return build(t, b)
}

func TestSimShuffles(t *testing.T) {
	runDiff(t, diffCase{k: shflKernel(t), grid: [3]int{2}, block: [3]int{96}, sms: 1, perSM: 1,
		args: []diffArg{floats(randomF32(96, 7)), floats(make([]uint32, 5*96))}})
}
