package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(halfWrap(lpNormOp), "LpNormalization")
	register(oneHotOp, "OneHot")
	register(triluOp, "Trilu")
}

// lpNormOp is LpNormalization (axis default -1, p default 2).
func lpNormOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	ax, err := axis(c.node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	p := int(c.node.AttrInt("p", 2))
	switch d := x.Data.(type) {
	case []float32:
		out, err := ref.LpNormalize(d, x.Shape, ax, p)
		if err != nil {
			return err
		}
		c.out[0] = f32Tensor(x.Shape, out)
	case []float64:
		out, err := ref.LpNormalize(d, x.Shape, ax, p)
		if err != nil {
			return err
		}
		c.out[0] = &tensor.Tensor{DType: tensor.Float64, Shape: x.Shape, Data: out}
	default:
		return fmt.Errorf("input 0 has element type %v, want a float type", x.DType)
	}
	return nil
}

// oneHotOp is OneHot(indices, depth, values) with attribute axis (default -1).
func oneHotOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	it, err := c.req(0)
	if err != nil {
		return err
	}
	dt, err := c.req(1)
	if err != nil {
		return err
	}
	vals, err := c.req(2)
	if err != nil {
		return err
	}
	var idx []int64
	switch it.DType {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		ct, err := ref.Cast(it, tensor.Int64)
		if err != nil {
			return fmt.Errorf("input 0 (indices): %w", err)
		}
		idx = ct.Int64s()
	default:
		if idx, err = ints(it); err != nil {
			return fmt.Errorf("input 0 (indices): %w", err)
		}
	}
	depth, err := scalarFloat(dt)
	if err != nil {
		return fmt.Errorf("input 1 (depth): %w", err)
	}
	r := len(it.Shape)
	a := c.node.AttrInt("axis", -1)
	if a < -int64(r)-1 || a > int64(r) {
		return fmt.Errorf("axis %d out of range for indices of rank %d", a, r)
	}
	if a < 0 {
		a += int64(r) + 1
	}
	return c.move1To(vals, &moveOp{kind: mvOneHot, idx: idx, ishape: it.Shape, sizes: []int{int(depth)}, axis: int(a)})
}

// triluOp is Trilu(input, k) with attribute upper (default 1).
func triluOp(c *opCtx) error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	k := int64(0)
	if v, ok, err := c.intsIn(1); err != nil {
		return err
	} else if ok {
		if len(v) != 1 {
			return fmt.Errorf("input 1 (k) has %d elements, want 1", len(v))
		}
		k = v[0]
	}
	upper := int(c.node.AttrInt("upper", 1))
	return c.move1To(x, &moveOp{kind: mvTrilu, idx: []int64{k}, axis: upper})
}

// move1To runs m on t and sets the node's outputs.
func (c *opCtx) move1To(t *tensor.Tensor, m *moveOp) error {
	outs, err := m.run(t)
	if err != nil {
		return err
	}
	if len(outs) > len(c.out) {
		return fmt.Errorf("produces %d outputs, node has %d", len(outs), len(c.out))
	}
	copy(c.out, outs)
	return nil
}
