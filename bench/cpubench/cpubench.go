// Package cpubench is the CPU speed benchmark behind `elasticroom bench cpu`: for each real
// ONNX model (and optionally zoo models) it times ElasticRoom's CPU runtime (runtime/cpu) and
// onnxruntime (bench/ortref) in the same run, on the same inputs and machine, and reports the
// medians and their ratio. It imports runtime/cpu, models/ and bench/ortref; nothing below
// bench/ may import it.
package cpubench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/elasticroom/elasticroom/bench/ortref"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// Options choose what to benchmark.
type Options struct {
	Real    []string // real models by name (file name without .onnx); nil: all of RealModels
	NoReal  bool     // run no real model
	Zoo     []string // zoo models to add, built with batch 1 (nil: none)
	Runs    int      // timed runs per model and engine, after one warm-up (default 5)
	Seed    uint64   // input seed
	SeqLen  int      // bert's sequence length (0: the zoo's default)
	CPUOpts cpu.Options
}

// RealModel is a real model and the concrete input shapes it is benchmarked with.
type RealModel struct {
	Name   string
	Inputs map[string][]int
}

// RealModels are the models scripts/fetch-models installs, with their benchmark inputs.
var RealModels = []RealModel{
	{"ppocr_cls", map[string][]int{"x": {1, 3, 48, 192}}},
	{"ppocrv4_det", map[string][]int{"x": {1, 3, 640, 640}}},
	{"ppocrv4_rec", map[string][]int{"x": {1, 3, 48, 320}}},
	{"oww_melspectrogram", map[string][]int{"input": {1, 16000}}},
	{"oww_embedding", map[string][]int{"input_1": {1, 76, 32, 1}}},
	{"oww_hey_jarvis", map[string][]int{"x.1": {1, 16, 96}}},
}

// Result is one model's timings. Times are milliseconds.
type Result struct {
	Model    string    `json:"model"`
	Input    string    `json:"input"` // input shapes, e.g. "x=1x3x48x192"
	OursMS   float64   `json:"ours_median_ms"`
	ORTMS    float64   `json:"ort_median_ms"`
	Ratio    float64   `json:"ratio"` // OursMS / ORTMS
	OursMin  float64   `json:"ours_min_ms"`
	ORTMin   float64   `json:"ort_min_ms"`
	OursRuns []float64 `json:"ours_runs_ms"`
	ORTRuns  []float64 `json:"ort_runs_ms"`
	Error    string    `json:"error,omitempty"` // why this model has no timings
}

// Report is the whole benchmark.
type Report struct {
	Date       string   `json:"date"`
	CPU        string   `json:"cpu"`
	NumCPU     int      `json:"num_cpu"`
	GOMAXPROCS int      `json:"gomaxprocs"`
	GoVersion  string   `json:"go_version"`
	ORTThreads int      `json:"ort_intra_op_threads"`
	Runs       int      `json:"runs"`
	Results    []Result `json:"results"`
}

// Run benchmarks the chosen models, writing progress lines and then the table to w. A model
// that fails on either engine is reported with its error and the run goes on; Run fails only
// when onnxruntime or the models are missing, or when no model could be timed.
func Run(ctx context.Context, opts Options, w io.Writer) (*Report, error) {
	if opts.Runs <= 0 {
		opts.Runs = 5
	}
	if err := ortref.Available(); err != nil {
		return nil, err
	}
	rep := &Report{Date: time.Now().UTC().Format("2006-01-02"), CPU: cpuModel(), NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), Runs: opts.Runs}
	tmp, err := os.MkdirTemp("", "cpubench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var jobs []job
	if !opts.NoReal {
		dir, err := ortref.RealModelsDir()
		if err != nil {
			return nil, err
		}
		for _, m := range RealModels {
			if opts.Real != nil && !slices.Contains(opts.Real, m.Name) {
				continue
			}
			jobs = append(jobs, realJob(dir, m, opts.Seed))
		}
		for _, name := range opts.Real {
			if !slices.ContainsFunc(RealModels, func(m RealModel) bool { return m.Name == name }) {
				return nil, fmt.Errorf("unknown real model %q (known: %s)", name, realNames())
			}
		}
	}
	for _, name := range opts.Zoo {
		jobs = append(jobs, zooJob(tmp, name, opts))
	}
	timed := 0
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := j.run(ctx, opts, w, rep)
		rep.Results = append(rep.Results, r)
		if r.Error == "" {
			timed++
		}
	}
	writeTable(w, rep)
	if timed == 0 && len(jobs) > 0 {
		return rep, errors.New("no model could be timed")
	}
	return rep, nil
}

// job prepares one model: its graph, its file for onnxruntime and its inputs.
type job struct {
	name    string
	prepare func() (g *graph.Graph, path string, in map[string]*tensor.Tensor, err error)
}

