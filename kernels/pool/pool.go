// Package pool is the kernel template for ONNX MaxPool and AveragePool over one or two spatial
// dims of an NC[H]W tensor (kernel, strides, dilations, pads, ceil_mode, count_include_pad, as
// kernels/ref.PoolParams describes them) and GlobalAveragePool/GlobalMaxPool (built as
// reductions by kernels/reduce). One thread computes one output; a tile is TileM outputs.
//
// Buffer roles: "x" (input), "y" (output, ref.PoolOutShape). pool imports kernels, kernels/kir,
// kernels/kir/protocol, kernels/reduce and kernels/ref; never compiler/ or runtime/.
package pool

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/reduce"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Params is a pooling: ref's PoolParams and whether it is MaxPool (else AveragePool).
type Params struct {
	ref.PoolParams
	Max bool
}

// axis is one spatial axis' geometry (H first; W alone for 1-D pools, H then being 1).
type axis struct{ in, out, k, s, d, pb, pe int }

func (p *Params) axes() ([2]axis, error) {
	var a [2]axis
	r := len(p.In)
	if r != 1 && r != 2 {
		return a, fmt.Errorf("pool: %d spatial dims (1 or 2 supported)", r)
	}
	shape, err := ref.PoolOutShape(p.PoolParams)
	if err != nil {
		return a, fmt.Errorf("pool: %w", err)
	}
	get := func(v []int, i, def int) int {
		if len(v) == 0 {
			return def
		}
		if i >= len(v) {
			return def
		}
		return v[i]
	}
	a[0] = axis{1, 1, 1, 1, 1, 0, 0}
	for i := 0; i < r; i++ {
		a[2-r+i] = axis{p.In[i], shape[2+i], get(p.Kernel, i, 1), get(p.Strides, i, 1), get(p.Dilations, i, 1),
			get(p.PadsBegin, i, 0), get(p.PadsEnd, i, 0)}
	}
	for _, x := range a {
		if x.out <= 0 || x.in <= 0 || x.k <= 0 {
			return a, fmt.Errorf("pool: empty geometry %+v", x)
		}
	}
	if p.N <= 0 || p.C <= 0 {
		return a, fmt.Errorf("pool: N=%d C=%d", p.N, p.C)
	}
	return a, nil
}

// Configs lists tile configurations (Threads, ThreadM outputs per thread, TileM outputs per tile).
func Configs(p Params) []kernels.Config {
	var out []kernels.Config
	for _, c := range [][2]int{{128, 1}, {256, 1}, {256, 4}} {
		out = append(out, kernels.Config{Threads: c[0], ThreadM: c[1], TileM: c[0] * c[1]})
	}
	return out
}

