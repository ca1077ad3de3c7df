package lower

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/attention"
	"github.com/elasticroom/elasticroom/kernels/conv"
	"github.com/elasticroom/elasticroom/kernels/epilogue"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// activation converts a fused node's activation attributes (none for plain ONNX ops) into the
// epilogue's form and checks the templates can fuse it.
func activation(n *graph.Node) (ref.Activation, error) {
	if n.Domain != passes.Domain {
		return ref.Activation{Op: ref.Identity}, nil
	}
	a := passes.ActivationOf(n)
	var act ref.Activation
	switch a.Op {
	case "":
		act = ref.Activation{Op: ref.Identity}
	case "Relu":
		act = ref.Activation{Op: ref.Relu}
	case "LeakyRelu":
		act = ref.Activation{Op: ref.LeakyRelu, Alpha: a.Alpha}
	case "Sigmoid":
		act = ref.Activation{Op: ref.Sigmoid}
	case "HardSigmoid":
		act = ref.Activation{Op: ref.HardSigmoid, Alpha: a.Alpha, Beta: a.Beta}
	case "HardSwish":
		act = ref.Activation{Op: ref.HardSwish}
	case "Tanh":
		act = ref.Activation{Op: ref.Tanh}
	case "Clip":
		act = ref.Activation{Op: ref.Clip, Alpha: a.Min, Beta: a.Max}
	default:
		return act, fmt.Errorf("unknown fused activation %q", a.Op)
	}
	if err := epilogue.Check(act); err != nil {
		return act, err
	}
	return act, nil
}

// conv maps Conv and FusedConv (2-D and 1-D, NCHW) onto kernels/conv.
func (m *mapper) conv(n *graph.Node) (*job, error) {
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
		return nil, fmt.Errorf("conv takes 2 or 3 inputs, got %d", len(n.Inputs))
	}
	sh, err := m.f32(n.Input(0), n.Input(1), n.Input(2), outputOf(n))
	if err != nil {
		return nil, err
	}
	x, w := sh[0], sh[1]
	if len(x) < 3 || len(w) != len(x) {
		return nil, fmt.Errorf("conv of input %v by weight %v", x, w)
	}
	r := len(x) - 2
	geo, err := readGeometry(n, r, w[2:])
	if err != nil {
		return nil, err
	}
	if err := geo.resolvePads(x[2:]); err != nil {
		return nil, err
	}
	act, err := activation(n)
	if err != nil {
		return nil, err
	}
	group := int(n.AttrInt("group", 1))
	p := conv.Params{ConvParams: ref.ConvParams{N: x[0], C: x[1], M: w[0], Group: group, In: x[2:],
		Kernel: geo.kernel, Strides: geo.strides, Dilations: geo.dilations, PadsBegin: geo.pb, PadsEnd: geo.pe,
		Act: act}, Bias: n.Input(2) != ""}
	if group < 1 || w[1]*group != p.C {
		return nil, fmt.Errorf("weight %v does not fit input %v with group %d", w, x, group)
	}
	if out, err := ref.ConvOutShape(p.ConvParams); err != nil || prod(out) != prod(sh[3]) {
		return nil, fmt.Errorf("conv output shape %v (%v) does not match the graph's %v", out, err, sh[3])
	}
	bind := map[string]string{"x": n.Input(0), "w": n.Input(1), "y": outputOf(n)}
	if p.Bias {
		bind["bias"] = n.Input(2)
	}
	kind := "implicit"
	if conv.Depthwise(p.ConvParams) {
		kind = "depthwise" // the configs with TileK == 0 are the direct template
	}
	return &job{family: "conv", kind: kind, hint: prod(geo.kernel), configs: conv.Configs(p.ConvParams), fallback: smallTiles(vecOf(conv.Configs(p.ConvParams))),
		bind: bind, key: key("conv", p),
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return conv.Build(p, cfg, t) }}, nil
}

