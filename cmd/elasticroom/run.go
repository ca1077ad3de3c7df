package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/cuda" // registers the cuda device
	"github.com/elasticroom/elasticroom/runtime/device"
	_ "github.com/elasticroom/elasticroom/runtime/emu" // registers the emu device
	"github.com/elasticroom/elasticroom/runtime/exec"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a model once on a device and write or summarise its outputs",
		ArgsUsage: "MODEL (a .onnx or .erp file, or zoo:NAME)",
		Description: `Runs MODEL on the chosen device: cpu runs the model's graph (a plan's optimized graph) with the
reference operators; cuda compiles the model for every SM of the GPU (a plan: for the plan's
own budget) and runs its PTX kernels through the CUDA driver (ELASTICROOM_LIBCUDA=sim runs them
on the simulated GPU instead: a PTX interpreter, docs/gpu.md); emu runs a compiled plan's
kernels on the kernel emulator (slow: an interpreter), compiling a model for every SM of
sm_90 first. Inputs are .npy files (C order), one --input per model input; every output is written to --output-dir as <output name>.npy, with every character
outside [A-Za-z0-9_.-] replaced by '_'. Without --output-dir a summary is printed.

Examples:
   elasticroom run model.onnx --input x=x.npy --output-dir out/
   elasticroom run zoo:resnet18 --random-inputs
   elasticroom run model.erp --random-inputs --device emu
   elasticroom run det.onnx --random-inputs --dim height=640 --dim width=640`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "model input as `NAME=FILE.npy` (repeat per input)"},
			&cli.StringFlag{Name: "output-dir", Aliases: []string{"o"}, Usage: "write each output as `DIR`/<name>.npy"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "device to run on: auto|cpu|cuda|emu (auto picks cuda when a GPU answers, else cpu)"},
			&cli.BoolFlag{Name: "random-inputs", Usage: "feed seeded random inputs instead of --input files"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of --random-inputs"},
			&cli.IntFlag{Name: "batch", Usage: "batch size: the first dim of random inputs and the batch of zoo models (default 1)"},
			&cli.IntFlag{Name: "seq-len", Usage: "sequence length of zoo transformer models (0: the model's default)"},
			&cli.StringSliceFlag{Name: "dim", Usage: "size of a symbolic input dim for random inputs, `NAME=SIZE`"},
			&cli.IntFlag{Name: "repeat", Value: 1, Usage: "run this many times and report the median latency"},
			&cli.IntFlag{Name: "workers", Usage: "cpu device: worker goroutines (0: all cores)"},
		},
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("run needs exactly one MODEL argument (a .onnx or .erp file, or zoo:NAME), got %d", c.NArg())
	}
	dev, err := pickDevice(c.String("device"))
	if err != nil {
		return err
	}
	batch := c.Int("batch")
	spec := c.Args().First()
	var (
		g   *graph.Graph
		p   *plan.Plan
		src = models.Source{Spec: spec, Path: spec}
	)
	if strings.HasSuffix(strings.ToLower(spec), ".erp") {
		if p, err = plan.Load(spec); err != nil {
			return err
		}
		g = p.Graph
	} else if g, src, err = models.Open(spec, zoo.Options{Batch: max(batch, 1), SeqLen: c.Int("seq-len")}); err != nil {
		return err
	}
	inputs, err := gatherInputs(c, g, src, batch)
	if err != nil {
		return err
	}
	if err := g.CheckInputs(inputs); err != nil {
		return fmt.Errorf("model %q: %w", src.Spec, err)
	}
	w := c.App.Writer
	run, label, err := prepareRun(c, dev, g, p, inputs)
	if err != nil {
		return fmt.Errorf("model %q on %s: %w", src.Spec, dev, err)
	}
	repeat := max(c.Int("repeat"), 1)
	var outs map[string]*tensor.Tensor
	times := make([]time.Duration, 0, repeat)
	for range repeat {
		start := time.Now()
		if outs, err = run(); err != nil {
			return fmt.Errorf("model %q on %s: %w", src.Spec, label, err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Fprintf(w, "model %s on %s: %d nodes, latency %s", src.Spec, label, len(g.Nodes), fmtDur(times[len(times)/2]))
	if repeat > 1 {
		fmt.Fprintf(w, " (median of %d; min %s)", repeat, fmtDur(times[0]))
	}
	fmt.Fprintln(w)
	if dir := c.String("output-dir"); dir != "" {
		return writeOutputs(w, dir, g, outs)
	}
	summarise(w, g, outs)
	return nil
}

// prepareRun returns a function running the model once on dev and a label of the device. The
// cpu device runs the graph (a plan's optimized graph) with runtime/cpu; the emu device runs a
// plan, compiling a model first for every SM of the default target.
func prepareRun(c *cli.Context, dev string, g *graph.Graph, p *plan.Plan, inputs map[string]*tensor.Tensor) (func() (map[string]*tensor.Tensor, error), string, error) {
	if dev == "cpu" {
		return func() (map[string]*tensor.Tensor, error) {
			return cpu.Run(c.Context, g, inputs, cpu.Options{Workers: c.Int("workers")})
		}, dev, nil
	}
	target, err := runTarget(p)
	if err != nil {
		return nil, "", err
	}
	d, err := device.Open(dev, device.Options{Target: target})
	if err != nil {
		return nil, "", err
	}
	if cd, ok := d.(*cuda.Device); ok && p == nil {
		if target, err = cudaTarget(cd.Info()); err != nil {
			return nil, "", err
		}
	}
	if p == nil {
		shapes := map[string][]int{}
		for name, t := range inputs {
			shapes[name] = t.Shape
		}
		start := time.Now()
		p, err = compiler.Compile(c.Context, g, compiler.Options{Target: target, Budget: budget.Full(target),
			Shapes: shapes, Eval: cpu.EvalNode})
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(c.App.Writer, "compiled for %s (%v) in %s: %d kernels, %d launches\n", target.Name, p.Budget,
			fmtDur(time.Since(start)), len(p.Kernels), len(p.Launches))
	}
	inst, err := exec.Load(c.Context, d, p)
	if err != nil {
		return nil, "", err
	}
	return func() (map[string]*tensor.Tensor, error) {
		return inst.Run(c.Context, inputs, exec.RunOptions{})
	}, d.Name(), nil
}

// defaultTarget is the GPU model `run --device emu` compiles ONNX and zoo models for.
const defaultTarget = "sm_90"

// runTarget is the target a run compiles for: the plan's own, else the default one (the cuda
// device's real one replaces it once the device is open).
func runTarget(p *plan.Plan) (budget.Target, error) {
	if p != nil {
		return p.Target, nil
	}
	return budget.LookupTarget(defaultTarget)
}

// cudaTarget is the compile target of the GPU that answered: the known target of its
// architecture, with the SM count the GPU reports (an H100 PCIe has fewer SMs than an SXM).
func cudaTarget(info cuda.Info) (budget.Target, error) {
	t, err := budget.LookupTarget(info.Arch())
	if err != nil {
		return t, fmt.Errorf("GPU %s (%s): %w", info.Name, info.Arch(), err)
	}
	if info.SMs > 0 && info.SMs != t.SMs {
		t.SMs = info.SMs
		t.Name = fmt.Sprintf("%s-%dsm", t.Name, info.SMs)
	}
	return t, nil
}

// pickDevice resolves --device: auto picks cuda when a GPU answers, else cpu; emu runs
// compiled plans on the kernel emulator.
func pickDevice(name string) (string, error) {
	switch name {
	case "auto":
		if cuda.Available() == nil {
			return "cuda", nil
		}
		return "cpu", nil
	case "cpu", "cuda", "emu":
		return name, nil
	}
	return "", fmt.Errorf("--device %q: unknown device (want auto, cpu, cuda or emu)", name)
}

func gatherInputs(c *cli.Context, g *graph.Graph, src models.Source, batch int) (map[string]*tensor.Tensor, error) {
	files, order, err := models.ParseAssignments("input", c.StringSlice("input"))
	if err != nil {
		return nil, err
	}
	if c.Bool("random-inputs") {
		if len(files) > 0 {
			return nil, fmt.Errorf("give either --input files or --random-inputs, not both")
		}
		if src.Zoo != "" {
			return zoo.RandomInputs(src.Zoo, g, max(batch, 1), c.Uint64("seed"))
		}
		dims := map[string]int{}
		raw, _, err := models.ParseAssignments("dim", c.StringSlice("dim"))
		if err != nil {
			return nil, err
		}
		for k, v := range raw {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--dim %s=%s: the size must be a positive integer", k, v)
			}
			dims[k] = n
		}
		return models.RandomInputs(g, dims, max(batch, 1), c.Uint64("seed"))
	}
	if len(files) == 0 {
		names := make([]string, 0, len(g.Inputs))
		for _, v := range g.Inputs {
			if !g.IsInitializer(v.Name) {
				names = append(names, v.String())
			}
		}
		return nil, fmt.Errorf("no inputs given: pass --input NAME=FILE.npy for each of %s, or --random-inputs", strings.Join(names, ", "))
	}
	inputs := map[string]*tensor.Tensor{}
	for _, name := range order {
		t, err := tensor.LoadNPY(files[name])
		if err != nil {
			return nil, fmt.Errorf("--input %s=%s: %w", name, files[name], err)
		}
		inputs[name] = t
	}
	return inputs, nil
}

// OutputFileName is the file name of a model output: every character outside
// [A-Za-z0-9_.-] becomes '_', and ".npy" is appended.
func OutputFileName(name string) string {
	b := []byte(name)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-'
		if !ok {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" || s == "." || s == ".." {
		s = strings.Repeat("_", max(len(s), 1))
	}
	return s + ".npy"
}

func writeOutputs(w io.Writer, dir string, g *graph.Graph, outs map[string]*tensor.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--output-dir: %w", err)
	}
	seen := map[string]string{}
	for _, v := range g.Outputs {
		file := OutputFileName(v.Name)
		if other, dup := seen[file]; dup {
			return fmt.Errorf("outputs %q and %q both map to file %s", other, v.Name, file)
		}
		seen[file] = v.Name
		t, ok := outs[v.Name]
		if !ok {
			return fmt.Errorf("output %q was not produced", v.Name)
		}
		path := filepath.Join(dir, file)
		if err := tensor.SaveNPY(path, t); err != nil {
			return fmt.Errorf("output %q: %w", v.Name, err)
		}
		fmt.Fprintf(w, "  wrote %s  %v\n", path, t)
	}
	return nil
}

func summarise(w io.Writer, g *graph.Graph, outs map[string]*tensor.Tensor) {
	for _, v := range g.Outputs {
		t, ok := outs[v.Name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  output %s  %v", v.Name, t)
		if f := t.Float32s(); len(f) > 0 {
			lo, hi, sum, argmax := math.Inf(1), math.Inf(-1), 0.0, 0
			for i, x := range f {
				x := float64(x)
				lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
				if x == hi {
					argmax = i
				}
			}
			fmt.Fprintf(w, "  min %.4g max %.4g mean %.4g argmax %d", lo, hi, sum/float64(len(f)), argmax)
		}
		fmt.Fprintln(w)
	}
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}
