//go:build gpu && cgo && linux

// GPU-only tests: built with -tags gpu, skipped when no GPU answers. scripts/gpu-build compiles
// them into gpu-build/cuda.test for the device machine (docs/gpu.md).

package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// gpuReport writes a result table to $ELASTICROOM_GPU_REPORT/<name>.txt for run.sh's summary.
func gpuReport(t *testing.T, name, text string) {
	if dir := os.Getenv("ELASTICROOM_GPU_REPORT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(text), 0o644); err != nil {
			t.Errorf("report %s: %v", name, err)
		}
	}
}

func openGPU(t *testing.T) *Device {
	t.Helper()
	d, err := Open(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func u32s(b []byte) []uint32 {
	v := make([]uint32, len(b)/4)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return v
}

func TestGPUInfo(t *testing.T) {
	d := openGPU(t)
	in := d.Info()
	t.Logf("%s: %+v", d.Name(), in)
	if in.SMs <= 0 || in.CCMajor < 7 || in.TotalMemory == 0 || in.RegsPerSM < 32768 || in.SharedPerBlockOptin < 48<<10 ||
		in.ThreadsPerSM < 1024 || !in.CanMapHost || in.L2Bytes <= 0 {
		t.Errorf("implausible attributes (a wrong enum value?): %+v", in)
	}
	if in.PriorityGreatest >= in.PriorityLeast {
		t.Errorf("stream priorities %d..%d: expected a range", in.PriorityLeast, in.PriorityGreatest)
	}
	if d.Units() != in.SMs {
		t.Errorf("units %d, SMs %d", d.Units(), in.SMs)
	}
}

func TestGPUMemoryRoundTrip(t *testing.T) {
	d := openGPU(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{4, 1000, 1 << 20, 3<<20 + 12} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		p, err := d.Alloc(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		zero := make([]byte, n)
		if err := d.CopyToHost(zero, p); err != nil {
			t.Fatal(err)
		}
		for i, b := range zero {
			if b != 0 {
				t.Fatalf("fresh allocation byte %d = %d", i, b)
			}
		}
		if err := d.CopyToDevice(p, src); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, n)
		if err := d.CopyToHost(back, p); err != nil {
			t.Fatal(err)
		}
		if string(back) != string(src) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
		w := p.Add(int64(n-4) &^ 3) // the last word inside the allocation
		if err := d.Store32(w, 0xdeadbeef); err != nil {
			t.Fatal(err)
		}
		if v, err := d.Load32(w); err != nil || v != 0xdeadbeef {
			t.Fatalf("device Store32/Load32: %#x, %v", v, err)
		}
		if err := d.Free(p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := d.AllocMapped(4096)
	if err != nil {
		t.Fatal(err)
	}
	d.Store32(m.Add(8), 77)
	back := make([]byte, 16)
	if err := d.CopyToHost(back, m); err != nil || binary.LittleEndian.Uint32(back[8:]) != 77 {
		t.Fatalf("mapped: %v %v", back, err)
	}
	if err := d.Free(m); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(m); err == nil {
		t.Error("double free accepted")
	}
}

// vaddKernel: y[i] = a[i] + 2*b[i] for i < n, one thread per element.
func vaddKernel(t *testing.T, arch string) *kir.Kernel {
	b := kir.NewKernel("er_vadd", kir.Target{Arch: arch})
	a, bb, y, n := b.ParamPtr("a"), b.ParamPtr("b"), b.ParamPtr("y"), b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.ConstU32(256)), b.Tid(0))
	b.If(b.Lt(i, n), func() {
		b.Store(y, i, b.Fma(b.LoadF32(bb, i), b.ConstF32(2), b.LoadF32(a, i)))
	})
	k, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ptxArch(d *Device) string {
	if in := d.Info(); in.CCMajor < 9 || in.CCMajor == 9 && in.CCMinor == 0 {
		return in.Arch()
	}
	return "sm_90" // the renderer's newest target; the driver JIT-compiles it for newer GPUs
}

func TestGPUVectorAddAndTiming(t *testing.T) {
	d := openGPU(t)
	src, err := ptx.Render(vaddKernel(t, ptxArch(d)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.LoadPTX(src, "er_vadd")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("er_vadd: %+v", f.Info())
	if f.Info().Registers <= 0 || f.Info().MaxThreads < 256 {
		t.Errorf("function attributes: %+v", f.Info())
	}
	n := 1<<22 + 3
	if d.Simulated() {
		n = 1<<14 + 3
	}
	r := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = r.Float32()*2-1, r.Float32()*2-1
	}
	pa, _ := d.Alloc(int64(4 * n))
	pb, _ := d.Alloc(int64(4 * n))
	py, _ := d.Alloc(int64(4 * n))
	d.CopyToDevice(pa, f32bytes(a))
	d.CopyToDevice(pb, f32bytes(b))
	poison := make([]float32, n)
	for i := range poison {
		poison[i] = float32(math.NaN())
	}
	d.CopyToDevice(py, f32bytes(poison))
	cfg := device.LaunchConfig{Grid: [3]int{(n + 255) / 256}, Block: [3]int{256}}
	el, err := d.LaunchTimed(context.Background(), f, cfg, pa, pb, py, uint32(n))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4*n)
	d.CopyToHost(out, py)
	y := bytesF32(out)
	for i := range y {
		if want := float32(math.FMA(float64(b[i]), 2, float64(a[i]))); y[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	gbs := float64(12*n) / el.Seconds() / 1e9
	t.Logf("vadd of %d floats: %v (%.0f GB/s)", n, el, gbs)
	if el <= 0 || el > time.Second {
		t.Errorf("event time %v", el)
	}
	// Priorities: every priority launches, high ones on the device's greatest priority.
	for _, p := range []int{-3, 0, 1, 100} {
		if err := d.Launch(context.Background(), f, device.LaunchConfig{Grid: cfg.Grid, Block: cfg.Block, Priority: p}, pa, pb, py, uint32(n)); err != nil {
			t.Errorf("priority %d: %v", p, err)
		}
	}
	if d.cudaPriority(100) != d.Info().PriorityGreatest || d.cudaPriority(0) != d.Info().PriorityLeast || d.cudaPriority(-3) != d.Info().PriorityLeast {
		t.Errorf("priority mapping: %d %d %d", d.cudaPriority(100), d.cudaPriority(0), d.cudaPriority(-3))
	}
	// Wrong arguments are errors, not crashes.
	if err := d.Launch(context.Background(), f, device.LaunchConfig{Grid: cfg.Grid, Block: [3]int{4096}}, pa, pb, py, uint32(n)); err == nil {
		t.Error("a 4096-thread block launched")
	}
	if err := d.Launch(context.Background(), f, cfg, pa, "x"); err == nil {
		t.Error("a string argument launched")
	}
}

func TestGPUJITErrorLog(t *testing.T) {
	d := openGPU(t)
	bad := ".version 7.8\n.target sm_80\n.address_size 64\n.visible .entry broken()\n{\n\tmov.u32 %r1, 1;\n\tret;\n}\n"
	_, err := d.LoadPTX(bad, "broken")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("broken PTX: %v", err)
	}
	t.Logf("%v", err)
	if ce.Call != "cuModuleLoadDataEx" || ce.Code != ErrorInvalid || ce.Log == "" || !strings.Contains(err.Error(), "jit log:") ||
		!strings.Contains(err.Error(), "CUDA_ERROR_INVALID_PTX") {
		t.Errorf("error lacks call, code or JIT log: %#v", ce)
	}
	if _, err := d.LoadPTX(bad+" ", "broken"); err == nil {
		t.Error("second load of broken PTX succeeded")
	}
}

// gemmRun runs a GEMM template instance through the plan path (Load of a plan.Kernel) and
// returns y, the trace (SM per tile) and the control block's words at the end.
type gemmRig struct {
	d         *Device
	fn        device.Function
	inst      int // tiles
	threads   int
	grid      int
	pa, pb    device.Ptr
	py, ptr   device.Ptr
	ctl       device.Ptr
	m, n, k   int
	a, b      []float32
	ctlWords  int
	sharedDyn int
}

func newGemmRig(t *testing.T, d *Device, m, n, k int) *gemmRig {
	p := gemm.Params{GemmParams: ref.GemmParams{M: m, N: n, K: k, Alpha: 1, Beta: 1}}
	cfgs := gemm.Configs(p.GemmParams)
	if len(cfgs) == 0 {
		t.Fatal("no gemm configs")
	}
	in, err := gemm.Build(p, cfgs[0], kir.Target{Arch: ptxArch(d)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := ptx.Render(in.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	pk := &plan.Kernel{Name: in.Kernel.Name, PTX: src, Block: [3]int{in.Threads}, SharedBytes: in.DynamicShared, Tiles: in.Tiles, IR: in.Kernel}
	fn, err := d.Load(pk)
	if err != nil {
		t.Fatal(err)
	}
	g := &gemmRig{d: d, fn: fn, inst: in.Tiles, threads: in.Threads, m: m, n: n, k: k, ctlWords: protocol.Words(d.Units()), sharedDyn: in.DynamicShared}
	g.grid = d.Units() * 2
	r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
	g.a, g.b = make([]float32, m*k), make([]float32, k*n)
	for i := range g.a {
		g.a[i] = r.Float32()*2 - 1
	}
	for i := range g.b {
		g.b[i] = r.Float32()*2 - 1
	}
	g.pa, _ = d.Alloc(int64(4 * m * k))
	g.pb, _ = d.Alloc(int64(4 * k * n))
	g.py, _ = d.Alloc(int64(4 * m * n))
	g.ptr, _ = d.Alloc(int64(4 * in.Tiles))
	if g.ctl, err = d.AllocMapped(int64(4 * g.ctlWords)); err != nil {
		t.Fatal(err)
	}
	d.CopyToDevice(g.pa, f32bytes(g.a))
	d.CopyToDevice(g.pb, f32bytes(g.b))
	return g
}

// reset writes a fresh control block (all SMs allowed) and poisons y and the trace.
func (g *gemmRig) reset(t *testing.T) {
	c, err := protocol.NewControl(g.inst, g.d.Units())
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range c.Words() {
		g.d.Store32(g.ctl.Add(int64(4*i)), w)
	}
	nan := make([]float32, g.m*g.n)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	g.d.CopyToDevice(g.py, f32bytes(nan))
	ff := make([]byte, 4*g.inst)
	for i := range ff {
		ff[i] = 0xff
	}
	g.d.CopyToDevice(g.ptr, ff)
}

func (g *gemmRig) launch(ctx context.Context) (time.Duration, error) {
	return g.d.LaunchTimed(ctx, g.fn, device.LaunchConfig{Grid: [3]int{g.grid}, Block: [3]int{g.threads}, SharedBytes: g.sharedDyn},
		g.ctl, g.ptr, g.pa, g.pb, g.py)
}

func (g *gemmRig) word(i int) uint32 { v, _ := g.d.Load32(g.ctl.Add(int64(4 * i))); return v }

func (g *gemmRig) y() []float32 {
	b := make([]byte, 4*g.m*g.n)
	g.d.CopyToHost(b, g.py)
	return bytesF32(b)
}

func (g *gemmRig) trace() []uint32 {
	b := make([]byte, 4*g.inst)
	g.d.CopyToHost(b, g.ptr)
	return u32s(b)
}

func TestGPUGemmPlanKernel(t *testing.T) {
	d := openGPU(t)
	g := newGemmRig(t, d, 300, 260, 70)
	g.reset(t)
	el, err := g.launch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, g.m*g.n)
	if err := ref.Gemm(ref.GemmParams{M: g.m, N: g.n, K: g.k, Alpha: 1, Beta: 1}, g.a, g.b, nil, nil, want); err != nil {
		t.Fatal(err)
	}
	var num, den float64
	for i, y := range g.y() {
		if math.IsNaN(float64(y)) {
			t.Fatalf("y[%d] not written", i)
		}
		num += (float64(y) - float64(want[i])) * (float64(y) - float64(want[i]))
		den += float64(want[i]) * float64(want[i])
	}
	if rel := math.Sqrt(num / den); rel > 1e-5 {
		t.Errorf("relative error %g", rel)
	}
	if done := g.word(protocol.WordDone); done != uint32(g.inst) {
		t.Errorf("done %d of %d tiles", done, g.inst)
	}
	for tile, sm := range g.trace() {
		if int(sm) >= d.Units() {
			t.Fatalf("tile %d: SM %d traced", tile, sm)
		}
	}
	t.Logf("gemm %dx%dx%d, %d tiles: %v", g.m, g.n, g.k, g.inst, el)
}

// The protocol on hardware: a long best-effort GEMM runs on every SM; while it runs the host
// clears half the SMs from its mask in mapped memory. From the per-tile SM trace, no tile
// claimed after the flip ran on a cleared SM, beyond one tile per block resident there (a
// block that read the mask just before the store). Then yield stops it (the preemption
// latency is the time from the store to the kernel's end) and a relaunch on the same control
// block finishes it with results identical to an uninterrupted run.
func TestGPUProtocolMaskFlipAndYield(t *testing.T) {
	d := openGPU(t)
	m, n, k := 4096, 4096, 1024
	if d.Simulated() { // an interpreter: the same protocol, a GEMM it finishes in seconds
		m, n, k = 1024, 512, 32
	}
	g := newGemmRig(t, d, m, n, k)
	want := func() []float32 {
		g.reset(t)
		if _, err := g.launch(context.Background()); err != nil {
			t.Fatal(err)
		}
		return g.y()
	}()
	nsm := d.Units()
	cleared := map[uint32]bool{}
	for s := 0; s < nsm/2; s++ {
		cleared[uint32(s)] = true
	}

	// Mask flip.
	g.reset(t)
	var wg sync.WaitGroup
	var lerr error
	wg.Add(1)
	go func() { defer wg.Done(); _, lerr = g.launch(context.Background()) }()
	for g.word(protocol.WordDone) < uint32(g.inst/8) {
	}
	for w := 0; w < (nsm+31)/32; w++ {
		var m uint32
		for b := 0; b < 32; b++ {
			if s := 32*w + b; s < nsm && !cleared[uint32(s)] {
				m |= 1 << b
			}
		}
		d.Store32(g.ctl.Add(int64(4*(protocol.WordSMMask+w))), m)
	}
	flipAt := g.word(protocol.WordNextTile)
	wg.Wait()
	if lerr != nil {
		t.Fatal(lerr)
	}
	if int(flipAt) >= g.inst {
		t.Fatalf("the kernel ended before the flip took effect (next_tile %d of %d): make it longer", flipAt, g.inst)
	}
	late := 0
	for tile, sm := range g.trace() {
		if sm == 0xffffffff {
			t.Fatalf("tile %d never ran", tile)
		}
		if uint32(tile) >= flipAt && cleared[sm] {
			late++
		}
	}
	blocksOnCleared := (g.grid / nsm) * len(cleared)
	t.Logf("mask flip at tile %d of %d: %d later tiles on cleared SMs (bound %d)", flipAt, g.inst, late, blocksOnCleared)
	if late > blocksOnCleared {
		t.Errorf("%d tiles ran on cleared SMs after the flip, more than one per block (%d)", late, blocksOnCleared)
	}
	got := g.y()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("masked run: y[%d] = %v, unmasked %v", i, got[i], want[i])
		}
	}

	// Yield, latency, resume. The store races the kernel (on a loaded host the kernel may
	// finish first), so it is tried up to five times.
	var latency time.Duration
	var done uint32
	for try := 1; ; try++ {
		g.reset(t)
		var stopped time.Time
		wg.Add(1)
		go func() { defer wg.Done(); _, lerr = g.launch(context.Background()); stopped = time.Now() }()
		for g.word(protocol.WordDone) < uint32(g.inst/4) {
		}
		start := time.Now()
		d.Store32(g.ctl.Add(4*protocol.WordYield), 1)
		wg.Wait()
		if lerr != nil {
			t.Fatal(lerr)
		}
		latency = stopped.Sub(start)
		done = g.word(protocol.WordDone)
		t.Logf("yield (try %d): stopped after %d of %d tiles; preemption latency (store to launch return) %v", try, done, g.inst, latency)
		if int(done) < g.inst {
			break
		}
		if try == 5 {
			t.Fatalf("yield came too late five times: all tiles done")
		}
	}
	d.Store32(g.ctl.Add(4*protocol.WordYield), 0)
	if _, err := g.launch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if done := g.word(protocol.WordDone); done != uint32(g.inst) {
		t.Errorf("after resume: done %d of %d", done, g.inst)
	}
	got = g.y()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("resumed run: y[%d] = %v, uninterrupted %v", i, got[i], want[i])
		}
	}
	gpuReport(t, "protocol", fmt.Sprintf("\nProtocol on %s: GEMM %dx%dx%d, %d tiles, %d blocks\n"+
		"  mask flip (half the SMs cleared) at tile %d: %d later tiles ran on cleared SMs (bound %d: one per block there)\n"+
		"  yield after %d tiles: preemption latency (store to launch return) %v\n"+
		"  relaunch on the same control block: finished, bit-identical to an uninterrupted run\n",
		d.Name(), g.m, g.n, g.k, g.inst, g.grid, flipAt, late, blocksOnCleared, done, latency))

	// Cancelling the context stops the kernel through its control block.
	g.reset(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for g.word(protocol.WordDone) < uint32(g.inst/4) {
		}
		cancel()
	}()
	_, err := g.launch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled launch: %v", err)
	}
	if g.word(protocol.WordYield) != 1 {
		t.Errorf("cancel did not set yield")
	}
}