// gemm maps Gemm and FusedGemm onto kernels/gemm.
func (m *mapper) gemm(n *graph.Node) (*job, error) {
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
		return nil, fmt.Errorf("gemm takes 2 or 3 inputs, got %d", len(n.Inputs))
	}
	sh, err := m.f32(n.Input(0), n.Input(1), n.Input(2), outputOf(n))
	if err != nil {
		return nil, err
	}
	a, b := sh[0], sh[1]
	if len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("gemm of %v by %v: want matrices", a, b)
	}
	act, err := activation(n)
	if err != nil {
		return nil, err
	}
	p := gemm.Params{GemmParams: ref.GemmParams{TransA: n.AttrInt("transA", 0) != 0, TransB: n.AttrInt("transB", 0) != 0,
		Alpha: n.AttrFloat("alpha", 1), Beta: n.AttrFloat("beta", 1), Act: act}}
	p.M, p.K = a[0], a[1]
	if p.TransA {
		p.M, p.K = a[1], a[0]
	}
	k2 := b[0]
	p.N = b[1]
	if p.TransB {
		k2, p.N = b[1], b[0]
	}
	if k2 != p.K {
		return nil, fmt.Errorf("gemm of %v by %v: inner dims differ", a, b)
	}
	bind := map[string]string{"a": n.Input(0), "b": n.Input(1), "y": outputOf(n)}
	if c := n.Input(2); c != "" && p.Beta != 0 {
		if _, _, err := gemm.CStrides(sh[2], p.M, p.N); err != nil {
			return nil, err
		}
		p.HasC, p.CShape = true, sh[2]
		bind["c"] = c
	}
	return gemmJob(p, bind), nil
}

func gemmJob(p gemm.Params, bind map[string]string) *job {
	kind := ""
	if len(p.Batch) > 0 {
		kind = "batched"
	}
	return &job{family: "gemm", kind: kind, configs: gemm.Configs(p.GemmParams), fallback: smallTiles(vecOf(gemm.Configs(p.GemmParams))),
		bind: bind, key: key("gemm", p),
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return gemm.Build(p, cfg, t) }}
}

// matmul maps MatMul and FusedMatMul (batch broadcasting, optional bias) onto kernels/gemm.
func (m *mapper) matmul(n *graph.Node) (*job, error) {
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
		return nil, fmt.Errorf("matmul takes 2 or 3 inputs, got %d", len(n.Inputs))
	}
	sh, err := m.f32(n.Input(0), n.Input(1), n.Input(2), outputOf(n))
	if err != nil {
		return nil, err
	}
	p, err := gemm.MatMul(sh[0], sh[1])
	if err != nil {
		return nil, err
	}
	if p.Act, err = activation(n); err != nil {
		return nil, err
	}
	bind := map[string]string{"a": n.Input(0), "b": n.Input(1), "y": outputOf(n)}
	if bias := n.Input(2); bias != "" {
		// The bias broadcasts to the result without widening it; the template takes a C of
		// rank <= 2 shared by every batch, so leading unit dims are dropped.
		cs := sh[2]
		for len(cs) > 2 && cs[0] == 1 {
			cs = cs[1:]
		}
		if len(cs) > 2 {
			return nil, fmt.Errorf("bias of shape %v varies over the batch", sh[2])
		}
		if len(sh[0]) == 1 && len(cs) == 2 {
			return nil, fmt.Errorf("bias of shape %v for a vector-matrix product", sh[2])
		}
		if _, _, err := gemm.CStrides(cs, p.M, p.N); err != nil {
			return nil, err
		}
		p.HasC, p.CShape, p.Beta = true, cs, 1
		bind["c"] = bias
	}
	return gemmJob(p, bind), nil
}

// attention maps the fused Attention op onto kernels/attention: Q [B, H, Sq, D] (or rank 3,
// [H, Sq, D]), K given as [.., Sk, D] (transpose_k = 1), V [.., Sk, Dv].
func (m *mapper) attention(n *graph.Node) (*job, error) {
	hasMask := n.AttrInt("has_mask", 0) != 0 && n.Input(3) != ""
	mask := ""
	if hasMask {
		mask = n.Input(3)
	}
	sh, err := m.f32(n.Input(0), n.Input(1), n.Input(2), mask, outputOf(n))
	if err != nil {
		return nil, err
	}
	q, k, v := sh[0], sh[1], sh[2]
	if n.AttrInt("transpose_k", 0) == 0 {
		return nil, fmt.Errorf("attention with K given as [.., D, Sk] (transpose_k = 0)")
	}
	r := len(q)
	if r < 3 || r > 4 || len(k) != r || len(v) != r {
		return nil, fmt.Errorf("attention of Q %v, K %v, V %v: want equal ranks 3 or 4", q, k, v)
	}
	pad := func(s []int) []int {
		if len(s) == 3 {
			return append([]int{1}, s...)
		}
		return s
	}
	q, k, v = pad(q), pad(k), pad(v)
	if q[0] != k[0] || q[0] != v[0] || q[1] != k[1] || q[1] != v[1] || q[3] != k[3] || k[2] != v[2] {
		return nil, fmt.Errorf("attention of Q %v, K %v, V %v: batch/head dims or sizes do not match", sh[0], sh[1], sh[2])
	}
	scale := n.AttrFloat("scale", 1)
	if scale == 0 || math.IsNaN(float64(scale)) {
		return nil, fmt.Errorf("attention scale %v", scale)
	}
	p := attention.Params{Batch: q[0], Heads: q[1], SeqQ: q[2], SeqK: k[2], HeadDim: q[3], ValDim: v[3], Scale: scale}
	bind := map[string]string{"q": n.Input(0), "k": n.Input(1), "v": n.Input(2), "y": outputOf(n)}
	if hasMask {
		ms := sh[3]
		if len(ms) > 4 {
			return nil, fmt.Errorf("mask of rank %d", len(ms))
		}
		for len(ms) < 4 {
			ms = append([]int{1}, ms...)
		}
		p.Mask = ms
		bind["mask"] = mask
	}
	return &job{family: "attention", configs: attention.Configs(p), bind: bind, key: key("attention", p), hint: p.HeadDim + p.ValDim,
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return attention.Build(p, cfg, t) }}, nil
}

