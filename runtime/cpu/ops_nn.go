package cpu

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(halfWrap(gemmOp), "Gemm")
	register(halfWrap(matMulOp), "MatMul")
	register(halfWrap(batchNormOp), "BatchNormalization")
	register(halfWrap(instanceNormOp), "InstanceNormalization")
	register(halfWrap(layerNormOp), "LayerNormalization")
	register(halfWrap(groupNormOp), "GroupNormalization")
	register(halfWrap(softmaxOp), "Softmax", "LogSoftmax", "Hardmax")
	register(halfWrap(resizeOp), "Resize")
	register(halfWrap(lrnOp), "LRN")
}

func gemmOp(c *opCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	a, ad, err := c.f32(0)
	if err != nil {
		return err
	}
	b, bd, err := c.f32(1)
	if err != nil {
		return err
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return fmt.Errorf("inputs have shapes %v and %v, want rank 2", a.Shape, b.Shape)
	}
	p := ref.GemmParams{TransA: c.node.AttrInt("transA", 0) != 0, TransB: c.node.AttrInt("transB", 0) != 0,
		Alpha: c.node.AttrFloat("alpha", 1), Beta: c.node.AttrFloat("beta", 1)}
	p.M, p.K = a.Shape[0], a.Shape[1]
	if p.TransA {
		p.M, p.K = p.K, p.M
	}
	k2, n := b.Shape[0], b.Shape[1]
	if p.TransB {
		k2, n = n, k2
	}
	if k2 != p.K {
		return fmt.Errorf("input 1 has shape %v (transB=%v) but input 0 %v (transA=%v) needs K=%d", b.Shape, p.TransB, a.Shape, p.TransA, p.K)
	}
	p.N = n
	var cd []float32
	var cs []int
	if c.opt(2) != nil {
		ct, d, err := c.f32(2)
		if err != nil {
			return err
		}
		cd, cs = d, ct.Shape
	}
	out := c.alloc(p.M * p.N)
	if err := ref.Gemm(p, ad, bd, cd, cs, out); err != nil {
		return err
	}
	c.out[0] = f32Tensor([]int{p.M, p.N}, out)
	return nil
}

func matMulOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	a, ad, err := c.f32(0)
	if err != nil {
		return err
	}
	b, bd, err := c.f32(1)
	if err != nil {
		return err
	}
	out, shape, err := ref.MatMul(ad, a.Shape, bd, b.Shape, c.r.opt.Workers)
	if err != nil {
		return err
	}
	c.out[0] = f32Tensor(shape, out)
	return nil
}

// channelParams reads inputs from..to as float32 vectors of c elements.
func channelParams(c *opCtx, from, to, ch int) ([][]float32, error) {
	var ps [][]float32
	for i := from; i <= to; i++ {
		t, d, err := c.f32(i)
		if err != nil {
			return nil, err
		}
		if t.Len() != ch {
			return nil, fmt.Errorf("input %d has shape %v, want %d channels", i, t.Shape, ch)
		}
		ps = append(ps, d)
	}
	return ps, nil
}

