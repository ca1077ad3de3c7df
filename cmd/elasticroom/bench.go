package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/bench/cpubench"
	"github.com/elasticroom/elasticroom/bench/isolation"
	"github.com/elasticroom/elasticroom/bench/sweep"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/sched"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "run a benchmark suite and print a report",
		Description: `Suites compare ElasticRoom against a peer measured in the same run on the same machine,
and report ratios, never absolute figures alone.

   cpu            our CPU device vs onnxruntime (CPU) on the real models (and zoo models)
   isolation      real-time vs best-effort tenants under each sharing policy (scheduler issue)
   budget-sweep   one model's latency against its SM budget (scheduler issue)`,
		Subcommands: []*cli.Command{
			{
				Name:  "cpu",
				Usage: "time our CPU device against onnxruntime on the same inputs, in the same run",
				Description: `Needs onnxruntime-node and the real models: run scripts/fetch-models once.
Each model gets one warm-up and --runs timed runs per engine; the table shows medians and the
ratio ours/onnxruntime.`,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "runs", Value: 5, Usage: "timed runs per model and engine"},
					&cli.StringSliceFlag{Name: "model", Usage: "real model to include (repeatable; default: all)"},
					&cli.BoolFlag{Name: "no-real", Usage: "skip the real models"},
					&cli.StringSliceFlag{Name: "zoo", Usage: "zoo model to add, batch 1 (repeatable)"},
					&cli.IntFlag{Name: "seq-len", Usage: "sequence length of zoo transformer models (0: default)"},
					&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "input seed"},
					&cli.IntFlag{Name: "workers", Usage: "cpu device worker goroutines (0: all cores)"},
					&cli.StringFlag{Name: "json", Usage: "also write the report as JSON to `FILE`"},
				},
				Action: func(c *cli.Context) error {
					rep, err := cpubench.Run(c.Context, cpubench.Options{
						Real:    c.StringSlice("model"),
						NoReal:  c.Bool("no-real"),
						Zoo:     c.StringSlice("zoo"),
						Runs:    c.Int("runs"),
						Seed:    c.Uint64("seed"),
						SeqLen:  c.Int("seq-len"),
						CPUOpts: cpu.Options{Workers: c.Int("workers")},
					}, c.App.Writer)
					if err != nil {
						return fmt.Errorf("bench cpu: %w", err)
					}
					if path := c.String("json"); path != "" {
						b, err := json.MarshalIndent(rep, "", "  ")
						if err != nil {
							return err
						}
						if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
							return fmt.Errorf("bench cpu: --json: %w", err)
						}
					}
					return nil
				},
			},
			benchIsolationCommand(),
			benchSweepCommand(),
		},
	}
}

// deviceFlags are the flags both scheduler benches take to pick their device.
func deviceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "device", Value: "auto", Usage: "device: auto|cpu|emu|cuda (auto: cuda when a GPU answers, else cpu)"},
		&cli.IntFlag{Name: "units", Usage: "units of the device: cpu pool workers (0: all cores), emu SMs (0: the target's)"},
		&cli.DurationFlag{Name: "tile-time", Usage: "cpu device: target time of one tile, the preemption bound (0: the pool's default)"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of inputs and arrival times"},
		&cli.StringFlag{Name: "json", Usage: "also write the report as JSON to `FILE`"},
		&cli.StringFlag{Name: "out", Usage: "write a markdown report and an SVG plot into `DIR`"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines"},
	}
}

func deviceOptions(c *cli.Context) (isolation.DeviceOptions, error) {
	if err := isolation.ParseKind(c.String("device")); err != nil {
		return isolation.DeviceOptions{}, err
	}
	return isolation.DeviceOptions{Kind: strings.ToLower(c.String("device")), Units: c.Int("units"), TileTime: c.Duration("tile-time")}, nil
}

// writeJSON writes v to the --json file when one is given.
func writeJSON(c *cli.Context, suite string, v any) error {
	path := c.String("json")
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("bench %s: %w", suite, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench %s: --json: %w", suite, err)
	}
	return nil
}