func realJob(dir string, m RealModel, seed uint64) job {
	return job{name: m.Name, prepare: func() (*graph.Graph, string, map[string]*tensor.Tensor, error) {
		path := filepath.Join(dir, m.Name+".onnx")
		g, _, err := onnx.Load(path)
		if err != nil {
			return nil, "", nil, err
		}
		rng := rand.New(rand.NewPCG(seed, 0xbe4c))
		in := map[string]*tensor.Tensor{}
		for name, shape := range m.Inputs {
			x := tensor.MustNew(tensor.Float32, shape)
			for i, d := 0, x.Float32s(); i < len(d); i++ {
				d[i] = float32(rng.NormFloat64())
			}
			in[name] = x
		}
		return g, path, in, nil
	}}
}

func zooJob(tmp, name string, opts Options) job {
	return job{name: "zoo:" + name, prepare: func() (*graph.Graph, string, map[string]*tensor.Tensor, error) {
		g, err := zoo.Build(name, zoo.Options{Batch: 1, SeqLen: opts.SeqLen, Seed: 1})
		if err != nil {
			return nil, "", nil, err
		}
		path := filepath.Join(tmp, name+".onnx")
		if err := onnx.Save(g, path); err != nil {
			return nil, "", nil, fmt.Errorf("export: %w", err)
		}
		in, err := zoo.RandomInputs(name, g, 1, opts.Seed)
		return g, path, in, err
	}}
}

// run times one model on both engines.
func (j job) run(ctx context.Context, opts Options, w io.Writer, rep *Report) Result {
	r := Result{Model: j.name}
	fail := func(what string, err error) Result {
		r.Error = fmt.Sprintf("%s: %v", what, err)
		fmt.Fprintf(w, "bench cpu: %s: %s\n", j.name, r.Error)
		return r
	}
	g, path, in, err := j.prepare()
	if err != nil {
		return fail("load", err)
	}
	r.Input = describeInputs(in)
	fmt.Fprintf(w, "bench cpu: %s (%s): onnxruntime, 1 warm-up + %d runs\n", j.name, r.Input, opts.Runs)
	t, err := ortref.BenchRuns(ctx, path, in, opts.Runs)
	if err != nil {
		return fail("onnxruntime", err)
	}
	rep.ORTThreads = t.Threads
	r.ORTMS, r.ORTRuns, r.ORTMin = ms(t.Median), msAll(t.Runs), ms(slices.Min(t.Runs))
	fmt.Fprintf(w, "bench cpu: %s: onnxruntime median %.2f ms; ElasticRoom cpu, 1 warm-up + %d runs\n", j.name, r.ORTMS, opts.Runs)
	var runs []time.Duration
	for i := 0; i <= opts.Runs; i++ {
		start := time.Now()
		if _, err := cpu.Run(ctx, g, in, opts.CPUOpts); err != nil {
			return fail("runtime/cpu", err)
		}
		if i > 0 {
			runs = append(runs, time.Since(start))
		}
	}
	r.OursRuns = msAll(runs)
	r.OursMS, r.OursMin = ms(median(runs)), ms(slices.Min(runs))
	if r.ORTMS > 0 {
		r.Ratio = r.OursMS / r.ORTMS
	}
	fmt.Fprintf(w, "bench cpu: %s: ElasticRoom median %.2f ms (%.2fx onnxruntime)\n", j.name, r.OursMS, r.Ratio)
	return r
}

// writeTable prints the results as an aligned table.
func writeTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\n%s, %d CPUs (GOMAXPROCS %d), onnxruntime intra-op threads %d, median and min of %d runs (ms)\n",
		rep.CPU, rep.NumCPU, rep.GOMAXPROCS, rep.ORTThreads, rep.Runs)
	rows := [][]string{{"model", "input", "ours ms", "onnxruntime ms", "ours/ORT", "ours min", "ORT min"}}
	for _, r := range rep.Results {
		if r.Error != "" {
			rows = append(rows, []string{r.Model, r.Input, "-", "-", "-", "-", "-"})
			continue
		}
		rows = append(rows, []string{r.Model, r.Input, fmt.Sprintf("%.2f", r.OursMS), fmt.Sprintf("%.2f", r.ORTMS), fmt.Sprintf("%.2f", r.Ratio),
			fmt.Sprintf("%.2f", r.OursMin), fmt.Sprintf("%.2f", r.ORTMin)})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range rows {
		// Names left-aligned, numbers right-aligned.
		fmt.Fprintf(w, "%-*s  %-*s", width[0], row[0], width[1], row[1])
		for i := 2; i < len(row); i++ {
			fmt.Fprintf(w, "  %*s", width[i], row[i])
		}
		fmt.Fprintln(w)
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Model, r.Error)
		}
	}
}

func describeInputs(in map[string]*tensor.Tensor) string {
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		dims := make([]string, len(in[n].Shape))
		for k, d := range in[n].Shape {
			dims[k] = fmt.Sprint(d)
		}
		parts[i] = n + "=" + strings.Join(dims, "x")
	}
	return strings.Join(parts, " ")
}

func realNames() string {
	var names []string
	for _, m := range RealModels {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msAll(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = ms(x)
	}
	return out
}

// cpuModel is the processor's name from /proc/cpuinfo, or GOARCH where that is unreadable.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
