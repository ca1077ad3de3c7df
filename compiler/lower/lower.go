// Package lower is the last stage of ElasticRoom's compiler: it maps every node of an
// optimized, shape-specialized graph (compiler/passes' output, concrete shapes) onto a kernel
// template of kernels/ (gemm, conv, eltwise, reduce, softmax, norm, pool, move, attention),
// chooses each kernel's tile configuration under a budget, and emits the plan's kernels,
// launch sequence and memory plan.
//
// Per node, one of three things happens:
//
//   - a kernel: the template's configurations are built and every one that does not fit the
//     budget is dropped (estimated registers per thread above Budget.RegLimit, shared memory
//     above Budget.SharedLimit, no block resident per SM, or one tile's estimated time above
//     Budget.MaxTileMicros, the preemption latency bound); the cost model (compiler/budget)
//     picks the fastest of the rest on Budget.SMs SMs. When configurations exist but none fits,
//     Lower fails with an error wrapping ErrNoConfig that names the node and the limit.
//   - an alias: Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout move no data: their
//     output shares the input's bytes in the memory plan and no launch is emitted.
//   - a host step (plan.HostStep): nodes no template covers (int64 shape arithmetic, bool
//     masks, Cast, If, ConvTranspose, ...) run on the host with reference semantics. Result.Hosts
//     says why each one is there.
//
// Registers: templates do not report them and ptxas is not available to users, so the
// compiler estimates each config's registers per thread (regs.go, calibrated against ptxas),
// drops configs whose estimate exceeds Budget.RegLimit, and emits the chosen kernel with
// .maxnreg = the estimate rounded up to the allocation unit (never above the budget's
// limit); Kernel.Registers is that cap, an upper bound ptxas enforces, so the occupancy the
// plan records holds. Tests assemble every kernel with ptxas and check registers <= the
// budget and no spills.
// Each kernel's PTX is its own module (kernels/ptx.Render), for the target's architecture.
//
// lower imports compiler/graph, compiler/budget, compiler/plan, compiler/passes (fused-op
// definitions and PlanMemory) and kernels/...; it must never import runtime/ or models/.
package lower

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
)

// ErrNoConfig is wrapped by the error of a node whose template has configurations but none
// that fits the budget.
var ErrNoConfig = errors.New("no tile config fits the budget")

// Options configure Lower.
type Options struct {
	Target budget.Target
	Budget budget.Budget
	// Cost is the cost model; nil means budget.DefaultCostModel.
	Cost *budget.CostModel
	// Workers bounds how many nodes are lowered at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called after each node with the nodes done and the total.
	Progress func(done, total int)
}

// Result is a lowered graph: everything of a plan but the graph itself.
type Result struct {
	Kernels  []plan.Kernel
	Configs  []string // Configs[i] is the tile configuration chosen for Kernels[i]
	Launches []plan.Launch
	Memory   *plan.MemoryPlan
	// Aliases maps a value that shares another's buffer (the output of a Reshape-like node)
	// to the value whose bytes it is; AliasNodes counts the nodes lowered to nothing.
	Aliases    map[string]string
	AliasNodes int
	// Hosts maps each node run as a host step to the reason no kernel runs it.
	Hosts map[string]string
}

// HostSteps is the number of host-step launches.
func (r *Result) HostSteps() int { return len(r.Hosts) }

// EstMicros is the sum of the kernels' estimated times (host steps not counted).
func (r *Result) EstMicros() float64 {
	var s float64
	for _, k := range r.Kernels {
		s += k.EstMicros
	}
	return s
}

// job is a node mapped onto a template: what to build and how its buffers bind.
type job struct {
	family  string
	configs []kernels.Config
	// fallback configs are tried only when no config of configs fits the budget, or when the
	// best leaves SMs without a tile (small register-blocked tiles: tight --max-regs budgets,
	// matrix-vector products).
	fallback []kernels.Config
	build    func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error)
	bind     map[string]string // buffer role -> value name
	key      string            // the parameters, for reusing the choice of an equal node
	// kind refines family for the register estimate ("view", "concat", "depthwise", ...);
	// hint is a size the estimate grows with (attention: HeadDim+ValDim; eltwise: ops).
	kind string
	hint int
}

