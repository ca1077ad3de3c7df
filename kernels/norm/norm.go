// Package norm is the kernel template for normalizations: LayerNormalization over trailing
// axes, InstanceNormalization and GroupNormalization (rows normalized with their own mean and
// variance, then scaled and shifted), and inference BatchNormalization (a per-channel affine,
// built as a fused eltwise expression).
//
// Row normalizations: a tile is TileM rows, each reduced by a group of TileN threads (one
// thread, part of a warp or the whole block; see kernels/reduce) in two passes (mean, then the
// mean of squared deviations, as kernels/ref does) and written in a third. Buffer roles: "x",
// "scale", "bias" (LayerNorm: optional), "y"; BatchNorm: "x", "scale", "bias", "mean", "var",
// "y". norm imports kernels, kernels/kir, kernels/kir/protocol, kernels/eltwise and
// kernels/reduce; never compiler/ or runtime/.
package norm

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/reduce"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Kind is the normalization.
type Kind uint8

// Row normalizations.
const (
	Layer    Kind = iota // Outer rows of Inner elements; scale and bias of Inner elements
	Instance             // N*C rows of Spatial elements; scale and bias per channel (C)
	Group                // N*Groups rows of C/Groups*Spatial elements; scale and bias per channel
)

// Params is a row normalization: y = (x - mean(row)) / sqrt(var(row) + Eps) * scale + bias.
type Params struct {
	Kind         Kind
	Outer, Inner int // Layer
	N, C         int // Instance, Group
	Spatial      int // Instance, Group: product of the spatial dims
	Groups       int // Group
	Eps          float32
	NoBias       bool // Layer: no bias input
}

func (p *Params) rows() (rows, n int, err error) {
	switch p.Kind {
	case Layer:
		rows, n = p.Outer, p.Inner
	case Instance:
		rows, n = p.N*p.C, p.Spatial
	case Group:
		if p.Groups <= 0 || p.C%p.Groups != 0 {
			return 0, 0, fmt.Errorf("norm: %d channels in %d groups", p.C, p.Groups)
		}
		rows, n = p.N*p.Groups, p.C/p.Groups*p.Spatial
	default:
		return 0, 0, fmt.Errorf("norm: kind %d", p.Kind)
	}
	if rows <= 0 || n <= 0 {
		return 0, 0, fmt.Errorf("norm: %d rows of %d elements", rows, n)
	}
	return rows, n, nil
}

// Configs lists tile configurations (Threads, TileN threads per row, TileM rows per tile).
func Configs(p Params) []kernels.Config {
	_, n, err := p.rows()
	if err != nil {
		return nil
	}
	out := []kernels.Config{{Threads: 128, TileN: 1, TileM: 128}}
	if n >= 8 {
		out = append(out, kernels.Config{Threads: 256, TileN: 32, TileM: 8})
	}
	if n >= 256 {
		out = append(out, kernels.Config{Threads: 128, TileN: 128, TileM: 1}, kernels.Config{Threads: 256, TileN: 256, TileM: 2})
	}
	return out
}

// channel is the scale/bias index of element j of row row.
func (p *Params) channel(b *kir.Builder, row, j kir.Value) kir.Value {
	switch p.Kind {
	case Instance:
		return b.Rem(row, b.ConstU32(uint32(p.C)))
	case Group:
		g := b.Rem(row, b.ConstU32(uint32(p.Groups)))
		return b.Add(b.Mul(g, b.ConstU32(uint32(p.C/p.Groups))), b.Div(j, b.ConstU32(uint32(p.Spatial))))
	}
	return j
}

