package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/exec"
)

// ExecOptions tune an ExecRunner.
type ExecOptions struct {
	Priority int // passed to every launch (realtime tenants: higher)
	// OnTrace, when set, turns tracing on and receives each request's kernel traces.
	OnTrace func([]exec.KernelTrace)
}

// ExecRunner runs a plan on exec.Instances (emu or cuda devices: units are SMs), one request
// per instance at a time; the lease's units become the instance's SM mask, and follow the
// lease while the request runs (exec.Instance.SetMask: an empty mask pauses the kernel).
type ExecRunner struct {
	opt  ExecOptions
	free chan *exec.Instance
	n    int
}

// NewExecRunner pools instances (all loaded from the same plan).
func NewExecRunner(instances []*exec.Instance, opt ExecOptions) (*ExecRunner, error) {
	if len(instances) == 0 {
		return nil, errors.New("sched: exec runner without instances")
	}
	r := &ExecRunner{opt: opt, free: make(chan *exec.Instance, len(instances)), n: len(instances)}
	for _, in := range instances {
		if in == nil {
			return nil, errors.New("sched: exec runner: nil instance")
		}
		r.free <- in
	}
	return r, nil
}

// Slots is the number of instances.
func (r *ExecRunner) Slots() int { return r.n }

// Run runs one request on a free instance.
func (r *ExecRunner) Run(ctx context.Context, inputs map[string]*tensor.Tensor, lease *Lease) (map[string]*tensor.Tensor, error) {
	var in *exec.Instance
	select {
	case in = <-r.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { r.free <- in }()
	var maskErr error
	var mu sync.Mutex
	stop := lease.Watch(func(units []int) {
		if err := in.SetMask(units); err != nil {
			mu.Lock()
			maskErr = errors.Join(maskErr, err)
			mu.Unlock()
		}
	})
	out, err := in.Run(ctx, inputs, exec.RunOptions{Priority: r.opt.Priority, Trace: r.opt.OnTrace != nil})
	stop()
	mu.Lock()
	defer mu.Unlock()
	if err == nil && maskErr != nil {
		err = fmt.Errorf("unit mask: %w", maskErr)
	}
	if err == nil && r.opt.OnTrace != nil {
		r.opt.OnTrace(in.LastTrace())
	}
	return out, err
}

// PoolOptions tune a PoolRunner.
type PoolOptions struct {
	Slots    int // requests at once (0: 1)
	Priority int // the cpu pool's job priority (realtime tenants: higher)
	Trace    *cpu.TileLog
}

// PoolRunner runs a graph (a plan's graph, or an imported model) on the cpu unit pool; the
// lease's units are the run's cpu.Mask.
type PoolRunner struct {
	pool *cpu.Pool
	g    *graph.Graph
	opt  PoolOptions
}

// NewPoolRunner runs g on pool.
func NewPoolRunner(pool *cpu.Pool, g *graph.Graph, opt PoolOptions) (*PoolRunner, error) {
	if pool == nil || g == nil {
		return nil, errors.New("sched: pool runner needs a pool and a graph")
	}
	if opt.Slots < 0 {
		return nil, fmt.Errorf("sched: pool runner with %d slots", opt.Slots)
	}
	return &PoolRunner{pool: pool, g: g, opt: opt}, nil
}

// NewPlanRunner runs p's graph on pool (the cpu device runs a plan's nodes with kernels/ref).
func NewPlanRunner(pool *cpu.Pool, p *plan.Plan, opt PoolOptions) (*PoolRunner, error) {
	if p == nil {
		return nil, errors.New("sched: nil plan")
	}
	return NewPoolRunner(pool, p.Graph, opt)
}

// Slots is the configured number of concurrent requests.
func (r *PoolRunner) Slots() int { return max(1, r.opt.Slots) }

// Run runs one request with a mask that follows the lease.
func (r *PoolRunner) Run(ctx context.Context, inputs map[string]*tensor.Tensor, lease *Lease) (map[string]*tensor.Tensor, error) {
	mask, err := r.pool.NewMask(nil)
	if err != nil {
		return nil, err
	}
	var maskErr error
	var mu sync.Mutex
	stop := lease.Watch(func(units []int) {
		if err := mask.Set(units); err != nil {
			mu.Lock()
			maskErr = errors.Join(maskErr, err)
			mu.Unlock()
		}
	})
	out, err := r.pool.Run(ctx, r.g, inputs, cpu.UnitRunOptions{Mask: mask, Priority: r.opt.Priority, Trace: r.opt.Trace})
	stop()
	mu.Lock()
	defer mu.Unlock()
	if err == nil && maskErr != nil {
		err = fmt.Errorf("unit mask: %w", maskErr)
	}
	return out, err
}
