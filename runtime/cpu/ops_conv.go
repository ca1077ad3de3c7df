package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(halfWrap(convOp), "Conv")
	register(halfWrap(convTransposeOp), "ConvTranspose")
	register(halfWrap(poolOp), "MaxPool", "AveragePool")
	register(halfWrap(globalPoolOp), "GlobalAveragePool", "GlobalMaxPool")
}

// geometry reads kernel_shape/strides/dilations/pads/auto_pad for r spatial dims.
type geometry struct {
	kernel, strides, dilations, pb, pe []int
	autoPad                            string
}

func readGeometry(c *opCtx, r int, kernel []int) (geometry, error) {
	n := c.node
	g := geometry{kernel: kernel, autoPad: n.AttrString("auto_pad", "NOTSET")}
	if ks := attrInts(n, "kernel_shape"); ks != nil {
		if kernel != nil && !equalInts(ks, kernel) {
			return g, fmt.Errorf("kernel_shape %v does not match the weight's %v", ks, kernel)
		}
		g.kernel = ks
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
	if s := attrInts(n, "strides"); s != nil {
		g.strides = s
	}
	if d := attrInts(n, "dilations"); d != nil {
		g.dilations = d
	}
	if len(g.strides) != r || len(g.dilations) != r {
		return g, fmt.Errorf("strides %v / dilations %v do not match %d spatial dims", g.strides, g.dilations, r)
	}
	g.pb, g.pe = make([]int, r), make([]int, r)
	if p := attrInts(n, "pads"); p != nil {
		if len(p) != 2*r {
			return g, fmt.Errorf("pads %v has %d entries, want %d", p, len(p), 2*r)
		}
		copy(g.pb, p[:r])
		copy(g.pe, p[r:])
	}
	return g, nil
}

// resolvePads applies auto_pad (for Conv and pools) given the spatial input dims.
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

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func convOp(c *opCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	w, wd, err := c.f32(1)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return fmt.Errorf("input 0 has shape %v and weight (input 1) has shape %v; want matching ranks >= 3", x.Shape, w.Shape)
	}
	r := len(x.Shape) - 2
	g, err := readGeometry(c, r, w.Shape[2:])
	if err != nil {
		return err
	}
	if err := g.resolvePads(x.Shape[2:]); err != nil {
		return err
	}
	group := int(c.node.AttrInt("group", 1))
	p := ref.ConvParams{N: x.Shape[0], C: x.Shape[1], M: w.Shape[0], Group: group, In: x.Shape[2:],
		Kernel: g.kernel, Strides: g.strides, Dilations: g.dilations, PadsBegin: g.pb, PadsEnd: g.pe, Act: c.act, Workers: c.r.opt.Workers}
	if group < 1 || w.Shape[1]*group != p.C {
		return fmt.Errorf("input 1 has shape %v but input 0 %v with group %d needs %d input channels per filter", w.Shape, x.Shape, group, p.C/max(group, 1))
	}
	var bias []float32
	if c.opt(2) != nil {
		b, bd, err := c.f32(2)
		if err != nil {
			return err
		}
		if b.Len() != p.M {
			return fmt.Errorf("input 2 (bias) has shape %v, want [%d]", b.Shape, p.M)
		}
		bias = bd
	}
	oshape, err := ref.ConvOutShape(p)
	if err != nil {
		return err
	}
	p.Packed = packedConv(c, p, w)
	out := c.alloc(tensor.NumElements(oshape))
	if err := ref.Conv(p, xd, wd, bias, out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(oshape, out)
	return nil
}

func convTransposeOp(c *opCtx) error {
	if err := c.arity(2, 3); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	w, wd, err := c.f32(1)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return fmt.Errorf("input 0 has shape %v and weight (input 1) has shape %v; want matching ranks >= 3", x.Shape, w.Shape)
	}
	r := len(x.Shape) - 2
	g, err := readGeometry(c, r, w.Shape[2:])
	if err != nil {
		return err
	}
	group := int(c.node.AttrInt("group", 1))
	if group < 1 || w.Shape[0] != x.Shape[1] {
		return fmt.Errorf("input 1 has shape %v, its first dim must equal the input channels %d", w.Shape, x.Shape[1])
	}
	outPad := attrInts(c.node, "output_padding")
	if outPad == nil {
		outPad = make([]int, r)
	}
	if len(outPad) != r {
		return fmt.Errorf("output_padding %v does not match %d spatial dims", outPad, r)
	}
	in := x.Shape[2:]
	outShape := attrInts(c.node, "output_shape")
	if len(outShape) == r+2 {
		outShape = outShape[2:]
	}
	switch {
	case outShape != nil:
		if len(outShape) != r {
			return fmt.Errorf("output_shape %v does not match %d spatial dims", outShape, r)
		}
		upper := g.autoPad != "SAME_LOWER"
		for i := range in {
			g.pb[i], g.pe[i] = ref.ConvTransposeAutoPads(upper, in[i], g.kernel[i], g.strides[i], g.dilations[i], outPad[i], outShape[i])
		}
	case g.autoPad == "SAME_UPPER" || g.autoPad == "SAME_LOWER":
		for i := range in {
			g.pb[i], g.pe[i] = ref.ConvTransposeAutoPads(g.autoPad == "SAME_UPPER", in[i], g.kernel[i], g.strides[i], g.dilations[i], outPad[i], in[i]*g.strides[i])
		}
	case g.autoPad == "VALID":
		clear(g.pb)
		clear(g.pe)
	}
	p := ref.ConvTransposeParams{N: x.Shape[0], C: x.Shape[1], M: w.Shape[1] * group, Group: group, In: in,
		Kernel: g.kernel, Strides: g.strides, Dilations: g.dilations, PadsBegin: g.pb, PadsEnd: g.pe,
		OutputPadding: outPad, Act: c.act, Workers: c.r.opt.Workers}
	var bias []float32
	if c.opt(2) != nil {
		b, bd, err := c.f32(2)
		if err != nil {
			return err
		}
		if b.Len() != p.M {
			return fmt.Errorf("input 2 (bias) has shape %v, want [%d]", b.Shape, p.M)
		}
		bias = bd
	}
	oshape, err := ref.ConvTransposeOutShape(p)
	if err != nil {
		return err
	}
	out := make([]float32, tensor.NumElements(oshape))
	if err := ref.ConvTranspose(p, xd, wd, bias, out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(oshape, out)
	return nil
}

func poolOp(c *opCtx) error {
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
	r := len(x.Shape) - 2
	g, err := readGeometry(c, r, nil)
	if err != nil {
		return err
	}
	if err := g.resolvePads(x.Shape[2:]); err != nil {
		return err
	}
	p := ref.PoolParams{N: x.Shape[0], C: x.Shape[1], In: x.Shape[2:], Kernel: g.kernel, Strides: g.strides,
		Dilations: g.dilations, PadsBegin: g.pb, PadsEnd: g.pe, CeilMode: c.node.AttrInt("ceil_mode", 0) != 0,
		CountIncludePad: c.node.AttrInt("count_include_pad", 0) != 0, Workers: c.r.opt.Workers}
	oshape, err := ref.PoolOutShape(p)
	if err != nil {
		return err
	}
	out := c.alloc(tensor.NumElements(oshape))
	if c.node.Op == "AveragePool" {
		err = ref.AveragePool(p, xd, out)
	} else {
		var idx []int64
		if len(c.out) > 1 && c.node.Outputs[1] != "" {
			if c.node.AttrInt("storage_order", 0) != 0 {
				return fmt.Errorf("storage_order=1 is not supported")
			}
			idx = make([]int64, len(out))
			c.out[1] = tensor.FromInt64(oshape, idx)
		}
		err = ref.MaxPool(p, xd, out, idx)
	}
	if err != nil {
		return err
	}
	c.out[0] = f32Tensor(oshape, out)
	return nil
}

func globalPoolOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, xd, err := c.f32(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 2 {
		return fmt.Errorf("input 0 has shape %v, want rank >= 2", x.Shape)
	}
	nc := x.Shape[0] * x.Shape[1]
	oshape := []int{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		oshape = append(oshape, 1)
	}
	out := c.alloc(nc)
	if err := ref.GlobalPool(xd, nc, tensor.NumElements(x.Shape[2:]), c.node.Op == "GlobalMaxPool", out); err != nil {
		return err
	}
	c.out[0] = f32Tensor(oshape, out)
	return nil
}