func benchIsolationCommand() *cli.Command {
	return &cli.Command{
		Name:  "isolation",
		Usage: "real-time vs best-effort isolation under each sharing policy, measured in one run",
		Description: `A real-time tenant with Poisson arrivals (--rt-rate, --slo, --rt-units guaranteed) beside a
best-effort tenant that keeps the device saturated (closed loop). Every policy runs three phases
of --duration on the same device: real-time alone, best-effort alone, both together. Reported per
policy: real-time p50/p99/p99.9 from arrival, p99 overhead over alone, goodput (requests within
the SLO per second) and SLO misses; best-effort throughput and its ratio to alone.

Policies: elasticroom, timeshare, priority-streams, static-partition, preempt-only.

Examples:
   elasticroom bench isolation --device cpu --duration 10s --out report/ --json iso.json
   elasticroom bench isolation --policies elasticroom,preempt-only --rt-rate 100 --slo 10ms`,
		Flags: append(deviceFlags(),
			&cli.StringSliceFlag{Name: "policies", Usage: "policies to measure, comma separated (default: all five)"},
			&cli.DurationFlag{Name: "duration", Value: isolation.DefaultDuration, Usage: "length of each phase"},
			&cli.DurationFlag{Name: "slice", Value: isolation.DefaultSlice, Usage: "phases run in slices of this length, interleaved over policies and phases (>= --duration: one slice)"},
			&cli.StringFlag{Name: "rt-model", Value: isolation.DefaultRTModel, Usage: "real-time model (zoo:NAME or .onnx)"},
			&cli.IntFlag{Name: "rt-batch", Usage: fmt.Sprintf("real-time batch (default %d for the default model, else 1)", isolation.DefaultRTBatch)},
			&cli.StringFlag{Name: "be-model", Value: isolation.DefaultBEModel, Usage: "best-effort model (zoo:NAME or .onnx)"},
			&cli.IntFlag{Name: "be-batch", Value: isolation.DefaultBEBatch, Usage: "best-effort batch"},
			&cli.Float64Flag{Name: "rt-rate", Value: isolation.DefaultRTRate, Usage: "real-time arrivals per second (Poisson)"},
			&cli.DurationFlag{Name: "slo", Value: isolation.DefaultSLO, Usage: "real-time latency SLO"},
			&cli.IntFlag{Name: "rt-units", Usage: "units guaranteed to the real-time tenant (0: half the device)"},
			&cli.IntFlag{Name: "be-slots", Value: 1, Usage: "best-effort requests kept outstanding"},
			&cli.BoolFlag{Name: "rt-borrow", Usage: "elasticroom: real-time may use idle units beyond its guarantee"},
		),
		Action: func(c *cli.Context) error {
			dopt, err := deviceOptions(c)
			if err != nil {
				return fmt.Errorf("bench isolation: %w", err)
			}
			var pols []sched.Policy
			for _, s := range c.StringSlice("policies") {
				for _, name := range strings.Split(s, ",") {
					p, err := sched.ParsePolicy(strings.TrimSpace(name))
					if err != nil {
						return fmt.Errorf("bench isolation: --policies: %w", err)
					}
					pols = append(pols, p)
				}
			}
			rtBatch := c.Int("rt-batch")
			if rtBatch == 0 && c.String("rt-model") == isolation.DefaultRTModel {
				rtBatch = isolation.DefaultRTBatch
			}
			opt := isolation.Options{Device: dopt, Policies: pols, Duration: c.Duration("duration"), Slice: c.Duration("slice"),
				RTModel: c.String("rt-model"), RTBatch: rtBatch, BEModel: c.String("be-model"), BEBatch: c.Int("be-batch"),
				RTRate: c.Float64("rt-rate"), SLO: c.Duration("slo"), RTUnits: c.Int("rt-units"), BESlots: c.Int("be-slots"),
				RTBorrow: c.Bool("rt-borrow"), Seed: c.Uint64("seed")}
			if !c.Bool("quiet") {
				opt.Progress = c.App.ErrWriter
			}
			rep, err := isolation.Run(c.Context, opt)
			if err != nil {
				return err
			}
			isolation.WriteMarkdown(c.App.Writer, rep, "")
			if err := writeJSON(c, "isolation", rep); err != nil {
				return err
			}
			if dir := c.String("out"); dir != "" {
				return isolation.WriteFiles(dir, rep)
			}
			return nil
		},
	}
}

func benchSweepCommand() *cli.Command {
	return &cli.Command{
		Name:  "budget-sweep",
		Usage: "latency and throughput of one model against its SM (unit) budget",
		Description: `For each budget the model runs alone with that many units for --duration, one request at a
time: on emu/cuda it is compiled for the budget's SMs and launched with that mask, on the cpu
device its unit mask holds that many workers. Reported: p50/p99 latency and throughput.

Examples:
   elasticroom bench budget-sweep --device cpu --model zoo:resnet18 --duration 5s --out report/
   elasticroom bench budget-sweep --device cuda --budgets 8,20,66,132 --json sweep.json`,
		Flags: append(deviceFlags(),
			&cli.StringFlag{Name: "model", Value: sweep.DefaultModel, Usage: "model (zoo:NAME or .onnx)"},
			&cli.IntFlag{Name: "batch", Value: 1, Usage: "batch size"},
			&cli.IntSliceFlag{Name: "budgets", Usage: "budgets in units, comma separated (default: cpu 1..units; emu/cuda 8,20,66,132 within the device)"},
			&cli.DurationFlag{Name: "duration", Value: 5e9, Usage: "time spent at each budget"},
		),
		Action: func(c *cli.Context) error {
			dopt, err := deviceOptions(c)
			if err != nil {
				return fmt.Errorf("bench budget-sweep: %w", err)
			}
			opt := sweep.Options{Device: dopt, Model: c.String("model"), Batch: c.Int("batch"),
				Budgets: c.IntSlice("budgets"), Duration: c.Duration("duration"), Seed: c.Uint64("seed")}
			if !c.Bool("quiet") {
				opt.Progress = c.App.ErrWriter
			}
			rep, err := sweep.Run(c.Context, opt)
			if err != nil {
				return err
			}
			sweep.WriteMarkdown(c.App.Writer, rep, "")
			if err := writeJSON(c, "budget-sweep", rep); err != nil {
				return err
			}
			if dir := c.String("out"); dir != "" {
				return sweep.WriteFiles(dir, rep)
			}
			return nil
		},
	}
}
