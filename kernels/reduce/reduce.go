// Package reduce is the kernel template for reductions over any set of axes (ONNX ReduceSum,
// ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSum, ReduceLogSumExp, and ArgMax/ArgMin), and the home of the warp and block
// reduction helpers (GroupReduce, BlockReduce) the softmax and norm templates share.
//
// A tile is TileM output elements. Each output is reduced by a group of TileN threads: one
// thread (serial loop, best when the reduced axes are outer, so neighbouring threads read
// neighbouring addresses), a power-of-two part of a warp (warp shuffles), or the whole block
// (shuffles plus shared memory). Buffer roles: "x" (f32 input), "y" (f32 output in
// ref.ReduceShape order; int64 indices for ArgMax/ArgMin).
//
// reduce imports kernels, kernels/kir, kernels/kir/protocol, kernels/eltwise (math and index
// helpers) and kernels/ref (op types); never compiler/ or runtime/.
package reduce

import (
	"fmt"
	"math"
	"sort"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Params is a reduction of Axes (normalized, any order; empty: all axes) of an f32 tensor of
// shape Shape. Arg selects ArgMax/ArgMin instead of Op (exactly one axis; SelectLast picks the
// last of equal extremes).
type Params struct {
	Op         ref.ReduceOp
	Shape      []int
	Axes       []int
	Arg        bool
	ArgMax     bool // with Arg: max (else min)
	SelectLast bool
}

// geometry is the reduction split into kept and reduced index spaces over the input.
type geometry struct {
	outs, red             int
	kept, keptSt          []int
	redDims, redSt        []int
	contiguousRows, inner bool // reduced space is one contiguous innermost block
}

func (p *Params) geometry() (geometry, error) {
	var g geometry
	rank := len(p.Shape)
	axes := append([]int(nil), p.Axes...)
	if len(axes) == 0 {
		for i := 0; i < rank; i++ {
			axes = append(axes, i)
		}
	}
	sort.Ints(axes)
	red := make([]bool, rank)
	for i, a := range axes {
		if a < 0 || a >= rank || i > 0 && axes[i-1] == a {
			return g, fmt.Errorf("reduce: axes %v of shape %v", p.Axes, p.Shape)
		}
		red[a] = true
	}
	if p.Arg && len(axes) != 1 {
		return g, fmt.Errorf("reduce: argmax/argmin over %d axes", len(axes))
	}
	st := eltwise.BroadcastStrides(p.Shape, p.Shape)
	var kd, ks, rd, rs []int
	for i, d := range p.Shape {
		if d < 0 {
			return g, fmt.Errorf("reduce: shape %v", p.Shape)
		}
		if red[i] {
			rd, rs = append(rd, d), append(rs, st[i])
		} else {
			kd, ks = append(kd, d), append(ks, st[i])
		}
	}
	var sts [][]int
	g.kept, sts = eltwise.Collapse(kd, ks)
	g.keptSt = sts[0]
	g.redDims, sts = eltwise.Collapse(rd, rs)
	g.redSt = sts[0]
	g.outs, g.red = eltwise.Prod(kd), eltwise.Prod(rd)
	if g.outs == 0 {
		return g, fmt.Errorf("reduce: empty output (shape %v, axes %v)", p.Shape, p.Axes)
	}
	if g.red == 0 && (p.Arg || p.Op == ref.ReduceMax || p.Op == ref.ReduceMin) {
		return g, fmt.Errorf("reduce: empty reduction of shape %v", p.Shape)
	}
	g.inner = len(g.redDims) == 1 && g.redSt[0] == 1
	return g, nil
}

// Configs lists tile configurations: (threads, TileN threads per output, TileM outputs per
// tile), favouring groups when the reduction is long and threads per output when it is short.
func Configs(p Params) []kernels.Config {
	g, err := p.geometry()
	if err != nil {
		return nil
	}
	var out []kernels.Config
	add := func(t, n, m int) { out = append(out, kernels.Config{Threads: t, TileN: n, TileM: m}) }
	add(256, 1, 256)
	add(128, 1, 128)
	if g.red >= 8 {
		add(256, 8, 32)
		add(256, 32, 8)
		add(128, 32, 16)
	}
	if g.red >= 512 {
		add(256, 256, 1)
		add(512, 512, 2)
	}
	return out
}

// state is a reduction's accumulator: its registers' initial values, how an element enters,
// how two partial states merge and the final value.
type state struct {
	init    func() []kir.Value
	add     func(st []kir.Value, x, j kir.Value) []kir.Value
	combine Combine
}

func (p *Params) state(b *kir.Builder) state {
	f := b.ConstF32
	one := func(v float32, op func(a, x kir.Value) kir.Value, pre func(x kir.Value) kir.Value) state {
		return state{
			init: func() []kir.Value { return []kir.Value{f(v)} },
			add: func(st []kir.Value, x, _ kir.Value) []kir.Value {
				return []kir.Value{op(st[0], pre(x))}
			},
			combine: func(a, c []kir.Value) []kir.Value { return []kir.Value{op(a[0], c[0])} },
		}
	}
	id := func(x kir.Value) kir.Value { return x }
	if p.Arg {
		better := func(v, i, w, k kir.Value) kir.Value { // is (w, k) better than (v, i)?
			strict := b.Gt(w, v)
			if !p.ArgMax {
				strict = b.Lt(w, v)
			}
			tie := b.Lt(k, i)
			if p.SelectLast {
				tie = b.Gt(k, i)
			}
			return b.Or(strict, b.And(b.Eq(w, v), tie))
		}
		pick := func(a, c []kir.Value) []kir.Value {
			bt := better(a[0], a[1], c[0], c[1])
			return []kir.Value{b.Select(bt, c[0], a[0]), b.Select(bt, c[1], a[1])}
		}
		initV, initI := float32(math.Inf(-1)), uint32(math.MaxUint32)
		if !p.ArgMax {
			initV = float32(math.Inf(1))
		}
		if p.SelectLast {
			initI = 0
		}
		return state{
			init:    func() []kir.Value { return []kir.Value{f(initV), b.ConstU32(initI)} },
			add:     func(st []kir.Value, x, j kir.Value) []kir.Value { return pick(st, []kir.Value{x, j}) },
			combine: pick,
		}
	}
	switch p.Op {
	case ref.ReduceMax:
		return one(float32(math.Inf(-1)), b.Max, id)
	case ref.ReduceMin:
		return one(float32(math.Inf(1)), b.Min, id)
	case ref.ReduceProd:
		return one(1, b.Mul, id)
	case ref.ReduceL1:
		return one(0, b.Add, b.Abs)
	case ref.ReduceL2, ref.ReduceSumSquare:
		return one(0, b.Add, func(x kir.Value) kir.Value { return b.Mul(x, x) })
	case ref.ReduceLogSumExp:
		return state{
			init: func() []kir.Value { return []kir.Value{f(float32(math.Inf(-1))), f(0)} },
			add: func(st []kir.Value, x, _ kir.Value) []kir.Value {
				return LSECombine(b, st, []kir.Value{x, f(1)})
			},
			combine: func(a, c []kir.Value) []kir.Value { return LSECombine(b, a, c) },
		}
	}
	return one(0, b.Add, id)
}

// LSECombine merges two (max, sum of exp(x - max)) states: the online-softmax step. A state
// whose max is -Inf contributes nothing (no NaN from -Inf - -Inf).
func LSECombine(b *kir.Builder, a, c []kir.Value) []kir.Value {
	m := b.Max(a[0], c[0])
	ninf := b.ConstF32(float32(math.Inf(-1)))
	safe := b.Select(b.Eq(m, ninf), b.ConstF32(0), m)
	s := b.Fma(a[1], eltwise.Exp(b, b.Sub(a[0], safe)), b.Mul(c[1], eltwise.Exp(b, b.Sub(c[0], safe))))
	return []kir.Value{m, s}
}

func (p *Params) final(b *kir.Builder, st []kir.Value, n int) kir.Value {
	if p.Arg {
		return b.Cvt(st[1], kir.S64)
	}
	switch p.Op {
	case ref.ReduceMean:
		return b.Div(st[0], b.ConstF32(float32(n)))
	case ref.ReduceL2:
		return b.Sqrt(st[0])
	case ref.ReduceLogSum:
		return eltwise.Log(b, st[0])
	case ref.ReduceLogSumExp:
		return b.Add(eltwise.Log(b, st[1]), st[0])
	}
	return st[0]
}

// Build instantiates the reduction for one config; tile t covers outputs [t*TileM, (t+1)*TileM).
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	g, err := p.geometry()
	if err != nil {
		return nil, err
	}
	G, T := cfg.TileN, cfg.Threads
	if err := CheckGroup(G, T); err != nil {
		return nil, fmt.Errorf("reduce: config %v: %w", cfg, err)
	}
	if cfg.TileM <= 0 {
		return nil, fmt.Errorf("reduce: config %v: TileM must be positive", cfg)
	}
	name := fmt.Sprintf("reduce_%d_%d_%s", g.outs, g.red, cfg)
	b := kir.NewKernel(name, target)
	ctl, x, y, trace := b.ParamPtr("ctl"), b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("trace")
	st := p.state(b)
	var sc Scratch
	if G > 32 {
		types := []kir.Type{kir.F32}
		if p.Arg {
			types = append(types, kir.U32)
		} else if p.Op == ref.ReduceLogSumExp {
			types = append(types, kir.F32)
		}
		sc = NewScratch(b, "er_red", T, types...)
	}
	groups := T / G
	perGroup := (cfg.TileM + groups - 1) / groups
	tid := b.Tid(0)
	grp, lane := b.Div(tid, b.ConstU32(uint32(G))), b.Rem(tid, b.ConstU32(uint32(G)))
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		base := b.Mul(tile, b.ConstU32(uint32(cfg.TileM)))
		end := b.Min(b.Add(base, b.ConstU32(uint32(cfg.TileM))), b.ConstU32(uint32(g.outs)))
		b.For(b.ConstU32(0), b.ConstU32(uint32(perGroup)), b.ConstU32(1), func(k kir.Value) {
			o := b.Add(base, b.Mad(k, b.ConstU32(uint32(groups)), grp))
			valid := b.Lt(o, end)
			oc := b.Select(valid, o, base) // idle groups reduce a valid row and do not store
			in := b.Index(x, eltwise.Offset(b, eltwise.Coords(b, oc, g.kept), g.keptSt), 4)
			acc := st.init()
			for i := range acc {
				acc[i] = b.Var(acc[i])
			}
			b.For(lane, b.ConstU32(uint32(g.red)), b.ConstU32(uint32(G)), func(j kir.Value) {
				var off kir.Value
				if g.inner {
					off = j
				} else {
					off = eltwise.Offset(b, eltwise.Coords(b, j, g.redDims), g.redSt)
				}
				v := b.Ld(kir.Global, kir.F32, b.Index(in, off, 4), 0)
				next := st.add(acc, v, j)
				for i := range acc {
					b.Set(acc[i], next[i])
				}
			})
			res := Reduce(b, acc, G, T, sc, st.combine)
			out := p.final(b, res, g.red)
			b.If(b.And(valid, b.Eq(lane, b.ConstU32(0))), func() { b.Store(y, o, out) })
		})
	}, protocol.Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("reduce: %w", err)
	}
	outBytes := int64(4)
	if p.Arg {
		outBytes = 8
	}
	n := int64(g.outs) * int64(g.red)
	in := &kernels.Instance{Name: name, Family: "reduce", Kernel: k, Config: cfg, Threads: T,
		Tiles: (g.outs + cfg.TileM - 1) / cfg.TileM,
		Args: []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgBuffer, Name: "x"},
			{Kind: kernels.ArgBuffer, Name: "y"}, {Kind: kernels.ArgTrace, Name: "trace"}},
		Work: kernels.Work{FLOPs: 2 * n, BytesRead: 4 * n, BytesWritten: outBytes * int64(g.outs)}}
	_, in.SharedBytes = k.SharedLayout()
	return in, in.Validate()
}
