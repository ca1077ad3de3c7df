package emu

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

func TestVectorAdd(t *testing.T) {
	b := kir.NewKernel("vadd", kir.Target{})
	x, y, z, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("z"), b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
	b.If(b.Lt(i, n), func() {
		b.Store(z, i, b.Add(b.LoadF32(x, i), b.LoadF32(y, i)))
	})
	k := build(t, b)
	d := newDev(t, 4)
	const N = 1000
	xs, ys := make([]float32, N), make([]float32, N)
	for i := range xs {
		xs[i], ys[i] = float32(i)*0.5, float32(N-i)*0.25
	}
	px, py := must[Ptr](t)(d.AllocF32(xs)), must[Ptr](t)(d.AllocF32(ys))
	pz := must[Ptr](t)(d.Alloc(4 * N))
	st, err := d.LaunchWith(t.Context(), k, LaunchConfig{Grid: [3]int{(N + 127) / 128}, Block: [3]int{128}}, px, py, pz, uint32(N))
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 8 {
		t.Errorf("ran %d blocks, want 8", st.Blocks)
	}
	got := must[[]float32](t)(d.ReadF32(pz, N))
	for i := range got {
		if want := xs[i] + ys[i]; got[i] != want {
			t.Fatalf("z[%d] = %v, want %v", i, got[i], want)
		}
	}
}

// TestBlockReduce sums segments of 1024 values per block with a strided For loop, warp shuffles,
// shared memory and a barrier, in a 2D grid of 2D blocks.
func TestBlockReduce(t *testing.T) {
	const perBlock, threads = 1024, 256
	b := kir.NewKernel("reduce", kir.Target{})
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
	k := build(t, b)
	d := newDev(t, 3)
	const nb = 12
	xs := make([]float32, nb*perBlock)
	for i := range xs {
		xs[i] = float32(math.Sin(float64(i)))
	}
	px := must[Ptr](t)(d.AllocF32(xs))
	po := must[Ptr](t)(d.Alloc(4 * nb))
	if err := d.Launch(k, [3]int{4, 3}, [3]int{64, 4}, 0, px, po); err != nil {
		t.Fatal(err)
	}
	got := must[[]float32](t)(d.ReadF32(po, nb))
	for bi := 0; bi < nb; bi++ {
		var want float64
		for _, v := range xs[bi*perBlock : (bi+1)*perBlock] {
			want += float64(v)
		}
		if math.Abs(float64(got[bi])-want) > 1e-3 {
			t.Errorf("block %d: sum %v, want %v", bi, got[bi], want)
		}
	}
}

// TestAtomicsAcrossBlocks: every thread of 64 blocks (on 8 concurrently running SMs) takes a
// ticket with atom.add; the tickets must be exactly 0..N-1, each once.
func TestAtomicsAcrossBlocks(t *testing.T) {
	b := kir.NewKernel("tickets", kir.Target{})
	ctr, seen, fsum := b.ParamPtr("ctr"), b.ParamPtr("seen"), b.ParamPtr("fsum")
	old := b.AtomicAdd(ctr, b.ConstU32(0), b.ConstU32(1))
	b.AtomicAdd(seen, old, b.ConstU32(1))
	b.AtomicAdd(fsum, b.ConstU32(0), b.ConstF32(0.5))
	b.Atom(kir.OpAtomMax, kir.Global, b.Index(ctr, b.ConstU32(1), 4), 0, old)
	k := build(t, b)
	d := newDev(t, 8)
	const blocks, threads = 64, 128
	const n = blocks * threads
	pc := must[Ptr](t)(d.Alloc(8))
	ps := must[Ptr](t)(d.Alloc(4 * n))
	pf := must[Ptr](t)(d.Alloc(4))
	if err := d.Launch(k, [3]int{blocks}, [3]int{threads}, 0, pc, ps, pf); err != nil {
		t.Fatal(err)
	}
	c := must[[]uint32](t)(d.ReadU32(pc, 2))
	if c[0] != n || c[1] != n-1 {
		t.Errorf("counter %d, max ticket %d; want %d, %d", c[0], c[1], n, n-1)
	}
	for i, s := range must[[]uint32](t)(d.ReadU32(ps, n)) {
		if s != 1 {
			t.Fatalf("ticket %d taken %d times", i, s)
		}
	}
	if f := must[[]float32](t)(d.ReadF32(pf, 1)); f[0] != n/2 {
		t.Errorf("f32 atomic sum %v, want %v", f[0], n/2)
	}
}

