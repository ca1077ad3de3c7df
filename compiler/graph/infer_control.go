package graph

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// controlInfer: control flow. If, Loop and Scan are registered in init (they recurse into
// inferGraph).
var controlInfer = map[string]inferFunc{}

// inferIf infers both branches with the enclosing scope visible; an output takes the
// branches' shape where they agree, and Unknown dims (or an unknown rank) where they do not.
func inferIf(c *inferCtx, n *Node) error {
	cond, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if cond.DType != tensor.Undefined && cond.DType != tensor.Bool {
		return fmt.Errorf("condition is %v, not bool", cond.DType)
	}
	var branches [2]*Graph
	for i, name := range []string{"then_branch", "else_branch"} {
		b := n.AttrGraph(name)
		if b == nil {
			return fmt.Errorf("has no %s", name)
		}
		if err := inferGraph(b, c); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(b.Outputs) < len(n.Outputs) {
			return fmt.Errorf("%s has %d outputs, the node %d", name, len(b.Outputs), len(n.Outputs))
		}
		branches[i] = b
	}
	if len(branches[0].Outputs) != len(branches[1].Outputs) {
		return fmt.Errorf("then_branch has %d outputs, else_branch %d", len(branches[0].Outputs), len(branches[1].Outputs))
	}
	for i := range n.Outputs {
		a, b := branches[0].Outputs[i], branches[1].Outputs[i]
		dt, err := sameTypes(a, b)
		if err != nil {
			return fmt.Errorf("output #%d: %w", i, err)
		}
		if !a.RankKnown || !b.RankKnown || len(a.Shape) != len(b.Shape) {
			c.setOutUnranked(n, i, dt)
			continue
		}
		out := make(Shape, len(a.Shape))
		for j := range out {
			out[j] = Unknown()
			if sameDim(a.Shape[j], b.Shape[j]) {
				out[j] = a.Shape[j]
			}
		}
		c.setOut(n, i, dt, out)
	}
	return nil
}

// generalize is the shape both a and b fit: equal dims stay, others become Unknown; a rank
// mismatch gives an unknown rank.
func generalize(a, b *Value) *Value {
	out := &Value{Name: a.Name, DType: a.DType}
	if out.DType == tensor.Undefined {
		out.DType = b.DType
	}
	if !a.RankKnown || !b.RankKnown || len(a.Shape) != len(b.Shape) {
		return out
	}
	out.RankKnown, out.Shape = true, make(Shape, len(a.Shape))
	for i := range a.Shape {
		out.Shape[i] = Unknown()
		if sameDim(a.Shape[i], b.Shape[i]) {
			out.Shape[i] = a.Shape[i]
		}
	}
	return out
}

func sameValueShape(a, b *Value) bool {
	if a.RankKnown != b.RankKnown || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	return true
}

// inferBody infers a loop body whose inputs take the given values (names from the body),
// repeating once with generalized shapes when the carried values change shape across an
// iteration. carried[i] is the body input fed by body output carriedOut+i.
func inferBody(c *inferCtx, body *Graph, ins []*Value, carriedIn, carriedOut, nCarried int) error {
	if len(body.Inputs) != len(ins) {
		return fmt.Errorf("body has %d inputs, want %d", len(body.Inputs), len(ins))
	}
	for i, v := range body.Inputs {
		if v == nil {
			return fmt.Errorf("body input #%d is nil", i)
		}
	}
	for pass := 0; pass < 2; pass++ {
		bodyIns := make([]*Value, len(ins))
		for i, v := range ins {
			nv := *v
			nv.Name = body.Inputs[i].Name
			if nv.DType == tensor.Undefined {
				nv.DType = body.Inputs[i].DType
			}
			bodyIns[i] = &nv
		}
		body.Inputs = bodyIns
		if err := inferGraph(body, c); err != nil {
			return fmt.Errorf("body: %w", err)
		}
		if len(body.Outputs) < carriedOut+nCarried {
			return fmt.Errorf("body has %d outputs, want at least %d", len(body.Outputs), carriedOut+nCarried)
		}
		stable := true
		for i := range nCarried {
			in, out := ins[carriedIn+i], body.Outputs[carriedOut+i]
			if !sameValueShape(in, out) {
				stable = false
				ins[carriedIn+i] = generalize(in, out)
			}
		}
		if stable {
			return nil
		}
	}
	return nil
}

