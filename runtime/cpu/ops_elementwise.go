package cpu

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	for name, op := range map[string]ref.BinaryOp{"Add": ref.Add, "Sub": ref.Sub, "Mul": ref.Mul, "Div": ref.Div, "Pow": ref.Pow, "PRelu": ref.PRelu} {
		register(halfWrap(binaryOp(op)), name)
	}
	register(halfWrap(modOp), "Mod")
	for name, op := range map[string]ref.BinaryOp{"Max": ref.Max, "Min": ref.Min, "Sum": ref.Add, "Mean": ref.Add} {
		register(halfWrap(variadicOp(op, name == "Mean")), name)
	}
	for name, op := range map[string]ref.CompareOp{"Equal": ref.Equal, "Less": ref.Less, "LessOrEqual": ref.LessOrEqual, "Greater": ref.Greater, "GreaterOrEqual": ref.GreaterOrEqual} {
		register(halfWrap(compareOp(op)), name)
	}
	for name, op := range map[string]ref.LogicOp{"And": ref.And, "Or": ref.Or, "Xor": ref.Xor} {
		register(logicOp(op), name)
	}
	register(notOp, "Not")
	register(whereOp, "Where")
	register(castOp, "Cast", "CastLike")
	register(halfWrap(isNaNOp), "IsNaN")
	register(halfWrap(isInfOp), "IsInf")
}

func mk[T any](dt tensor.DType, d []T, shape []int, err error) (*tensor.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: d}, nil
}

func sameType(a, b *tensor.Tensor) error {
	if a.DType != b.DType {
		return fmt.Errorf("input element types %v and %v differ", a.DType, b.DType)
	}
	return nil
}

// binaryT applies op to two tensors of one numeric type with broadcasting.
func binaryT(op ref.BinaryOp, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	switch av := a.Data.(type) {
	case []float32:
		return mkFn[float32](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]float32), b.Shape))
	case []float64:
		return mkFn[float64](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]float64), b.Shape))
	case []int64:
		return mkFn[int64](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]int64), b.Shape))
	case []int32:
		return mkFn[int32](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]int32), b.Shape))
	case []int16:
		return mkFn[int16](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]int16), b.Shape))
	case []int8:
		return mkFn[int8](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]int8), b.Shape))
	case []uint8:
		return mkFn[uint8](a.DType)(ref.Binary(op, av, a.Shape, b.Data.([]uint8), b.Shape))
	}
	return nil, fmt.Errorf("%v is not defined on element type %v", op, a.DType)
}

// mkFn adapts a (data, shape, err) result into a tensor of dt.
func mkFn[T any](dt tensor.DType) func([]T, []int, error) (*tensor.Tensor, error) {
	return func(d []T, s []int, err error) (*tensor.Tensor, error) { return mk(dt, d, s, err) }
}

func binaryOp(op ref.BinaryOp) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(2, 2); err != nil {
			return err
		}
		a, err := c.req(0)
		if err != nil {
			return err
		}
		b, err := c.req(1)
		if err != nil {
			return err
		}
		if op == ref.Pow && a.DType != b.DType {
			if b, err = ref.Cast(b, a.DType); err != nil {
				return err
			}
		}
		if av, ok := a.Data.([]float32); ok && b.DType == tensor.Float32 {
			oshape, err := ref.BroadcastShape(a.Shape, b.Shape)
			if err != nil {
				return err
			}
			d, s, err := ref.BinaryInto(op, av, a.Shape, b.Float32s(), b.Shape, c.alloc(tensor.NumElements(oshape)))
			if err != nil {
				return err
			}
			c.out[0] = f32Tensor(s, d)
			return nil
		}
		out, err := binaryT(op, a, b)
		if err != nil {
			return err
		}
		c.out[0] = out
		return nil
	}
}

func modOp(c *opCtx) error {
	op := ref.Mod
	if c.node.AttrInt("fmod", 0) != 0 {
		op = ref.FMod
	}
	return binaryOp(op)(c)
}

func variadicOp(op ref.BinaryOp, mean bool) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(1, -1); err != nil {
			return err
		}
		acc, err := c.req(0)
		if err != nil {
			return err
		}
		for i := 1; i < len(c.in); i++ {
			b, err := c.req(i)
			if err != nil {
				return err
			}
			if acc, err = binaryT(op, acc, b); err != nil {
				return fmt.Errorf("input %d: %w", i, err)
			}
		}
		if len(c.in) == 1 {
			acc = acc.Clone()
		}
		if mean {
			n, err := ref.Cast(&tensor.Tensor{DType: tensor.Float64, Shape: nil, Data: []float64{float64(len(c.in))}}, acc.DType)
			if err != nil {
				return err
			}
			if acc, err = binaryT(ref.Div, acc, n); err != nil {
				return err
			}
		}
		c.out[0] = acc
		return nil
	}
}

