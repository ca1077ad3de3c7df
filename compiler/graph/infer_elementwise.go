package graph

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// elementwiseInfer: ops whose output has the input's shape, or the broadcast of the inputs'.
var elementwiseInfer = withOps(map[string]inferFunc{
	// Comparisons and logic: broadcast, bool out.
	"Equal": inferCompare, "Less": inferCompare, "Greater": inferCompare,
	"LessOrEqual": inferCompare, "GreaterOrEqual": inferCompare,
	"And": inferLogic, "Or": inferLogic, "Xor": inferLogic,
	// Arithmetic: broadcast, same type.
	"Add": inferBinary, "Sub": inferBinary, "Mul": inferBinary, "Div": inferBinary,
	"Mod": inferBinary, "BitwiseAnd": inferBinary, "BitwiseOr": inferBinary,
	"BitwiseXor": inferBinary, "BitShift": inferBinary,
	"Pow":   inferPow,
	"PRelu": inferPow, // slope broadcasts to X; the output is X's type
	"Max":   inferVariadic, "Min": inferVariadic, "Sum": inferVariadic, "Mean": inferVariadic,
	"Where":    inferWhere,
	"Cast":     inferCast,
	"CastLike": inferCastLike,
	"Clip":     inferUnary, // min and max are scalars
	"Not":      inferUnary, "IsNaN": inferUnaryBool, "IsInf": inferUnaryBool,
	"Dropout":          inferDropout,
	"QuantizeLinear":   inferQuantize,
	"DequantizeLinear": inferDequantize,
	"DynamicQuantizeLinear": func(c *inferCtx, n *Node) error {
		x, err := c.req(n, 0)
		if err != nil {
			return err
		}
		c.setOutLike(n, 0, &Value{DType: tensor.Uint8, Shape: x.Shape, RankKnown: x.RankKnown})
		c.setOut(n, 1, tensor.Float32, Shape{})
		c.setOut(n, 2, tensor.Uint8, Shape{})
		return nil
	},
}, inferUnary,
	"Identity", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
	"Sqrt", "Log", "Exp", "Neg", "Abs", "Erf", "Gelu", "Softplus", "Softsign", "Elu",
	"Selu", "Celu", "ThresholdedRelu", "Reciprocal", "Floor", "Ceil", "Round", "Sign",
	"Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
	"Mish", "Shrink", "Softmax", "LogSoftmax", "Hardmax", "CumSum", "Trilu", "BitwiseNot",
	"LRN", "InstanceNormalization", "MeanVarianceNormalization", "LpNormalization",
	"GroupNormalization", "ReverseSequence", "ScatterND", "ScatterElements", "Scatter",
)

// withOps adds ops to table, all inferred by f.
func withOps(table map[string]inferFunc, f inferFunc, ops ...string) map[string]inferFunc {
	for _, op := range ops {
		table[op] = f
	}
	return table
}

// inferUnary: output 0 is input 0's type and shape.
func inferUnary(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	c.setOutLike(n, 0, x)
	return nil
}

func inferUnaryBool(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	c.setOutLike(n, 0, &Value{DType: tensor.Bool, Shape: x.Shape, RankKnown: x.RankKnown})
	return nil
}

// sameTypes fails when two inputs' element types are both known and differ.
func sameTypes(vs ...*Value) (tensor.DType, error) {
	dt := tensor.Undefined
	for _, v := range vs {
		if v == nil || v.DType == tensor.Undefined {
			continue
		}
		if dt != tensor.Undefined && v.DType != dt {
			return dt, fmt.Errorf("inputs of element types %v and %v must match", dt, v.DType)
		}
		dt = v.DType
	}
	return dt, nil
}

// broadcastOut records output 0 as the broadcast of vs with element type dt.
func (c *inferCtx) broadcastOut(n *Node, dt tensor.DType, vs ...*Value) error {
	s, ok, err := broadcastValues(vs...)
	if err != nil {
		return err
	}
	if !ok {
		c.setOutUnranked(n, 0, dt)
		return nil
	}
	c.setOut(n, 0, dt, s)
	return nil
}

func inferBinary(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	dt, err := sameTypes(vs...)
	if err != nil {
		return err
	}
	return c.broadcastOut(n, dt, vs...)
}

func inferPow(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	return c.broadcastOut(n, vs[0].DType, vs...)
}

func inferCompare(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	if _, err := sameTypes(vs...); err != nil {
		return err
	}
	return c.broadcastOut(n, tensor.Bool, vs...)
}

func inferLogic(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	return c.broadcastOut(n, tensor.Bool, vs...)
}

func inferVariadic(c *inferCtx, n *Node) error {
	var vs []*Value
	for i := range n.Inputs {
		v, err := c.in(n, i)
		if err != nil {
			return err
		}
		if v != nil {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return fmt.Errorf("needs at least one input")
	}
	dt, err := sameTypes(vs...)
	if err != nil {
		return err
	}
	return c.broadcastOut(n, dt, vs...)
}

func inferWhere(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 3)
	if err != nil {
		return err
	}
	if vs[0].DType != tensor.Undefined && vs[0].DType != tensor.Bool {
		return fmt.Errorf("condition is %v, not bool", vs[0].DType)
	}
	dt, err := sameTypes(vs[1], vs[2])
	if err != nil {
		return err
	}
	return c.broadcastOut(n, dt, vs...)
}

// onnxDType maps ONNX's TensorProto.DataType to the engine's element types (Undefined for
// types the engine does not hold).
func onnxDType(t int64) tensor.DType {
	switch t {
	case 1:
		return tensor.Float32
	case 2:
		return tensor.Uint8
	case 3:
		return tensor.Int8
	case 5:
		return tensor.Int16
	case 6:
		return tensor.Int32
	case 7:
		return tensor.Int64
	case 9:
		return tensor.Bool
	case 10:
		return tensor.Float16
	case 11:
		return tensor.Float64
	case 16:
		return tensor.BFloat16
	}
	return tensor.Undefined
}

func inferCast(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	to := n.AttrInt("to", 0)
	dt := onnxDType(to)
	if dt == tensor.Undefined {
		return fmt.Errorf("cast to ONNX element type %d is not supported", to)
	}
	c.setOutLike(n, 0, &Value{DType: dt, Shape: x.Shape, RankKnown: x.RankKnown})
	return nil
}

func inferCastLike(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	c.setOutLike(n, 0, &Value{DType: vs[1].DType, Shape: vs[0].Shape, RankKnown: vs[0].RankKnown})
	return nil
}

// inferDropout: inference-time identity; the optional mask is bool of the same shape.
func inferDropout(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	c.setOutLike(n, 0, x)
	c.setOutLike(n, 1, &Value{DType: tensor.Bool, Shape: x.Shape, RankKnown: x.RankKnown})
	return nil
}

func inferQuantize(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	dt := tensor.Uint8
	if zp, err := c.in(n, 2); err != nil {
		return err
	} else if zp != nil && zp.DType != tensor.Undefined {
		dt = zp.DType
	}
	if to := n.AttrInt("output_dtype", 0); to != 0 {
		dt = onnxDType(to)
	}
	c.setOutLike(n, 0, &Value{DType: dt, Shape: x.Shape, RankKnown: x.RankKnown})
	return nil
}

func inferDequantize(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	scale, err := c.req(n, 1)
	if err != nil {
		return err
	}
	dt := scale.DType
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	c.setOutLike(n, 0, &Value{DType: dt, Shape: x.Shape, RankKnown: x.RankKnown})
	return nil
}
