package graph

import (
	"errors"
	"fmt"
	"sort"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// inferFunc computes the types and shapes of a node's outputs (c.setOut) from its inputs.
// It fails only on what is provably wrong; what cannot be known becomes Unknown dims or an
// unknown rank.
type inferFunc func(c *inferCtx, n *Node) error

// inferFuncs is the table of shape inference, one entry per op, filled by init from the
// per-family tables (infer_*.go).
var inferFuncs = map[string]inferFunc{}

func init() {
	for _, family := range []map[string]inferFunc{
		elementwiseInfer, nnInfer, linalgInfer, reduceInfer, layoutInfer, indexInfer,
		resizeInfer, controlInfer,
	} {
		for op, f := range family {
			if _, dup := inferFuncs[op]; dup {
				panic("graph: shape inference registered twice for " + op) // a programming error
			}
			inferFuncs[op] = f
		}
	}
	// Control flow recurses into inferGraph, which reads inferFuncs: no literal can hold it.
	inferFuncs["If"] = inferIf
	inferFuncs["Loop"] = inferLoop
	inferFuncs["Scan"] = inferScan
}

// InferableOps lists, sorted, the ops (default ONNX domain) InferShapes knows.
func InferableOps() []string {
	ops := make([]string, 0, len(inferFuncs))
	for op := range inferFuncs {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// ErrNoInference is wrapped by the error InferShapes returns for an op it does not know.
var ErrNoInference = errors.New("no shape inference for this op")

// InferShapes walks the nodes in order and records in g.Values the element type and the
// (possibly symbolic or partly unknown) shape of every node output, in g and in the branches
// of its If nodes. Small integer tensors that hold shapes are followed through the graph
// (Shape, Gather, Slice, Concat, Cast, arithmetic, ...) so that Reshape, Expand, Resize and
// ConstantOfShape targets computed at run time get known shapes. The graph outputs are
// replaced by values that carry the inferred shapes (refined by what the model declared).
// InferShapes fails on what is provably wrong (a channel mismatch, conflicting broadcast
// dims, an impossible reshape), naming the node, its op and the shapes.
func InferShapes(g *Graph) error {
	if g == nil {
		return errors.New("infer shapes: nil graph")
	}
	return inferGraph(g, nil)
}

// inferCtx is the state of inference over one graph (a subgraph has its own, with parent).
type inferCtx struct {
	g      *Graph
	parent *inferCtx
	vals   map[string]*Value     // node outputs inferred so far
	old    map[string]*Value     // g.Values before this run (model value_info, earlier runs)
	known  map[string]*symTensor // data propagation: values whose elements are (partly) known
}

func inferGraph(g *Graph, parent *inferCtx) error {
	c := &inferCtx{g: g, parent: parent, vals: map[string]*Value{}, old: g.Values, known: map[string]*symTensor{}}
	for i, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("graph %q: node #%d is nil", g.Name, i)
		}
		if err := c.inferNode(n); err != nil {
			return fmt.Errorf("graph %q: %v: %w", g.Name, n, err)
		}
	}
	outs := make([]*Value, len(g.Outputs))
	for i, o := range g.Outputs {
		if o == nil {
			return fmt.Errorf("graph %q: output #%d is nil", g.Name, i)
		}
		v, err := c.value(o.Name)
		if err != nil {
			return fmt.Errorf("graph %q: output %q: %w", g.Name, o.Name, err)
		}
		m := refine(v, o)
		m.Name = o.Name
		outs[i] = m
		if _, ok := c.vals[o.Name]; ok {
			c.vals[o.Name] = m
		}
	}
	g.Outputs = outs
	g.Values = c.vals
	return nil
}

func (c *inferCtx) inferNode(n *Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Errorf("op domain %q: %w", n.Domain, ErrNoInference)
	}
	f, ok := inferFuncs[n.Op]
	if !ok {
		return ErrNoInference
	}
	for name, a := range n.Attrs {
		if a == nil {
			return fmt.Errorf("attribute %q is nil", name)
		}
	}
	if err := f(c, n); err != nil {
		return err
	}
	for _, o := range n.Outputs {
		if o == "" {
			continue
		}
		if _, ok := c.vals[o]; !ok { // an optional output the function left alone
			c.vals[o] = &Value{Name: o}
		}
	}
	if p, ok := propFuncs[n.Op]; ok && len(n.Outputs) > 0 && n.Outputs[0] != "" {
		if t := p(c, n); t != nil && t.len() <= maxKnownElems {
			c.known[n.Outputs[0]] = t
		}
	}
	return nil
}

