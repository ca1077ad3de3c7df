package isolation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	"github.com/elasticroom/elasticroom/runtime/sched"
)

// DeviceOptions choose a bench device.
type DeviceOptions struct {
	// Kind is "cpu", "emu", "cuda" or "auto" (cuda when a GPU answers, else cpu).
	Kind string
	// Units caps the units: cpu pool workers (0: GOMAXPROCS), emu SMs (0: the target's);
	// a cuda device has the GPU's SMs (a smaller nonzero Units is refused).
	Units int
	// TileTime is the cpu pool's target tile time (0: cpu.DefaultTileTime).
	TileTime time.Duration
	// Target is the emu device's GPU model (default sm_90).
	Target string
}

// Device is where a bench runs: the cpu unit pool (units are worker goroutines, a budget is a
// unit mask) or an emu/cuda device (units are SMs, a budget is a plan compiled for that many
// SMs and launched with that mask).
type Device struct {
	Kind     string // "cpu", "emu", "cuda"
	Name     string // description, e.g. "cpu (2 units)"
	Units    int
	UnitName string // "units" or "SMs"

	pool   *cpu.Pool
	dev    device.Device
	target budget.Target

	mu        sync.Mutex
	plans     map[string]*plan.Plan
	instances []*exec.Instance
}

// OpenDevice opens the device opt names.
func OpenDevice(opt DeviceOptions) (*Device, error) {
	kind := opt.Kind
	if kind == "" || kind == "auto" {
		kind = "cpu"
		if cuda.Available() == nil {
			kind = "cuda"
		}
	}
	if opt.Units < 0 {
		return nil, fmt.Errorf("bench device: %d units", opt.Units)
	}
	d := &Device{Kind: kind, plans: map[string]*plan.Plan{}}
	switch kind {
	case "cpu":
		p, err := cpu.NewPool(cpu.PoolOptions{Units: opt.Units, TileTime: opt.TileTime})
		if err != nil {
			return nil, fmt.Errorf("bench device cpu: %w", err)
		}
		d.pool, d.Name, d.Units, d.UnitName = p, p.Name(), p.Units(), "units"
		return d, nil
	case "emu", "cuda":
	default:
		return nil, fmt.Errorf("bench device %q: unknown (want cpu, emu, cuda or auto)", opt.Kind)
	}
	tname := opt.Target
	if tname == "" {
		tname = "sm_90"
	}
	target, err := budget.LookupTarget(tname)
	if err != nil {
		return nil, fmt.Errorf("bench device %s: %w", kind, err)
	}
	if kind == "emu" && opt.Units > 0 && opt.Units != target.SMs {
		target.SMs = opt.Units
		target.Name = fmt.Sprintf("%s-%dsm", target.Name, opt.Units)
	}
	dev, err := device.Open(kind, device.Options{Target: target, Units: opt.Units})
	if err != nil {
		return nil, fmt.Errorf("bench device: %w", err)
	}
	if cd, ok := dev.(*cuda.Device); ok {
		info := cd.Info()
		if target, err = budget.LookupTarget(info.Arch()); err != nil {
			dev.Close()
			return nil, fmt.Errorf("bench device: GPU %s (%s): %w", info.Name, info.Arch(), err)
		}
		if info.SMs > 0 && info.SMs != target.SMs {
			target.SMs = info.SMs
			target.Name = fmt.Sprintf("%s-%dsm", target.Name, info.SMs)
		}
		if opt.Units > 0 && opt.Units != target.SMs {
			dev.Close()
			return nil, fmt.Errorf("bench device: the GPU has %d SMs; --units %d cannot change that (use budgets)", target.SMs, opt.Units)
		}
	}
	d.dev, d.target, d.Name, d.Units, d.UnitName = dev, target, dev.Name(), dev.Units(), "SMs"
	return d, nil
}

// Close frees the device, its pool and every instance loaded on it.
func (d *Device) Close() error {
	var errs []error
	d.mu.Lock()
	for _, in := range d.instances {
		errs = append(errs, in.Close())
	}
	d.instances = nil
	d.mu.Unlock()
	if d.pool != nil {
		errs = append(errs, d.pool.Close())
	}
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
	}
	return errors.Join(errs...)
}

// TileTime is the cpu pool's tile time (0 on emu/cuda, where compiled tiles set it).
func (d *Device) TileTime() time.Duration {
	if d.pool != nil {
		return d.pool.TileTime()
	}
	return 0
}

// Model is a model with one seeded input set, ready to run on a Device.
type Model struct {
	Spec   string // as the user gave it, e.g. "zoo:mlp"
	Batch  int
	Graph  *graph.Graph
	Inputs map[string]*tensor.Tensor
}

