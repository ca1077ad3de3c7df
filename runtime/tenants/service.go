package tenants

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/device"
	"github.com/elasticroom/elasticroom/runtime/exec"
	"github.com/elasticroom/elasticroom/runtime/sched"
	"github.com/elasticroom/elasticroom/runtime/serve"
)

// Device is where the tenants run: the cpu unit pool, or a device running plan kernels (emu,
// cuda). The caller opens it and closes it after the Service.
type Device struct {
	Name     string // "cpu", "emu", "cuda"
	Units    int    // SMs, or cpu worker units
	UnitName string // "SMs", "units"
	Pool     *cpu.Pool
	Dev      device.Device
}

// Model is a tenant's loaded model: a compiled plan (required on emu and cuda; on cpu its
// optimized graph runs), or only a graph (cpu).
type Model struct {
	Plan  *plan.Plan
	Graph *graph.Graph
}

// Tenant is a spec with its model loaded.
type Tenant struct {
	Spec
	Model Model
}

// Options configure Start.
type Options struct {
	Device         Device
	Policy         sched.Policy // default ElasticRoom
	RealtimeBorrow bool         // see sched.Config
	// GoodputWindow is the window of the goodput reported to /metrics (default 10 s).
	GoodputWindow time.Duration

	// runner, when set (tests), replaces the runners built from the models.
	runner func(Tenant) (sched.Runner, error)
}

// Service is the running tenants: a scheduler and the serve.Backend and serve.StatsSource
// over it. Safe for concurrent use.
type Service struct {
	sched   *sched.Scheduler
	models  map[string]*model
	order   []*model
	closers []func() error
	closed  atomic.Bool
	window  time.Duration

	mu      sync.Mutex
	samples []sample // of on-time counts, for goodput
}

type model struct {
	info     serve.ModelInfo
	spec     Spec
	g        *graph.Graph // inputs are checked against it
	inflight atomic.Int64
	limit    int64
}

type sample struct {
	at     time.Time
	onTime map[string]uint64
}

var (
	_ serve.Backend     = (*Service)(nil)
	_ serve.ModelLookup = (*Service)(nil)
	_ serve.StatsSource = (*Service)(nil)
)

// Start builds each tenant's runner on the device and the scheduler over them. Admission
// refusals are *sched.AdmissionError.
func Start(ctx context.Context, ts []Tenant, opt Options) (*Service, error) {
	specs := make([]Spec, len(ts))
	for i, t := range ts {
		specs[i] = t.Spec
	}
	if err := Check(specs); err != nil {
		return nil, err
	}
	d := opt.Device
	if d.Units < 1 {
		return nil, fmt.Errorf("tenants: device %q has %d units", d.Name, d.Units)
	}
	if opt.runner == nil && d.Pool == nil && d.Dev == nil {
		return nil, fmt.Errorf("tenants: device %q is neither a cpu pool nor a plan device", d.Name)
	}
	svc := &Service{models: map[string]*model{}, window: opt.GoodputWindow}
	if svc.window <= 0 {
		svc.window = 10 * time.Second
	}
	ok := false
	defer func() {
		if !ok {
			svc.closeRunners()
		}
	}()
	sts := make([]sched.Tenant, 0, len(ts))
	for _, t := range ts {
		m, err := newModel(t)
		if err != nil {
			return nil, err
		}
		var r sched.Runner
		if opt.runner != nil {
			r, err = opt.runner(t)
		} else {
			r, err = svc.newRunner(ctx, d, t)
		}
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		svc.models[t.Name] = m
		svc.order = append(svc.order, m)
		sts = append(sts, schedTenant(t.Spec, r))
	}
	s, err := sched.New(sched.Config{Units: d.Units, UnitName: d.UnitName, Policy: opt.Policy, RealtimeBorrow: opt.RealtimeBorrow}, sts...)
	if err != nil {
		return nil, err
	}
	svc.sched = s
	svc.samples = []sample{{at: time.Now(), onTime: map[string]uint64{}}}
	ok = true
	return svc, nil
}

func newModel(t Tenant) (*model, error) {
	g := t.Model.Graph
	platform := "onnx"
	if t.Model.Plan != nil {
		g, platform = t.Model.Plan.Graph, "elasticroom_plan"
	}
	if g == nil {
		return nil, fmt.Errorf("tenant %q: no model loaded", t.Name)
	}
	info := serve.ModelInfo{Name: t.Name, Tenant: t.Name, Platform: platform}
	var err error
	if info.Inputs, err = tensorInfos(g, g.Inputs, true); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	if info.Outputs, err = tensorInfos(g, g.Outputs, false); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
	}
	queue := t.Queue
	if queue <= 0 {
		queue = DefaultQueue
	}
	return &model{info: info, spec: t.Spec, g: g, limit: int64(queue)}, nil
}

func tensorInfos(g *graph.Graph, vs []*graph.Value, inputs bool) ([]serve.TensorInfo, error) {
	var out []serve.TensorInfo
	for _, v := range vs {
		if inputs && g.IsInitializer(v.Name) {
			continue
		}
		if !v.RankKnown {
			return nil, fmt.Errorf("value %q has an unknown rank; the HTTP API needs at least the rank", v.Name)
		}
		shape := make([]int, len(v.Shape))
		for i, d := range v.Shape {
			shape[i] = -1
			if d.Known() {
				shape[i] = int(d.Size)
			}
		}
		out = append(out, serve.TensorInfo{Name: v.Name, DType: v.DType, Shape: shape})
	}
	return out, nil
}