// Build instantiates the pooling for one config; tile t covers outputs [t*TileM, (t+1)*TileM)
// in NCHW order.
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	ax, err := p.axes()
	if err != nil {
		return nil, err
	}
	if cfg.Threads <= 0 || cfg.Threads > 1024 || cfg.TileM <= 0 {
		return nil, fmt.Errorf("pool: config %v", cfg)
	}
	h, w := ax[0], ax[1]
	outs := p.N * p.C * h.out * w.out
	kind := "avgpool"
	if p.Max {
		kind = "maxpool"
	}
	name := fmt.Sprintf("%s_%d_%s", kind, outs, cfg)
	b := kir.NewKernel(name, target)
	ctl, x, y, trace := b.ParamPtr("ctl"), b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("trace")
	tid := b.Tid(0)
	s32 := func(v int) kir.Value { return b.ConstS32(int32(v)) }
	u32 := func(v int) kir.Value { return b.ConstU32(uint32(v)) }
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		base := b.Mul(tile, u32(cfg.TileM))
		end := b.Min(b.Add(base, u32(cfg.TileM)), u32(outs))
		b.For(b.Add(base, tid), end, u32(cfg.Threads), func(o kir.Value) {
			ow := b.Rem(o, u32(w.out))
			q := b.Div(o, u32(w.out))
			oh := b.Rem(q, u32(h.out))
			plane := b.Div(q, u32(h.out))
			xp := b.Index(x, b.Mul(plane, u32(h.in*w.in)), 4)
			h0 := b.Sub(b.Mul(b.Bitcast(oh, kir.S32), s32(h.s)), s32(h.pb))
			w0 := b.Sub(b.Mul(b.Bitcast(ow, kir.S32), s32(w.s)), s32(w.pb))
			acc := b.Var(b.ConstF32(0))
			if p.Max {
				b.Set(acc, b.ConstF32(float32(math.Inf(-1))))
			}
			inside := func(pos kir.Value, a axis) kir.Value {
				return b.And(b.Ge(pos, s32(0)), b.Lt(pos, s32(a.in)))
			}
			b.For(s32(0), s32(h.k), s32(1), func(kh kir.Value) {
				ih := b.Mad(kh, s32(h.d), h0)
				b.If(inside(ih, h), func() {
					row := b.Index(xp, b.Mul(ih, s32(w.in)), 4)
					b.For(s32(0), s32(w.k), s32(1), func(kw kir.Value) {
						iw := b.Mad(kw, s32(w.d), w0)
						b.If(inside(iw, w), func() {
							v := b.Ld(kir.Global, kir.F32, b.Index(row, iw, 4), 0)
							if p.Max {
								b.Set(acc, b.Max(acc, v))
							} else {
								b.Set(acc, b.Add(acc, v))
							}
						})
					})
				})
			})
			res := acc
			if !p.Max {
				count := func(start kir.Value, a axis) kir.Value {
					c := b.Var(s32(0))
					b.For(s32(0), s32(a.k), s32(1), func(k kir.Value) {
						pos := b.Mad(k, s32(a.d), start)
						ok := inside(pos, a)
						if p.CountIncludePad {
							ok = b.And(b.Ge(pos, s32(-a.pb)), b.Lt(pos, s32(a.in+a.pe)))
						}
						b.Set(c, b.Add(c, b.Select(ok, s32(1), s32(0))))
					})
					return c
				}
				cnt := b.Mul(count(h0, h), count(w0, w))
				res = b.Select(b.Gt(cnt, s32(0)), b.Div(acc, b.Cvt(cnt, kir.F32)), b.ConstF32(0))
			}
			b.Store(y, o, res)
		})
	}, protocol.Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	taps := int64(outs) * int64(h.k*w.k)
	in := &kernels.Instance{Name: name, Family: "pool", Kernel: k, Config: cfg, Threads: cfg.Threads,
		Tiles: (outs + cfg.TileM - 1) / cfg.TileM,
		Args: []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgBuffer, Name: "x"},
			{Kind: kernels.ArgBuffer, Name: "y"}, {Kind: kernels.ArgTrace, Name: "trace"}},
		Work: kernels.Work{FLOPs: taps, BytesRead: 4 * int64(p.N*p.C*h.in*w.in), BytesWritten: 4 * int64(outs)}}
	_, in.SharedBytes = k.SharedLayout()
	return in, in.Validate()
}

// GlobalParams is GlobalAveragePool (or GlobalMaxPool when Max) of NC planes of Spatial elements.
type GlobalParams struct {
	NC, Spatial int
	Max         bool
}

func (p GlobalParams) reduce() reduce.Params {
	op := ref.ReduceMean
	if p.Max {
		op = ref.ReduceMax
	}
	return reduce.Params{Op: op, Shape: []int{p.NC, p.Spatial}, Axes: []int{1}}
}

// GlobalConfigs lists the global pool's configurations (those of its reduction).
func GlobalConfigs(p GlobalParams) []kernels.Config { return reduce.Configs(p.reduce()) }

// BuildGlobal instantiates a global pool as a reduction over each plane.
func BuildGlobal(p GlobalParams, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	in, err := reduce.Build(p.reduce(), cfg, target)
	if err != nil {
		return nil, fmt.Errorf("global pool: %w", err)
	}
	in.Family = "pool"
	return in, nil
}
