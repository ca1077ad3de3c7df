package graph

import (
	"fmt"
)

// layoutInfer: ops that rearrange, replicate or pad elements.
var layoutInfer = map[string]inferFunc{
	"Reshape":      inferReshape,
	"Flatten":      inferFlatten,
	"Transpose":    inferTranspose,
	"Squeeze":      inferSqueeze,
	"Unsqueeze":    inferUnsqueeze,
	"Expand":       inferExpand,
	"Tile":         inferTile,
	"Pad":          inferPad,
	"DepthToSpace": inferDepthToSpace,
	"SpaceToDepth": inferSpaceToDepth,
}

func inferReshape(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x, sh := vs[0], vs[1]
	target, ok := c.knownElems(n, 1)
	if !ok {
		if sh.RankKnown && len(sh.Shape) == 1 && sh.Shape[0].Known() {
			c.setOutRank(n, 0, x.DType, int(sh.Shape[0].Size))
		} else {
			c.setOutUnranked(n, 0, x.DType)
		}
		return nil
	}
	allowZero := n.AttrInt("allowzero", 0) != 0
	out := make(Shape, len(target))
	infer := -1 // the dim to solve from the element count: the -1, else a lone unknown
	unknowns := 0
	for i, t := range target {
		switch {
		case t.known && t.v == -1:
			if infer >= 0 && target[infer].known {
				return fmt.Errorf("target %v has more than one -1", elemsStr(target))
			}
			infer = i
		case t.known && t.v < -1:
			return fmt.Errorf("target %v has a negative dim", elemsStr(target))
		case t.known && t.v == 0 && !allowZero:
			switch {
			case !x.RankKnown:
				out[i] = Unknown()
			case i >= len(x.Shape):
				return fmt.Errorf("target %v copies dim %d of input %s, which has no such dim", elemsStr(target), i, x.Shape)
			default:
				out[i] = x.Shape[i]
			}
		default:
			out[i] = t.dim()
			if !t.known && t.sym == "" {
				unknowns++
				if infer < 0 {
					infer = i
				}
			}
		}
	}
	hasMinus := infer >= 0 && target[infer].known
	if !hasMinus && unknowns != 1 {
		infer = -1
	}
	if !x.RankKnown {
		if infer >= 0 {
			out[infer] = Unknown()
		}
		c.setOut(n, 0, x.DType, out)
		return nil
	}
	in := productOf(x.Shape)
	if infer >= 0 {
		rest := append(append(Shape{}, out[:infer]...), out[infer+1:]...)
		d, err := in.divide(productOf(rest))
		if err != nil {
			return fmt.Errorf("cannot reshape input %s to %v: %w", x.Shape, elemsStr(target), err)
		}
		out[infer] = d
	}
	outP := productOf(out)
	if !in.unknown && !outP.unknown && len(in.syms) == 0 && len(outP.syms) == 0 && in.known != outP.known {
		return fmt.Errorf("cannot reshape input %s (%d elements) to %s (%d elements)", x.Shape, in.known, out, outP.known)
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

// elemsStr prints a shape vector's elements.
func elemsStr(es []sv) string {
	s := make(Shape, len(es))
	for i, e := range es {
		s[i] = e.dim()
		if e.known && e.v < 0 {
			s[i] = Dim{Size: -1, Param: fmt.Sprint(e.v)}
		}
	}
	return s.String()
}

func inferFlatten(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutRank(n, 0, x.DType, 2)
		return nil
	}
	r := len(x.Shape)
	axis := n.AttrInt("axis", 1)
	if axis < -int64(r) || axis > int64(r) {
		return fmt.Errorf("axis %d is out of range for input %s", axis, x.Shape)
	}
	if axis < 0 {
		axis += int64(r)
	}
	c.setOut(n, 0, x.DType, Shape{mulDims(x.Shape[:axis]...), mulDims(x.Shape[axis:]...)})
	return nil
}

func inferTranspose(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	perm := n.AttrInts("perm", nil)
	if !x.RankKnown {
		if perm == nil {
			c.setOutUnranked(n, 0, x.DType)
		} else {
			c.setOutRank(n, 0, x.DType, len(perm))
		}
		return nil
	}
	r := len(x.Shape)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return fmt.Errorf("perm %v does not match input %s", perm, x.Shape)
	}
	ax, err := normAxes(perm, r)
	if err != nil {
		return fmt.Errorf("perm %v for input %s: %w", perm, x.Shape, err)
	}
	out := make(Shape, r)
	for i, a := range ax {
		out[i] = x.Shape[a]
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferSqueeze(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	axesV, err := c.in(n, 1)
	if err != nil {
		return err
	}
	axes, known := c.knownInts(n, 1)
	if axesV != nil && !known {
		if x.RankKnown && axesV.RankKnown && len(axesV.Shape) == 1 && axesV.Shape[0].Known() {
			c.setOutRank(n, 0, x.DType, len(x.Shape)-int(axesV.Shape[0].Size))
		} else {
			c.setOutUnranked(n, 0, x.DType)
		}
		return nil
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	drop := make([]bool, len(x.Shape))
	if axesV == nil {
		for i, d := range x.Shape {
			if !d.Known() { // might be 1 at run time
				c.setOutUnranked(n, 0, x.DType)
				return nil
			}
			drop[i] = d.Size == 1
		}
	} else {
		ax, err := normAxes(axes, len(x.Shape))
		if err != nil {
			return fmt.Errorf("input %s: %w", x.Shape, err)
		}
		for _, a := range ax {
			if d := x.Shape[a]; d.Known() && d.Size != 1 {
				return fmt.Errorf("cannot squeeze axis %d of input %s: its size is %d", a, x.Shape, d.Size)
			}
			drop[a] = true
		}
	}
	out := Shape{}
	for i, d := range x.Shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferUnsqueeze(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x := vs[0]
	axes, ok := c.knownInts(n, 1)
	if !ok {
		if x.RankKnown && vs[1].RankKnown && len(vs[1].Shape) == 1 && vs[1].Shape[0].Known() {
			c.setOutRank(n, 0, x.DType, len(x.Shape)+int(vs[1].Shape[0].Size))
		} else {
			c.setOutUnranked(n, 0, x.DType)
		}
		return nil
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	r := len(x.Shape) + len(axes)
	ax, err := normAxes(axes, r)
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	ins := make([]bool, r)
	for _, a := range ax {
		ins[a] = true
	}
	out := make(Shape, 0, r)
	j := 0
	for i := range r {
		if ins[i] {
			out = append(out, D(1))
		} else {
			out = append(out, x.Shape[j])
			j++
		}
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferExpand(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x, sh := vs[0], vs[1]
	target, ok := c.knownElems(n, 1)
	if !ok {
		if x.RankKnown && sh.RankKnown && len(sh.Shape) == 1 && sh.Shape[0].Known() {
			c.setOutRank(n, 0, x.DType, max(len(x.Shape), int(sh.Shape[0].Size)))
		} else {
			c.setOutUnranked(n, 0, x.DType)
		}
		return nil
	}
	ts := make(Shape, len(target))
	for i, t := range target {
		ts[i] = t.dim()
	}
	if !x.RankKnown {
		c.setOutRank(n, 0, x.DType, -1)
		return nil
	}
	out, err := broadcastShapes(x.Shape, ts)
	if err != nil {
		return fmt.Errorf("input %s cannot expand to %s: %w", x.Shape, ts, err)
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferTile(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x := vs[0]
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	reps, ok := c.knownInts(n, 1)
	if !ok {
		c.setOutRank(n, 0, x.DType, len(x.Shape))
		return nil
	}
	if len(reps) != len(x.Shape) {
		return fmt.Errorf("repeats %v do not match input %s", reps, x.Shape)
	}
	out := make(Shape, len(reps))
	for i, r := range reps {
		if r < 0 {
			return fmt.Errorf("repeats %v has a negative count", reps)
		}
		out[i] = mapDim(x.Shape[i], func(d int64) int64 { return d * r }, r == 1)
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferPad(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x := vs[0]
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	r := len(x.Shape)
	pads, ok := c.knownInts(n, 1)
	if !ok {
		c.setOutRank(n, 0, x.DType, r)
		return nil
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a, err := c.in(n, 3); err != nil {
		return err
	} else if a != nil {
		raw, ok := c.knownInts(n, 3)
		if !ok {
			c.setOutRank(n, 0, x.DType, r)
			return nil
		}
		if axes, err = normAxes(raw, r); err != nil {
			return fmt.Errorf("input %s: %w", x.Shape, err)
		}
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("pads %v do not match %d axes of input %s", pads, len(axes), x.Shape)
	}
	out := append(Shape{}, x.Shape...)
	for i, a := range axes {
		add := pads[i] + pads[len(axes)+i]
		out[a] = mapDim(x.Shape[a], func(d int64) int64 { return d + add }, add == 0)
		if out[a].Known() && out[a].Size < 0 {
			return fmt.Errorf("pads %v make axis %d of input %s negative", pads, a, x.Shape)
		}
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

// blockDims reads DepthToSpace/SpaceToDepth's input: NCHW and the block size.
func blockDims(c *inferCtx, n *Node) (*Value, int64, error) {
	x, err := c.req(n, 0)
	if err != nil {
		return nil, 0, err
	}
	b := n.AttrInt("blocksize", 0)
	if b < 1 {
		return nil, 0, fmt.Errorf("blocksize %d < 1", b)
	}
	if x.RankKnown && len(x.Shape) != 4 {
		return nil, 0, fmt.Errorf("input %s must have rank 4", x.Shape)
	}
	return x, b, nil
}

func inferDepthToSpace(c *inferCtx, n *Node) error {
	x, b, err := blockDims(c, n)
	if err != nil {
		return err
	}
	s := shapeOrUnknown(x, 4)
	if s[1].Known() && s[1].Size%(b*b) != 0 {
		return fmt.Errorf("input %s: %d channels do not divide by blocksize^2 = %d", s, s[1].Size, b*b)
	}
	mul := func(d int64) int64 { return d * b }
	c.setOut(n, 0, x.DType, Shape{s[0], mapDim(s[1], func(d int64) int64 { return d / (b * b) }, b == 1),
		mapDim(s[2], mul, b == 1), mapDim(s[3], mul, b == 1)})
	return nil
}

func inferSpaceToDepth(c *inferCtx, n *Node) error {
	x, b, err := blockDims(c, n)
	if err != nil {
		return err
	}
	s := shapeOrUnknown(x, 4)
	for _, d := range s[2:] {
		if d.Known() && d.Size%b != 0 {
			return fmt.Errorf("input %s: spatial dims do not divide by blocksize %d", s, b)
		}
	}
	div := func(d int64) int64 { return d / b }
	c.setOut(n, 0, x.DType, Shape{s[0], mapDim(s[1], func(d int64) int64 { return d * b * b }, b == 1),
		mapDim(s[2], div, b == 1), mapDim(s[3], div, b == 1)})
	return nil
}