// Build instantiates the normalization for one config; tile t covers rows [t*TileM, (t+1)*TileM).
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	rows, n, err := p.rows()
	if err != nil {
		return nil, err
	}
	G, T := cfg.TileN, cfg.Threads
	if err := reduce.CheckGroup(G, T); err != nil || cfg.TileM <= 0 {
		return nil, fmt.Errorf("norm: config %v: %v", cfg, err)
	}
	kinds := [...]string{"layernorm", "instancenorm", "groupnorm"}
	name := fmt.Sprintf("%s_%d_%d_%s", kinds[p.Kind], rows, n, cfg)
	b := kir.NewKernel(name, target)
	ctl, x, scale := b.ParamPtr("ctl"), b.ParamPtr("x"), b.ParamPtr("scale")
	args := []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgBuffer, Name: "x"}, {Kind: kernels.ArgBuffer, Name: "scale"}}
	var bias kir.Value
	if p.Kind != Layer || !p.NoBias {
		bias = b.ParamPtr("bias")
		args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "bias"})
	}
	y, trace := b.ParamPtr("y"), b.ParamPtr("trace")
	args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "y"}, kernels.Arg{Kind: kernels.ArgTrace, Name: "trace"})
	var sc reduce.Scratch
	if G > 32 {
		sc = reduce.NewScratch(b, "er_norm", T, kir.F32)
	}
	groups := T / G
	perGroup := (cfg.TileM + groups - 1) / groups
	tid := b.Tid(0)
	grp, lane := b.Div(tid, b.ConstU32(uint32(G))), b.Rem(tid, b.ConstU32(uint32(G)))
	add := func(a, c []kir.Value) []kir.Value { return []kir.Value{b.Add(a[0], c[0])} }
	nf := b.ConstF32(float32(n))
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		base := b.Mul(tile, b.ConstU32(uint32(cfg.TileM)))
		end := b.Min(b.Add(base, b.ConstU32(uint32(cfg.TileM))), b.ConstU32(uint32(rows)))
		b.For(b.ConstU32(0), b.ConstU32(uint32(perGroup)), b.ConstU32(1), func(k kir.Value) {
			row := b.Add(base, b.Mad(k, b.ConstU32(uint32(groups)), grp))
			valid := b.Lt(row, end)
			rc := b.Select(valid, row, base)
			xr := b.Index(x, b.Mul(rc, b.ConstU32(uint32(n))), 4)
			yr := b.Index(y, b.Mul(rc, b.ConstU32(uint32(n))), 4)
			each := func(f func(j, v kir.Value)) {
				b.For(lane, b.ConstU32(uint32(n)), b.ConstU32(uint32(G)), func(j kir.Value) {
					f(j, b.Ld(kir.Global, kir.F32, b.Index(xr, j, 4), 0))
				})
			}
			sum := b.Var(b.ConstF32(0))
			each(func(_, v kir.Value) { b.Set(sum, b.Add(sum, v)) })
			mean := b.Div(reduce.Reduce(b, []kir.Value{sum}, G, T, sc, add)[0], nf)
			sq := b.Var(b.ConstF32(0))
			each(func(_, v kir.Value) {
				d := b.Sub(v, mean)
				b.Set(sq, b.Fma(d, d, sq))
			})
			variance := b.Div(reduce.Reduce(b, []kir.Value{sq}, G, T, sc, add)[0], nf)
			inv := b.Rcp(b.Sqrt(b.Add(variance, b.ConstF32(p.Eps))))
			b.If(valid, func() {
				each(func(j, v kir.Value) {
					ch := p.channel(b, rc, j)
					o := b.Mul(b.Mul(b.Sub(v, mean), inv), b.LoadF32(scale, ch))
					if bias.Valid() {
						o = b.Add(o, b.LoadF32(bias, ch))
					}
					b.St(kir.Global, b.Index(yr, j, 4), 0, o)
				})
			})
		})
	}, protocol.Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("norm: %w", err)
	}
	total := int64(rows) * int64(n)
	in := &kernels.Instance{Name: name, Family: "norm", Kernel: k, Config: cfg, Threads: T,
		Tiles: (rows + cfg.TileM - 1) / cfg.TileM, Args: args,
		Work: kernels.Work{FLOPs: 8 * total, BytesRead: 12 * total, BytesWritten: 4 * total}}
	_, in.SharedBytes = k.SharedLayout()
	return in, in.Validate()
}

// BatchParams is inference BatchNormalization of x [N, C, Spatial...]:
// y = (x - mean) * scale / sqrt(var + Eps) + bias, per channel.
type BatchParams struct {
	N, C, Spatial int
	Eps           float32
}

func (p BatchParams) expr() eltwise.Params {
	ch := []int{p.C, 1}
	in := func(i int) eltwise.Node { return eltwise.Node{Kind: eltwise.Input, Input: i} }
	bin := func(op ref.BinaryOp, a, c int) eltwise.Node {
		return eltwise.Node{Kind: eltwise.Binary, Binary: op, Args: []int{a, c}}
	}
	return eltwise.Params{Shape: []int{p.N, p.C, p.Spatial}, Inputs: [][]int{{p.N, p.C, p.Spatial}, ch, ch, ch, ch},
		Nodes: []eltwise.Node{in(0), in(1), in(2), in(3), in(4), // x scale bias mean var
			{Kind: eltwise.Const, Value: p.Eps}, bin(ref.Add, 4, 5), // 6: var+eps
			{Kind: eltwise.Unary, Unary: ref.UnaryParams{Op: ref.Sqrt}, Args: []int{6}},
			bin(ref.Div, 1, 7), bin(ref.Sub, 0, 3), bin(ref.Mul, 9, 8), bin(ref.Add, 10, 2)}}
}

// BatchConfigs lists BatchNorm's tile configurations (those of its eltwise expression).
func BatchConfigs(p BatchParams) []kernels.Config { return eltwise.Configs(p.expr()) }

// BuildBatch instantiates inference BatchNormalization as one fused elementwise kernel.
func BuildBatch(p BatchParams, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	if p.N <= 0 || p.C <= 0 || p.Spatial <= 0 {
		return nil, fmt.Errorf("batchnorm: shape [%d %d %d]", p.N, p.C, p.Spatial)
	}
	in, err := eltwise.Build(p.expr(), cfg, target)
	if err != nil {
		return nil, fmt.Errorf("batchnorm: %w", err)
	}
	roles := map[string]string{"x0": "x", "x1": "scale", "x2": "bias", "x3": "mean", "x4": "var"}
	for i, a := range in.Args {
		if r, ok := roles[a.Name]; ok {
			in.Args[i].Name = r
		}
	}
	in.Family = "norm"
	return in, nil
}
