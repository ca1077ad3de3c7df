package conv

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/epilogue"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Params is one convolution: ref.ConvParams (the same struct kernels/ref computes; its Act is
// the fused activation, its Workers field is ignored) and whether a per-output-channel bias is
// added before the activation.
//
// Argument roles, in order: the control block, the trace buffer, "x" [N, C, spatial...], "w"
// [M, C/Group, kernel...], "bias" [M] (only when Bias), "y" [N, M, out spatial...]; every
// buffer 16-byte aligned (vector loads and stores).
type Params struct {
	ref.ConvParams
	Bias bool
}

// geom is the convolution widened to 2-D (1-D as H = 1).
type geom struct {
	n, c, m, g, cg, mg      int
	h, w, kh, kw            int
	sh, sw, dh, dw, ph, pw  int
	oh, ow, inSp, outSp, kc int
}

func geometry(p ref.ConvParams) (geom, error) {
	var g geom
	r := len(p.In)
	if r == 3 {
		return g, fmt.Errorf("3-D convolution is not supported by the GPU templates")
	}
	if r < 1 || r > 2 {
		return g, fmt.Errorf("%d spatial dims", r)
	}
	oshape, err := ref.ConvOutShape(p)
	if err != nil {
		return g, err
	}
	if p.N <= 0 || p.C <= 0 || p.M <= 0 || p.Group < 1 || p.C%p.Group != 0 || p.M%p.Group != 0 {
		return g, fmt.Errorf("N=%d C=%d M=%d group=%d", p.N, p.C, p.M, p.Group)
	}
	at := func(v []int, i, def int) int {
		if v == nil {
			return def
		}
		return v[i]
	}
	g = geom{n: p.N, c: p.C, m: p.M, g: p.Group, cg: p.C / p.Group, mg: p.M / p.Group,
		h: 1, kh: 1, sh: 1, dh: 1, oh: 1}
	// the last spatial dim is W; a second one (2-D) is H
	j := r - 1
	g.w, g.kw, g.sw, g.dw, g.pw, g.ow = p.In[j], p.Kernel[j], at(p.Strides, j, 1), at(p.Dilations, j, 1), at(p.PadsBegin, j, 0), oshape[2+j]
	if r == 2 {
		g.h, g.kh, g.sh, g.dh, g.ph, g.oh = p.In[0], p.Kernel[0], at(p.Strides, 0, 1), at(p.Dilations, 0, 1), at(p.PadsBegin, 0, 0), oshape[2]
	}
	g.inSp, g.outSp, g.kc = g.h*g.w, g.oh*g.ow, g.cg*g.kh*g.kw
	if g.outSp <= 0 {
		return g, fmt.Errorf("empty output %v", oshape)
	}
	if g.n*g.c*g.inSp >= math.MaxInt32 || g.n*g.m*g.outSp >= math.MaxInt32 || g.m*g.kc >= math.MaxInt32 ||
		g.h+g.ph+g.kh*g.dh >= 1<<30 || g.w+g.pw+g.kw*g.dw >= 1<<30 {
		return g, fmt.Errorf("tensors of more than 2^31 elements")
	}
	return g, nil
}

// pointwise reports a 1x1, stride-1, unpadded convolution: X is the B matrix itself.
func (g geom) pointwise() bool {
	return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.h && g.ow == g.w
}

// Depthwise reports whether p can use the direct depthwise template (Group == C == M).
func Depthwise(p ref.ConvParams) bool {
	return p.Group > 1 && p.Group == p.C && p.C == p.M && len(p.In) <= 2
}