// geometry is a conv/pool node's kernel, strides, dilations and explicit pads.
type geometry struct {
	kernel, strides, dilations, pb, pe []int
	autoPad                            string
}

// readGeometry reads kernel_shape/strides/dilations/pads/auto_pad for r spatial dims; kernel
// is the weight's kernel (nil for pools).
func readGeometry(n *graph.Node, r int, kernel []int) (geometry, error) {
	g := geometry{kernel: kernel, autoPad: n.AttrString("auto_pad", "NOTSET")}
	if ks := n.AttrInts("kernel_shape", nil); ks != nil {
		g.kernel = ints(ks)
	}
	if len(g.kernel) != r {
		return g, fmt.Errorf("kernel_shape %v does not match %d spatial dims", g.kernel, r)
	}
	ones := func() []int {
		v := make([]int, r)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	g.strides, g.dilations = ones(), ones()
	if s := n.AttrInts("strides", nil); s != nil {
		g.strides = ints(s)
	}
	if d := n.AttrInts("dilations", nil); d != nil {
		g.dilations = ints(d)
	}
	if len(g.strides) != r || len(g.dilations) != r {
		return g, fmt.Errorf("strides %v / dilations %v do not match %d spatial dims", g.strides, g.dilations, r)
	}
	g.pb, g.pe = make([]int, r), make([]int, r)
	if p := n.AttrInts("pads", nil); p != nil {
		if len(p) != 2*r {
			return g, fmt.Errorf("pads %v has %d entries, want %d", p, len(p), 2*r)
		}
		copy(g.pb, ints(p[:r]))
		copy(g.pe, ints(p[r:]))
	}
	return g, nil
}

// resolvePads applies auto_pad given the spatial input dims.
func (g *geometry) resolvePads(in []int) error {
	for i := range in {
		b, e, ok, err := ref.AutoPads(g.autoPad, in[i], g.kernel[i], g.strides[i], g.dilations[i])
		if err != nil {
			return err
		}
		if ok {
			g.pb[i], g.pe[i] = b, e
		}
	}
	return nil
}

// smallTiles are register-lean GEMM mainloop configurations (1 to 4 accumulators per thread)
// for budgets whose register cap no template config fits; vec is the vector width the
// template chose for the operands.
func smallTiles(vec int) []kernels.Config {
	out := []kernels.Config{
		{Threads: 128, TileM: 16, TileN: 32, TileK: 8, ThreadM: 2, ThreadN: 2},
		{Threads: 64, TileM: 16, TileN: 16, TileK: 8, ThreadM: 2, ThreadN: 2},
		{Threads: 64, TileM: 8, TileN: 32, TileK: 8, ThreadM: 1, ThreadN: 4},
		{Threads: 64, TileM: 8, TileN: 8, TileK: 8, ThreadM: 1, ThreadN: 1},
	}
	for i := range out {
		out[i].Vec = vec
	}
	return out
}

// vecOf is the vector width of the implicit-GEMM configs among cs (1 when none says).
func vecOf(cs []kernels.Config) int {
	for _, c := range cs {
		if c.TileK > 0 && c.Vec > 0 {
			return c.Vec
		}
	}
	return 1
}
