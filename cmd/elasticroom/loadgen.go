package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/bench/loadgen"
)

func loadgenCommand() *cli.Command {
	return &cli.Command{
		Name:  "loadgen",
		Usage: "drive an Open Inference Protocol server with open- or closed-loop load and report latency",
		Description: `Sends inference requests to each --target's model for --duration, all targets at once, with
seeded random inputs built from the model's metadata (GET /v2/models/NAME), and prints per
target: requests, statuses, p50/p99/p99.9 latency, SLO misses, goodput (answers within the SLO
per second) and throughput. Open-loop latency counts from each request's scheduled arrival.

With --alone MODEL the targets of those models first run alone for --alone-duration, then
every target runs for --duration: the table compares a tenant's latency alone and shared.

A target is comma-separated keys: model=NAME, and rate=R (Poisson arrivals, requests/s) or
concurrency=N (closed loop); optional slo=D, token=T, seed=N, max=N (requests),
max-in-flight=N (open loop: arrivals beyond it are dropped and counted).

Examples:
   elasticroom loadgen --url http://127.0.0.1:8000 --target model=rt,rate=100,slo=20ms --duration 10s
   elasticroom loadgen --url http://127.0.0.1:8000 --target model=rt,rate=50,slo=20ms \
                       --target model=be,concurrency=4 --duration 15s --json run.json
   elasticroom loadgen --url http://127.0.0.1:8000 --wait-ready 60s --alone rt \
                       --target model=rt,rate=50,slo=20ms --target model=be,concurrency=2`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Value: "http://127.0.0.1:8000", Usage: "the server's base `URL`"},
			&cli.GenericFlag{Name: "target", Value: &tenantFlag{}, Usage: "a target `SPEC`: model=NAME,rate=R|concurrency=N[,slo=D][,token=T] (repeatable)"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to send requests (at most 1h)"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "bound on one request"},
			&cli.StringFlag{Name: "label", Value: "shared", Usage: "label of the run in the table"},
			&cli.StringSliceFlag{Name: "alone", Usage: "first run this `MODEL`'s targets alone (repeatable)"},
			&cli.DurationFlag{Name: "alone-duration", Value: 5 * time.Second, Usage: "how long the --alone run lasts"},
			&cli.DurationFlag{Name: "wait-ready", Usage: "first wait up to this long for /v2/health/ready"},
			&cli.StringFlag{Name: "json", Usage: "also write the figures as JSON to `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("loadgen takes no arguments (got %q)", c.Args().Slice())
			}
			var targets []loadgen.Target
			if f, ok := c.Generic("target").(*tenantFlag); ok {
				for _, text := range f.specs {
					t, err := loadgen.ParseTarget(text)
					if err != nil {
						return fmt.Errorf("--target %q: %w", text, err)
					}
					targets = append(targets, t)
				}
			}
			if len(targets) == 0 {
				return fmt.Errorf("no targets: give --target model=NAME,rate=R or --target model=NAME,concurrency=N")
			}
			if d := c.Duration("wait-ready"); d > 0 {
				if err := loadgen.WaitReady(c.Context, nil, c.String("url"), d); err != nil {
					return err
				}
			}
			opt := loadgen.Options{URL: c.String("url"), Duration: c.Duration("duration"), Timeout: c.Duration("timeout")}
			var labels []string
			var results []*loadgen.Result
			if alone := c.StringSlice("alone"); len(alone) > 0 {
				var solo []loadgen.Target
				for _, t := range targets {
					if slices.Contains(alone, t.Model) {
						solo = append(solo, t)
					}
				}
				if len(solo) == 0 {
					return fmt.Errorf("--alone %q: no --target has that model", alone)
				}
				aopt := opt
				aopt.Duration = c.Duration("alone-duration")
				res, err := loadgen.Run(c.Context, aopt, solo...)
				if err != nil {
					return err
				}
				labels, results = append(labels, "alone"), append(results, res)
			}
			res, err := loadgen.Run(c.Context, opt, targets...)
			if err != nil {
				return err
			}
			labels, results = append(labels, c.String("label")), append(results, res)
			if err := loadgen.WriteTable(c.App.Writer, labels, results); err != nil {
				return err
			}
			if len(results) == 2 {
				for _, a := range results[0].Targets {
					for _, b := range res.Targets {
						if a.Model == b.Model && a.P99 > 0 {
							fmt.Fprintf(c.App.Writer, "%s: p99 %s shared vs %s alone (x%.2f); goodput %.1f/s shared vs %.1f/s alone\n",
								a.Model, fmtDur(b.P99), fmtDur(a.P99), float64(b.P99)/float64(a.P99), b.Goodput, a.Goodput)
						}
					}
				}
			}
			if path := c.String("json"); path != "" {
				data, err := json.MarshalIndent(results, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
					return fmt.Errorf("--json: %w", err)
				}
			}
			return nil
		},
	}
}