// step is what one node lowers to.
type step struct {
	node  *graph.Node
	job   *job
	host  string // reason, for a host step
	alias bool
	// filled by choose
	ch  *choice
	err error
}

// Lower lowers g (optimized, concrete shapes, topological order) under opt's budget. g is
// changed into an equivalent graph the plan then holds: it may gain initializers (constants a
// fused elementwise body needs as buffers) and legalizations (legalize.go). The context stops
// it between nodes.
func Lower(ctx context.Context, g *graph.Graph, opt Options) (*Result, error) {
	if g == nil {
		return nil, errors.New("lower: nil graph")
	}
	if err := opt.Budget.Validate(opt.Target); err != nil {
		return nil, fmt.Errorf("lower: %w", err)
	}
	if opt.Cost == nil {
		opt.Cost = &budget.DefaultCostModel
	}
	legalize(g)
	aliases := findAliases(g)
	steps := make([]*step, len(g.Nodes))
	m := &mapper{g: g}
	for i, n := range g.Nodes {
		s := &step{node: n}
		steps[i] = s
		if _, ok := aliases[outputOf(n)]; ok && isAliasOp(n) {
			s.alias = true
			continue
		}
		j, err := m.mapNode(n)
		if err != nil {
			s.host = err.Error()
			continue
		}
		s.job = j
	}
	if err := chooseAll(ctx, steps, opt); err != nil {
		return nil, err
	}
	res := &Result{Aliases: aliases, Hosts: map[string]string{}}
	for _, s := range steps {
		switch {
		case s.alias:
			res.AliasNodes++
		case s.job == nil:
			res.Hosts[s.node.Name] = s.host
			res.Launches = append(res.Launches, plan.Launch{Kernel: plan.HostStep, Host: s.node.Name})
		default:
			k, l, err := emit(s, len(res.Kernels), opt)
			if err != nil {
				return nil, err
			}
			res.Kernels = append(res.Kernels, k)
			res.Configs = append(res.Configs, s.ch.inst.Config.String())
			res.Launches = append(res.Launches, l)
		}
	}
	mp, err := planMemory(g, aliases)
	if err != nil {
		return nil, fmt.Errorf("lower: %w", err)
	}
	res.Memory = mp
	return res, nil
}

// chooseAll picks every kernel step's configuration, nodes in parallel; equal jobs (same
// family and parameters, e.g. the layers of a transformer) are chosen once.
func chooseAll(ctx context.Context, steps []*step, opt Options) error {
	var work []*step
	for _, s := range steps {
		if s.job != nil {
			work = append(work, s)
		}
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type memo struct {
		once sync.Once
		ch   *choice
		err  error
	}
	var mu sync.Mutex
	memos := map[string]*memo{}
	next := make(chan *step)
	var wg sync.WaitGroup
	var done int
	for range min(workers, max(len(work), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				mu.Lock()
				me, ok := memos[s.job.key]
				if !ok {
					me = &memo{}
					memos[s.job.key] = me
				}
				mu.Unlock()
				me.once.Do(func() { me.ch, me.err = choose(s.job, opt) })
				if me.err == nil {
					// Equal nodes share the choice but each gets its own kernel (names differ).
					s.ch = me.ch
				}
				s.err = me.err
				if opt.Progress != nil {
					mu.Lock()
					done++
					d := done
					mu.Unlock()
					opt.Progress(d, len(work))
				}
			}
		}()
	}
	var ctxErr error
	for _, s := range work {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		next <- s
	}
	close(next)
	wg.Wait()
	if ctxErr != nil {
		return fmt.Errorf("lower: %w", ctxErr)
	}
	var errs []error
	for _, s := range work {
		if s.err == nil {
			continue
		}
		var he *hostError
		if errors.As(s.err, &he) {
			// No configuration builds for these parameters: the node runs on the host.
			s.host, s.job = he.Error(), nil
			continue
		}
		errs = append(errs, fmt.Errorf("node %q (%s): %w", s.node.Name, opName(s.node), s.err))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more nodes)", errs[0], len(errs)-1)
}