// LoadModel opens spec (zoo:NAME, a zoo name, or an .onnx file) at the given batch (0: 1)
// and makes seeded random inputs for it (zoo models: valid token ids for bert).
func LoadModel(spec string, batch int, seed uint64) (*Model, error) {
	if batch <= 0 {
		batch = 1
	}
	g, src, err := models.Open(spec, zoo.Options{Batch: batch})
	if err != nil {
		return nil, err
	}
	var ins map[string]*tensor.Tensor
	if src.Zoo != "" {
		ins, err = zoo.RandomInputs(src.Zoo, g, batch, seed)
	} else {
		ins, err = models.RandomInputs(g, nil, batch, seed)
	}
	if err != nil {
		return nil, fmt.Errorf("model %q: inputs: %w", spec, err)
	}
	return &Model{Spec: spec, Batch: batch, Graph: g, Inputs: ins}, nil
}

// Label is the model's name for reports: the spec, with the batch when it is not 1.
func (m *Model) Label() string {
	if m.Batch > 1 {
		return fmt.Sprintf("%s (batch %d)", m.Spec, m.Batch)
	}
	return m.Spec
}

// Plan compiles m for a budget of n SMs (emu/cuda only); plans are cached per model and budget.
func (d *Device) Plan(ctx context.Context, m *Model, n int) (*plan.Plan, error) {
	if d.dev == nil {
		return nil, fmt.Errorf("bench device %s: no plans on the cpu device", d.Kind)
	}
	if n < 1 || n > d.Units {
		return nil, fmt.Errorf("budget of %d %s on a device of %d", n, d.UnitName, d.Units)
	}
	key := fmt.Sprintf("%p/%d", m, n)
	d.mu.Lock()
	p := d.plans[key]
	d.mu.Unlock()
	if p != nil {
		return p, nil
	}
	shapes := map[string][]int{}
	for name, t := range m.Inputs {
		shapes[name] = t.Shape
	}
	b := budget.Full(d.target)
	b.SMs = n
	p, err := compiler.Compile(ctx, m.Graph, compiler.Options{Target: d.target, Budget: b, Shapes: shapes, Eval: cpu.EvalNode})
	if err != nil {
		return nil, fmt.Errorf("model %q for %d SMs: %w", m.Spec, n, err)
	}
	d.mu.Lock()
	d.plans[key] = p
	d.mu.Unlock()
	return p, nil
}

// RunnerOptions tune Device.Runner.
type RunnerOptions struct {
	Budget   int // emu/cuda: SMs the plan is compiled for (0: all); ignored on cpu
	Slots    int // requests at once (0: 1)
	Priority int // pool job / launch priority (real-time tenants: higher)
}

// Runner returns a scheduler runner of m on d: on cpu a pool runner over m's graph, on
// emu/cuda an exec runner over Slots instances of m's plan for opt.Budget SMs.
func (d *Device) Runner(ctx context.Context, m *Model, opt RunnerOptions) (sched.Runner, error) {
	slots := max(opt.Slots, 1)
	if d.pool != nil {
		return sched.NewPoolRunner(d.pool, m.Graph, sched.PoolOptions{Slots: slots, Priority: opt.Priority})
	}
	n := opt.Budget
	if n == 0 {
		n = d.Units
	}
	p, err := d.Plan(ctx, m, n)
	if err != nil {
		return nil, err
	}
	ins := make([]*exec.Instance, 0, slots)
	for range slots {
		in, err := d.load(ctx, p)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	return sched.NewExecRunner(ins, sched.ExecOptions{Priority: opt.Priority})
}

func (d *Device) load(ctx context.Context, p *plan.Plan) (*exec.Instance, error) {
	in, err := exec.Load(ctx, d.dev, p)
	if err != nil {
		return nil, fmt.Errorf("model %q on %s: %w", p.Model, d.Name, err)
	}
	d.mu.Lock()
	d.instances = append(d.instances, in)
	d.mu.Unlock()
	return in, nil
}

// Solo returns a function that runs one request of m on the first n units of d and nothing
// else: on cpu a pool run with the mask {0..n-1}, on emu/cuda an instance of m's plan
// compiled for n SMs, launched with that mask.
func (d *Device) Solo(ctx context.Context, m *Model, n int) (func(context.Context) error, error) {
	if n < 1 || n > d.Units {
		return nil, fmt.Errorf("budget of %d %s on a device of %d", n, d.UnitName, d.Units)
	}
	units := make([]int, n)
	for i := range units {
		units[i] = i
	}
	if d.pool != nil {
		mask, err := d.pool.NewMask(units)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			_, err := d.pool.Run(ctx, m.Graph, m.Inputs, cpu.UnitRunOptions{Mask: mask})
			return err
		}, nil
	}
	p, err := d.Plan(ctx, m, n)
	if err != nil {
		return nil, err
	}
	in, err := d.load(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := in.SetMask(units); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := in.Run(ctx, m.Inputs, exec.RunOptions{})
		return err
	}, nil
}

// ParseKind checks a --device value.
func ParseKind(s string) error {
	switch strings.ToLower(s) {
	case "", "auto", "cpu", "emu", "cuda":
		return nil
	}
	return fmt.Errorf("unknown device %q (want auto, cpu, emu or cuda)", s)
}
