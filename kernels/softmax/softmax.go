// Package softmax is the kernel template for ONNX Softmax and LogSoftmax (opset-13 semantics:
// one axis) over any axis of an f32 tensor. Each row (the elements along the axis for one
// position of the other axes) is reduced by a group of TileN threads in one pass with the
// online-max trick (a running max and a sum of exp(x - max) rescaled when the max grows, one
// exp per element), merged across the group with warp shuffles (and shared memory for a whole
// block), then written in a second pass.
//
// A tile is TileM rows. Buffer roles: "x" (input), "y" (output, same shape). softmax imports
// kernels, kernels/kir, kernels/kir/protocol, kernels/eltwise and kernels/reduce; never
// compiler/ or runtime/.
package softmax

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/reduce"
)

// Params is Softmax (or LogSoftmax when Log) of an f32 tensor of shape Shape along Axis
// (normalized, 0 <= Axis < len(Shape)).
type Params struct {
	Shape []int
	Axis  int
	Log   bool
}

func (p *Params) dims() (rows, r, post int, err error) {
	if p.Axis < 0 || p.Axis >= len(p.Shape) {
		return 0, 0, 0, fmt.Errorf("softmax: axis %d of shape %v", p.Axis, p.Shape)
	}
	pre, r, post := eltwise.Prod(p.Shape[:p.Axis]), p.Shape[p.Axis], eltwise.Prod(p.Shape[p.Axis+1:])
	if pre*r*post == 0 {
		return 0, 0, 0, fmt.Errorf("softmax: empty shape %v", p.Shape)
	}
	return pre * post, r, post, nil
}

// Configs lists tile configurations (Threads, TileN threads per row, TileM rows per tile).
func Configs(p Params) []kernels.Config {
	_, r, _, err := p.dims()
	if err != nil {
		return nil
	}
	out := []kernels.Config{{Threads: 128, TileN: 1, TileM: 128}}
	if r >= 8 {
		out = append(out, kernels.Config{Threads: 256, TileN: 8, TileM: 32}, kernels.Config{Threads: 256, TileN: 32, TileM: 8})
	}
	if r >= 512 {
		out = append(out, kernels.Config{Threads: 256, TileN: 256, TileM: 1}, kernels.Config{Threads: 512, TileN: 512, TileM: 1})
	}
	return out
}

// OnlineAdd folds x into a (max, sum of exp(x - max)) state with one exp: when x raises the
// max the sum is rescaled by exp(old - new), else exp(x - max) is added. -Inf adds nothing.
func OnlineAdd(b *kir.Builder, m, s, x kir.Value) (kir.Value, kir.Value) {
	d := b.Sub(x, m)
	e := eltwise.Exp(b, b.Neg(b.Abs(d)))
	e = b.Select(b.Eq(x, b.ConstF32(float32(math.Inf(-1)))), b.ConstF32(0), e)
	up := b.Gt(d, b.ConstF32(0))
	s = b.Select(up, b.Fma(s, e, b.ConstF32(1)), b.Add(s, e))
	return b.Max(m, x), s
}

// Build instantiates the softmax for one config; tile t covers rows [t*TileM, (t+1)*TileM).
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	rows, r, post, err := p.dims()
	if err != nil {
		return nil, err
	}
	G, T := cfg.TileN, cfg.Threads
	if err := reduce.CheckGroup(G, T); err != nil || cfg.TileM <= 0 {
		return nil, fmt.Errorf("softmax: config %v: %v", cfg, err)
	}
	kind := "softmax"
	if p.Log {
		kind = "logsoftmax"
	}
	name := fmt.Sprintf("%s_%d_%d_%s", kind, rows, r, cfg)
	b := kir.NewKernel(name, target)
	ctl, x, y, trace := b.ParamPtr("ctl"), b.ParamPtr("x"), b.ParamPtr("y"), b.ParamPtr("trace")
	var sc reduce.Scratch
	if G > 32 {
		sc = reduce.NewScratch(b, "er_sm", T, kir.F32, kir.F32)
	}
	groups := T / G
	perGroup := (cfg.TileM + groups - 1) / groups
	tid := b.Tid(0)
	grp, lane := b.Div(tid, b.ConstU32(uint32(G))), b.Rem(tid, b.ConstU32(uint32(G)))
	stride := b.ConstU32(uint32(post))
	comb := func(a, c []kir.Value) []kir.Value { return reduce.LSECombine(b, a, c) }
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		base := b.Mul(tile, b.ConstU32(uint32(cfg.TileM)))
		end := b.Min(b.Add(base, b.ConstU32(uint32(cfg.TileM))), b.ConstU32(uint32(rows)))
		b.For(b.ConstU32(0), b.ConstU32(uint32(perGroup)), b.ConstU32(1), func(k kir.Value) {
			row := b.Add(base, b.Mad(k, b.ConstU32(uint32(groups)), grp))
			valid := b.Lt(row, end)
			rc := b.Select(valid, row, base)
			var start kir.Value
			if post == 1 {
				start = b.Mul(rc, b.ConstU32(uint32(r)))
			} else {
				pq := b.Div(rc, stride)
				start = b.Add(b.Mul(pq, b.ConstU32(uint32(r*post))), b.Sub(rc, b.Mul(pq, stride)))
			}
			xr, yr := b.Index(x, start, 4), b.Index(y, start, 4)
			m, s := b.Var(b.ConstF32(float32(math.Inf(-1)))), b.Var(b.ConstF32(0))
			b.For(lane, b.ConstU32(uint32(r)), b.ConstU32(uint32(G)), func(j kir.Value) {
				v := b.Ld(kir.Global, kir.F32, b.Index(xr, b.Mul(j, stride), 4), 0)
				nm, ns := OnlineAdd(b, m, s, v)
				b.Set(m, nm)
				b.Set(s, ns)
			})
			res := reduce.Reduce(b, []kir.Value{m, s}, G, T, sc, comb)
			mx := res[0]
			var scale kir.Value
			if p.Log {
				scale = b.Add(mx, eltwise.Log(b, res[1]))
			} else {
				scale = b.Rcp(res[1])
			}
			b.If(valid, func() {
				b.For(lane, b.ConstU32(uint32(r)), b.ConstU32(uint32(G)), func(j kir.Value) {
					off := b.Mul(j, stride)
					v := b.Ld(kir.Global, kir.F32, b.Index(xr, off, 4), 0)
					var o kir.Value
					if p.Log {
						o = b.Sub(v, scale)
					} else {
						o = b.Mul(eltwise.Exp(b, b.Sub(v, mx)), scale)
					}
					b.St(kir.Global, b.Index(yr, off, 4), 0, o)
				})
			})
		})
	}, protocol.Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	n := int64(rows) * int64(r)
	in := &kernels.Instance{Name: name, Family: "softmax", Kernel: k, Config: cfg, Threads: T,
		Tiles: (rows + cfg.TileM - 1) / cfg.TileM,
		Args: []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgBuffer, Name: "x"},
			{Kind: kernels.ArgBuffer, Name: "y"}, {Kind: kernels.ArgTrace, Name: "trace"}},
		Work: kernels.Work{FLOPs: 12 * n, BytesRead: 8 * n, BytesWritten: 4 * n}}
	_, in.SharedBytes = k.SharedLayout()
	return in, in.Validate()
}