// value looks a name up: node outputs of this graph, its inputs, its initializers, then the
// enclosing graphs.
func (c *inferCtx) value(name string) (*Value, error) {
	for s := c; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v, nil
		}
		for _, v := range s.g.Inputs {
			if v != nil && v.Name == name {
				return v, nil
			}
		}
		if t, ok := s.g.Initializers[name]; ok && t != nil {
			return NewValue(name, t.DType, Dims(t.Shape...)), nil
		}
	}
	return nil, fmt.Errorf("value %q is not defined before it is used", name)
}

// in returns input i of n, or nil (and no error) when the input is absent or omitted.
func (c *inferCtx) in(n *Node, i int) (*Value, error) {
	name := n.Input(i)
	if name == "" {
		return nil, nil
	}
	return c.value(name)
}

// req returns input i of n, failing when it is absent.
func (c *inferCtx) req(n *Node, i int) (*Value, error) {
	v, err := c.in(n, i)
	if err == nil && v == nil {
		err = fmt.Errorf("input #%d is required", i)
	}
	return v, err
}

// reqs returns the first k inputs, all required.
func (c *inferCtx) reqs(n *Node, k int) ([]*Value, error) {
	vs := make([]*Value, k)
	for i := range vs {
		v, err := c.req(n, i)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// setOut records output i of n (skipped when n has no such output).
func (c *inferCtx) setOut(n *Node, i int, dt tensor.DType, s Shape) {
	if i >= len(n.Outputs) || n.Outputs[i] == "" {
		return
	}
	name := n.Outputs[i]
	v := NewValue(name, dt, append(Shape{}, s...))
	c.vals[name] = refine(v, c.old[name])
}

// setOutRank records output i with rank r and every dim unknown; r < 0: unknown rank.
func (c *inferCtx) setOutRank(n *Node, i int, dt tensor.DType, r int) {
	if r < 0 {
		c.setOutUnranked(n, i, dt)
		return
	}
	c.setOut(n, i, dt, unknownShape(r))
}

// setOutUnranked records output i with unknown rank.
func (c *inferCtx) setOutUnranked(n *Node, i int, dt tensor.DType) {
	if i >= len(n.Outputs) || n.Outputs[i] == "" {
		return
	}
	name := n.Outputs[i]
	c.vals[name] = refine(&Value{Name: name, DType: dt}, c.old[name])
}

// setOutLike records output i with the type and shape of v.
func (c *inferCtx) setOutLike(n *Node, i int, v *Value) {
	if !v.RankKnown {
		c.setOutUnranked(n, i, v.DType)
		return
	}
	c.setOut(n, i, v.DType, v.Shape)
}

// refine fills what inferred v leaves open from decl, what the model declared or an earlier
// run recorded: an unknown dtype, an unknown rank, and names for dims that are neither known
// nor symbolic. Known sizes are never taken from decl: an earlier run may have seen more
// specific inputs than this one, so only what inference proves now is a known size.
func refine(v, decl *Value) *Value {
	out := &Value{Name: v.Name, DType: v.DType, RankKnown: v.RankKnown, Shape: append(Shape(nil), v.Shape...)}
	if out.RankKnown && out.Shape == nil {
		out.Shape = Shape{}
	}
	if decl == nil {
		return out
	}
	if out.DType == tensor.Undefined {
		out.DType = decl.DType
	}
	if !decl.RankKnown {
		return out
	}
	if !out.RankKnown {
		out.RankKnown, out.Shape = true, unknownShape(len(decl.Shape))
	}
	if len(out.Shape) == len(decl.Shape) {
		for i, d := range out.Shape {
			if !d.Known() && d.Param == "" && !decl.Shape[i].Known() {
				out.Shape[i] = decl.Shape[i]
			}
		}
	}
	return out
}

// unknownShape is rank r with every dim unknown.
func unknownShape(r int) Shape {
	s := make(Shape, r)
	for i := range s {
		s[i] = Unknown()
	}
	return s
}

// rankOf is the rank of v, or -1 when unknown (or v is nil).
func rankOf(v *Value) int {
	if v == nil || !v.RankKnown {
		return -1
	}
	return len(v.Shape)
}

// shapeStr prints a value's shape for error messages.
func shapeStr(v *Value) string {
	if v == nil {
		return "<none>"
	}
	if !v.RankKnown {
		return "[?...]"
	}
	return v.Shape.String()
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// normAxes maps axes into [0, rank) and rejects duplicates.
func normAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d is repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}
