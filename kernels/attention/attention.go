// Package attention is the kernel template for fused scaled-dot-product attention:
// Y = softmax(Q K^T * Scale + Mask) V per (batch, head), with Q [B, H, Sq, D], K [B, H, Sk, D],
// V [B, H, Sk, Dv], Y [B, H, Sq, Dv] (row-major f32) and an optional additive Mask whose shape
// broadcasts to [B, H, Sq, Sk], optionally causal. The score matrix never exists: keys are
// staged TileN at a time in shared memory and each query keeps a running max, a running sum
// and its output row in registers (the online softmax of flash attention), rescaled as the max
// grows.
//
// A tile is one (batch, head, block of TileM queries). Each query is owned by a group of
// ThreadN lanes (a power of two <= 32 dividing D and Dv); a lane holds D/ThreadN of the
// query's features and Dv/ThreadN of its output, and the dot products are summed with warp
// shuffles. Buffer roles: "q", "k", "v", "mask" (only with Params.Mask), "y". attention imports
// kernels, kernels/kir, kernels/kir/protocol, kernels/eltwise and kernels/reduce; never
// compiler/ or runtime/.
package attention

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/reduce"
)

// Params is one attention problem.
type Params struct {
	Batch, Heads    int
	SeqQ, SeqK      int
	HeadDim, ValDim int
	Scale           float32 // 0: 1/sqrt(HeadDim)
	Mask            []int   // shape of the additive mask (broadcast to [B, H, Sq, Sk]); nil: none
	Causal          bool    // key j is masked for query i when j > i + SeqK - SeqQ
}

func (p *Params) check() error {
	if p.Batch <= 0 || p.Heads <= 0 || p.SeqQ <= 0 || p.SeqK <= 0 || p.HeadDim <= 0 || p.ValDim <= 0 {
		return fmt.Errorf("attention: dims %+v", *p)
	}
	if p.Mask != nil {
		full := []int{p.Batch, p.Heads, p.SeqQ, p.SeqK}
		if len(p.Mask) > 4 {
			return fmt.Errorf("attention: mask shape %v", p.Mask)
		}
		for i, d := range p.Mask {
			if o := full[4-len(p.Mask)+i]; d != 1 && d != o {
				return fmt.Errorf("attention: mask shape %v does not broadcast to %v", p.Mask, full)
			}
		}
	}
	return nil
}

func (p *Params) scale() float32 {
	if p.Scale != 0 {
		return p.Scale
	}
	return float32(1 / math.Sqrt(float64(p.HeadDim)))
}

// Configs lists tile configurations: ThreadN lanes per query, TileM queries per tile, TileN
// keys per shared-memory stage, Threads = TileM*ThreadN.
func Configs(p Params) []kernels.Config {
	var out []kernels.Config
	for _, g := range []int{4, 8, 16, 1, 2} {
		if p.HeadDim%g != 0 || p.ValDim%g != 0 {
			continue
		}
		for _, mn := range [][2]int{{16, 32}, {32, 32}, {64, 16}} {
			if mn[0]*g <= 512 && mn[0]*g >= 32 {
				out = append(out, kernels.Config{Threads: mn[0] * g, ThreadN: g, TileM: mn[0], TileN: mn[1]})
			}
		}
	}
	return out
}