func compareOp(op ref.CompareOp) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(2, 2); err != nil {
			return err
		}
		a, err := c.req(0)
		if err != nil {
			return err
		}
		b, err := c.req(1)
		if err != nil {
			return err
		}
		if err := sameType(a, b); err != nil {
			return err
		}
		var d []bool
		var s []int
		switch av := a.Data.(type) {
		case []float32:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]float32), b.Shape)
		case []float64:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]float64), b.Shape)
		case []int64:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]int64), b.Shape)
		case []int32:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]int32), b.Shape)
		case []int16:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]int16), b.Shape)
		case []int8:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]int8), b.Shape)
		case []uint8:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]uint8), b.Shape)
		case []bool:
			d, s, err = ref.Compare(op, av, a.Shape, b.Data.([]bool), b.Shape)
		default:
			return fmt.Errorf("comparison is not defined on element type %v", a.DType)
		}
		if err != nil {
			return err
		}
		c.out[0] = tensor.FromBool(s, d)
		return nil
	}
}

func boolIn(c *opCtx, i int) (*tensor.Tensor, []bool, error) {
	t, err := c.req(i)
	if err != nil {
		return nil, nil, err
	}
	if t.DType != tensor.Bool {
		return nil, nil, fmt.Errorf("input %d has element type %v, want bool", i, t.DType)
	}
	return t, t.Bools(), nil
}

func logicOp(op ref.LogicOp) opFunc {
	return func(c *opCtx) error {
		if err := c.arity(2, 2); err != nil {
			return err
		}
		a, ad, err := boolIn(c, 0)
		if err != nil {
			return err
		}
		b, bd, err := boolIn(c, 1)
		if err != nil {
			return err
		}
		d, s, err := ref.Logic(op, ad, a.Shape, bd, b.Shape)
		if err != nil {
			return err
		}
		c.out[0] = tensor.FromBool(s, d)
		return nil
	}
}

func notOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	a, ad, err := boolIn(c, 0)
	if err != nil {
		return err
	}
	d := make([]bool, len(ad))
	for i, v := range ad {
		d[i] = !v
	}
	c.out[0] = tensor.FromBool(a.Shape, d)
	return nil
}

func whereOp(c *opCtx) error {
	if err := c.arity(3, 3); err != nil {
		return err
	}
	cond, cd, err := boolIn(c, 0)
	if err != nil {
		return err
	}
	x, err := c.req(1)
	if err != nil {
		return err
	}
	y, err := c.req(2)
	if err != nil {
		return err
	}
	if err := sameType(x, y); err != nil {
		return err
	}
	out, err := (&moveOp{kind: mvWhere, cond: cd, condShape: cond.Shape, others: []*tensor.Tensor{y}}).run(x)
	if err != nil {
		return err
	}
	c.out[0] = out[0]
	return nil
}

func castOp(c *opCtx) error {
	if err := c.arity(1, 2); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	to := tensor.Undefined
	if c.node.Op == "CastLike" {
		like, err := c.req(1)
		if err != nil {
			return err
		}
		to = like.DType
	} else {
		dt, err := onnxDType(c.node.AttrInt("to", 0))
		if err != nil {
			return err
		}
		to = dt
	}
	out, err := ref.Cast(x, to)
	if err != nil {
		return err
	}
	c.out[0] = out
	return nil
}

// onnxDType maps an ONNX TensorProto.DataType code to a DType.
func onnxDType(code int64) (tensor.DType, error) {
	switch code {
	case 1:
		return tensor.Float32, nil
	case 2:
		return tensor.Uint8, nil
	case 3:
		return tensor.Int8, nil
	case 5:
		return tensor.Int16, nil
	case 6:
		return tensor.Int32, nil
	case 7:
		return tensor.Int64, nil
	case 9:
		return tensor.Bool, nil
	case 10:
		return tensor.Float16, nil
	case 11:
		return tensor.Float64, nil
	case 16:
		return tensor.BFloat16, nil
	}
	return tensor.Undefined, fmt.Errorf("ONNX data type %d is not supported", code)
}

func isNaNOp(c *opCtx) error {
	return floatPredicate(c, func(v float64) bool { return v != v })
}

func isInfOp(c *opCtx) error {
	pos := c.node.AttrInt("detect_positive", 1) != 0
	neg := c.node.AttrInt("detect_negative", 1) != 0
	return floatPredicate(c, func(v float64) bool { return (pos && math.IsInf(v, 1)) || (neg && math.IsInf(v, -1)) })
}

func floatPredicate(c *opCtx, f func(float64) bool) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	x, err := c.req(0)
	if err != nil {
		return err
	}
	if !x.DType.IsFloat() {
		return fmt.Errorf("input has element type %v, want a float type", x.DType)
	}
	d64, err := ref.Cast(x, tensor.Float64)
	if err != nil {
		return err
	}
	out := make([]bool, x.Len())
	for i, v := range d64.Float64s() {
		out[i] = f(v)
	}
	c.out[0] = tensor.FromBool(x.Shape, out)
	return nil
}
