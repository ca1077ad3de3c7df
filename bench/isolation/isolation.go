package isolation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/elasticroom/elasticroom/runtime/sched"
)

// Defaults of Options. They need no download (zoo models) and fit the 2-core development
// machine's cpu device: the real-time model, an MLP scoring a batch of 64 inputs (~70 MFLOP),
// takes about 2 ms on its one guaranteed unit; the best-effort model, MobileNetV2 at 224x224
// (~600 MFLOP), about 20 ms on one unit. A real-time request is a handful of tiles, a
// best-effort one hundreds, so preemption at tile granularity (0.5 ms) has room to show. The
// SLO, 10 ms, is about four times the real-time latency alone. A real model of the same
// weight class is ppocr_cls (~2 ms on two units), for --rt-model when it is downloaded.
const (
	DefaultRTModel  = "zoo:mlp"
	DefaultRTBatch  = 64
	DefaultBEModel  = "zoo:mobilenetv2"
	DefaultBEBatch  = 1
	DefaultRTRate   = 50 // requests per second
	DefaultSLO      = 10 * time.Millisecond
	DefaultDuration = 10 * time.Second
	DefaultSlice    = time.Second
)

// Options configure Run.
type Options struct {
	Device DeviceOptions
	// Policies to measure, in order (nil: sched.Policies()).
	Policies []sched.Policy
	// Duration of each phase (each policy runs three: rt alone, be alone, together).
	Duration time.Duration
	// Slice: phases run in slices of this length, interleaved round-robin over policies
	// and phases, so that a drift of the machine's background load hits every policy and
	// phase alike (0: DefaultSlice; at least Duration: no interleaving).
	Slice   time.Duration
	RTModel string // zoo:NAME, a zoo name or an .onnx file
	RTBatch int
	BEModel string
	BEBatch int
	RTRate  float64       // real-time arrivals per second (Poisson)
	SLO     time.Duration // the real-time tenant's latency SLO
	// RTUnits is the real-time guarantee (0: half the device's units, at least 1).
	RTUnits int
	// BESlots is the number of best-effort requests kept outstanding (closed loop; 0: 1).
	BESlots int
	// RTBorrow lets ElasticRoom's real-time requests use idle units beyond the guarantee.
	RTBorrow bool
	Seed     uint64
	// Progress, when set, receives progress lines while the bench runs.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Slice <= 0 {
		o.Slice = DefaultSlice
	}
	o.Slice = min(o.Slice, o.Duration)
	if o.RTModel == "" {
		o.RTModel = DefaultRTModel
		if o.RTBatch == 0 {
			o.RTBatch = DefaultRTBatch
		}
	}
	if o.BEModel == "" {
		o.BEModel = DefaultBEModel
	}
	o.RTBatch, o.BEBatch = max(o.RTBatch, 1), max(o.BEBatch, 1)
	if o.RTRate == 0 {
		o.RTRate = DefaultRTRate
	}
	if o.SLO == 0 {
		o.SLO = DefaultSLO
	}
	if o.BESlots == 0 {
		o.BESlots = 1
	}
	if o.Policies == nil {
		o.Policies = sched.Policies()
	}
	switch {
	case o.Duration < 0:
		return fmt.Errorf("duration %v is negative", o.Duration)
	case o.RTRate < 0:
		return fmt.Errorf("real-time rate %g is negative", o.RTRate)
	case o.SLO < 0:
		return fmt.Errorf("SLO %v is negative", o.SLO)
	case o.RTUnits < 0 || o.BESlots < 0:
		return errors.New("negative real-time units or best-effort slots")
	case len(o.Policies) == 0:
		return errors.New("no policy to measure")
	}
	return nil
}

// Report is the result of Run; its JSON form is the suite's output format.
type Report struct {
	Suite    string         `json:"suite"` // "isolation"
	Device   string         `json:"device"`
	Units    int            `json:"units"`
	Policies []PolicyResult `json:"policies"`

	Config Config `json:"-"`
}

// Config is what a run was asked, for the markdown report.
type Config struct {
	DeviceKind string
	UnitName   string
	TileTime   time.Duration // cpu pool tile time
	Duration   time.Duration // per phase: Rounds x Slice
	Slice      time.Duration
	Rounds     int
	RTRate     float64
	RTUnits    int
	BESlots    int
	RTBorrow   bool
	Seed       uint64
	Started    time.Time
}

// PolicyResult is one policy's figures.
type PolicyResult struct {
	Policy string   `json:"policy"`
	RT     RTResult `json:"rt"`
	BE     BEResult `json:"be"`
}

