package sched_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/emu"
	"github.com/elasticroom/elasticroom/runtime/exec"
	"github.com/elasticroom/elasticroom/runtime/sched"
)

func compileFor(t testing.TB, g *graph.Graph, ins map[string]*tensor.Tensor) *plan.Plan {
	t.Helper()
	target, err := budget.LookupTarget("sm_90")
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{}
	for k, v := range ins {
		shapes[k] = v.Shape
	}
	p, err := compiler.Compile(context.Background(), g, compiler.Options{Target: target, Budget: budget.Budget{SMs: 20}, Shapes: shapes, Eval: cpu.EvalNode})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mlp(t testing.TB) (*graph.Graph, map[string]*tensor.Tensor) {
	t.Helper()
	g, err := zoo.Build("mlp", zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs("mlp", g, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	return g, ins
}

// heavy is the best-effort model: ppocr_cls when downloaded, else the zoo's MobileNetV2.
func heavy(t testing.TB) (*graph.Graph, map[string]*tensor.Tensor) {
	t.Helper()
	path := filepath.Join("..", "..", ".cache", "models", "real", "ppocr_cls.onnx")
	if _, err := os.Stat(path); err == nil {
		g, _, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		dims := map[string]int{}
		shape := []int{1, 3, 48, 192}
		for _, v := range g.Inputs {
			for i, d := range v.Shape {
				if d.Param != "" {
					dims[d.Param] = shape[i]
				}
			}
		}
		ins, err := models.RandomInputs(g, dims, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		return g, ins
	}
	g, err := zoo.Build("mobilenetv2", zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs("mobilenetv2", g, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	return g, ins
}

func sameBits(a, b map[string]*tensor.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, w := range b {
		g := a[k]
		if g == nil || g.Len() != w.Len() {
			return false
		}
		for i, v := range w.Float32s() {
			if math.Float32bits(g.Float32s()[i]) != math.Float32bits(v) {
				return false
			}
		}
	}
	return true
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestCPUPoolIsolation serves a real-time MLP beside a saturating best-effort CNN on the cpu
// unit pool under ElasticRoom: the tile trace shows no best-effort tile starting on the
// real-time units while a real-time request runs, best-effort results stay bit-exact across
// many preemptions, and real-time latency stays near its latency alone.
func TestCPUPoolIsolation(t *testing.T) {
	pool, err := cpu.NewPool(cpu.PoolOptions{Units: 4, TileTime: 300 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rg, rins := mlp(t)
	bg, bins := heavy(t)
	rp, bp := compileFor(t, rg, rins), compileFor(t, bg, bins)
	rwant, err := cpu.Run(context.Background(), rp.Graph, rins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bwant, err := cpu.Run(context.Background(), bp.Graph, bins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rtLog, beLog cpu.TileLog
	rtRun, err := sched.NewPlanRunner(pool, rp, sched.PoolOptions{Priority: 1, Trace: &rtLog})
	if err != nil {
		t.Fatal(err)
	}
	beRun, err := sched.NewPlanRunner(pool, bp, sched.PoolOptions{Trace: &beLog})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sched.New(sched.Config{Units: pool.Units()},
		sched.Tenant{Name: "rt", Class: sched.Realtime, Units: 2, SLO: time.Second, Runner: rtRun},
		sched.Tenant{Name: "be", Class: sched.BestEffort, Runner: beRun})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx := context.Background()
	rtOnce := func() time.Duration {
		start := time.Now()
		out, err := s.Submit(ctx, "rt", rins)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(out, rwant) {
			t.Fatal("real-time result differs from the cpu run")
		}
		return time.Since(start)
	}
	var alone []time.Duration
	for range 15 {
		alone = append(alone, rtOnce())
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var beRuns, beBad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := s.Submit(ctx, "be", bins)
			if err != nil || !sameBits(out, bwant) {
				beBad.Add(1)
			}
			beRuns.Add(1)
		}
	}()
	for beLog.Tiles() == nil {
		time.Sleep(time.Millisecond)
	}
	type window struct{ a, b time.Duration }
	var beside []time.Duration
	var wins []window
	for range 25 {
		a := pool.Since()
		beside = append(beside, rtOnce())
		wins = append(wins, window{a, pool.Since()})
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	if beBad.Load() > 0 || beRuns.Load() == 0 {
		t.Errorf("%d of %d best-effort results wrong", beBad.Load(), beRuns.Load())
	}
	snap := s.Snapshot()
	if be := snap.Tenants[1]; be.Preemptions == 0 {
		t.Errorf("best-effort was never preempted: %+v", be)
	}
	// trace: from a real-time request's first tile to its last, no best-effort tile starts on
	// a real-time unit (one claimed before the shrink may still be finishing: a unit's worker
	// runs one tile at a time, so the real-time tile there waits for at most that one)
	rtUnits := map[int]bool{0: true, 1: true}
	rtTiles, beTiles := rtLog.Tiles(), beLog.Tiles()
	for _, w := range wins {
		first, last := w.b, w.a
		for _, tr := range rtTiles {
			if tr.Start >= w.a && tr.End <= w.b {
				first, last = min(first, tr.Start), max(last, tr.End)
				if !rtUnits[tr.Unit] {
					t.Fatalf("real-time tile on unit %d outside its guarantee", tr.Unit)
				}
			}
		}
		for _, tr := range beTiles {
			if rtUnits[tr.Unit] && tr.Start >= first && tr.Start < last {
				t.Fatalf("best-effort tile %+v started on real-time unit %d inside the real-time request [%v, %v]", tr, tr.Unit, first, last)
			}
		}
	}
	ma, mb := median(alone), median(beside)
	t.Logf("real-time mlp median latency: alone %v, beside best-effort %v (%.1fx); best-effort runs %d, preemptions %d, pool %s",
		ma, mb, float64(mb)/float64(ma), beRuns.Load(), snap.Tenants[1].Preemptions, pool.Name())
	if mb > 10*ma+20*pool.TileTime() {
		t.Errorf("real-time latency beside best-effort %v, alone %v: over the loose bound", mb, ma)
	}
}

// TestEmuProtocol runs two MLP tenants on the emulated GPU through exec.Instances: the
// real-time kernels' tiles run only on the guaranteed SMs and both results stay right.
func TestEmuProtocol(t *testing.T) {
	g, ins := mlp(t)
	p := compileFor(t, g, ins)
	want, err := cpu.Run(context.Background(), p.Graph, ins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := emu.New(emu.Config{Target: p.Target, Units: 8})
	if err != nil {
		t.Fatal(err)
	}
	load := func() *exec.Instance {
		in, err := exec.Load(context.Background(), dev, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		return in
	}
	var mu sync.Mutex
	var rtTraces [][]exec.KernelTrace
	rtRun, err := sched.NewExecRunner([]*exec.Instance{load()}, sched.ExecOptions{Priority: 1, OnTrace: func(tr []exec.KernelTrace) {
		mu.Lock()
		rtTraces = append(rtTraces, tr)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	beRun, err := sched.NewExecRunner([]*exec.Instance{load(), load()}, sched.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sched.New(sched.Config{Units: dev.Units(), UnitName: "SMs"},
		sched.Tenant{Name: "rt", Class: sched.Realtime, Units: 3, Runner: rtRun},
		sched.Tenant{Name: "be", Class: sched.BestEffort, Runner: beRun})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	check := func(tenant string) {
		defer wg.Done()
		out, err := s.Submit(ctx, tenant, ins)
		if err != nil {
			errs <- err
			return
		}
		for name, w := range want {
			var num, den float64
			for i, v := range w.Float32s() {
				d := float64(out[name].Float32s()[i] - v)
				num, den = num+d*d, den+float64(v)*float64(v)
			}
			if math.Sqrt(num/den) > 1e-4 {
				errs <- &mismatch{tenant}
			}
		}
	}
	for range 2 {
		wg.Add(2)
		go check("be")
		go check("rt")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(rtTraces) != 2 {
		t.Fatalf("%d real-time traces, want 2", len(rtTraces))
	}
	for _, tr := range rtTraces {
		for _, k := range tr {
			for _, u := range k.TileUnit {
				if u < 0 || u >= 3 {
					t.Fatalf("real-time kernel %s ran a tile on SM %d, outside its guarantee [0 3)", k.Kernel, u)
				}
			}
		}
	}
}

type mismatch struct{ tenant string }

func (m *mismatch) Error() string { return m.tenant + ": result differs from the cpu run" }
