package graph

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// reduceInfer: reductions over axes (canonical form: axes as input 1) and arg-reductions.
var reduceInfer = withOps(map[string]inferFunc{
	"ArgMax": inferArgReduce,
	"ArgMin": inferArgReduce,
	"TopK":   inferTopK,
}, inferReduce, "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1",
	"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")

func inferReduce(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	keep := n.AttrInt("keepdims", 1) != 0
	axesV, err := c.in(n, 1)
	if err != nil {
		return err
	}
	axes, known := c.knownInts(n, 1)
	if axesV == nil {
		axes, known = nil, true
	}
	if !known {
		switch {
		case !x.RankKnown:
			c.setOutUnranked(n, 0, x.DType)
		case keep:
			c.setOutRank(n, 0, x.DType, len(x.Shape))
		case axesV.RankKnown && len(axesV.Shape) == 1 && axesV.Shape[0].Known():
			c.setOutRank(n, 0, x.DType, len(x.Shape)-int(axesV.Shape[0].Size))
		default:
			c.setOutUnranked(n, 0, x.DType)
		}
		return nil
	}
	if len(axes) == 0 && n.AttrInt("noop_with_empty_axes", 0) != 0 {
		c.setOutLike(n, 0, x)
		return nil
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	r := len(x.Shape)
	reduced := make([]bool, r)
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	} else {
		ax, err := normAxes(axes, r)
		if err != nil {
			return fmt.Errorf("input %s: %w", x.Shape, err)
		}
		for _, a := range ax {
			reduced[a] = true
		}
	}
	out := Shape{}
	for i, d := range x.Shape {
		switch {
		case !reduced[i]:
			out = append(out, d)
		case keep:
			out = append(out, D(1))
		}
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferArgReduce(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, tensor.Int64)
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	out := Shape{}
	for i, d := range x.Shape {
		switch {
		case i != axis:
			out = append(out, d)
		case n.AttrInt("keepdims", 1) != 0:
			out = append(out, D(1))
		}
	}
	c.setOut(n, 0, tensor.Int64, out)
	return nil
}

// inferTopK: values and indices take X's shape with the axis dim replaced by K.
func inferTopK(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if _, err := c.req(n, 1); err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		c.setOutUnranked(n, 1, tensor.Int64)
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	out := append(Shape{}, x.Shape...)
	out[axis] = Unknown()
	if k, ok := c.knownInts(n, 1); ok && len(k) == 1 {
		if x.Shape[axis].Known() && k[0] > x.Shape[axis].Size {
			return fmt.Errorf("k=%d exceeds dim %d of input %s", k[0], x.Shape[axis].Size, x.Shape)
		}
		out[axis] = D(k[0])
	}
	c.setOut(n, 0, x.DType, out)
	c.setOut(n, 1, tensor.Int64, out)
	return nil
}