// emit turns a chosen step into the plan's kernel number idx and its launch.
func emit(s *step, idx int, opt Options) (plan.Kernel, plan.Launch, error) {
	in := s.ch.inst
	k := *in.Kernel // shallow copy: equal nodes share one build, each kernel has its own name
	k.Name = fmt.Sprintf("k%03d_%s_%s", idx, s.job.family, identifier(s.node.Name))
	k.Target.MaxRegs = s.ch.regs // .maxnreg: the register figure the plan records
	text, err := ptx.Render(&k)
	if err != nil {
		return plan.Kernel{}, plan.Launch{}, fmt.Errorf("node %q (%s): render PTX: %w", s.node.Name, opName(s.node), err)
	}
	params, args, err := bindArgs(in, s.job.bind)
	if err != nil {
		return plan.Kernel{}, plan.Launch{}, fmt.Errorf("node %q (%s): %w", s.node.Name, opName(s.node), err)
	}
	c := s.ch
	pk := plan.Kernel{
		Name: k.Name, Op: opName(s.node), Nodes: []string{s.node.Name}, PTX: text,
		Grid: [3]int{opt.Target.SMs * c.occ.BlocksPerSM, 1, 1}, Block: [3]int{in.Threads, 1, 1},
		Registers: c.regs, SharedBytes: in.SharedBytes + in.DynamicShared, Tiles: in.Tiles,
		BlocksPerSM: c.occ.BlocksPerSM, Occupancy: c.occ.Fraction,
		EstMicros: micros(c.total), EstTileMicros: micros(c.tile), Params: params, IR: &k,
	}
	return pk, plan.Launch{Kernel: idx, Args: args}, nil
}

// bindArgs turns the instance's argument roles into the kernel's formal parameters and the
// launch's actual ones. The trace buffer is bound to a null pointer.
func bindArgs(in *kernels.Instance, bind map[string]string) ([]plan.Param, []plan.Arg, error) {
	params := make([]plan.Param, len(in.Args))
	args := make([]plan.Arg, len(in.Args))
	for i, a := range in.Args {
		name := in.Kernel.Params[i].Name
		switch a.Kind {
		case kernels.ArgControl:
			params[i] = plan.Param{Name: name, Kind: plan.ParamCtl}
		case kernels.ArgTrace:
			params[i] = plan.Param{Name: name, Kind: plan.ParamU64}
		case kernels.ArgBuffer:
			v, ok := bind[a.Name]
			if !ok || v == "" {
				return nil, nil, fmt.Errorf("kernel %s: buffer role %q is bound to no value", in.Name, a.Name)
			}
			params[i] = plan.Param{Name: name, Kind: plan.ParamBuffer}
			args[i] = plan.Arg{Value: v}
		case kernels.ArgU32:
			params[i] = plan.Param{Name: name, Kind: plan.ParamU32}
			args[i] = plan.Arg{Int: int64(a.U32)}
		case kernels.ArgS32:
			// An s32 parameter is passed as its 32 bits.
			params[i] = plan.Param{Name: name, Kind: plan.ParamU32}
			args[i] = plan.Arg{Int: int64(uint32(a.S32))}
		case kernels.ArgF32:
			params[i] = plan.Param{Name: name, Kind: plan.ParamF32}
			args[i] = plan.Arg{Float: float64(a.F32)}
		default:
			return nil, nil, fmt.Errorf("kernel %s: argument %d has unknown kind %d", in.Name, i, a.Kind)
		}
	}
	return params, args, nil
}

// opName is a node's op as plans show it: "elasticroom.FusedConv" for fused ops.
func opName(n *graph.Node) string {
	if n.Domain != "" {
		return n.Domain + "." + n.Op
	}
	return n.Op
}

func outputOf(n *graph.Node) string {
	if len(n.Outputs) == 0 {
		return ""
	}
	return n.Outputs[0]
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// identifier makes a node name usable inside a PTX identifier (at most 40 characters).
func identifier(s string) string {
	s = strings.Trim(nonIdent.ReplaceAllString(s, "_"), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	if s == "" {
		s = "node"
	}
	return s
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
