//go:build gpu && cgo && linux

package peers

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/cuda"
	"github.com/elasticroom/elasticroom/runtime/device"
	"github.com/elasticroom/elasticroom/runtime/exec"
)

// model is one model of the GPU checks.
type model struct {
	spec   string           // zoo:NAME or an ONNX path
	shapes map[string][]int // concrete input shapes for symbolic dims
}

// realDir is where the real ONNX models are: $ELASTICROOM_REAL_MODELS, else the repo's cache.
func realDir() string {
	if d := os.Getenv("ELASTICROOM_REAL_MODELS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", ".cache", "models", "real")
}

// zooModels is def, or the comma-separated zoo names of $ELASTICROOM_GPU_ZOO (run.sh cuts
// the list to mlp on the simulated GPU).
func zooModels(def ...string) []model {
	if s := os.Getenv("ELASTICROOM_GPU_ZOO"); s != "" {
		def = strings.Split(s, ",")
	}
	var ms []model
	for _, n := range def {
		ms = append(ms, model{spec: "zoo:" + n})
	}
	return ms
}

// timed is the model list of a timing test: def, or mlp alone on the simulated GPU (whose
// timings mean nothing: there the tests only exercise their code path).
func timed(d *cuda.Device, def ...string) []model {
	if d.Simulated() {
		return []model{{spec: "zoo:mlp"}}
	}
	return zooModels(def...)
}

// reps is n, or 2 on the simulated GPU.
func reps(d *cuda.Device, n int) int {
	if d.Simulated() {
		return 2
	}
	return n
}

func models_(t *testing.T) []model {
	names := []string{"mlp", "resnet18", "mobilenetv2", "resnet50"}
	if os.Getenv("ELASTICROOM_GPU_BIG") == "1" {
		names = append(names, "vgg16", "bert")
	}
	ms := zooModels(names...)
	for name, shapes := range map[string]map[string][]int{
		"ppocr_cls.onnx": {"x": {1, 3, 48, 192}}, "ppocrv4_det.onnx": {"x": {1, 3, 320, 320}},
		"ppocrv4_rec.onnx": {"x": {1, 3, 48, 320}}, "oww_melspectrogram.onnx": {"input": {1, 16000}},
		"oww_embedding.onnx": {"input_1": {1, 76, 32, 1}}, "oww_hey_jarvis.onnx": nil,
	} {
		p := filepath.Join(realDir(), name)
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
				t.Fatalf("real model %s absent (%v; scripts/fetch-models)", p, err)
			}
			t.Logf("real model %s absent (%v): skipped", p, err)
			continue
		}
		ms = append(ms, model{spec: p, shapes: shapes})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].spec < ms[j].spec })
	return ms
}

