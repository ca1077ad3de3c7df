package cpu

import (
	"fmt"
	"sort"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// opFunc runs one node: it reads c.in and sets c.out.
type opFunc func(c *opCtx) error

// opTable is every op the executor implements; op family files add to it in init.
var opTable = map[string]opFunc{}

func register(f opFunc, ops ...string) {
	for _, op := range ops {
		opTable[op] = f
	}
}

// SupportedOps lists the op types Run implements, sorted.
func SupportedOps() []string {
	ops := make([]string, 0, len(opTable))
	for op := range opTable {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// opCtx is one node's execution: inputs (nil where omitted), outputs to set.
type opCtx struct {
	node   *graph.Node
	r      *runner
	env    *env
	in     []*tensor.Tensor
	out    []*tensor.Tensor
	act    ref.Activation // epilogue fused by the executor (Conv, ConvTranspose)
	g      *graph.Graph   // the graph the node belongs to (its initializers), or nil
	folded bool           // input 1 holds conv weights with a BatchNormalization folded in
}

// alloc returns a float32 buffer of n elements with arbitrary contents for an output the op
// writes in full; it may be recycled once every value holding it has died.
func (c *opCtx) alloc(n int) []float32 { return c.r.bufs.alloc(n) }

// arity checks the number of inputs given (including omitted trailing ones).
func (c *opCtx) arity(lo, hi int) error {
	n := len(c.in)
	if n < lo || (hi >= 0 && n > hi) {
		if hi == lo {
			return fmt.Errorf("takes %d inputs, got %d", lo, n)
		}
		if hi < 0 {
			return fmt.Errorf("takes at least %d inputs, got %d", lo, n)
		}
		return fmt.Errorf("takes %d to %d inputs, got %d", lo, hi, n)
	}
	return nil
}

// opt returns input i or nil when it is absent.
func (c *opCtx) opt(i int) *tensor.Tensor {
	if i < len(c.in) {
		return c.in[i]
	}
	return nil
}

// req returns input i or an error when it is absent.
func (c *opCtx) req(i int) (*tensor.Tensor, error) {
	if t := c.opt(i); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("input %d is required", i)
}

// f32 returns input i as float32 data (required).
func (c *opCtx) f32(i int) (*tensor.Tensor, []float32, error) {
	t, err := c.req(i)
	if err != nil {
		return nil, nil, err
	}
	d := t.Float32s()
	if t.DType != tensor.Float32 || d == nil {
		return nil, nil, fmt.Errorf("input %d has element type %v, want float32", i, t.DType)
	}
	return t, d, nil
}

// ints reads an integer tensor (int64, int32, ...) as []int64.
func ints(t *tensor.Tensor) ([]int64, error) {
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []int16, []int8, []uint8:
		c, err := ref.Cast(t, tensor.Int64)
		if err != nil {
			return nil, err
		}
		return c.Int64s(), nil
	}
	return nil, fmt.Errorf("element type %v is not an integer type", t.DType)
}

// intsIn reads input i as []int64; ok is false when it is absent.
func (c *opCtx) intsIn(i int) ([]int64, bool, error) {
	t := c.opt(i)
	if t == nil {
		return nil, false, nil
	}
	v, err := ints(t)
	if err != nil {
		return nil, true, fmt.Errorf("input %d: %w", i, err)
	}
	return v, true, nil
}

// scalarFloat reads a one-element tensor of any numeric type as float64.
func scalarFloat(t *tensor.Tensor) (float64, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("expected one element, got shape %v", t.Shape)
	}
	f, err := ref.Cast(t, tensor.Float64)
	if err != nil {
		return 0, err
	}
	return f.Float64s()[0], nil
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func attrInts(n *graph.Node, name string) []int {
	v := n.AttrInts(name, nil)
	if v == nil {
		return nil
	}
	return toInts(v)
}

// axis normalizes an axis attribute/value for rank r.
func axis(a int64, r int) (int, error) {
	if a < -int64(r) || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

func f32Tensor(shape []int, d []float32) *tensor.Tensor { return tensor.FromFloat32(shape, d) }

// isHalf reports float16/bfloat16, which math ops compute in float32.
func isHalf(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// upcast returns t as float32 when it is float16/bfloat16, else t.
func upcast(t *tensor.Tensor) (*tensor.Tensor, error) {
	if t == nil || !isHalf(t.DType) {
		return t, nil
	}
	return ref.Cast(t, tensor.Float32)
}

// halfWrap runs f with float16/bfloat16 inputs upcast to float32 and casts float32 outputs
// back to the half type of the first half input.
func halfWrap(f opFunc) opFunc {
	return func(c *opCtx) error {
		var half tensor.DType
		for i, t := range c.in {
			if t != nil && isHalf(t.DType) {
				if half == tensor.Undefined {
					half = t.DType
				}
				u, err := upcast(t)
				if err != nil {
					return err
				}
				c.in[i] = u
			}
		}
		if err := f(c); err != nil || half == tensor.Undefined {
			return err
		}
		for i, t := range c.out {
			if t != nil && t.DType == tensor.Float32 {
				d, err := ref.Cast(t, half)
				if err != nil {
					return err
				}
				c.out[i] = d
			}
		}
		return nil
	}
}