func TestOutOfBoundsIsAnError(t *testing.T) {
	b := kir.NewKernel("oob", kir.Target{})
	p := b.ParamPtr("p")
	b.Store(p, b.Tid(0), b.ConstU32(7))
	k := build(t, b)
	d := newDev(t, 1)
	pp := must[Ptr](t)(d.Alloc(16))
	err := d.Launch(k, [3]int{1}, [3]int{5}, 0, pp)
	if !errors.Is(err, ErrAddress) || !strings.Contains(err.Error(), "thread (4,0,0)") {
		t.Fatalf("got %v, want an address error from thread 4", err)
	}
	if err := d.Launch(k, [3]int{1}, [3]int{4}, 0, uint32(1)); err == nil {
		t.Fatal("a u32 argument for a pointer param was accepted")
	}
}

// TestVolatileSpinSeesHostStore: threads spin on a volatile flag the host sets while the launch
// runs.
func TestVolatileSpinSeesHostStore(t *testing.T) {
	b := kir.NewKernel("spin", kir.Target{})
	flag, out := b.ParamPtr("flag"), b.ParamPtr("out")
	b.While(func() kir.Value { return b.Eq(b.LoadVolatileU32(flag, b.ConstU32(0)), b.ConstU32(0)) }, func() {})
	b.Store(out, b.Tid(0), b.LoadVolatileU32(flag, b.ConstU32(0)))
	k := build(t, b)
	d := newDev(t, 2)
	pf := must[Ptr](t)(d.Alloc(4))
	po := must[Ptr](t)(d.Alloc(4 * 32))
	go func() {
		time.Sleep(5 * time.Millisecond)
		_ = d.Store32(pf, 42)
	}()
	if err := d.Launch(k, [3]int{1}, [3]int{32}, 0, pf, po); err != nil {
		t.Fatal(err)
	}
	for i, v := range must[[]uint32](t)(d.ReadU32(po, 32)) {
		if v != 42 {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}

func TestCancelStopsASpinningLaunch(t *testing.T) {
	b := kir.NewKernel("forever", kir.Target{})
	b.Loop(func() {})
	k := build(t, b)
	d := newDev(t, 1)
	ctx, cancel := contextWithTimeout(t, 20*time.Millisecond)
	defer cancel()
	_, err := d.LaunchWith(ctx, k, LaunchConfig{Grid: [3]int{2}, Block: [3]int{8}})
	if err == nil {
		t.Fatal("an endless kernel returned without error")
	}
}

func TestOccupancyLimitsResidentBlocks(t *testing.T) {
	d, err := NewDevice(Config{SMs: 2, MaxBlocksPerSM: 8, MaxThreadsPerSM: 512, SharedPerSM: 4096, RegsPerSM: 8192})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ threads, shared, regs, want int }{
		{128, 0, 0, 4},      // threads
		{32, 0, 0, 8},       // blocks
		{32, 1024, 0, 4},    // shared memory
		{64, 0, 64, 2},      // registers
		{2048, 0, 0, 0},     // too many threads
		{32, 1 << 20, 0, 0}, // too much shared memory
	}
	for _, c := range cases {
		if got := d.Occupancy(c.threads, c.shared, c.regs); got != c.want {
			t.Errorf("Occupancy(%d threads, %d shared, %d regs) = %d, want %d", c.threads, c.shared, c.regs, got, c.want)
		}
	}
}

// TestPartialWarpShuffleDeadlocks: half a warp at a full-mask shuffle while the other half waits
// at a barrier can never complete; the emulator reports it instead of hanging.
func TestPartialWarpShuffleDeadlocks(t *testing.T) {
	b := kir.NewKernel("dead", kir.Target{})
	p := b.ParamPtr("p")
	v := b.Var(b.ConstU32(0))
	b.If(b.Lt(b.LaneID(), b.ConstU32(16)), func() { b.Set(v, b.ShflDown(v, 1)) })
	b.Barrier()
	b.Store(p, b.Tid(0), v)
	k := build(t, b)
	d := newDev(t, 1)
	pp := must[Ptr](t)(d.Alloc(4 * 32))
	err := d.Launch(k, [3]int{1}, [3]int{32}, 0, pp)
	if err == nil || !strings.Contains(err.Error(), "deadlock") {
		t.Fatalf("got %v, want a deadlock error", err)
	}
}
