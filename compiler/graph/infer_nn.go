package graph

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// nnInfer: convolutions, pooling and normalization.
var nnInfer = map[string]inferFunc{
	"Conv":               inferConv,
	"ConvTranspose":      inferConvTranspose,
	"MaxPool":            inferPool,
	"AveragePool":        inferPool,
	"LpPool":             inferPool,
	"GlobalAveragePool":  inferGlobalPool,
	"GlobalMaxPool":      inferGlobalPool,
	"GlobalLpPool":       inferGlobalPool,
	"BatchNormalization": inferBatchNorm,
	"LayerNormalization": inferLayerNorm,
}

// window is the geometry of a sliding window over the spatial dims (Conv, pools).
type window struct {
	kernel    []int64 // 0 where unknown
	strides   []int64
	dilations []int64
	pads      []int64 // begins then ends
	autoPad   string
	ceil      bool
}

// readWindow reads the window attributes for `spatial` dims; kernel is the default kernel
// (Conv takes it from the weights) and may hold 0s for unknown sizes.
func readWindow(n *Node, spatial int, kernel []int64) (window, error) {
	w := window{
		kernel:    n.AttrInts("kernel_shape", kernel),
		strides:   n.AttrInts("strides", nil),
		dilations: n.AttrInts("dilations", nil),
		pads:      n.AttrInts("pads", nil),
		autoPad:   n.AttrString("auto_pad", "NOTSET"),
		ceil:      n.AttrInt("ceil_mode", 0) != 0,
	}
	ones := func() []int64 {
		s := make([]int64, spatial)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	if w.strides == nil {
		w.strides = ones()
	}
	if w.dilations == nil {
		w.dilations = ones()
	}
	if w.pads == nil {
		w.pads = make([]int64, 2*spatial)
	}
	if w.kernel == nil {
		w.kernel = make([]int64, spatial)
	}
	switch {
	case len(w.kernel) != spatial:
		return w, fmt.Errorf("kernel_shape %v does not match %d spatial dims", w.kernel, spatial)
	case len(w.strides) != spatial:
		return w, fmt.Errorf("strides %v do not match %d spatial dims", w.strides, spatial)
	case len(w.dilations) != spatial:
		return w, fmt.Errorf("dilations %v do not match %d spatial dims", w.dilations, spatial)
	case len(w.pads) != 2*spatial:
		return w, fmt.Errorf("pads %v do not match %d spatial dims", w.pads, spatial)
	}
	for i := range spatial {
		if w.strides[i] < 1 || w.dilations[i] < 1 || w.kernel[i] < 0 || w.pads[i] < 0 || w.pads[spatial+i] < 0 {
			return w, fmt.Errorf("bad window: kernel %v strides %v dilations %v pads %v", w.kernel, w.strides, w.dilations, w.pads)
		}
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return w, fmt.Errorf("unknown auto_pad %q", w.autoPad)
	}
	return w, nil
}

// out is the output size of spatial dim i for input size in.
func (w window) out(i int, in Dim) (Dim, error) {
	k, s, d := w.kernel[i], w.strides[i], w.dilations[i]
	pb, pe := w.pads[i], w.pads[len(w.kernel)+i]
	if k == 0 { // kernel size unknown
		return Unknown(), nil
	}
	ek := (k-1)*d + 1
	switch w.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		return mapDim(in, func(x int64) int64 { return (x + s - 1) / s }, s == 1), nil
	case "VALID":
		pb, pe = 0, 0
	}
	if !in.Known() {
		return mapDim(in, nil, s == 1 && pb+pe == ek-1), nil
	}
	span := in.Size + pb + pe - ek
	if span < 0 {
		return Dim{}, fmt.Errorf("window of %d (kernel %d, dilation %d) exceeds the padded input %d (pads %d+%d) on spatial dim %d",
			ek, k, d, in.Size+pb+pe, pb, pe, i)
	}
	o := span/s + 1
	if w.ceil && span%s != 0 {
		o++
		if (o-1)*s >= in.Size+pb {
			o--
		}
	}
	return D(o), nil
}

