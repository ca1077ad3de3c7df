package protocol

import (
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

const (
	nsm      = 4
	threads  = 64
	perSM    = 3 // resident blocks per SM (the device's MaxBlocksPerSM)
	gateFrom = 20
)

// tileKernel: tile t computes out[t*64+i] = sum_k in[t*64+i]*k (k < 8) + t, counts itself in
// count[t], and, for t >= gateFrom, first spins until the host opens gate[0] (so tests can act
// while tiles are in flight, deterministically).
func tileKernel(t *testing.T) *kir.Kernel {
	t.Helper()
	b := kir.NewKernel("tiles", kir.Target{})
	ctl, trace := b.ParamPtr("ctl"), b.ParamPtr("trace")
	in, out, count, gate := b.ParamPtr("in"), b.ParamPtr("out"), b.ParamPtr("count"), b.ParamPtr("gate")
	Persistent(b, ctl, func(tile kir.Value) {
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
	}, Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func want(in []float32, n int) []float32 {
	out := make([]float32, n*threads)
	for i := range out {
		var acc float32
		for k := 0; k < 8; k++ {
			acc = acc + float32(in[i]*float32(k))
		}
		out[i] = acc + float32(i/threads)
	}
	return out
}

type rig struct {
	t                                 *testing.T
	d                                 *emu.Device
	k                                 *kir.Kernel
	ntiles                            int
	in                                []float32
	ctl, trace, pin, out, count, gate emu.Ptr
}

func newRig(t *testing.T, ntiles int, sms ...int) *rig {
	t.Helper()
	d, err := emu.NewDevice(emu.Config{SMs: nsm, MaxBlocksPerSM: perSM, TimeSlice: 256})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, d: d, k: tileKernel(t), ntiles: ntiles}
	c, err := NewControl(ntiles, nsm, sms...)
	if err != nil {
		t.Fatal(err)
	}
	r.in = make([]float32, ntiles*threads)
	for i := range r.in {
		r.in[i] = float32(i%97) * 0.37
	}
	r.ctl = r.alloc(c.Words())
	r.trace = r.alloc(make([]uint32, ntiles))
	r.count = r.alloc(make([]uint32, ntiles))
	r.gate = r.alloc([]uint32{0})
	r.out = r.alloc(make([]uint32, ntiles*threads))
	if r.pin, err = d.AllocF32(r.in); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) alloc(w []uint32) emu.Ptr {
	p, err := r.d.AllocU32(w)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) launch() emu.Stats {
	st, err := r.d.LaunchWith(r.t.Context(), r.k, emu.LaunchConfig{Grid: [3]int{nsm * perSM}, Block: [3]int{threads}},
		r.ctl, r.trace, r.pin, r.out, r.count, r.gate)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *rig) word(i int) uint32 {
	v, err := r.d.Load32(r.ctl.Add(4 * i))
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func (r *rig) store(p emu.Ptr, v uint32) {
	if err := r.d.Store32(p, v); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) u32s(p emu.Ptr, n int) []uint32 {
	v, err := r.d.ReadU32(p, n)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// launchAndAct runs the kernel while act runs on the host once done >= gateFrom (tiles below
// gateFrom never wait); act must open the gate.
func (r *rig) launchAndAct(act func()) {
	res := make(chan struct{})
	go func() {
		defer close(res)
		deadline := time.Now().Add(10 * time.Second)
		for r.word(WordDone) < gateFrom {
			if time.Now().After(deadline) {
				r.store(r.gate, 1)
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
		act()
	}()
	r.launch()
	<-res
}

// checkClaims: every tile below min(next_tile, ntiles) ran exactly once, no other tile ran, and
// done counts exactly those.
func (r *rig) checkClaims() int {
	claimed := min(int(r.word(WordNextTile)), r.ntiles)
	for i, c := range r.u32s(r.count, r.ntiles) {
		if i < claimed && c != 1 || i >= claimed && c != 0 {
			r.t.Fatalf("tile %d ran %d times (%d tiles claimed)", i, c, claimed)
		}
	}
	if done := int(r.word(WordDone)); done != claimed {
		r.t.Fatalf("done = %d, %d tiles claimed", done, claimed)
	}
	return claimed
}

func (r *rig) checkOutput() {
	got := r.u32s(r.out, r.ntiles*threads)
	w := want(r.in, r.ntiles)
	for i := range w {
		if got[i] != mathBits(w[i]) {
			r.t.Fatalf("out[%d] bits %#x, want %#x (%v)", i, got[i], mathBits(w[i]), w[i])
		}
	}
}

// (a) tiles run only on the SMs of the mask.
func TestTilesRunOnlyOnMaskedSMs(t *testing.T) {
	r := newRig(t, 60, 1, 3)
	r.store(r.gate, 1)
	st := r.launch()
	if n := r.checkClaims(); n != r.ntiles {
		t.Fatalf("%d of %d tiles ran", n, r.ntiles)
	}
	for tile, sm := range r.u32s(r.trace, r.ntiles) {
		if sm != 1 && sm != 3 {
			t.Errorf("tile %d ran on SM %d, mask is {1, 3}", tile, sm)
		}
	}
	if st.BlocksPerSM[0] == 0 || st.BlocksPerSM[2] == 0 {
		t.Errorf("blocks per SM %v: SMs 0 and 2 should have received (and dropped) blocks", st.BlocksPerSM)
	}
	r.checkOutput()
}

// (b) yield stops every block within one tile; (c) a relaunch finishes the work, bit-identical
// to an uninterrupted run, no tile lost or run twice.
func TestYieldThenResume(t *testing.T) {
	r := newRig(t, 300)
	var doneAtFlip uint32
	r.launchAndAct(func() {
		r.store(r.ctl.Add(4*WordYield), 1)
		doneAtFlip = r.word(WordDone)
		r.store(r.gate, 1)
	})
	claimed := r.checkClaims()
	blocks := nsm * perSM
	if claimed == r.ntiles || claimed > int(doneAtFlip)+blocks {
		t.Fatalf("after yield at done=%d: %d tiles claimed, want at most one more per block (%d blocks)", doneAtFlip, claimed, blocks)
	}
	t.Logf("yielded after %d of %d tiles (done %d at the flip)", claimed, r.ntiles, doneAtFlip)

	r.store(r.ctl.Add(4*WordYield), 0)
	r.launch()
	if n := r.checkClaims(); n != r.ntiles {
		t.Fatalf("after resume %d of %d tiles ran", n, r.ntiles)
	}
	r.checkOutput()

	// uninterrupted reference run on a fresh control block and output buffer
	ref := newRig(t, 300)
	ref.store(ref.gate, 1)
	ref.launch()
	a, b := r.u32s(r.out, r.ntiles*threads), ref.u32s(ref.out, r.ntiles*threads)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("out[%d]: resumed %#x, uninterrupted %#x", i, a[i], b[i])
		}
	}
}

// (d) clearing SM bits mid-run: blocks there leave after their current tile, blocks elsewhere
// finish the remaining tiles.
func TestClearingSMsMovesWorkElsewhere(t *testing.T) {
	r := newRig(t, 200)
	var claimedAtClear uint32
	r.launchAndAct(func() {
		w, b0 := MaskWord(0)
		_, b1 := MaskWord(1)
		r.store(r.ctl.Add(4*w), r.word(w)&^(b0|b1))
		claimedAtClear = r.word(WordNextTile)
		r.store(r.gate, 1)
	})
	if n := r.checkClaims(); n != r.ntiles {
		t.Fatalf("%d of %d tiles ran", n, r.ntiles)
	}
	late, elsewhere := 0, 0
	for tile, sm := range r.u32s(r.trace, r.ntiles) {
		if uint32(tile) < claimedAtClear {
			continue
		}
		if sm == 0 || sm == 1 {
			late++
		} else {
			elsewhere++
		}
	}
	if late > 2*perSM {
		t.Errorf("%d tiles claimed after the clear ran on cleared SMs; at most one per block (%d) may", late, 2*perSM)
	}
	if elsewhere < r.ntiles-int(claimedAtClear)-late || elsewhere == 0 {
		t.Errorf("%d tiles after the clear ran on SMs 2-3", elsewhere)
	}
	t.Logf("cleared at next_tile=%d: %d later tiles on SMs 0-1, %d on SMs 2-3", claimedAtClear, late, elsewhere)
	r.checkOutput()
}

func TestControlWords(t *testing.T) {
	c, err := NewControl(10, 40, 0, 33, 39)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Words()
	if len(w) != Words(40) || w[WordNTiles] != 10 || w[WordSMMask] != 1 || w[WordSMMask+1] != 1<<1|1<<7 {
		t.Fatalf("words %v", w)
	}
	c.Signal, c.After = 0x1_2345_6780, 0x9_0000_0040
	w = c.Words()
	if w[WordSignal] != 0x2345_6780 || w[WordSignal+1] != 1 || w[WordAfter] != 0x40 || w[WordAfter+1] != 9 {
		t.Fatalf("addresses encoded as %v", w[WordSignal:WordSMMask])
	}
	if _, err := NewControl(10, 4, 4); err == nil {
		t.Fatal("SM 4 of a 4-SM device accepted")
	}
}

// (e) a signal block gates every block beside the control block's own words: its yield stops
// the kernel, its mask narrows where tiles run.
func TestSignalBlockGates(t *testing.T) {
	r := newRig(t, 60)
	r.store(r.gate, 1)
	sig := r.alloc([]uint32{1, 0xF})
	r.setAddr(WordSignal, sig)
	r.launch()
	if n := r.checkClaims(); n != 0 {
		t.Fatalf("%d tiles ran with the signal's yield set", n)
	}
	r.store(sig.Add(4*SignalYield), 0)
	r.store(sig.Add(4*SignalSMMask), 1<<2) // control mask all SMs, signal mask SM 2 only
	r.launch()
	if n := r.checkClaims(); n != r.ntiles {
		t.Fatalf("%d of %d tiles ran", n, r.ntiles)
	}
	for tile, sm := range r.u32s(r.trace, r.ntiles) {
		if sm != 2 {
			t.Fatalf("tile %d ran on SM %d, the signal's mask is {2}", tile, sm)
		}
	}
	r.checkOutput()

	// the control block's own yield still stops a kernel that has a signal block
	r2 := newRig(t, 30)
	r2.store(r2.gate, 1)
	r2.setAddr(WordSignal, r2.alloc([]uint32{0, 0xF}))
	r2.store(r2.ctl.Add(4*WordYield), 1)
	r2.launch()
	if n := r2.checkClaims(); n != 0 {
		t.Fatalf("%d tiles ran with the control block's yield set", n)
	}
}

// (f) a kernel whose after block is unfinished runs nothing and leaves its counters untouched;
// once the after block is complete it runs every tile.
func TestAfterBlockHoldsBackTheKernel(t *testing.T) {
	r := newRig(t, 40)
	r.store(r.gate, 1)
	prev, err := NewControl(7, nsm)
	if err != nil {
		t.Fatal(err)
	}
	prev.Done = 6
	pp := r.alloc(prev.Words())
	r.setAddr(WordAfter, pp)
	r.launch()
	if r.word(WordNextTile) != 0 || r.word(WordDone) != 0 {
		t.Fatalf("after an unfinished kernel: next_tile %d done %d, want both 0", r.word(WordNextTile), r.word(WordDone))
	}
	r.store(pp.Add(4*WordDone), 7)
	r.launch()
	if n := r.checkClaims(); n != r.ntiles {
		t.Fatalf("%d of %d tiles ran after the after block completed", n, r.ntiles)
	}
	r.checkOutput()
}

func (r *rig) setAddr(word int, p emu.Ptr) {
	r.store(r.ctl.Add(4*word), uint32(p))
	r.store(r.ctl.Add(4*(word+1)), uint32(uint64(p)>>32))
}
