package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(transposeOp, "Transpose")
	register(concatOp, "Concat")
	register(splitOp, "Split")
	register(sliceOp, "Slice")
	register(gatherOp, "Gather", "GatherElements", "GatherND")
	register(scatterOp, "ScatterElements", "ScatterND")
	register(expandOp, "Expand")
	register(tileOp, "Tile")
	register(padOp, "Pad")
	register(depthToSpaceOp, "DepthToSpace", "SpaceToDepth")
}

// move1 runs m on input 0 and sets the outputs.
func (c *opCtx) move1(m *moveOp) error {
	x, err := c.req(0)
	if err != nil {
		return err
	}
	outs, err := m.run(x)
	if err != nil {
		return err
	}
	if len(outs) > len(c.out) {
		return fmt.Errorf("produces %d outputs, node has %d", len(outs), len(c.out))
	}
	copy(c.out, outs)
	return nil
}

func transposeOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	return c.move1(&moveOp{kind: mvTranspose, perm: attrInts(c.node, "perm")})
}

func concatOp(c *opCtx) error {
	if err := c.arity(1, -1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	ax, err := axis(c.node.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	var others []*tensor.Tensor
	for i := 1; i < len(c.in); i++ {
		t, err := c.req(i)
		if err != nil {
			return err
		}
		others = append(others, t)
	}
	return c.move1(&moveOp{kind: mvConcat, axis: ax, others: others})
}

func splitOp(c *opCtx) error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	ax, err := axis(c.node.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	sizes64, given, err := c.intsIn(1)
	if err != nil {
		return err
	}
	var sizes []int
	if given {
		sizes = toInts(sizes64)
	} else {
		n := int(c.node.AttrInt("num_outputs", int64(len(c.out))))
		if sizes, err = ref.SplitEven(x.Shape[ax], n); err != nil {
			return err
		}
		if n == len(c.out) && x.Shape[ax]%n != 0 && c.node.AttrInt("num_outputs", 0) == 0 {
			return fmt.Errorf("axis %d of size %d does not split evenly into %d outputs", ax, x.Shape[ax], n)
		}
	}
	if len(sizes) != len(c.out) {
		return fmt.Errorf("%d split sizes for %d outputs", len(sizes), len(c.out))
	}
	return c.move1(&moveOp{kind: mvSplit, axis: ax, sizes: sizes})
}

func sliceOp(c *opCtx) error {
	if err := c.arity(3, 5); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	starts, _, err := c.intsIn(1)
	if err != nil {
		return err
	}
	ends, _, err := c.intsIn(2)
	if err != nil {
		return err
	}
	axes64, given, err := c.intsIn(3)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	if !given {
		axes64 = make([]int64, len(starts))
		for i := range axes64 {
			axes64[i] = int64(i)
		}
	}
	ax, err := ref.NormalizeAxes(axes64, r)
	if err != nil {
		return err
	}
	axes := make([]int64, len(ax))
	for i, a := range ax {
		axes[i] = int64(a)
	}
	steps, given, err := c.intsIn(4)
	if err != nil {
		return err
	}
	if !given {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	sl, err := ref.SliceParams(x.Shape, starts, ends, axes, steps)
	if err != nil {
		return err
	}
	return c.move1(&moveOp{kind: mvSlice, slice: sl})
}

func gatherOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	it, err := c.req(1)
	if err != nil {
		return err
	}
	idx, err := ints(it)
	if err != nil {
		return fmt.Errorf("indices: %w", err)
	}
	m := &moveOp{idx: idx, ishape: it.Shape}
	switch c.node.Op {
	case "Gather":
		m.kind = mvGather
	case "GatherElements":
		m.kind = mvGatherElements
	default:
		if c.node.AttrInt("batch_dims", 0) != 0 {
			return fmt.Errorf("batch_dims != 0 is not supported")
		}
		m.kind = mvGatherND
	}
	if m.kind != mvGatherND {
		if m.axis, err = axis(c.node.AttrInt("axis", 0), len(x.Shape)); err != nil {
			return err
		}
	}
	return c.move1(m)
}

func scatterOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	it, err := c.req(1)
	if err != nil {
		return err
	}
	upd, err := c.req(2)
	if err != nil {
		return err
	}
	if red := c.node.AttrString("reduction", "none"); red != "none" {
		return fmt.Errorf("reduction %q is not supported", red)
	}
	idx, err := ints(it)
	if err != nil {
		return fmt.Errorf("indices: %w", err)
	}
	m := &moveOp{kind: mvScatterND, idx: idx, ishape: it.Shape, others: []*tensor.Tensor{upd}}
	if c.node.Op == "ScatterElements" {
		m.kind = mvScatterElements
		if m.axis, err = axis(c.node.AttrInt("axis", 0), len(x.Shape)); err != nil {
			return err
		}
	}
	return c.move1(m)
}

func expandOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	shape, ok, err := c.intsIn(1)
	if err != nil || !ok {
		return fmt.Errorf("shape input: %v", err)
	}
	return c.move1(&moveOp{kind: mvExpand, shape: toInts(shape)})
}

func tileOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	reps, ok, err := c.intsIn(1)
	if err != nil || !ok {
		return fmt.Errorf("repeats input: %v", err)
	}
	return c.move1(&moveOp{kind: mvTile, sizes: toInts(reps)})
}

func padOp(c *opCtx) error {
	if err := c.arity(1, 4); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	pads, ok, err := c.intsIn(1)
	if err != nil || !ok {
		return fmt.Errorf("pads input: %v", err)
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a, given, err := c.intsIn(3); err != nil {
		return err
	} else if given {
		if axes, err = ref.NormalizeAxes(a, r); err != nil {
			return err
		}
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("pads %v has %d entries, want %d", pads, len(pads), 2*len(axes))
	}
	pb, pe := make([]int, r), make([]int, r)
	for i, a := range axes {
		pb[a], pe[a] = int(pads[i]), int(pads[i+len(axes)])
	}
	m := &moveOp{kind: mvPad, padB: pb, padE: pe, padValue: c.opt(2)}
	if m.padValue != nil && m.padValue.Len() == 0 {
		m.padValue = nil
	}
	switch mode := c.node.AttrString("mode", "constant"); mode {
	case "constant":
		m.padMode = ref.PadConstant
	case "reflect":
		m.padMode = ref.PadReflect
	case "edge":
		m.padMode = ref.PadEdge
	case "wrap":
		m.padMode = ref.PadWrap
	default:
		return fmt.Errorf("mode %q is not supported", mode)
	}
	return c.move1(m)
}

// depthToSpaceOp does DepthToSpace (DCR or CRD) and SpaceToDepth as reshape-transpose-reshape.
func depthToSpaceOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	if len(x.Shape) != 4 {
		return fmt.Errorf("input has shape %v, want rank 4", x.Shape)
	}
	b := int(c.node.AttrInt("blocksize", 0))
	if b < 1 {
		return fmt.Errorf("blocksize %d", b)
	}
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	var mid, perm, final []int
	if c.node.Op == "DepthToSpace" {
		if ch%(b*b) != 0 {
			return fmt.Errorf("channels %d not divisible by blocksize^2 = %d", ch, b*b)
		}
		if c.node.AttrString("mode", "DCR") == "CRD" {
			mid, perm = []int{n, ch / (b * b), b, b, h, w}, []int{0, 1, 4, 2, 5, 3}
		} else {
			mid, perm = []int{n, b, b, ch / (b * b), h, w}, []int{0, 3, 4, 1, 5, 2}
		}
		final = []int{n, ch / (b * b), h * b, w * b}
	} else {
		if h%b != 0 || w%b != 0 {
			return fmt.Errorf("spatial dims %dx%d not divisible by blocksize %d", h, w, b)
		}
		mid, perm = []int{n, ch, h / b, b, w / b, b}, []int{0, 3, 5, 1, 2, 4}
		final = []int{n, ch * b * b, h / b, w / b}
	}
	xr, err := x.Reshaped(mid)
	if err != nil {
		return err
	}
	outs, err := (&moveOp{kind: mvTranspose, perm: perm}).run(xr)
	if err != nil {
		return err
	}
	c.out[0], err = outs[0].Reshaped(final)
	return err
}
