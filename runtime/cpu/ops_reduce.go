package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

var reduceOps = map[string]ref.ReduceOp{
	"ReduceSum": ref.ReduceSum, "ReduceMean": ref.ReduceMean, "ReduceMax": ref.ReduceMax,
	"ReduceMin": ref.ReduceMin, "ReduceProd": ref.ReduceProd, "ReduceL1": ref.ReduceL1,
	"ReduceL2": ref.ReduceL2, "ReduceSumSquare": ref.ReduceSumSquare,
	"ReduceLogSum": ref.ReduceLogSum, "ReduceLogSumExp": ref.ReduceLogSumExp,
}

func init() {
	for name, op := range reduceOps {
		register(halfWrap(reduceOp(op)), name)
	}
	register(halfWrap(argOp), "ArgMax", "ArgMin")
	register(halfWrap(topKOp), "TopK")
	register(halfWrap(cumSumOp), "CumSum")
}

func reduceOp(op ref.ReduceOp) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(1, 2); err != nil {
			return err
		}
		x, err := c.req(0)
		if err != nil {
			return err
		}
		axes64, given, err := c.intsIn(1)
		if err != nil {
			return err
		}
		if !given {
			axes64 = c.node.AttrInts("axes", nil)
		}
		keep := c.node.AttrInt("keepdims", 1) != 0
		if len(axes64) == 0 && c.node.AttrInt("noop_with_empty_axes", 0) != 0 {
			c.out[0] = x
			return nil
		}
		axes, err := ref.NormalizeAxes(axes64, len(x.Shape))
		if err != nil {
			return err
		}
		if len(axes) == 0 {
			for i := range x.Shape {
				axes = append(axes, i)
			}
		}
		oshape := ref.ReduceShape(x.Shape, axes, keep)
		if oshape == nil {
			oshape = []int{}
		}
		var out any
		switch d := x.Data.(type) {
		case []float32:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		case []float64:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		case []int64:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		case []int32:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		case []uint8:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		case []int8:
			out, err = ref.Reduce(op, d, x.Shape, axes)
		default:
			return fmt.Errorf("not defined on element type %v", x.DType)
		}
		if err != nil {
			return err
		}
		c.out[0] = &tensor.Tensor{DType: x.DType, Shape: oshape, Data: out}
		return nil
	}
}

func argOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
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
	isMax := c.node.Op == "ArgMax"
	last := c.node.AttrInt("select_last_index", 0) != 0
	var out []int64
	switch d := x.Data.(type) {
	case []float32:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	case []float64:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	case []int64:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	case []int32:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	case []uint8:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	case []int8:
		out, err = ref.ArgReduce(d, x.Shape, ax, isMax, last)
	default:
		return fmt.Errorf("not defined on element type %v", x.DType)
	}
	if err != nil {
		return err
	}
	c.out[0] = tensor.FromInt64(ref.ReduceShape(x.Shape, []int{ax}, c.node.AttrInt("keepdims", 1) != 0), out)
	return nil
}

func topKOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	kv, ok, err := c.intsIn(1)
	if err != nil || !ok || len(kv) != 1 {
		return fmt.Errorf("k input must be one integer (%v)", err)
	}
	ax, err := axis(c.node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	largest := c.node.AttrInt("largest", 1) != 0
	sorted := c.node.AttrInt("sorted", 1) != 0
	var vals any
	var idx []int64
	var shape []int
	switch d := x.Data.(type) {
	case []float32:
		vals, idx, shape, err = ref.TopK(d, x.Shape, ax, int(kv[0]), largest, sorted)
	case []float64:
		vals, idx, shape, err = ref.TopK(d, x.Shape, ax, int(kv[0]), largest, sorted)
	case []int64:
		vals, idx, shape, err = ref.TopK(d, x.Shape, ax, int(kv[0]), largest, sorted)
	case []int32:
		vals, idx, shape, err = ref.TopK(d, x.Shape, ax, int(kv[0]), largest, sorted)
	default:
		return fmt.Errorf("not defined on element type %v", x.DType)
	}
	if err != nil {
		return err
	}
	c.out[0] = &tensor.Tensor{DType: x.DType, Shape: shape, Data: vals}
	if len(c.out) > 1 {
		c.out[1] = tensor.FromInt64(shape, idx)
	}
	return nil
}

func cumSumOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	av, ok, err := c.intsIn(1)
	if err != nil || !ok || len(av) != 1 {
		return fmt.Errorf("axis input must be one integer (%v)", err)
	}
	ax, err := axis(av[0], len(x.Shape))
	if err != nil {
		return err
	}
	excl := c.node.AttrInt("exclusive", 0) != 0
	rev := c.node.AttrInt("reverse", 0) != 0
	var out any
	switch d := x.Data.(type) {
	case []float32:
		out, err = ref.CumSum(d, x.Shape, ax, excl, rev)
	case []float64:
		out, err = ref.CumSum(d, x.Shape, ax, excl, rev)
	case []int64:
		out, err = ref.CumSum(d, x.Shape, ax, excl, rev)
	case []int32:
		out, err = ref.CumSum(d, x.Shape, ax, excl, rev)
	default:
		return fmt.Errorf("not defined on element type %v", x.DType)
	}
	if err != nil {
		return err
	}
	c.out[0] = &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: out}
	return nil
}