// newRunner builds a tenant's runner: the cpu pool runs the plan's graph (or the graph);
// a plan device runs Slots instances of the plan.
func (svc *Service) newRunner(ctx context.Context, d Device, t Tenant) (sched.Runner, error) {
	slots := t.Slots
	if slots <= 0 {
		slots = DefaultSlots
	}
	prio := 0
	if t.Class == sched.Realtime {
		prio = 1
	}
	if d.Pool != nil {
		opt := sched.PoolOptions{Slots: slots, Priority: prio}
		if t.Model.Plan != nil {
			return sched.NewPlanRunner(d.Pool, t.Model.Plan, opt)
		}
		return sched.NewPoolRunner(d.Pool, t.Model.Graph, opt)
	}
	if t.Model.Plan == nil {
		return nil, fmt.Errorf("device %s runs compiled plans; model %q has none", d.Name, t.Spec.Model)
	}
	ins := make([]*exec.Instance, 0, slots)
	for range slots {
		in, err := exec.Load(ctx, d.Dev, t.Model.Plan)
		if err != nil {
			for _, in := range ins {
				in.Close()
			}
			return nil, err
		}
		ins = append(ins, in)
		svc.closers = append(svc.closers, in.Close)
	}
	return sched.NewExecRunner(ins, sched.ExecOptions{Priority: prio})
}

// Scheduler is the service's scheduler.
func (svc *Service) Scheduler() *sched.Scheduler { return svc.sched }

// Tokens maps each tenant's model with a token to it (serve.Config.Tokens).
func (svc *Service) Tokens() map[string][]string {
	out := map[string][]string{}
	for _, m := range svc.order {
		if m.spec.Token != "" {
			out[m.info.Name] = []string{m.spec.Token}
		}
	}
	return out
}

// Models lists the tenants' models in admission order.
func (svc *Service) Models() []serve.ModelInfo {
	out := make([]serve.ModelInfo, len(svc.order))
	for i, m := range svc.order {
		out[i] = m.info
	}
	return out
}

// Model finds a tenant's model by name.
func (svc *Service) Model(name string) (serve.ModelInfo, bool) {
	m, ok := svc.models[name]
	if !ok {
		return serve.ModelInfo{}, false
	}
	return m.info, true
}

// Ready reports whether the tenant takes requests (not once the service drains or stops).
func (svc *Service) Ready(name string) bool {
	_, ok := svc.models[name]
	return ok && !svc.closed.Load()
}

// Infer runs one request of the tenant named model through the scheduler.
func (svc *Service) Infer(ctx context.Context, name string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	m, ok := svc.models[name]
	if !ok {
		return nil, fmt.Errorf("model %q: %w", name, serve.ErrUnknownModel)
	}
	if svc.closed.Load() {
		return nil, fmt.Errorf("tenant %q: draining: %w", name, serve.ErrNotReady)
	}
	if n := m.inflight.Add(1); n > m.limit {
		m.inflight.Add(-1)
		return nil, fmt.Errorf("tenant %q: %d requests queued or running (queue=%d): %w", name, n-1, m.limit, serve.ErrOverloaded)
	}
	defer m.inflight.Add(-1)
	if err := m.g.CheckInputs(inputs); err != nil {
		return nil, fmt.Errorf("model %q: %v: %w", name, err, serve.ErrBadInput)
	}
	out, err := svc.sched.Submit(ctx, name, inputs)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, sched.ErrDraining), errors.Is(err, sched.ErrStopped):
		return nil, fmt.Errorf("tenant %q: %v: %w", name, err, serve.ErrNotReady)
	case errors.Is(err, sched.ErrUnknownTenant):
		return nil, fmt.Errorf("%v: %w", err, serve.ErrUnknownModel)
	}
	return nil, fmt.Errorf("tenant %q: %w", name, err)
}

// Snapshot is the scheduler's per-tenant state for /metrics, with goodput over the window.
func (svc *Service) Snapshot() []serve.TenantStats {
	snap := svc.sched.Snapshot()
	now := time.Now()
	cur := sample{at: now, onTime: make(map[string]uint64, len(snap.Tenants))}
	for _, t := range snap.Tenants {
		cur.onTime[t.Name] = t.OnTime
	}
	svc.mu.Lock()
	base := svc.samples[0]
	for len(svc.samples) > 1 && now.Sub(svc.samples[1].at) >= svc.window {
		svc.samples = svc.samples[1:]
		base = svc.samples[0]
	}
	if last := svc.samples[len(svc.samples)-1]; now.Sub(last.at) >= svc.window/20 {
		svc.samples = append(svc.samples, cur)
	}
	svc.mu.Unlock()
	secs := now.Sub(base.at).Seconds()
	out := make([]serve.TenantStats, 0, len(snap.Tenants))
	for _, t := range snap.Tenants {
		st := serve.TenantStats{Model: t.Name, Tenant: t.Name, Class: t.Class.String(), QueueDepth: t.QueueDepth,
			UnitsHeld: t.UnitsHeld, Preemptions: t.Preemptions, Completed: t.Completed, SLOMisses: t.SLOMisses}
		if t.Class == sched.Realtime {
			st.UnitsGuaranteed = t.Guarantee
		}
		if secs > 0 {
			st.Goodput = float64(t.OnTime-base.onTime[t.Name]) / secs
		}
		out = append(out, st)
	}
	return out
}

// Drain refuses new requests (they get 503) and waits for the queued and running ones.
func (svc *Service) Drain(ctx context.Context) error {
	svc.closed.Store(true)
	return svc.sched.Drain(ctx)
}

// Close stops the scheduler (queued requests fail) and frees the device instances.
func (svc *Service) Close() error {
	svc.closed.Store(true)
	svc.sched.Stop()
	return svc.closeRunners()
}

func (svc *Service) closeRunners() error {
	var err error
	for _, c := range svc.closers {
		err = errors.Join(err, c())
	}
	svc.closers = nil
	return err
}