// inferLoop: outputs are the final loop-carried values (their shapes generalized over the
// iterations) and the scan outputs, each the body's per-iteration value stacked on a new
// leading dim of unknown size (the trip count).
func inferLoop(c *inferCtx, n *Node) error {
	body := n.AttrGraph("body")
	if body == nil {
		return fmt.Errorf("has no body")
	}
	nCarried := len(n.Inputs) - 2
	if nCarried < 0 {
		return fmt.Errorf("needs inputs M and cond (either may be empty)")
	}
	ins := []*Value{NewValue("", tensor.Int64, Shape{}), NewValue("", tensor.Bool, Shape{})}
	for i := range nCarried {
		v, err := c.req(n, 2+i)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	if err := inferBody(c, body, ins, 2, 1, nCarried); err != nil {
		return err
	}
	for i := range nCarried {
		c.setOutLike(n, i, generalize(ins[2+i], body.Outputs[1+i]))
	}
	for k := nCarried; k < len(n.Outputs); k++ {
		if 1+k >= len(body.Outputs) {
			return fmt.Errorf("has %d outputs, its body only %d", len(n.Outputs), len(body.Outputs))
		}
		o := body.Outputs[1+k]
		if !o.RankKnown {
			c.setOutUnranked(n, k, o.DType)
			continue
		}
		c.setOut(n, k, o.DType, append(Shape{Unknown()}, o.Shape...))
	}
	return nil
}

// inferScan: the body sees one slice of each scan input (the scan axis removed); outputs
// are the final states and the scan outputs stacked along their axes (the sequence length).
func inferScan(c *inferCtx, n *Node) error {
	body := n.AttrGraph("body")
	if body == nil {
		return fmt.Errorf("has no body")
	}
	m := int(n.AttrInt("num_scan_inputs", 0))
	nState := len(n.Inputs) - m
	if m < 1 || nState < 0 {
		return fmt.Errorf("num_scan_inputs %d does not fit %d inputs", m, len(n.Inputs))
	}
	inAxes := n.AttrInts("scan_input_axes", make([]int64, m))
	if len(inAxes) != m {
		return fmt.Errorf("scan_input_axes %v does not match %d scan inputs", inAxes, m)
	}
	var ins []*Value
	for i := range nState {
		v, err := c.req(n, i)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	seq := Unknown()
	for j := range m {
		v, err := c.req(n, nState+j)
		if err != nil {
			return err
		}
		if !v.RankKnown {
			ins = append(ins, &Value{DType: v.DType})
			continue
		}
		ax, err := normAxis(inAxes[j], len(v.Shape))
		if err != nil {
			return fmt.Errorf("scan input %d %s: %w", j, v.Shape, err)
		}
		if d, ok := mergeDim(seq, v.Shape[ax]); ok {
			seq = d
		} else {
			return fmt.Errorf("scan inputs disagree on the sequence length (%v and %v)", seq, v.Shape[ax])
		}
		slice := append(append(Shape{}, v.Shape[:ax]...), v.Shape[ax+1:]...)
		ins = append(ins, NewValue("", v.DType, slice))
	}
	if err := inferBody(c, body, ins, 0, 0, nState); err != nil {
		return err
	}
	for i := range nState {
		c.setOutLike(n, i, generalize(ins[i], body.Outputs[i]))
	}
	k := len(n.Outputs) - nState
	outAxes := n.AttrInts("scan_output_axes", make([]int64, max(k, 0)))
	for j := range k {
		if nState+j >= len(body.Outputs) || j >= len(outAxes) {
			return fmt.Errorf("has %d outputs, its body %d (scan_output_axes %v)", len(n.Outputs), len(body.Outputs), outAxes)
		}
		o := body.Outputs[nState+j]
		if !o.RankKnown {
			c.setOutUnranked(n, nState+j, o.DType)
			continue
		}
		ax, err := normAxis(outAxes[j], len(o.Shape)+1)
		if err != nil {
			return fmt.Errorf("scan output %d: %w", j, err)
		}
		c.setOut(n, nState+j, o.DType, append(append(append(Shape{}, o.Shape[:ax]...), seq), o.Shape[ax:]...))
	}
	return nil
}
