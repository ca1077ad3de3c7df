package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/bench/cpubench"
	"github.com/elasticroom/elasticroom/runtime/cpu"
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
			pending("isolation", "real-time vs best-effort isolation under each sharing policy", "the scheduler and its baselines land with the scheduler issue"),
			pending("budget-sweep", "latency and throughput of one model against its SM budget", "lands with the scheduler issue"),
		},
	}
}
