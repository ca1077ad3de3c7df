package cpu_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

func newPool(t testing.TB, units int, tile time.Duration) *cpu.Pool {
	t.Helper()
	p, err := cpu.NewPool(cpu.PoolOptions{Units: units, TileTime: tile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func zooModel(t testing.TB, name string) (*graph.Graph, map[string]*tensor.Tensor) {
	t.Helper()
	g, err := zoo.Build(name, zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs(name, g, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	return g, ins
}

func ppocrCls(t testing.TB) (*graph.Graph, map[string]*tensor.Tensor) {
	t.Helper()
	path := filepath.Join("..", "..", ".cache", "models", "real", "ppocr_cls.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not downloaded", path)
	}
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

func bitsEqual(t *testing.T, what string, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if g == nil || g.DType != w.DType || g.Len() != w.Len() {
			t.Fatalf("%s: output %q is %v, want %v", what, name, g, w)
		}
		gd, wd := g.Float32s(), w.Float32s()
		for i := range wd {
			if math.Float32bits(gd[i]) != math.Float32bits(wd[i]) {
				t.Fatalf("%s: output %q element %d is %v on the units, %v in Run", what, name, i, gd[i], wd[i])
			}
		}
	}
}

// TestModelsBitIdentical runs whole models on the unit pool (tiny tiles, many of them) and
// wants the bits of the untiled executor, also for the compiler's fused plan graphs.
func TestModelsBitIdentical(t *testing.T) {
	p := newPool(t, 5, 20*time.Microsecond)
	target, err := budget.LookupTarget("sm_90")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mlp", "ppocr_cls"} {
		t.Run(name, func(t *testing.T) {
			var g *graph.Graph
			var ins map[string]*tensor.Tensor
			if name == "ppocr_cls" {
				g, ins = ppocrCls(t)
			} else {
				g, ins = zooModel(t, name)
			}
			shapes := map[string][]int{}
			for k, v := range ins {
				shapes[k] = v.Shape
			}
			pl, err := compiler.Compile(context.Background(), g, compiler.Options{Target: target, Budget: budget.Budget{SMs: 20}, Shapes: shapes, Eval: cpu.EvalNode})
			if err != nil {
				t.Fatal(err)
			}
			for what, gg := range map[string]*graph.Graph{"model": g, "plan": pl.Graph} {
				want, err := cpu.Run(context.Background(), gg, ins, cpu.Options{})
				if err != nil {
					t.Fatal(err)
				}
				var log cpu.TileLog
				got, err := p.Run(context.Background(), gg, ins, cpu.UnitRunOptions{Trace: &log})
				if err != nil {
					t.Fatal(err)
				}
				bitsEqual(t, what, got, want)
				if len(log.Tiles()) <= len(gg.Nodes) {
					t.Errorf("%s: %d tiles for %d nodes: nothing was split", what, len(log.Tiles()), len(gg.Nodes))
				}
			}
		})
	}
}

// TestMaskProtocol: units outside the mask take no tile; an empty mask parks the run until
// units come back; a mask change in the middle of a node moves its remaining tiles.
func TestMaskProtocol(t *testing.T) {
	p := newPool(t, 4, 20*time.Microsecond)
	g, ins := zooModel(t, "mlp")
	want, err := cpu.Run(context.Background(), g, ins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.NewMask([]int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	var log cpu.TileLog
	got, err := p.Run(context.Background(), g, ins, cpu.UnitRunOptions{Mask: m, Trace: &log})
	if err != nil {
		t.Fatal(err)
	}
	bitsEqual(t, "masked", got, want)
	for _, tr := range log.Tiles() {
		if tr.Unit != 1 && tr.Unit != 3 {
			t.Fatalf("tile %+v ran on a unit outside the mask [1 3]", tr)
		}
	}

	// empty mask: the run waits; units given back: it finishes
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var log2 cpu.TileLog
	go func() {
		got, err := p.Run(context.Background(), g, ins, cpu.UnitRunOptions{Mask: m, Trace: &log2})
		if err == nil {
			for name := range want {
				if got[name].Len() != want[name].Len() {
					err = errors.New("wrong output")
				}
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("run with an empty mask finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if n := len(log2.Tiles()); n != 0 {
		t.Fatalf("%d tiles ran with an empty mask", n)
	}
	given := p.Since()
	if err := m.Set([]int{2}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not resume")
	}
	for _, tr := range log2.Tiles() {
		if tr.Unit != 2 || tr.Start < given {
			t.Fatalf("tile %+v: want unit 2 after %v", tr, given)
		}
	}

	// cancellation while parked
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Run(ctx, g, ins, cpu.UnitRunOptions{Mask: m}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("parked run with a deadline: %v", err)
	}
	if _, err := p.NewMask([]int{4}); err == nil {
		t.Error("mask with unit 4 of a 4-unit pool accepted")
	}
}

func TestPoolName(t *testing.T) {
	p := newPool(t, 64, 0)
	if p.Units() != 64 || p.TileTime() != cpu.DefaultTileTime || p.FlopRate() <= 0 {
		t.Errorf("pool: %d units, tile %v, rate %v", p.Units(), p.TileTime(), p.FlopRate())
	}
	if n := p.Name(); n == "" || (64 > numCPU() && !contains(n, "oversubscribed")) {
		t.Errorf("name %q does not say units outnumber cores", n)
	}
	if _, err := cpu.NewPool(cpu.PoolOptions{Units: -1}); err == nil {
		t.Error("negative units accepted")
	}
}

func numCPU() int { return runtime.GOMAXPROCS(0) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
