package graph

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// indexInfer: ops that select, join, split or create tensors, and shape queries.
var indexInfer = map[string]inferFunc{
	"Concat":          inferConcat,
	"Split":           inferSplit,
	"Slice":           inferSlice,
	"Gather":          inferGather,
	"GatherElements":  inferGatherElements,
	"GatherND":        inferGatherND,
	"Shape":           inferShape,
	"Size":            func(c *inferCtx, n *Node) error { c.setOut(n, 0, tensor.Int64, Shape{}); return nil },
	"ConstantOfShape": inferConstantOfShape,
	"Range":           inferRange,
	"Constant":        inferConstant,
	"NonZero":         inferNonZero,
	"OneHot":          inferOneHot,
}

func inferConcat(c *inferCtx, n *Node) error {
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
	var out Shape
	for _, v := range vs {
		if v.RankKnown {
			out = append(Shape{}, v.Shape...)
			break
		}
	}
	if out == nil {
		c.setOutUnranked(n, 0, dt)
		return nil
	}
	r := len(out)
	axis, err := normAxis(n.AttrInt("axis", 0), r)
	if err != nil {
		return fmt.Errorf("input %s: %w", out, err)
	}
	sum, allKnown := int64(0), true
	for _, v := range vs {
		if !v.RankKnown {
			allKnown = false
			continue
		}
		if len(v.Shape) != r {
			return fmt.Errorf("inputs %s: ranks differ", valuesStr(vs))
		}
		for i, d := range v.Shape {
			if i == axis {
				if d.Known() {
					sum += d.Size
				} else {
					allKnown = false
				}
				continue
			}
			m, ok := mergeDim(out[i], d)
			if !ok {
				return fmt.Errorf("inputs %s differ on axis %d (concatenating on axis %d)", valuesStr(vs), i, axis)
			}
			out[i] = m
		}
	}
	out[axis] = Unknown()
	if allKnown {
		out[axis] = D(sum)
	} else if len(vs) == 1 {
		out[axis] = vs[0].Shape[axis]
	}
	c.setOut(n, 0, dt, out)
	return nil
}

func valuesStr(vs []*Value) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += shapeStr(v)
	}
	return s
}

