package cpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// UnitRunOptions tune one Pool.Run.
type UnitRunOptions struct {
	// Mask is the units the run may use; nil: every unit of the pool.
	Mask *Mask
	// Priority orders jobs on a unit whose mask several runs hold: higher first.
	Priority int
	// Trace, when not nil, receives every tile of the run.
	Trace *TileLog
}

// Run executes g on inputs like the package's Run, with every node cut into tiles that the
// pool's units in opt.Mask take: Conv/FusedConv over (batch, output-channel block, range of
// output positions), Gemm, MatMul and their fused forms over row (or, for up to 4 rows,
// column) blocks, float32 unary and binary elementwise ops over element chunks, pooling over
// (n, c) planes; every other node is one tile. Tiles are computed with kernels/ref on slices of the operands, so the results
// are bit-identical to Run's. A tile is sized from its FLOPs to take about the pool's
// TileTime, at the pool's GEMM rate or, once a node has run, at the slower rate measured on
// its tiles. Run waits (preempted) while the mask is empty.
func (p *Pool) Run(ctx context.Context, g *graph.Graph, inputs map[string]*tensor.Tensor, opt UnitRunOptions) (map[string]*tensor.Tensor, error) {
	if g == nil {
		return nil, errors.New("cpu: nil graph")
	}
	if opt.Mask == nil {
		all := make([]int, p.units)
		for i := range all {
			all[i] = i
		}
		m, err := p.NewMask(all)
		if err != nil {
			return nil, err
		}
		opt.Mask = m
	}
	if opt.Mask.p != p {
		return nil, errors.New("cpu: mask of another pool")
	}
	e, err := bindInputs(g, inputs)
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, opt: Options{Workers: 1}}
	u := &unitRun{p: p, r: r, opt: opt}
	if err := u.runGraph(g, e); err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for _, v := range g.Outputs {
		t, ok := e.get(v.Name)
		if !ok {
			return nil, fmt.Errorf("cpu: graph output %q was not computed", v.Name)
		}
		out[v.Name] = t
	}
	return out, nil
}

// unitRun is one Pool.Run.
type unitRun struct {
	p   *Pool
	r   *runner
	opt UnitRunOptions
}

// runGraph is runner.runGraph with each node run through the pool.
func (u *unitRun) runGraph(g *graph.Graph, e *env) error {
	return u.r.walkGraph(g, e, func(i int, _ *graph.Node, fu *fusion) error { return u.runNode(g, i, e, fu) })
}

// runNode is runner.runNode with the op run as tiles on the pool.
func (u *unitRun) runNode(g *graph.Graph, idx int, e *env, fu *fusion) error {
	r := u.r
	n := g.Nodes[idx]
	key, ok := opKey(n)
	if !ok {
		return fmt.Errorf("%v: domain %q: %w", n, n.Domain, ErrUnsupportedOp)
	}
	f, ok := opTable[key]
	if !ok {
		return fmt.Errorf("%v: %w", n, ErrUnsupportedOp)
	}
	c := &opCtx{node: n, r: r, env: e, g: g, in: make([]*tensor.Tensor, len(n.Inputs)), out: make([]*tensor.Tensor, len(n.Outputs))}
	outNames := n.Outputs
	if fu != nil {
		c.act = fu.act
		outNames = g.Nodes[fu.last].Outputs[:1]
	}
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		t, ok := e.get(name)
		if !ok {
			return fmt.Errorf("%v: input %d (%q) has no value", n, i, name)
		}
		c.in[i] = t
	}
	if fu != nil && fu.bn != nil {
		if err := foldInto(c, fu.bn); err != nil {
			return fmt.Errorf("%v: folding %v: %w", n, fu.bn, err)
		}
	}
	var est float64 // the tiling's cost estimate, in FLOP-equivalents
	tl, err := u.tiles(c, key, &est)
	if err != nil {
		return fmt.Errorf("%v: %w", n, err)
	}
	if tl == nil { // one tile: the op as Run runs it, on one unit
		tl = &tiling{n: 1, tile: func(int) error { return f(c) }}
	}
	tile := tl.tile
	var busy atomic.Int64 // nanoseconds spent in the node's tiles
	if est > 0 {
		tile = func(t int) error {
			start := time.Now()
			err := tl.tile(t)
			busy.Add(int64(time.Since(start)))
			return err
		}
	}
	if err := u.p.do(r.ctx, u.opt.Mask, u.opt.Priority, tl.n, tile, u.opt.Trace, idx, n.Name); err != nil {
		return fmt.Errorf("%v: %w", n, err)
	}
	if est > 0 {
		u.p.observe(n, est, busy.Load())
	}
	if tl.finish != nil {
		if err := tl.finish(); err != nil {
			return fmt.Errorf("%v: %w", n, err)
		}
	}
	for i, name := range outNames {
		if name == "" {
			continue
		}
		t := c.out[i]
		if t == nil {
			return fmt.Errorf("%v: output %d (%q) was not produced", n, i, name)
		}
		e.vals[name] = t
		r.bufs.hold(t)
	}
	return nil
}