func inferConv(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	w, err := c.req(n, 1)
	if err != nil {
		return err
	}
	b, err := c.in(n, 2)
	if err != nil {
		return err
	}
	dt, err := sameTypes(x, w, b)
	if err != nil {
		return err
	}
	r := rankOf(x)
	if r < 0 {
		r = rankOf(w)
	}
	if r < 0 {
		c.setOutUnranked(n, 0, dt)
		return nil
	}
	if r < 3 || (w.RankKnown && len(w.Shape) != r) || (x.RankKnown && len(x.Shape) != r) {
		return fmt.Errorf("input %s and weights %s: need equal ranks >= 3", shapeStr(x), shapeStr(w))
	}
	group := n.AttrInt("group", 1)
	if group < 1 {
		return fmt.Errorf("group %d < 1", group)
	}
	xs, ws := shapeOrUnknown(x, r), shapeOrUnknown(w, r)
	kernel := make([]int64, r-2)
	for i := range kernel {
		kernel[i] = max(ws[2+i].Size, 0)
	}
	win, err := readWindow(n, r-2, kernel)
	if err != nil {
		return err
	}
	for i, k := range kernel { // the weights' kernel and kernel_shape must agree
		if k > 0 && win.kernel[i] != k {
			return fmt.Errorf("kernel_shape %v does not match weights %s", win.kernel, ws)
		}
	}
	if xs[1].Known() && ws[1].Known() && xs[1].Size != ws[1].Size*group {
		return fmt.Errorf("input %s has %d channels, weights %s with group %d expect %d",
			xs, xs[1].Size, ws, group, ws[1].Size*group)
	}
	m := ws[0]
	if m.Known() && m.Size%group != 0 {
		return fmt.Errorf("weights %s: %d output channels do not divide into %d groups", ws, m.Size, group)
	}
	if b != nil && b.RankKnown {
		if len(b.Shape) != 1 {
			return fmt.Errorf("bias %s must have rank 1", b.Shape)
		}
		var ok bool
		if m, ok = mergeDim(m, b.Shape[0]); !ok {
			return fmt.Errorf("bias %s does not match weights %s", b.Shape, ws)
		}
	}
	out := Shape{xs[0], m}
	for i := range r - 2 {
		d, err := win.out(i, xs[2+i])
		if err != nil {
			return fmt.Errorf("input %s, weights %s: %w", xs, ws, err)
		}
		out = append(out, d)
	}
	c.setOut(n, 0, dt, out)
	return nil
}

// shapeOrUnknown is v's shape, or rank r of unknown dims when v's rank is unknown.
func shapeOrUnknown(v *Value, r int) Shape {
	if v.RankKnown {
		return v.Shape
	}
	return unknownShape(r)
}

func inferConvTranspose(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	w, err := c.req(n, 1)
	if err != nil {
		return err
	}
	b, err := c.in(n, 2)
	if err != nil {
		return err
	}
	dt, err := sameTypes(x, w, b)
	if err != nil {
		return err
	}
	r := rankOf(x)
	if r < 0 {
		r = rankOf(w)
	}
	if r < 0 {
		c.setOutUnranked(n, 0, dt)
		return nil
	}
	if r < 3 || (w.RankKnown && len(w.Shape) != r) || (x.RankKnown && len(x.Shape) != r) {
		return fmt.Errorf("input %s and weights %s: need equal ranks >= 3", shapeStr(x), shapeStr(w))
	}
	group := n.AttrInt("group", 1)
	if group < 1 {
		return fmt.Errorf("group %d < 1", group)
	}
	xs, ws := shapeOrUnknown(x, r), shapeOrUnknown(w, r)
	if xs[1].Known() && ws[0].Known() && xs[1].Size != ws[0].Size {
		return fmt.Errorf("input %s has %d channels, weights %s expect %d", xs, xs[1].Size, ws, ws[0].Size)
	}
	kernel := make([]int64, r-2)
	for i := range kernel {
		kernel[i] = max(ws[2+i].Size, 0)
	}
	win, err := readWindow(n, r-2, kernel)
	if err != nil {
		return err
	}
	m := mulDims(ws[1], D(group))
	if b != nil && b.RankKnown {
		var ok bool
		if len(b.Shape) != 1 {
			return fmt.Errorf("bias %s must have rank 1", b.Shape)
		}
		if m, ok = mergeDim(m, b.Shape[0]); !ok {
			return fmt.Errorf("bias %s does not match weights %s with group %d", b.Shape, ws, group)
		}
	}
	out := Shape{xs[0], m}
	outShape := n.AttrInts("output_shape", nil)
	outPad := n.AttrInts("output_padding", make([]int64, r-2))
	if len(outPad) != r-2 {
		return fmt.Errorf("output_padding %v does not match %d spatial dims", outPad, r-2)
	}
	for i := range r - 2 {
		if outShape != nil {
			if len(outShape) < r-2 {
				return fmt.Errorf("output_shape %v has fewer than %d spatial dims", outShape, r-2)
			}
			out = append(out, D(outShape[len(outShape)-(r-2)+i]))
			continue
		}
		k, s, d := win.kernel[i], win.strides[i], win.dilations[i]
		if k == 0 {
			out = append(out, Unknown())
			continue
		}
		ek := (k-1)*d + 1
		pads := win.pads[i] + win.pads[r-2+i]
		switch win.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out = append(out, mapDim(xs[2+i], func(v int64) int64 { return v * s }, s == 1))
			continue
		case "VALID":
			pads = 0
		}
		f := func(v int64) int64 { return s*(v-1) + outPad[i] + ek - pads }
		od := mapDim(xs[2+i], f, s == 1 && outPad[i] == 0 && ek-pads == 1)
		if od.Known() && od.Size <= 0 {
			return fmt.Errorf("input %s, weights %s: output spatial dim %d would be %d", xs, ws, i, od.Size)
		}
		out = append(out, od)
	}
	c.setOut(n, 0, dt, out)
	return nil
}