func inferSplit(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	k := len(n.Outputs)
	if !x.RankKnown {
		for i := range k {
			c.setOutUnranked(n, i, x.DType)
		}
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	d := x.Shape[axis]
	sizes := make([]Dim, k)
	splitV, err := c.in(n, 1)
	if err != nil {
		return err
	}
	if split, ok := c.knownInts(n, 1); ok && splitV != nil {
		if len(split) != k {
			return fmt.Errorf("split %v does not match %d outputs", split, k)
		}
		sum := int64(0)
		for i, s := range split {
			if s < 0 {
				return fmt.Errorf("split %v has a negative size", split)
			}
			sizes[i] = D(s)
			sum += s
		}
		if d.Known() && d.Size != sum {
			return fmt.Errorf("split %v sums to %d, but axis %d of input %s has %d", split, sum, axis, x.Shape, d.Size)
		}
	} else {
		for i := range sizes {
			sizes[i] = Unknown()
		}
		if splitV == nil && d.Known() && k > 0 {
			chunk := (d.Size + int64(k) - 1) / int64(k)
			for i := range sizes {
				sizes[i] = D(max(0, min(chunk, d.Size-chunk*int64(i))))
			}
		}
	}
	for i := range k {
		out := append(Shape{}, x.Shape...)
		out[axis] = sizes[i]
		c.setOut(n, i, x.DType, out)
	}
	return nil
}

// sliceSpec is a Slice with known starts, ends, axes and steps.
type sliceSpec struct {
	axes                []int
	starts, ends, steps []int64
}

func (c *inferCtx) sliceSpec(n *Node, rank int) (sliceSpec, bool) {
	var s sliceSpec
	var ok bool
	if s.starts, ok = c.knownInts(n, 1); !ok {
		return s, false
	}
	if s.ends, ok = c.knownInts(n, 2); !ok || len(s.ends) != len(s.starts) {
		return s, false
	}
	axes := make([]int64, len(s.starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if n.Input(3) != "" {
		if axes, ok = c.knownInts(n, 3); !ok || len(axes) != len(s.starts) {
			return s, false
		}
	}
	var err error
	if s.axes, err = normAxes(axes, rank); err != nil {
		return s, false
	}
	s.steps = make([]int64, len(s.starts))
	for i := range s.steps {
		s.steps[i] = 1
	}
	if n.Input(4) != "" {
		if s.steps, ok = c.knownInts(n, 4); !ok || len(s.steps) != len(s.starts) {
			return s, false
		}
	}
	for _, st := range s.steps {
		if st == 0 {
			return s, false
		}
	}
	return s, true
}

// find is the position of axis ax in the spec, or -1.
func (s sliceSpec) find(ax int) int {
	for i, a := range s.axes {
		if a == ax {
			return i
		}
	}
	return -1
}

// bounds clamps entry k's start and end for a dim of size d, as ONNX specifies.
func (s sliceSpec) bounds(k int, d int64) (start, end, step int64) {
	start, end, step = s.starts[k], s.ends[k], s.steps[k]
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
	} else {
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
	}
	return start, end, step
}

func (s sliceSpec) length(k int, d int64) int64 {
	start, end, step := s.bounds(k, d)
	if step > 0 {
		return max(0, (end-start+step-1)/step)
	}
	return max(0, (start-end-step-1)/(-step))
}

// indices lists the source indices along axis ax of a dim of size d.
func (s sliceSpec) indices(ax int, d int64) []int {
	k := s.find(ax)
	var out []int
	if k < 0 {
		for i := range d {
			out = append(out, int(i))
		}
		return out
	}
	start, _, step := s.bounds(k, d)
	for i := range s.length(k, d) {
		out = append(out, int(start+i*step))
	}
	return out
}

func inferSlice(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 3)
	if err != nil {
		return err
	}
	x := vs[0]
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	r := len(x.Shape)
	spec, ok := c.sliceSpec(n, r)
	if !ok {
		if steps, known := c.knownInts(n, 4); known {
			for _, st := range steps {
				if st == 0 {
					return fmt.Errorf("steps %v has a 0", steps)
				}
			}
		}
		out := unknownShape(r)
		if axes, known := c.knownInts(n, 3); known {
			if ax, err := normAxes(axes, r); err == nil {
				out = append(Shape{}, x.Shape...)
				for _, a := range ax {
					out[a] = Unknown()
				}
			}
		}
		c.setOut(n, 0, x.DType, out)
		return nil
	}
	out := append(Shape{}, x.Shape...)
	for k, a := range spec.axes {
		d := x.Shape[a]
		switch {
		case d.Known():
			out[a] = D(spec.length(k, d.Size))
		case spec.starts[k] == 0 && spec.steps[k] == 1 && spec.ends[k] >= math.MaxInt32:
			out[a] = d // the whole dim
		default:
			out[a] = Unknown()
		}
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferGather(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x, idx := vs[0], vs[1]
	if !x.RankKnown || !idx.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	if len(x.Shape) == 0 {
		return fmt.Errorf("cannot gather from a scalar")
	}
	axis, err := normAxis(n.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return fmt.Errorf("input %s: %w", x.Shape, err)
	}
	if d := x.Shape[axis]; d.Known() {
		if ids, ok := c.knownInts(n, 1); ok {
			for _, i := range ids {
				if i < -d.Size || i >= d.Size {
					return fmt.Errorf("index %d is out of range for axis %d of input %s", i, axis, x.Shape)
				}
			}
		}
	}
	out := append(append(append(Shape{}, x.Shape[:axis]...), idx.Shape...), x.Shape[axis+1:]...)
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferGatherElements(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	if vs[0].RankKnown && vs[1].RankKnown && len(vs[0].Shape) != len(vs[1].Shape) {
		return fmt.Errorf("data %s and indices %s must have the same rank", vs[0].Shape, vs[1].Shape)
	}
	c.setOutLike(n, 0, &Value{DType: vs[0].DType, Shape: vs[1].Shape, RankKnown: vs[1].RankKnown})
	return nil
}

func inferGatherND(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	x, idx := vs[0], vs[1]
	b := int(n.AttrInt("batch_dims", 0))
	if !x.RankKnown || !idx.RankKnown || len(idx.Shape) == 0 || !idx.Shape[len(idx.Shape)-1].Known() {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	k := int(idx.Shape[len(idx.Shape)-1].Size)
	if b < 0 || b+k > len(x.Shape) || b >= len(idx.Shape) {
		return fmt.Errorf("indices %s (batch_dims %d) do not fit data %s", idx.Shape, b, x.Shape)
	}
	out := append(append(Shape{}, idx.Shape[:len(idx.Shape)-1]...), x.Shape[b+k:]...)
	c.setOut(n, 0, x.DType, out)
	return nil
}

func inferShape(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOut(n, 0, tensor.Int64, Shape{Unknown()})
		return nil
	}
	lo, hi := shapeRange(n, len(x.Shape))
	c.setOut(n, 0, tensor.Int64, Shape{D(int64(hi - lo))})
	return nil
}

func inferConstantOfShape(c *inferCtx, n *Node) error {
	sh, err := c.req(n, 0)
	if err != nil {
		return err
	}
	dt := tensor.Float32
	if v := n.AttrTensor("value"); v != nil {
		dt = v.DType
	}
	if es, ok := c.knownElems(n, 0); ok {
		out := make(Shape, len(es))
		for i, e := range es {
			if e.known && e.v < 0 {
				return fmt.Errorf("shape %v has a negative dim", elemsStr(es))
			}
			out[i] = e.dim()
		}
		c.setOut(n, 0, dt, out)
		return nil
	}
	if sh.RankKnown && len(sh.Shape) == 1 && sh.Shape[0].Known() {
		c.setOutRank(n, 0, dt, int(sh.Shape[0].Size))
		return nil
	}
	c.setOutUnranked(n, 0, dt)
	return nil
}

func inferRange(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 3)
	if err != nil {
		return err
	}
	dt, err := sameTypes(vs...)
	if err != nil {
		return err
	}
	for i, v := range vs {
		if v.RankKnown && len(v.Shape) > 1 {
			return fmt.Errorf("input #%d %s must be a scalar", i, v.Shape)
		}
	}
	if t := propRange(c, n); t != nil {
		c.setOut(n, 0, dt, Shape{D(int64(t.len()))})
		return nil
	}
	s, ok1 := c.knownFloats(n, 0)
	l, ok2 := c.knownFloats(n, 1)
	d, ok3 := c.knownFloats(n, 2)
	if ok1 && ok2 && ok3 && len(s) == 1 && len(l) == 1 && len(d) == 1 {
		if d[0] == 0 {
			return fmt.Errorf("delta is 0")
		}
		if span := math.Ceil((l[0] - s[0]) / d[0]); !math.IsNaN(span) && !math.IsInf(span, 0) && span < 1<<62 {
			c.setOut(n, 0, dt, Shape{D(int64(max(span, 0)))})
			return nil
		}
	}
	c.setOut(n, 0, dt, Shape{Unknown()})
	return nil
}

// constantAttr is the tensor a Constant node holds, from whichever value attribute it has.
func constantAttr(n *Node) (*tensor.Tensor, error) {
	if t := n.AttrTensor("value"); t != nil {
		return t, nil
	}
	if a, ok := n.Attrs["value_float"]; ok && a.Type == AttrFloat {
		return tensor.FromFloat32([]int{}, []float32{a.Float}), nil
	}
	if a, ok := n.Attrs["value_floats"]; ok && a.Type == AttrFloats {
		return tensor.FromFloat32([]int{len(a.Floats)}, append([]float32{}, a.Floats...)), nil
	}
	if a, ok := n.Attrs["value_int"]; ok && a.Type == AttrInt {
		return tensor.FromInt64([]int{}, []int64{a.Int}), nil
	}
	if a, ok := n.Attrs["value_ints"]; ok && a.Type == AttrInts {
		return tensor.FromInt64([]int{len(a.Ints)}, append([]int64{}, a.Ints...)), nil
	}
	return nil, fmt.Errorf("has no value attribute (value, value_float(s), value_int(s))")
}

func inferConstant(c *inferCtx, n *Node) error {
	t, err := constantAttr(n)
	if err != nil {
		return err
	}
	c.setOut(n, 0, t.DType, Dims(t.Shape...))
	return nil
}

func inferNonZero(c *inferCtx, n *Node) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	r := Unknown()
	if x.RankKnown {
		r = D(int64(len(x.Shape)))
	}
	c.setOut(n, 0, tensor.Int64, Shape{r, Unknown()})
	return nil
}

func inferOneHot(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 3)
	if err != nil {
		return err
	}
	idx, vals := vs[0], vs[2]
	if !idx.RankKnown {
		c.setOutUnranked(n, 0, vals.DType)
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", -1), len(idx.Shape)+1)
	if err != nil {
		return fmt.Errorf("indices %s: %w", idx.Shape, err)
	}
	depth := Unknown()
	if d, ok := c.knownFloats(n, 1); ok && len(d) == 1 {
		depth = D(int64(d[0]))
	}
	out := append(append(append(Shape{}, idx.Shape[:axis]...), depth), idx.Shape[axis:]...)
	c.setOut(n, 0, vals.DType, out)
	return nil
}