// RTResult is the real-time tenant's figures in the together phase, with its alone p99.
type RTResult struct {
	Model       string  `json:"model"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	P999MS      float64 `json:"p999_ms"`
	AloneP99MS  float64 `json:"alone_p99_ms"`
	P99Overhead float64 `json:"p99_overhead"` // p99/alone_p99 - 1
	SLOMS       float64 `json:"slo_ms"`
	GoodputRPS  float64 `json:"goodput_rps"`   // requests within the SLO per second of the phase
	SLOMissRate float64 `json:"slo_miss_rate"` // of the requests that arrived in the phase

	Arrived    int             `json:"-"` // together phase
	Completed  int             `json:"-"`
	OnTime     int             `json:"-"`
	Latencies  []time.Duration `json:"-"` // together, sorted
	Alone      []time.Duration `json:"-"` // alone, sorted
	AloneP50MS float64         `json:"-"`
}

// BEResult is the best-effort tenant's throughput together and alone.
type BEResult struct {
	Model              string  `json:"model"`
	ThroughputRPS      float64 `json:"throughput_rps"`
	AloneThroughputRPS float64 `json:"alone_throughput_rps"`
	ThroughputNorm     float64 `json:"throughput_norm"` // throughput/alone_throughput

	Completed      int `json:"-"` // together phase
	AloneCompleted int `json:"-"`
}

// Run measures every policy of opt on one device: per policy the real-time tenant alone,
// the best-effort tenant alone, then both together, each phase opt.Duration long, with the
// same seeded arrival times in every real-time phase.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if err := opt.defaults(); err != nil {
		return nil, fmt.Errorf("bench isolation: %w", err)
	}
	rtm, err := LoadModel(opt.RTModel, opt.RTBatch, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("bench isolation: real-time %w", err)
	}
	bem, err := LoadModel(opt.BEModel, opt.BEBatch, opt.Seed+1)
	if err != nil {
		return nil, fmt.Errorf("bench isolation: best-effort %w", err)
	}
	dev, err := OpenDevice(opt.Device)
	if err != nil {
		return nil, fmt.Errorf("bench isolation: %w", err)
	}
	defer dev.Close()
	if opt.RTUnits == 0 {
		opt.RTUnits = max(1, dev.Units/2)
	}
	if opt.RTUnits >= dev.Units {
		return nil, fmt.Errorf("bench isolation: a real-time guarantee of %d %s leaves no room on a device of %d", opt.RTUnits, dev.UnitName, dev.Units)
	}
	rounds := max(1, int(math.Round(float64(opt.Duration)/float64(opt.Slice))))
	opt.Duration = time.Duration(rounds) * opt.Slice
	rep := &Report{Suite: "isolation", Device: dev.Name, Units: dev.Units, Config: Config{
		DeviceKind: dev.Kind, UnitName: dev.UnitName, TileTime: dev.TileTime(), Duration: opt.Duration,
		Slice: opt.Slice, Rounds: rounds, RTRate: opt.RTRate, RTUnits: opt.RTUnits, BESlots: opt.BESlots,
		RTBorrow: opt.RTBorrow, Seed: opt.Seed, Started: time.Now(),
	}}
	progress(opt.Progress, "isolation on %s: rt %s at %g req/s (SLO %v, %d %s guaranteed), be %s (%d outstanding); policies %v; %v per phase in %d rounds of %v slices",
		dev.Name, rtm.Label(), opt.RTRate, opt.SLO, opt.RTUnits, dev.UnitName, bem.Label(), opt.BESlots, opt.Policies, opt.Duration, rounds, opt.Slice)
	if err := warmUp(ctx, dev, rtm, bem); err != nil {
		return nil, fmt.Errorf("bench isolation: warm-up: %w", err)
	}
	runs := make([]*policyRun, len(opt.Policies))
	for i, pol := range opt.Policies {
		if runs[i], err = preparePolicy(ctx, dev, pol, rtm, bem, opt); err != nil {
			return nil, fmt.Errorf("bench isolation: policy %s: %w", pol, err)
		}
	}
	start := time.Now()
	for r := range rounds {
		for _, pr := range runs {
			for _, kind := range []phaseKind{rtAlone, beAlone, together} {
				if err := pr.slice(ctx, kind, r, opt); err != nil {
					return nil, fmt.Errorf("bench isolation: policy %s, %s: %w", pr.pol, kind, err)
				}
			}
			a, b, t := &pr.res[rtAlone], &pr.res[beAlone], &pr.res[together]
			progress(opt.Progress, "  round %2d/%d %6.1fs  %-16s rt alone %4d done, be alone %4d; together rt %4d/%d done, be %4d",
				r+1, rounds, time.Since(start).Seconds(), pr.pol, len(a.rtLat), b.beDone, len(t.rtLat), t.rtArrived, t.beDone)
		}
	}
	for _, pr := range runs {
		res := pr.summary(opt)
		rt, be := res.RT, res.BE
		progress(opt.Progress, "%s: rt p50 %.2f ms, p99 %.2f ms (alone %.2f ms, %+.1f%%), goodput %.1f/s, SLO misses %.1f%%; be %.2f req/s (alone %.2f, %.2fx)",
			pr.pol, rt.P50MS, rt.P99MS, rt.AloneP99MS, 100*rt.P99Overhead, rt.GoodputRPS, 100*rt.SLOMissRate,
			be.ThroughputRPS, be.AloneThroughputRPS, be.ThroughputNorm)
		rep.Policies = append(rep.Policies, res)
	}
	return rep, nil
}

// warmUp runs each model twice on the whole device, so that first-run costs (buffer pools,
// plan compilation, module loads) stay out of the phases.
func warmUp(ctx context.Context, dev *Device, ms ...*Model) error {
	for _, m := range ms {
		run, err := dev.Solo(ctx, m, dev.Units)
		if err != nil {
			return err
		}
		for range 2 {
			if err := run(ctx); err != nil {
				return fmt.Errorf("model %q: %w", m.Spec, err)
			}
		}
	}
	return nil
}

// policyRun is one policy's scheduler configuration and the figures of its phases so far.
type policyRun struct {
	pol     sched.Policy
	cfg     sched.Config
	tenants []sched.Tenant
	rtm     *Model
	bem     *Model
	res     [3]phaseResult // by phaseKind
}

// preparePolicy builds the tenants of one policy. On emu/cuda the plans follow the policy's
// partition: ElasticRoom and static-partition compile the real-time model for its guarantee;
// static-partition compiles the best-effort model for the units left; everything else runs
// plans for the whole device.
func preparePolicy(ctx context.Context, dev *Device, pol sched.Policy, rtm, bem *Model, opt Options) (*policyRun, error) {
	rtBudget, beBudget := dev.Units, dev.Units
	if pol == sched.ElasticRoom || pol == sched.StaticPartition {
		rtBudget = opt.RTUnits
	}
	if pol == sched.StaticPartition {
		beBudget = dev.Units - opt.RTUnits
	}
	rtRun, err := dev.Runner(ctx, rtm, RunnerOptions{Budget: rtBudget, Slots: 1, Priority: 1})
	if err != nil {
		return nil, fmt.Errorf("real-time runner: %w", err)
	}
	beRun, err := dev.Runner(ctx, bem, RunnerOptions{Budget: beBudget, Slots: opt.BESlots})
	if err != nil {
		return nil, fmt.Errorf("best-effort runner: %w", err)
	}
	return &policyRun{pol: pol, rtm: rtm, bem: bem,
		cfg: sched.Config{Units: dev.Units, UnitName: dev.UnitName, Policy: pol, RealtimeBorrow: opt.RTBorrow},
		tenants: []sched.Tenant{
			{Name: "rt", Class: sched.Realtime, Units: opt.RTUnits, SLO: opt.SLO, Runner: rtRun},
			{Name: "be", Class: sched.BestEffort, Runner: beRun},
		}}, nil
}

// slice runs one slice of a phase on a fresh scheduler and adds its figures. Round r's
// arrival times are the same for every policy and for the rt-alone and together phases.
func (pr *policyRun) slice(ctx context.Context, kind phaseKind, round int, opt Options) error {
	s, err := sched.New(pr.cfg, pr.tenants...)
	if err != nil {
		return err
	}
	res, err := runPhase(ctx, s, phaseSpec{kind: kind, policy: pr.pol, dur: opt.Slice, rate: opt.RTRate, slo: opt.SLO,
		seed: opt.Seed, round: uint64(round), beSlots: opt.BESlots, rtIn: pr.rtm, beIn: pr.bem})
	s.Stop()
	if err != nil {
		return err
	}
	acc := &pr.res[kind]
	acc.rtLat = append(acc.rtLat, res.rtLat...)
	acc.rtArrived += res.rtArrived
	acc.rtOnTime += res.rtOnTime
	acc.rtCompleted += res.rtCompleted
	acc.beDone += res.beDone
	return nil
}

// summary turns the accumulated phases into the policy's report entry.
func (pr *policyRun) summary(opt Options) PolicyResult {
	rtm, bem := pr.rtm, pr.bem
	a, b, t := pr.res[rtAlone], pr.res[beAlone], pr.res[together]
	res := PolicyResult{Policy: string(pr.pol)}
	sec := opt.Duration.Seconds()
	rt := &res.RT
	rt.Model, rt.SLOMS = rtm.Label(), MS(opt.SLO)
	rt.Latencies, rt.Alone = Sorted(t.rtLat), Sorted(a.rtLat)
	rt.P50MS, rt.P99MS, rt.P999MS = MS(Percentile(rt.Latencies, .5)), MS(Percentile(rt.Latencies, .99)), MS(Percentile(rt.Latencies, .999))
	rt.AloneP99MS, rt.AloneP50MS = MS(Percentile(rt.Alone, .99)), MS(Percentile(rt.Alone, .5))
	if rt.AloneP99MS > 0 && rt.P99MS > 0 {
		rt.P99Overhead = rt.P99MS/rt.AloneP99MS - 1
	}
	rt.Arrived, rt.Completed, rt.OnTime = t.rtArrived, t.rtCompleted, t.rtOnTime
	rt.GoodputRPS = ratio(float64(t.rtOnTime), sec)
	rt.SLOMissRate = ratio(float64(t.rtArrived-t.rtOnTime), float64(t.rtArrived))
	be := &res.BE
	be.Model = bem.Label()
	be.Completed, be.AloneCompleted = t.beDone, b.beDone
	be.ThroughputRPS, be.AloneThroughputRPS = ratio(float64(t.beDone), sec), ratio(float64(b.beDone), sec)
	be.ThroughputNorm = ratio(be.ThroughputRPS, be.AloneThroughputRPS)
	return res
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