// Configs returns the tile configurations worth trying for p, best guesses first: for a
// depthwise convolution the direct template's (TileK == 0) then implicit GEMM's.
func Configs(p ref.ConvParams) []kernels.Config {
	g, err := geometry(p)
	if err != nil {
		return nil
	}
	var out []kernels.Config
	if Depthwise(p) {
		dw := []kernels.Config{
			{Threads: 128, TileM: 8, TileN: 32, ThreadM: 2, Vec: 1},
			{Threads: 256, TileM: 16, TileN: 32, ThreadM: 2, Vec: 1},
			{Threads: 64, TileM: 8, TileN: 16, ThreadM: 2, Vec: 1},
			{Threads: 64, TileM: 8, TileN: 8, ThreadM: 1, Vec: 1},
		}
		for _, c := range dw {
			if c.TileN/2 < g.ow || c.TileN <= 8 {
				out = append(out, c)
			}
		}
	}
	gp := ref.GemmParams{M: g.mg, N: g.outSp, K: g.kc}
	for _, c := range gemm.Configs(gp) {
		if !g.pointwise() && c.TileK > 8 {
			c.TileK = 8 // the im2col gather holds TileK*TileN/Threads values per thread in flight
		}
		c.Vec = 1
		if g.kc%4 == 0 || (g.pointwise() && g.inSp%4 == 0) || g.outSp%4 == 0 {
			c.Vec = 4
		}
		out = append(out, c)
	}
	return out
}

// Build instantiates a convolution template for p and cfg: the direct depthwise template when
// cfg.TileK == 0 (p must be depthwise), else implicit GEMM.
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	fail := func(err error) (*kernels.Instance, error) {
		return nil, fmt.Errorf("conv N%d C%d M%d group %d in %v kernel %v (%s): %w", p.N, p.C, p.M, p.Group, p.In, p.Kernel, cfg, err)
	}
	g, err := geometry(p.ConvParams)
	if err != nil {
		return fail(err)
	}
	if err := epilogue.Check(p.Act); err != nil {
		return fail(err)
	}
	var in *kernels.Instance
	if cfg.TileK == 0 {
		if !Depthwise(p.ConvParams) {
			return fail(fmt.Errorf("the direct template (TileK 0) needs a depthwise convolution"))
		}
		in, err = buildDepthwise(p, g, cfg, target)
	} else {
		in, err = buildImplicit(p, g, cfg, target)
	}
	if err != nil {
		return fail(err)
	}
	in.Work = kernels.Work{
		FLOPs:        2 * int64(g.n) * int64(g.m) * int64(g.outSp) * int64(g.kc),
		BytesRead:    4 * (int64(g.n)*int64(g.c)*int64(g.inSp) + int64(g.m)*int64(g.kc)),
		BytesWritten: 4 * int64(g.n) * int64(g.m) * int64(g.outSp),
	}
	if p.Bias {
		in.Work.BytesRead += 4 * int64(g.m)
	}
	if err := in.Validate(); err != nil {
		return fail(err)
	}
	return in, nil
}

// params declares the kernel's parameters in the documented order.
type params struct {
	ctl, trace, x, w, bias, y kir.Value
	args                      []kernels.Arg
}

func declare(b *kir.Builder, bias bool) params {
	var p params
	p.ctl, p.trace, p.x, p.w = b.ParamPtr("ctl"), b.ParamPtr("trace"), b.ParamPtr("x"), b.ParamPtr("w")
	p.args = []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgTrace, Name: "trace"},
		{Kind: kernels.ArgBuffer, Name: "x"}, {Kind: kernels.ArgBuffer, Name: "w"}}
	if bias {
		p.bias = b.ParamPtr("bias")
		p.args = append(p.args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "bias"})
	}
	p.y = b.ParamPtr("y")
	p.args = append(p.args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "y"})
	return p
}

func kernelName(kind string, p Params, g geom, cfg kernels.Config) string {
	s := fmt.Sprintf("conv_%s_c%d_m%d_g%d_%dx%d_k%dx%d_s%dx%d", kind, g.c, g.m, g.g, g.h, g.w, g.kh, g.kw, g.sh, g.sw)
	if g.dh != 1 || g.dw != 1 {
		s += fmt.Sprintf("_d%dx%d", g.dh, g.dw)
	}
	if a := epilogue.Name(p.Act); a != "" {
		s += "_" + a
	}
	return s + "_" + cfg.String()
}

// finish applies bias and activation to v (output channel oc).
func finish(b *kir.Builder, p Params, pr params, oc, v kir.Value) kir.Value {
	if p.Bias {
		v = b.Add(v, b.LoadF32(pr.bias, oc))
	}
	return epilogue.Apply(b, p.Act, v)
}
