package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(shapeOp, "Shape")
	register(sizeOp, "Size")
	register(reshapeOp, "Reshape")
	register(flattenOp, "Flatten")
	register(squeezeOp, "Squeeze")
	register(unsqueezeOp, "Unsqueeze")
	register(identityOp, "Identity")
	register(dropoutOp, "Dropout")
	register(constantOp, "Constant")
	register(constantOfShapeOp, "ConstantOfShape")
	register(rangeOp, "Range")
	register(nonZeroOp, "NonZero")
}

func shapeOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	r := int64(len(x.Shape))
	start, end := c.node.AttrInt("start", 0), c.node.AttrInt("end", r)
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start, end = min(max(start, 0), r), min(max(end, 0), r)
	d := []int64{}
	for i := start; i < end; i++ {
		d = append(d, int64(x.Shape[i]))
	}
	c.out[0] = tensor.FromInt64([]int{len(d)}, d)
	return nil
}

func sizeOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	c.out[0] = tensor.FromInt64(nil, []int64{int64(x.Len())})
	return nil
}

func reshapeTo(x *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	t, err := x.Reshaped(shape)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func reshapeOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	spec, ok, err := c.intsIn(1)
	if err != nil || !ok {
		return fmt.Errorf("shape input: %v", err)
	}
	allowZero := c.node.AttrInt("allowzero", 0) != 0
	shape := make([]int, len(spec))
	infer := -1
	known := 1
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s == 0 && !allowZero:
			if i >= len(x.Shape) {
				return fmt.Errorf("shape %v copies dim %d, input %v has rank %d", spec, i, x.Shape, len(x.Shape))
			}
			shape[i] = x.Shape[i]
		case s < 0:
			return fmt.Errorf("shape %v has a negative dim", spec)
		default:
			shape[i] = int(s)
		}
		known *= shape[i]
	}
	if infer >= 0 {
		if known == 0 || x.Len()%known != 0 {
			return fmt.Errorf("cannot reshape %v into %v", x.Shape, spec)
		}
		shape[infer] = x.Len() / known
	}
	t, err := reshapeTo(x, shape)
	if err != nil {
		return err
	}
	c.out[0] = t
	return nil
}

func flattenOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	a := c.node.AttrInt("axis", 1)
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a > int64(r) {
		return fmt.Errorf("axis %d out of range for rank %d", c.node.AttrInt("axis", 1), r)
	}
	outer := tensor.NumElements(x.Shape[:a])
	t, err := reshapeTo(x, []int{outer, tensor.NumElements(x.Shape[a:])})
	if err != nil {
		return err
	}
	c.out[0] = t
	return nil
}

func squeezeOp(c *opCtx) error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	axes, given, err := c.intsIn(1)
	if err != nil {
		return err
	}
	drop := make([]bool, len(x.Shape))
	if given {
		ax, err := ref.NormalizeAxes(axes, len(x.Shape))
		if err != nil {
			return err
		}
		for _, a := range ax {
			if x.Shape[a] != 1 {
				return fmt.Errorf("cannot squeeze axis %d of shape %v", a, x.Shape)
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	var shape []int
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	t, err := reshapeTo(x, shape)
	if err != nil {
		return err
	}
	c.out[0] = t
	return nil
}

func unsqueezeOp(c *opCtx) error {
	if err := c.arity(2, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	axes, given, err := c.intsIn(1)
	if err != nil || !given {
		return fmt.Errorf("axes input: %v", err)
	}
	r := len(x.Shape) + len(axes)
	ax, err := ref.NormalizeAxes(axes, r)
	if err != nil {
		return err
	}
	ins := make([]bool, r)
	for _, a := range ax {
		ins[a] = true
	}
	shape := make([]int, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.Shape[j])
			j++
		}
	}
	t, err := reshapeTo(x, shape)
	if err != nil {
		return err
	}
	c.out[0] = t
	return nil
}

func identityOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	c.out[0] = x
	return nil
}

func dropoutOp(c *opCtx) error {
	if err := c.arity(1, 3); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	if t := c.opt(2); t != nil {
		if b := t.Bools(); len(b) == 1 && b[0] {
			return fmt.Errorf("training_mode=true is not supported (inference only)")
		}
	}
	c.out[0] = x
	if len(c.out) > 1 {
		mask := make([]bool, x.Len())
		for i := range mask {
			mask[i] = true
		}
		c.out[1] = tensor.FromBool(x.Shape, mask)
	}
	return nil
}