func batchNormOp(c *opCtx) error {
	if err := c.arity(5, 5); err != nil {
		return err
	}
	if c.node.AttrInt("training_mode", 0) != 0 {
		return fmt.Errorf("training_mode=1 is not supported (inference only)")
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 2 {
		return fmt.Errorf("input 0 has shape %v, want rank >= 2", x.Shape)
	}
	ps, err := channelParams(c, 1, 4, x.Shape[1])
	if err != nil {
		return err
	}
	out := c.alloc(len(xd))
	if err := ref.BatchNorm(xd, x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:]), ps[0], ps[1], ps[2], ps[3], c.node.AttrFloat("epsilon", 1e-5), out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func instanceNormOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return fmt.Errorf("input 0 has shape %v, want rank >= 3", x.Shape)
	}
	ps, err := channelParams(c, 1, 2, x.Shape[1])
	if err != nil {
		return err
	}
	out := make([]float32, len(xd))
	if err := ref.InstanceNorm(xd, x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:]), ps[0], ps[1], c.node.AttrFloat("epsilon", 1e-5), out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func groupNormOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return fmt.Errorf("input 0 has shape %v, want rank >= 3", x.Shape)
	}
	ps, err := channelParams(c, 1, 2, x.Shape[1])
	if err != nil {
		return err
	}
	out := make([]float32, len(xd))
	if err := ref.GroupNorm(xd, x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:]), int(c.node.AttrInt("num_groups", 0)), ps[0], ps[1], c.node.AttrFloat("epsilon", 1e-5), out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func layerNormOp(c *opCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	ax, err := axis(c.node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	outer, inner := tensor.NumElements(x.Shape[:ax]), tensor.NumElements(x.Shape[ax:])
	norm := x.Shape[ax:]
	vec := func(i int) ([]float32, error) {
		t, d, err := c.f32(i)
		if err != nil {
			return nil, err
		}
		if t.Len() == inner {
			return d, nil
		}
		e, err := ref.Expand(d, t.Shape, norm)
		if err != nil || len(e) != inner {
			return nil, fmt.Errorf("input %d has shape %v, does not broadcast to %v", i, t.Shape, norm)
		}
		return e, nil
	}
	scale, err := vec(1)
	if err != nil {
		return err
	}
	var bias []float32
	if c.opt(2) != nil {
		if bias, err = vec(2); err != nil {
			return err
		}
	}
	out := make([]float32, len(xd))
	statShape := append([]int{}, x.Shape...)
	for i := ax; i < len(statShape); i++ {
		statShape[i] = 1
	}
	var mean, inv []float32
	if len(c.out) > 1 && c.node.Outputs[1] != "" {
		mean = make([]float32, outer)
		c.out[1] = f32Tensor(statShape, mean)
	}
	if len(c.out) > 2 && c.node.Outputs[2] != "" {
		inv = make([]float32, outer)
		c.out[2] = f32Tensor(statShape, inv)
	}
	if err := ref.LayerNorm(xd, outer, inner, scale, bias, c.node.AttrFloat("epsilon", 1e-5), out, mean, inv); err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func softmaxOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	ax, err := axis(c.node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	out := make([]float32, len(xd))
	if c.node.Op == "Hardmax" {
		err = ref.Hardmax(xd, x.Shape, ax, out)
	} else {
		err = ref.Softmax(xd, x.Shape, ax, c.node.Op == "LogSoftmax", out)
	}
	if err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func lrnOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return fmt.Errorf("input 0 has shape %v, want rank >= 3", x.Shape)
	}
	out := make([]float32, len(xd))
	n := c.node
	if err := ref.LRN(xd, x.Shape[0], x.Shape[1], tensor.NumElements(x.Shape[2:]), int(n.AttrInt("size", 0)),
		n.AttrFloat("alpha", 1e-4), n.AttrFloat("beta", 0.75), n.AttrFloat("bias", 1), out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(x.Shape, out)
	return nil
}

func resizeOp(c *opCtx) error {
	if err := c.arity(1, 4); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	n := c.node
	r := len(x.Shape)
	p := ref.ResizeParams{
		Mode:           n.AttrString("mode", "nearest"),
		CoordMode:      n.AttrString("coordinate_transformation_mode", "half_pixel"),
		NearestMode:    n.AttrString("nearest_mode", "round_prefer_floor"),
		CubicA:         n.AttrFloat("cubic_coeff_a", -0.75),
		ExcludeOutside: n.AttrInt("exclude_outside", 0) != 0,
	}
	if p.CoordMode == "tf_crop_and_resize" {
		return fmt.Errorf("coordinate_transformation_mode tf_crop_and_resize is not supported")
	}
	if n.AttrInt("antialias", 0) != 0 {
		return fmt.Errorf("antialias=1 is not supported")
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes", nil); a != nil {
		if axes, err = ref.NormalizeAxes(a, r); err != nil {
			return err
		}
	}
	p.Scales = make([]float32, r)
	p.OutShape = append([]int{}, x.Shape...)
	for i := range p.Scales {
		p.Scales[i] = 1
	}
	sizes, hasSizes, err := c.intsIn(3)
	if err != nil {
		return err
	}
	if hasSizes && len(sizes) > 0 {
		if len(sizes) != len(axes) {
			return fmt.Errorf("sizes %v has %d entries for %d axes", sizes, len(sizes), len(axes))
		}
		policy := n.AttrString("keep_aspect_ratio_policy", "stretch")
		if policy == "stretch" {
			for i, a := range axes {
				p.OutShape[a] = int(sizes[i])
				p.Scales[a] = float32(sizes[i]) / float32(x.Shape[a])
			}
		} else {
			s := float32(math.Inf(1))
			if policy == "not_smaller" {
				s = float32(math.Inf(-1))
			}
			for i, a := range axes {
				v := float32(sizes[i]) / float32(x.Shape[a])
				if policy == "not_larger" {
					s = min(s, v)
				} else {
					s = max(s, v)
				}
			}
			for _, a := range axes {
				p.Scales[a] = s
				p.OutShape[a] = int(math.Round(float64(s * float32(x.Shape[a]))))
			}
		}
	} else {
		st := c.opt(2)
		if st == nil || st.Len() == 0 {
			return fmt.Errorf("neither scales (input 2) nor sizes (input 3) is given")
		}
		if st.DType != tensor.Float32 {
			return fmt.Errorf("scales have element type %v, want float32", st.DType)
		}
		sc := st.Float32s()
		if len(sc) != len(axes) {
			return fmt.Errorf("scales %v has %d entries for %d axes", sc, len(sc), len(axes))
		}
		for i, a := range axes {
			p.Scales[a] = sc[i]
			p.OutShape[a] = int(float32(x.Shape[a]) * sc[i])
		}
	}
	if p.Mode == "nearest" {
		outs, err := (&moveOp{kind: mvResizeNearest, resize: p}).run(x)
		if err != nil {
			return err
		}
		c.out[0] = outs[0]
		return nil
	}
	if x.DType != tensor.Float32 {
		return fmt.Errorf("mode %q needs float32 input, got %v", p.Mode, x.DType)
	}
	out, err := ref.Resize(x.Float32s(), x.Shape, p)
	if err != nil {
		return err
	}
	c.out[0] = f32Tensor(p.OutShape, out)
	return nil
}