func openCUDA(t *testing.T) *cuda.Device {
	d, err := cuda.Open(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// target is the compiler target matching the GPU (its SM count read from the device).
func target(t *testing.T, d *cuda.Device) budget.Target {
	tg, err := budget.LookupTarget(d.Info().Arch())
	if err != nil {
		if tg, err = budget.LookupTarget("sm_90"); err != nil {
			t.Fatal(err)
		}
	}
	tg.SMs = d.Units()
	return tg
}

// inputs makes seeded random inputs for g with the given concrete shapes.
func inputs(g *graph.Graph, shapes map[string][]int, batch int) (map[string]*tensor.Tensor, error) {
	r := rand.New(rand.NewPCG(1, 2))
	out := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		if _, init := g.Initializers[v.Name]; init {
			continue
		}
		shape, ok := shapes[v.Name]
		if !ok {
			var conc bool
			shape, conc = v.Shape.Concrete()
			if !conc {
				dims := make([]int, len(v.Shape))
				for i, d := range v.Shape {
					if d.Known() {
						dims[i] = int(d.Size)
					} else if i == 0 {
						dims[i] = batch
					} else {
						return nil, fmt.Errorf("input %q: symbolic dim %d", v.Name, i)
					}
				}
				shape = dims
			}
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		switch v.DType {
		case tensor.Float32:
			x := make([]float32, n)
			for i := range x {
				x[i] = r.Float32()*2 - 1
			}
			out[v.Name] = tensor.FromFloat32(shape, x)
		case tensor.Int64:
			x := make([]int64, n)
			for i := range x {
				x[i] = 1 + int64(r.IntN(1000))
			}
			if strings.Contains(v.Name, "mask") {
				for i := range x {
					x[i] = 1
				}
			}
			out[v.Name] = tensor.FromInt64(shape, x)
		default:
			return nil, fmt.Errorf("input %q: dtype %v", v.Name, v.DType)
		}
	}
	return out, nil
}

func load(t *testing.T, m model, batch int) (*graph.Graph, map[string]*tensor.Tensor) {
	g, _, err := models.Open(m.spec, zoo.Options{Batch: batch})
	if err != nil {
		t.Fatalf("%s: %v", m.spec, err)
	}
	in, err := inputs(g, m.shapes, batch)
	if err != nil {
		t.Fatalf("%s: %v", m.spec, err)
	}
	return g, in
}

func compile(t *testing.T, g *graph.Graph, tg budget.Target, sms int, in map[string]*tensor.Tensor) *plan.Plan {
	shapes := map[string][]int{}
	for k, v := range in {
		shapes[k] = v.Shape
	}
	p, err := compiler.Compile(context.Background(), g, compiler.Options{Target: tg, Budget: budget.Budget{SMs: sms}, Shapes: shapes, Eval: cpu.EvalNode})
	if err != nil {
		t.Fatalf("compile for %d SMs: %v", sms, err)
	}
	return p
}

func relErr(got, want *tensor.Tensor) (float64, error) {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	g, w := toF64(got), toF64(want)
	if g == nil || w == nil {
		return 0, fmt.Errorf("dtype %v", got.DType)
	}
	var num, den float64
	for i := range w {
		if math.IsNaN(g[i]) != math.IsNaN(w[i]) {
			return math.Inf(1), nil
		}
		num += (g[i] - w[i]) * (g[i] - w[i])
		den += w[i] * w[i]
	}
	if den == 0 {
		return math.Sqrt(num), nil
	}
	return math.Sqrt(num / den), nil
}

func toF64(t *tensor.Tensor) []float64 {
	switch d := t.Data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []int64:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	}
	return nil
}

// TestGPUModelsMatchCPU runs every zoo and real model on cuda and on the cpu device with the
// same inputs; every output must agree within 1e-4 relative error (DESIGN.md section 7).
func TestGPUModelsMatchCPU(t *testing.T) {
	d := openCUDA(t)
	tg := target(t, d)
	tab := newTable(t, "models", "Every model on cuda vs the cpu device (same inputs; relative error limit 1e-4)")
	tab.f("%-28s %-10s %10s %10s %s\n", "MODEL", "RESULT", "CPU", "CUDA", "MAX REL ERR")
	for _, m := range models_(t) {
		t.Run(filepath.Base(m.spec), func(t *testing.T) {
			g, in := load(t, m, 1)
			start := time.Now()
			want, err := cpu.Run(context.Background(), g, in, cpu.Options{})
			if err != nil {
				t.Fatalf("cpu: %v", err)
			}
			tcpu := time.Since(start)
			p := compile(t, g, tg, tg.SMs, in)
			inst, err := exec.Load(context.Background(), d, p)
			if err != nil {
				t.Fatalf("load on cuda: %v", err)
			}
			defer inst.Close()
			inst.Run(context.Background(), in, exec.RunOptions{}) // warm-up (JIT, first touch)
			start = time.Now()
			got, err := inst.Run(context.Background(), in, exec.RunOptions{})
			if err != nil {
				t.Fatalf("cuda: %v", err)
			}
			tcuda := time.Since(start)
			worst := 0.0
			for name, w := range want {
				gv, ok := got[name]
				if !ok {
					t.Errorf("output %q missing on cuda", name)
					continue
				}
				e, err := relErr(gv, w)
				if err != nil {
					t.Errorf("output %q: %v", name, err)
					continue
				}
				worst = max(worst, e)
			}
			res := "ok"
			if worst > 1e-4 || t.Failed() {
				res = "MISMATCH"
				t.Errorf("max relative error %g > 1e-4", worst)
			}
			tab.f("%-28s %-10s %10s %10s %.2e\n", filepath.Base(m.spec), res, tcpu.Round(time.Microsecond), tcuda.Round(time.Microsecond), worst)
		})
	}
}

// timing wraps the cuda device so that every kernel launch exec makes is timed by events.
type timing struct {
	*cuda.Device
	mu    sync.Mutex
	times map[string]time.Duration
}

func (d *timing) Launch(ctx context.Context, fn device.Function, cfg device.LaunchConfig, args ...any) error {
	el, err := d.Device.LaunchTimed(ctx, fn, cfg, args...)
	d.mu.Lock()
	d.times[fn.Name()] += el
	d.mu.Unlock()
	return err
}

// TestGPUKernelsVsCostModel prints, for every kernel of the smaller models at the full
// budget, the time measured by events against the cost model's estimate.
func TestGPUKernelsVsCostModel(t *testing.T) {
	d := openCUDA(t)
	tg := target(t, d)
	tab := newTable(t, "kernels", "Kernels at the full budget: GPU time (events, mean of 5) vs the cost model's estimate")
	tab.f("%-16s %-44s %-22s %6s %10s %10s %7s\n", "MODEL", "KERNEL", "OP", "TILES", "EST us", "GPU us", "RATIO")
	for _, m := range timed(d, "mlp", "resnet18", "mobilenetv2") {
		g, in := load(t, m, 1)
		p := compile(t, g, tg, tg.SMs, in)
		td := &timing{Device: d, times: map[string]time.Duration{}}
		inst, err := exec.Load(context.Background(), td, p)
		if err != nil {
			t.Fatalf("%s: %v", m.spec, err)
		}
		inst.Run(context.Background(), in, exec.RunOptions{})
		td.times = map[string]time.Duration{}
		reps := reps(d, 5)
		start := time.Now()
		for range reps {
			if _, err := inst.Run(context.Background(), in, exec.RunOptions{}); err != nil {
				t.Fatalf("%s: %v", m.spec, err)
			}
		}
		wall := float64(time.Since(start).Microseconds()) / float64(reps)
		inst.Close()
		var est, got float64
		for _, k := range p.Kernels {
			meas := float64(td.times[k.Name].Microseconds()) / float64(reps)
			est += k.EstMicros
			got += meas
			ratio := math.NaN()
			if k.EstMicros > 0 {
				ratio = meas / k.EstMicros
			}
			tab.f("%-16s %-44.44s %-22.22s %6d %10.1f %10.1f %7.2f\n", m.spec, k.Name, k.Op, k.Tiles, k.EstMicros, meas, ratio)
		}
		tab.f("%-16s %-44s %-22s %6s %10.1f %10.1f %7.2f\n", m.spec, "TOTAL", "", "", est, got, got/est)
		tab.f("%-16s %-44s %-22s %6d %10s %10.1f %7s\n", m.spec, "HOST us per kernel: (run wall - GPU) / kernels", "", len(p.Kernels), "", (wall-got)/float64(max(len(p.Kernels), 1)), "")
	}
}

// TestGPUBudgets times models compiled for and run on 8, 20, 66 and all SMs.
func TestGPUBudgets(t *testing.T) {
	d := openCUDA(t)
	tg := target(t, d)
	var budgets []int // 8, 20, 66, 132 SMs, those the GPU has, and all of its SMs
	for _, b := range []int{8, 20, 66, 132, tg.SMs} {
		if b <= tg.SMs && (len(budgets) == 0 || b > budgets[len(budgets)-1]) {
			budgets = append(budgets, b)
		}
	}
	tab := newTable(t, "budgets", "Model latency (ms, median of 10, host to host) compiled for and run on an SM budget")
	tab.f("%-16s", "MODEL")
	for _, b := range budgets {
		tab.f(" %9s", fmt.Sprintf("%d SMs", b))
	}
	tab.f("\n")
	for _, m := range timed(d, "mlp", "resnet18", "mobilenetv2", "resnet50") {
		g, in := load(t, m, 1)
		tab.f("%-16s", m.spec)
		for _, b := range budgets {
			p := compile(t, g, tg, b, in)
			inst, err := exec.Load(context.Background(), d, p)
			if err != nil {
				t.Fatalf("%s at %d SMs: %v", m.spec, b, err)
			}
			var ts []time.Duration
			for i := range reps(d, 11) {
				start := time.Now()
				if _, err := inst.Run(context.Background(), in, exec.RunOptions{}); err != nil {
					t.Fatalf("%s at %d SMs: %v", m.spec, b, err)
				}
				if i > 0 {
					ts = append(ts, time.Since(start))
				}
			}
			inst.Close()
			sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
			tab.f(" %9.3f", float64(ts[len(ts)/2].Microseconds())/1000)
		}
		tab.f("\n")
	}
}

// table prints a result table as it grows and, when the test ends, writes it to
// $ELASTICROOM_GPU_REPORT/<name>.txt for run.sh's summary.
type table struct {
	name string
	b    strings.Builder
}

func newTable(t *testing.T, name, title string) *table {
	tab := &table{name: name}
	tab.f("\n%s\n", title)
	t.Cleanup(func() { report(t, name, tab.b.String()) })
	return tab
}

func (tab *table) f(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	fmt.Print(s)
	tab.b.WriteString(s)
}