func constantOp(c *opCtx) error {
	n := c.node
	if t := n.AttrTensor("value"); t != nil {
		c.out[0] = t
		return nil
	}
	if a, ok := n.Attrs["value_float"]; ok {
		c.out[0] = tensor.FromFloat32(nil, []float32{a.Float})
		return nil
	}
	if a, ok := n.Attrs["value_floats"]; ok {
		c.out[0] = tensor.FromFloat32([]int{len(a.Floats)}, append([]float32(nil), a.Floats...))
		return nil
	}
	if a, ok := n.Attrs["value_int"]; ok {
		c.out[0] = tensor.FromInt64(nil, []int64{a.Int})
		return nil
	}
	if a, ok := n.Attrs["value_ints"]; ok {
		c.out[0] = tensor.FromInt64([]int{len(a.Ints)}, append([]int64(nil), a.Ints...))
		return nil
	}
	return fmt.Errorf("no value attribute (value, value_float(s), value_int(s))")
}

func constantOfShapeOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	dims, _, err := c.intsIn(0)
	if err != nil || dims == nil {
		return fmt.Errorf("shape input: %v", err)
	}
	shape := toInts(dims)
	v := c.node.AttrTensor("value")
	if v == nil {
		v = tensor.FromFloat32([]int{1}, []float32{0})
	}
	if v.Len() != 1 {
		return fmt.Errorf("value attribute has %d elements, want 1", v.Len())
	}
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dim in shape %v", shape)
		}
	}
	out, err := (&moveOp{kind: mvExpand, shape: shape}).run(&tensor.Tensor{DType: v.DType, Shape: nil, Data: v.Data})
	if err != nil {
		return err
	}
	c.out[0] = out[0]
	return nil
}

func rangeOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	var ts [3]*tensor.Tensor
	for i := range ts {
		t, err := c.req(i)
		if err != nil {
			return err
		}
		if t.Len() != 1 {
			return fmt.Errorf("input %d has shape %v, want a scalar", i, t.Shape)
		}
		ts[i] = t
	}
	dt := ts[0].DType
	if dt.IsFloat() {
		var v [3]float64
		for i, t := range ts {
			f, err := scalarFloat(t)
			if err != nil {
				return err
			}
			v[i] = f
		}
		if v[2] == 0 {
			return fmt.Errorf("delta is 0")
		}
		n := max(0, int(ceilDiv(v[1]-v[0], v[2])))
		d := make([]float64, n)
		for i := range d {
			d[i] = v[0] + float64(i)*v[2]
		}
		out, err := ref.Cast(&tensor.Tensor{DType: tensor.Float64, Shape: []int{n}, Data: d}, dt)
		if err != nil {
			return err
		}
		c.out[0] = out
		return nil
	}
	var v [3]int64
	for i, t := range ts {
		x, err := ints(t)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		v[i] = x[0]
	}
	if v[2] == 0 {
		return fmt.Errorf("delta is 0")
	}
	n := max(0, int((v[1]-v[0]+v[2]-sign64(v[2]))/v[2]))
	d := make([]int64, n)
	for i := range d {
		d[i] = v[0] + int64(i)*v[2]
	}
	out, err := ref.Cast(tensor.FromInt64([]int{n}, d), dt)
	if err != nil {
		return err
	}
	c.out[0] = out
	return nil
}

func sign64(v int64) int64 {
	if v < 0 {
		return -1
	}
	return 1
}

func ceilDiv(a, b float64) float64 {
	q := a / b
	if q != float64(int64(q)) && q > 0 {
		return float64(int64(q) + 1)
	}
	return float64(int64(q))
}

func nonZeroOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	b, err := ref.Cast(x, tensor.Bool)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	st := ref.Strides(x.Shape)
	var hits []int
	for i, v := range b.Bools() {
		if v {
			hits = append(hits, i)
		}
	}
	out := make([]int64, r*len(hits))
	for j, h := range hits {
		for k := 0; k < r; k++ {
			out[k*len(hits)+j] = int64(h / st[k] % x.Shape[k])
		}
	}
	c.out[0] = tensor.FromInt64([]int{r, len(hits)}, out)
	return nil
}
