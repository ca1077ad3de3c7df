package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:      "compile",
		Usage:     "compile a model into budgeted SM-aware GPU kernels (.erp plan)",
		ArgsUsage: "MODEL (a .onnx file, or zoo:NAME)",
		Description: `Compiles MODEL for a GPU target under a resource budget: every kernel is sized for
--sm-budget SMs, uses at most --max-regs registers per thread and --shared-kb KiB of shared
memory per block, and no tile of it is estimated to hold an SM longer than --max-tile-us
(the preemption latency bound). Nodes no kernel template covers run on the host.

Examples:
   elasticroom compile zoo:resnet18 --sm-budget=20 -o resnet18.erp
   elasticroom compile model.onnx --sm-budget=66 --max-regs=64 --max-tile-us=50 -o model.erp
   elasticroom compile det.onnx --sm-budget=20 --dim height=640 --dim width=640 -o det.erp`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "sm-budget", Usage: "SMs the plan's kernels are sized for (1..the target's SMs)", Required: true},
			&cli.IntFlag{Name: "max-regs", Usage: "registers per thread, 16..255 (0: no cap)"},
			&cli.Float64Flag{Name: "max-tile-us", Usage: "longest estimated time of one tile in µs, the preemption latency bound (0: unbounded)"},
			&cli.IntFlag{Name: "shared-kb", Usage: "shared memory per block in KiB (0: the target's maximum)"},
			&cli.StringFlag{Name: "target", Value: "sm_90", Usage: "GPU target: sm_90 (h100), sm_80 (a100), h200, a100-80gb"},
			&cli.IntFlag{Name: "batch", Usage: "batch size: a symbolic first input dim, and the batch of zoo models (default 1)"},
			&cli.StringSliceFlag{Name: "dim", Usage: "size of a symbolic input dim, `NAME=SIZE` (repeat per dim)"},
			&cli.IntFlag{Name: "seq-len", Usage: "sequence length of zoo transformer models (0: the model's default)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the plan to `FILE.erp`", Required: true},
			&cli.StringFlag{Name: "emit-ptx", Usage: "also write each kernel's PTX to `DIR`/<kernel>.ptx"},
			&cli.StringFlag{Name: "dump-after", Usage: "print the IR after `PASS` (or all) to stderr"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr"},
		},
		Action: compileAction,
	}
}

func compileAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("compile needs exactly one MODEL argument (a .onnx file or zoo:NAME), got %d", c.NArg())
	}
	tg, err := budget.LookupTarget(c.String("target"))
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	b := budget.Budget{SMs: c.Int("sm-budget"), MaxRegs: c.Int("max-regs"), SharedPerBlock: c.Int("shared-kb") * budget.KiB,
		MaxTileMicros: c.Float64("max-tile-us")}
	if err := b.Validate(tg); err != nil {
		return err
	}
	dims, err := parseDims(c.StringSlice("dim"))
	if err != nil {
		return err
	}
	start := time.Now()
	g, src, err := models.Open(c.Args().First(), zoo.Options{Batch: max(c.Int("batch"), 1), SeqLen: c.Int("seq-len")})
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	errw := c.App.ErrWriter
	if errw == nil {
		errw = os.Stderr
	}
	var rep compiler.Report
	opt := compiler.Options{Target: tg, Budget: b, Model: src.Spec, Dims: dims, Batch: c.Int("batch"),
		Eval: cpu.EvalNode, DumpAfter: c.String("dump-after"), DumpTo: errw, Report: &rep}
	if !c.Bool("quiet") {
		opt.Progress = progressPrinter(errw, src.Spec)
	}
	t0 := time.Now()
	p, err := compiler.Compile(c.Context, g, opt)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	out := c.String("output")
	if err := plan.Save(out, p); err != nil {
		return err
	}
	if dir := c.String("emit-ptx"); dir != "" {
		if err := writePTX(dir, p); err != nil {
			return err
		}
	}
	size := int64(0)
	if st, err := os.Stat(out); err == nil {
		size = st.Size()
	}
	w := c.App.Writer
	fmt.Fprintf(w, "compiled %s for %s (%s) under %v\n", src.Spec, tg.Name, tg.Arch, b)
	fmt.Fprintf(w, "  %d kernels, %d host steps, %d aliases (no copy); arena %s\n",
		len(p.Kernels), len(rep.Hosts), rep.AliasNodes, fmtBytes(p.Memory.ArenaBytes))
	fmt.Fprintf(w, "  estimated latency %.0f µs on %d SMs (kernels only)\n", planMicros(p), b.SMs)
	fmt.Fprintf(w, "  compile time %s (model load %s)\n", fmtDur(took), fmtDur(loaded))
	for _, node := range sortedNames(rep.Hosts) {
		fmt.Fprintf(w, "  host step %s: %s\n", node, rep.Hosts[node])
	}
	fmt.Fprintf(w, "wrote %s (%s, key %s)\n", out, fmtBytes(size), p.Key)
	return nil
}

// progressPrinter reports the compiler's stages on w once a compilation has taken a while,
// and the lowering's progress for long models.
func progressPrinter(w io.Writer, model string) func(stage string, done, total int) {
	start := time.Now()
	last := ""
	step := 0
	return func(stage string, done, total int) {
		if time.Since(start) < 300*time.Millisecond {
			return // quick compilations print only the summary
		}
		if stage != last {
			last, step = stage, 0
			fmt.Fprintf(w, "compile %s: %s (%s)\n", model, stage, fmtDur(time.Since(start)))
			return
		}
		if stage == "lower" && total >= 100 && done*4/total > step {
			step = done * 4 / total
			fmt.Fprintf(w, "compile %s: lowered %d of %d nodes (%s)\n", model, done, total, fmtDur(time.Since(start)))
		}
	}
}

func parseDims(pairs []string) (map[string]int, error) {
	raw, _, err := models.ParseAssignments("dim", pairs)
	if err != nil {
		return nil, err
	}
	dims := map[string]int{}
	for k, v := range raw {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--dim %s=%s: the size must be a positive integer", k, v)
		}
		dims[k] = n
	}
	return dims, nil
}

func writePTX(dir string, p *plan.Plan) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--emit-ptx: %w", err)
	}
	for _, k := range p.Kernels {
		if err := os.WriteFile(filepath.Join(dir, k.Name+".ptx"), []byte(k.PTX), 0o644); err != nil {
			return fmt.Errorf("--emit-ptx: %w", err)
		}
	}
	return nil
}

func planMicros(p *plan.Plan) float64 {
	var s float64
	for _, k := range p.Kernels {
		s += k.EstMicros
	}
	return s
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