// Build instantiates attention for one config.
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	G, M, N, T := cfg.ThreadN, cfg.TileM, cfg.TileN, cfg.Threads
	if err := reduce.CheckGroup(G, T); err != nil || G > 32 || T != M*G || N <= 0 ||
		p.HeadDim%G != 0 || p.ValDim%G != 0 {
		return nil, fmt.Errorf("attention: config %v for head dims %d/%d (want Threads = TileM*ThreadN, ThreadN | dims)", cfg, p.HeadDim, p.ValDim)
	}
	D, Dv, Sq, Sk := p.HeadDim, p.ValDim, p.SeqQ, p.SeqK
	qblocks := (Sq + M - 1) / M
	tiles := p.Batch * p.Heads * qblocks
	name := fmt.Sprintf("attention_%d_%d_%d_%d_%s", p.Batch*p.Heads, Sq, Sk, D, cfg)
	b := kir.NewKernel(name, target)
	ctl, q, k, v := b.ParamPtr("ctl"), b.ParamPtr("q"), b.ParamPtr("k"), b.ParamPtr("v")
	args := []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgBuffer, Name: "q"},
		{Kind: kernels.ArgBuffer, Name: "k"}, {Kind: kernels.ArgBuffer, Name: "v"}}
	var mask kir.Value
	var mst []int
	if p.Mask != nil {
		mask = b.ParamPtr("mask")
		args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "mask"})
		mst = eltwise.BroadcastStrides(p.Mask, []int{p.Batch, p.Heads, Sq, Sk})
	}
	y, trace := b.ParamPtr("y"), b.ParamPtr("trace")
	args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "y"}, kernels.Arg{Kind: kernels.ArgTrace, Name: "trace"})
	ks := b.Shared("er_k", kir.F32, N*D)
	vs := b.Shared("er_v", kir.F32, N*Dv)
	u := func(x int) kir.Value { return b.ConstU32(uint32(x)) }
	f := b.ConstF32
	tid := b.Tid(0)
	grp, lane := b.Div(tid, u(G)), b.Rem(tid, u(G))
	add := func(a, c []kir.Value) []kir.Value { return []kir.Value{b.Add(a[0], c[0])} }
	ninf := f(float32(math.Inf(-1)))
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		bh := b.Div(tile, u(qblocks))
		qi := b.Add(b.Mul(b.Sub(tile, b.Mul(bh, u(qblocks))), u(M)), grp)
		valid := b.Lt(qi, u(Sq))
		qc := b.Min(qi, u(Sq-1))
		qrow := b.Index(q, b.Mad(bh, u(Sq*D), b.Mul(qc, u(D))), 4)
		qv := make([]kir.Value, D/G)
		for c := range qv {
			qv[c] = b.Mul(b.Ld(kir.Global, kir.F32, b.Index(qrow, b.Add(lane, u(c*G)), 4), 0), f(p.scale()))
		}
		kbase := b.Index(k, b.Mul(bh, u(Sk*D)), 4)
		vbase := b.Index(v, b.Mul(bh, u(Sk*Dv)), 4)
		var mrow kir.Value
		if mask.Valid() {
			bi, hi := b.Div(bh, u(p.Heads)), b.Rem(bh, u(p.Heads))
			off := eltwise.Offset(b, []kir.Value{bi, hi, qc}, mst[:3])
			mrow = b.Index(mask, off, 4)
		}
		m, l := b.Var(ninf), b.Var(f(0))
		acc := make([]kir.Value, Dv/G)
		for c := range acc {
			acc[c] = b.Var(f(0))
		}
		b.For(u(0), u(Sk), u(N), func(kt kir.Value) {
			b.Barrier() // the previous stage's readers are done
			stage := func(dst kir.SharedArray, src kir.Value, width int) {
				b.For(tid, u(N*width), u(T), func(idx kir.Value) {
					j := b.Div(idx, u(width))
					key := b.Add(kt, j)
					val := b.Var(f(0))
					b.If(b.Lt(key, u(Sk)), func() {
						b.Set(val, b.Ld(kir.Global, kir.F32, b.Index(src, b.Add(b.Mul(kt, u(width)), idx), 4), 0))
					})
					b.StoreShared(dst, idx, val)
				})
			}
			stage(ks, kbase, D)
			stage(vs, vbase, Dv)
			b.Barrier()
			nk := b.Min(u(N), b.Sub(u(Sk), kt))
			b.For(u(0), nk, u(1), func(j kir.Value) {
				kr := b.Mul(j, u(D))
				part := b.Var(f(0))
				for c := range qv {
					b.Set(part, b.Fma(qv[c], b.LoadShared(ks, b.Add(kr, b.Add(lane, u(c*G)))), part))
				}
				s := reduce.GroupReduce(b, []kir.Value{part}, G, add)[0]
				key := b.Add(kt, j)
				if mask.Valid() {
					s = b.Add(s, b.Ld(kir.Global, kir.F32, b.Index(mrow, b.Mul(key, u(mst[3])), 4), 0))
				}
				if p.Causal {
					s = b.Select(b.Gt(key, b.Add(qc, u(Sk-Sq))), ninf, s)
				}
				mNew := b.Max(m, s)
				safe := b.Select(b.Eq(mNew, ninf), f(0), mNew)
				corr := eltwise.Exp(b, b.Sub(m, safe))
				pj := eltwise.Exp(b, b.Sub(s, safe))
				b.Set(l, b.Fma(l, corr, pj))
				vr := b.Mul(j, u(Dv))
				for c := range acc {
					vv := b.LoadShared(vs, b.Add(vr, b.Add(lane, u(c*G))))
					b.Set(acc[c], b.Fma(acc[c], corr, b.Mul(pj, vv)))
				}
				b.Set(m, mNew)
			})
		})
		inv := b.Rcp(l)
		b.If(valid, func() {
			yrow := b.Index(y, b.Mad(bh, u(Sq*Dv), b.Mul(qi, u(Dv))), 4)
			for c := range acc {
				b.St(kir.Global, b.Index(yrow, b.Add(lane, u(c*G)), 4), 0, b.Mul(acc[c], inv))
			}
		})
	}, protocol.Options{Trace: trace})
	kk, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("attention: %w", err)
	}
	bh := int64(p.Batch * p.Heads)
	work := kernels.Work{
		FLOPs:        bh * int64(Sq) * int64(Sk) * int64(2*D+2*Dv+10),
		BytesRead:    4 * bh * (int64(Sq*D) + int64(qblocks)*int64(Sk*(D+Dv))),
		BytesWritten: 4 * bh * int64(Sq*Dv),
	}
	if p.Mask != nil {
		work.BytesRead += 4 * bh * int64(Sq*Sk)
	}
	in := &kernels.Instance{Name: name, Family: "attention", Kernel: kk, Config: cfg, Threads: T,
		Tiles: tiles, Args: args, Work: work}
	_, in.SharedBytes = kk.SharedLayout()
	return in, in.Validate()
}