func inferPool(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		c.setOutUnranked(n, 1, tensor.Int64)
		return nil
	}
	r := len(x.Shape)
	if r < 3 {
		return fmt.Errorf("input %s: need rank >= 3", x.Shape)
	}
	if n.AttrInts("kernel_shape", nil) == nil {
		return fmt.Errorf("kernel_shape is required")
	}
	win, err := readWindow(n, r-2, nil)
	if err != nil {
		return err
	}
	out := Shape{x.Shape[0], x.Shape[1]}
	for i := range r - 2 {
		d, err := win.out(i, x.Shape[2+i])
		if err != nil {
			return fmt.Errorf("input %s: %w", x.Shape, err)
		}
		out = append(out, d)
	}
	c.setOut(n, 0, x.DType, out)
	c.setOut(n, 1, tensor.Int64, out)
	return nil
}

func inferGlobalPool(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	if len(x.Shape) < 3 {
		return fmt.Errorf("input %s: need rank >= 3", x.Shape)
	}
	out := Shape{x.Shape[0], x.Shape[1]}
	for range len(x.Shape) - 2 {
		out = append(out, D(1))
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferBatchNorm(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 5)
	if err != nil {
		return err
	}
	x := vs[0]
	ch := Unknown()
	if x.RankKnown {
		if len(x.Shape) < 2 {
			return fmt.Errorf("input %s: need rank >= 2", x.Shape)
		}
		ch = x.Shape[1]
	}
	names := []string{"scale", "bias", "mean", "var"}
	for i, p := range vs[1:] {
		if !p.RankKnown {
			continue
		}
		if len(p.Shape) != 1 {
			return fmt.Errorf("%s %s must have rank 1", names[i], p.Shape)
		}
		m, ok := mergeDim(ch, p.Shape[0])
		if !ok {
			return fmt.Errorf("input %s has %v channels, %s has shape %s", shapeStr(x), ch, names[i], p.Shape)
		}
		ch = m
	}
	c.setOutLike(n, 0, x)
	c.setOut(n, 1, vs[3].DType, Shape{ch})
	c.setOut(n, 2, vs[4].DType, Shape{ch})
	return nil
}

func inferLayerNorm(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	scale, err := c.req(n, 1)
	if err != nil {
		return err
	}
	bias, err := c.in(n, 2)
	if err != nil {
		return err
	}
	stash := onnxDType(n.AttrInt("stash_type", 1))
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		c.setOutUnranked(n, 1, stash)
		c.setOutUnranked(n, 2, stash)
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	norm := x.Shape[axis:]
	for _, p := range []*Value{scale, bias} {
		if p == nil || !p.RankKnown {
			continue
		}
		s, err := broadcastShapes(norm, p.Shape)
		if err != nil || len(s) != len(norm) {
			return fmt.Errorf("scale/bias %s does not broadcast to the normalized dims %s of input %s", p.Shape, norm, x.Shape)
		}
	}
	c.setOutLike(n, 0, x)
	stat := append(Shape{}, x.Shape[:axis]...)
	for range len(norm) {
		stat = append(stat, D(1))
	}
	c.setOut(n, 1, stash, stat)
	c.setOut(n, 2, stash, stat)
	return nil
}
