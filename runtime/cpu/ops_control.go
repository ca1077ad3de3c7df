package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(ifOp, "If")
	register(loopOp, "Loop")
}

// runSub runs subgraph g with the given inputs in a scope nested in the node's scope and
// returns its outputs in order.
func (c *opCtx) runSub(g *graph.Graph, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("subgraph %q takes %d inputs, got %d", g.Name, len(g.Inputs), len(inputs))
	}
	e := &env{vals: map[string]*tensor.Tensor{}, parent: c.env}
	for i, v := range g.Inputs {
		e.vals[v.Name] = inputs[i]
	}
	if err := c.r.runGraph(g, e); err != nil {
		return nil, fmt.Errorf("subgraph %q: %w", g.Name, err)
	}
	outs := make([]*tensor.Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		t, ok := e.get(v.Name)
		if !ok {
			return nil, fmt.Errorf("subgraph %q: output %q was not computed", g.Name, v.Name)
		}
		outs[i] = t
	}
	return outs, nil
}

func truth(t *tensor.Tensor) (bool, error) {
	if t.Len() != 1 {
		return false, fmt.Errorf("condition has shape %v, want one element", t.Shape)
	}
	b, err := ref.Cast(t, tensor.Bool)
	if err != nil {
		return false, err
	}
	return b.Bools()[0], nil
}

func ifOp(c *opCtx) error {
	if err := c.arity(1, 1); err != nil {
		return err
	}
	cond, err := c.req(0)
	if err != nil {
		return err
	}
	ok, err := truth(cond)
	if err != nil {
		return err
	}
	branch := "else_branch"
	if ok {
		branch = "then_branch"
	}
	g := c.node.AttrGraph(branch)
	if g == nil {
		return fmt.Errorf("attribute %s is missing", branch)
	}
	outs, err := c.runSub(g, nil)
	if err != nil {
		return err
	}
	if len(outs) != len(c.out) {
		return fmt.Errorf("%s has %d outputs, the node %d", branch, len(outs), len(c.out))
	}
	copy(c.out, outs)
	return nil
}

// loopOp is ONNX Loop: inputs (M, cond, v_initial...), body (iter, cond, v...) ->
// (cond, v..., scan...); outputs v_final... then the scan outputs stacked on a new axis 0.
func loopOp(c *opCtx) error {
	if err := c.arity(2, -1); err != nil {
		return err
	}
	body := c.node.AttrGraph("body")
	if body == nil {
		return fmt.Errorf("attribute body is missing")
	}
	maxTrip := int64(-1)
	if t := c.opt(0); t != nil {
		v, err := ints(t)
		if err != nil || len(v) != 1 {
			return fmt.Errorf("trip count M must be one integer")
		}
		maxTrip = v[0]
	}
	cond := true
	if t := c.opt(1); t != nil {
		var err error
		if cond, err = truth(t); err != nil {
			return err
		}
	}
	nState := len(c.in) - 2
	state := make([]*tensor.Tensor, nState)
	for i := range state {
		t, err := c.req(i + 2)
		if err != nil {
			return err
		}
		state[i] = t
	}
	nScan := len(body.Outputs) - 1 - nState
	if nScan < 0 || len(c.out) != nState+nScan {
		return fmt.Errorf("body has %d outputs, node has %d loop-carried values and %d outputs", len(body.Outputs), nState, len(c.out))
	}
	scans := make([][]*tensor.Tensor, nScan)
	for it := int64(0); (maxTrip < 0 || it < maxTrip) && cond; it++ {
		if err := c.r.ctx.Err(); err != nil {
			return err
		}
		ins := append([]*tensor.Tensor{tensor.FromInt64(nil, []int64{it}), tensor.FromBool(nil, []bool{cond})}, state...)
		outs, err := c.runSub(body, ins)
		if err != nil {
			return fmt.Errorf("iteration %d: %w", it, err)
		}
		if cond, err = truth(outs[0]); err != nil {
			return fmt.Errorf("iteration %d: %w", it, err)
		}
		copy(state, outs[1:1+nState])
		for k := 0; k < nScan; k++ {
			scans[k] = append(scans[k], outs[1+nState+k])
		}
		if maxTrip < 0 && it > 1<<30 {
			return fmt.Errorf("loop did not terminate")
		}
	}
	copy(c.out, state)
	for k, parts := range scans {
		if len(parts) == 0 {
			dt := body.Outputs[1+nState+k].DType
			t, err := tensor.New(dt, []int{0})
			if err != nil {
				return err
			}
			c.out[nState+k] = t
			continue
		}
		var others []*tensor.Tensor
		for _, p := range parts[1:] {
			u, err := p.Reshaped(append([]int{1}, p.Shape...))
			if err != nil {
				return err
			}
			others = append(others, u)
		}
		first, err := parts[0].Reshaped(append([]int{1}, parts[0].Shape...))
		if err != nil {
			return err
		}
		outs, err := (&moveOp{kind: mvConcat, axis: 0, others: others}).run(first)
		if err != nil {
			return fmt.Errorf("scan output %d: %w", k, err)
		}
		c.out[nState+k] = outs[0]
	}
	return nil
}
