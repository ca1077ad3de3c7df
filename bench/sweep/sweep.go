// Package sweep is the benchmark behind `elasticroom bench budget-sweep`: one model's latency
// and throughput against its unit budget. On emu/cuda the model is compiled for each SM
// budget and launched with that many SMs in its mask; on the cpu device the run's unit mask is
// restricted to that many workers. For each budget it runs requests back to back for a fixed
// time and reports p50/p99 latency and throughput, as JSON, markdown and an SVG plot.
//
// sweep imports bench/isolation (the bench device, models, percentiles, plot helpers); only
// cmd/ may import it.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/elasticroom/elasticroom/bench/isolation"
)

// GPUBudgets are the default SM budgets on emu/cuda (those within the device's SMs).
var GPUBudgets = []int{8, 20, 66, 132}

// Options configure Run.
type Options struct {
	Device isolation.DeviceOptions
	Model  string // zoo:NAME, a zoo name or an .onnx file (default zoo:mobilenetv2)
	Batch  int
	// Budgets in units (SMs, cpu workers); nil: 1..units on cpu, GPUBudgets within the device
	// on emu/cuda.
	Budgets  []int
	Duration time.Duration // per budget (default 5s)
	Seed     uint64
	Progress io.Writer
}

// Report is the result of Run; its JSON form is the suite's output format.
type Report struct {
	Suite   string  `json:"suite"` // "budget-sweep"
	Device  string  `json:"device"`
	Units   int     `json:"units"`
	Model   string  `json:"model"`
	Budgets []Point `json:"budgets"`

	UnitName string        `json:"-"`
	Duration time.Duration `json:"-"`
	Started  time.Time     `json:"-"`
}

// Point is one budget's figures.
type Point struct {
	Budget        int     `json:"budget"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
	ThroughputRPS float64 `json:"throughput_rps"` // requests per second, one outstanding at a time
	Requests      int     `json:"requests"`

	Latencies []time.Duration `json:"-"` // sorted
}

// DefaultModel is the model swept when Options.Model is empty.
const DefaultModel = "zoo:mobilenetv2"

// Run sweeps opt.Budgets: per budget, one warm-up request, then requests back to back until
// opt.Duration has passed (at least one).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Model == "" {
		opt.Model = DefaultModel
	}
	if opt.Duration == 0 {
		opt.Duration = 5 * time.Second
	}
	if opt.Duration < 0 {
		return nil, fmt.Errorf("bench budget-sweep: duration %v is negative", opt.Duration)
	}
	m, err := isolation.LoadModel(opt.Model, opt.Batch, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("bench budget-sweep: %w", err)
	}
	dev, err := isolation.OpenDevice(opt.Device)
	if err != nil {
		return nil, fmt.Errorf("bench budget-sweep: %w", err)
	}
	defer dev.Close()
	budgets := opt.Budgets
	if budgets == nil {
		if dev.Kind == "cpu" {
			for b := 1; b <= dev.Units; b++ {
				budgets = append(budgets, b)
			}
		} else {
			for _, b := range GPUBudgets {
				if b <= dev.Units {
					budgets = append(budgets, b)
				}
			}
			if len(budgets) == 0 || budgets[len(budgets)-1] != dev.Units {
				budgets = append(budgets, dev.Units)
			}
		}
	}
	if len(budgets) == 0 {
		return nil, errors.New("bench budget-sweep: no budget to measure")
	}
	for _, b := range budgets {
		if b < 1 || b > dev.Units {
			return nil, fmt.Errorf("bench budget-sweep: budget %d outside 1..%d %s of %s", b, dev.Units, dev.UnitName, dev.Name)
		}
	}
	rep := &Report{Suite: "budget-sweep", Device: dev.Name, Units: dev.Units, Model: m.Label(),
		UnitName: dev.UnitName, Duration: opt.Duration, Started: time.Now()}
	say(opt.Progress, "budget-sweep on %s: %s, budgets %v %s, %v each", dev.Name, m.Label(), budgets, dev.UnitName, opt.Duration)
	for _, b := range budgets {
		pt, err := measure(ctx, dev, m, b, opt)
		if err != nil {
			return nil, fmt.Errorf("bench budget-sweep: budget %d: %w", b, err)
		}
		rep.Budgets = append(rep.Budgets, pt)
	}
	return rep, nil
}

func measure(ctx context.Context, dev *isolation.Device, m *isolation.Model, b int, opt Options) (Point, error) {
	t0 := time.Now()
	run, err := dev.Solo(ctx, m, b)
	if err != nil {
		return Point{}, err
	}
	if dev.Kind != "cpu" {
		say(opt.Progress, "  budget %3d: compiled and loaded in %.2f s", b, time.Since(t0).Seconds())
	}
	if err := run(ctx); err != nil { // warm-up
		return Point{}, err
	}
	var lat []time.Duration
	start := time.Now()
	end := start.Add(opt.Duration)
	next := start.Add(time.Second)
	for len(lat) == 0 || time.Now().Before(end) {
		s := time.Now()
		if err := run(ctx); err != nil {
			return Point{}, err
		}
		lat = append(lat, time.Since(s))
		if now := time.Now(); now.After(next) && now.Before(end) {
			say(opt.Progress, "  budget %3d: %4.1fs/%v, %d requests", b, now.Sub(start).Seconds(), opt.Duration, len(lat))
			next = next.Add(time.Second)
		}
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	pt := Point{Budget: b, Requests: len(lat), Latencies: lat,
		P50MS: isolation.MS(isolation.Percentile(lat, .5)), P99MS: isolation.MS(isolation.Percentile(lat, .99)),
		ThroughputRPS: float64(len(lat)) / elapsed.Seconds()}
	say(opt.Progress, "  budget %3d %s: %d requests, p50 %.2f ms, p99 %.2f ms, %.2f req/s", b, dev.UnitName, pt.Requests, pt.P50MS, pt.P99MS, pt.ThroughputRPS)
	return pt, nil
}

func say(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