// tiling is a node cut into n tiles: tile(t) computes tile t into outputs already set in the
// node's opCtx; finish, when set, runs after the last tile on the calling goroutine.
type tiling struct {
	n      int
	tile   func(t int) error
	finish func() error
}

// tiles returns the tiling of c's node, or nil to run it as one tile.
// est receives the cost estimate the tiling was sized from (0 when none).
func (u *unitRun) tiles(c *opCtx, key string, est *float64) (*tiling, error) {
	want := u.want(c)
	want.est = est
	switch key {
	case "Conv":
		return convTiles(c, c.act, want)
	case FusedDomain + ".FusedConv":
		act, err := fusedActivation(c.node)
		if err != nil {
			return nil, err
		}
		return convTiles(c, act, want)
	case "Gemm":
		return gemmTiles(c, ref.Activation{Op: ref.Identity}, want)
	case FusedDomain + ".FusedGemm":
		act, err := fusedActivation(c.node)
		if err != nil {
			return nil, err
		}
		return gemmTiles(c, act, want)
	case "MatMul":
		return matMulTiles(c, false, ref.Activation{Op: ref.Identity}, want)
	case FusedDomain + ".FusedMatMul":
		act, err := fusedActivation(c.node)
		if err != nil {
			return nil, err
		}
		return matMulTiles(c, true, act, want)
	case "MaxPool", "AveragePool":
		return poolTiles(c, want)
	case "GlobalAveragePool", "GlobalMaxPool":
		return globalPoolTiles(c, want)
	case "Add", "Sub", "Mul", "Div":
		return binaryTiles(c, want)
	}
	if spec, ok := unaryOps[key]; ok {
		return unaryTiles(c, spec.params(c), want)
	}
	return nil, nil
}

// want is how to size tiles: tiles of about perTile FLOPs, and no fewer than the units the
// run holds now when the work allows (tiles of at least minTile FLOPs). count stores the
// work's FLOPs in *est when est is set.
type want struct {
	units   int
	perTile float64
	minTile float64
	est     *float64
}

// want sizes the tiles of c's node: from the pool's GEMM rate, or from the rate measured on
// the node's earlier runs where that is slower (memory-bound ops, skinny products, im2col:
// the FLOP model alone would make their tiles several times TileTime).
func (u *unitRun) want(c *opCtx) want {
	rate := u.p.flopRate
	if r, ok := u.p.rates.Load(c.node); ok {
		rate = min(rate, r.(*nodeRate).get())
	}
	per := rate * float64(u.p.tileTime.Nanoseconds())
	return want{units: max(1, u.opt.Mask.Count()), perTile: per, minTile: per / 16}
}

// count is the number of tiles for work of flops FLOPs that splits at most limit ways.
func (w want) count(flops float64, limit int) int {
	if w.est != nil {
		*w.est = flops
	}
	n := int(flops/w.perTile + 0.999)
	if byUnits := min(w.units, int(flops/w.minTile)); byUnits > n {
		n = byUnits
	}
	return max(1, min(n, limit))
}

// nodeRate is the FLOP rate (per ns of one unit) measured on a node's tiles, smoothed over
// runs.
type nodeRate struct{ bits atomic.Uint64 }

func (r *nodeRate) get() float64 { return math.Float64frombits(r.bits.Load()) }

// observe records that a node's tiles did est FLOP-equivalents in busy ns of unit time.
func (p *Pool) observe(n *graph.Node, est float64, busy int64) {
	if busy <= 0 {
		return
	}
	obs := est / float64(busy)
	v, loaded := p.rates.LoadOrStore(n, &nodeRate{})
	r := v.(*nodeRate)
	if loaded {
		obs = (r.get() + obs) / 2
	}
	r.bits.Store(math.Float64bits(obs))
}

var (
	rateOnce sync.Once
	rate     float64
)

// measuredFlopRate times a single-threaded float32 GEMM once per process: a 1x1
// convolution (the GEMM of its weights and input) on one worker.
func measuredFlopRate() float64 {
	rateOnce.Do(func() {
		const m, n, k = 96, 96, 96
		a, b, o := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i], b[i] = float32(i%7)*0.25, float32(i%5)*0.5
		}
		p := ref.ConvParams{N: 1, C: k, M: m, Group: 1, In: []int{n}, Kernel: []int{1}, Workers: 1}
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			_ = ref.Conv(p, b, a, nil, o)
			best = min(best, time.Since(start))
		}
		rate = 2 * m * n * k / float64(max(best.Nanoseconds(), 1))
		rate = min(max(rate, 0.5), 200) // flops/ns: keep sane on odd machines
	})
	return rate
}
