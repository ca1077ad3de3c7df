package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func init() {
	register(scanOp, "Scan")
}

// scanAxes reads an axes attribute of n entries (default 0 each) normalized for the ranks.
func scanAxes(c *opCtx, name string, ranks []int) ([]int, error) {
	v := c.node.AttrInts(name, nil)
	out := make([]int, len(ranks))
	if v == nil {
		return out, nil
	}
	if len(v) != len(ranks) {
		return nil, fmt.Errorf("%s has %d entries, want %d", name, len(v), len(ranks))
	}
	for i, a := range v {
		ax, err := axis(a, ranks[i])
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		out[i] = ax
	}
	return out, nil
}

// scanDirs reads a directions attribute of n entries (0 forward, 1 reverse; default 0).
func scanDirs(c *opCtx, name string, n int) ([]bool, error) {
	v := c.node.AttrInts(name, nil)
	out := make([]bool, n)
	if v == nil {
		return out, nil
	}
	if len(v) != n {
		return nil, fmt.Errorf("%s has %d entries, want %d", name, len(v), n)
	}
	for i, d := range v {
		if d != 0 && d != 1 {
			return nil, fmt.Errorf("%s[%d] is %d, want 0 or 1", name, i, d)
		}
		out[i] = d == 1
	}
	return out, nil
}

// scanOp is ONNX Scan (opset 9+): inputs are N initial states then M scan inputs; the body
// maps (states, one slice of each scan input) to (new states, K scan output slices); the
// outputs are the final states and the K slices stacked along scan_output_axes.
func scanOp(c *opCtx) error {
	body := c.node.AttrGraph("body")
	if body == nil {
		return fmt.Errorf("attribute body is missing")
	}
	m := int(c.node.AttrInt("num_scan_inputs", -1))
	if m < 1 || m > len(c.in) {
		return fmt.Errorf("num_scan_inputs %d does not fit %d inputs", m, len(c.in))
	}
	nState := len(c.in) - m
	nScanOut := len(body.Outputs) - nState
	if nScanOut < 0 || len(c.out) != nState+nScanOut || len(body.Inputs) != nState+m {
		return fmt.Errorf("body takes %d inputs and gives %d outputs; the node has %d states, %d scan inputs and %d outputs", len(body.Inputs), len(body.Outputs), nState, m, len(c.out))
	}
	state := make([]*tensor.Tensor, nState)
	for i := range state {
		t, err := c.req(i)
		if err != nil {
			return err
		}
		state[i] = t
	}
	scanIn := make([]*tensor.Tensor, m)
	ranks := make([]int, m)
	for j := range scanIn {
		t, err := c.req(nState + j)
		if err != nil {
			return err
		}
		scanIn[j], ranks[j] = t, len(t.Shape)
	}
	inAxes, err := scanAxes(c, "scan_input_axes", ranks)
	if err != nil {
		return err
	}
	inRev, err := scanDirs(c, "scan_input_directions", m)
	if err != nil {
		return err
	}
	outRev, err := scanDirs(c, "scan_output_directions", nScanOut)
	if err != nil {
		return err
	}
	steps := -1
	for j, t := range scanIn {
		l := t.Shape[inAxes[j]]
		if steps >= 0 && l != steps {
			return fmt.Errorf("scan input %d has %d steps along axis %d, the first has %d", j, l, inAxes[j], steps)
		}
		steps = l
	}
	slices := make([][]*tensor.Tensor, nScanOut)
	for it := 0; it < steps; it++ {
		if err := c.r.ctx.Err(); err != nil {
			return err
		}
		ins := append([]*tensor.Tensor{}, state...)
		for j, t := range scanIn {
			k := it
			if inRev[j] {
				k = steps - 1 - it
			}
			outs, err := (&moveOp{kind: mvGather, idx: []int64{int64(k)}, axis: inAxes[j]}).run(t)
			if err != nil {
				return fmt.Errorf("scan input %d, step %d: %w", j, it, err)
			}
			ins = append(ins, outs[0])
		}
		outs, err := c.runSub(body, ins)
		if err != nil {
			return fmt.Errorf("step %d: %w", it, err)
		}
		copy(state, outs[:nState])
		for k := range slices {
			slices[k] = append(slices[k], outs[nState+k])
		}
	}
	copy(c.out, state)
	outAxesAttr := c.node.AttrInts("scan_output_axes", nil)
	if outAxesAttr != nil && len(outAxesAttr) != nScanOut {
		return fmt.Errorf("scan_output_axes has %d entries, want %d", len(outAxesAttr), nScanOut)
	}
	for k, parts := range slices {
		if len(parts) == 0 {
			t, err := emptyScanOutput(body.Outputs[nState+k].DType)
			if err != nil {
				return err
			}
			c.out[nState+k] = t
			continue
		}
		if outRev[k] {
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
		r := len(parts[0].Shape)
		ax := 0
		if outAxesAttr != nil {
			if ax, err = axis(outAxesAttr[k], r+1); err != nil {
				return fmt.Errorf("scan_output_axes[%d]: %w", k, err)
			}
		}
		t, err := stack(parts, ax)
		if err != nil {
			return fmt.Errorf("scan output %d: %w", k, err)
		}
		c.out[nState+k] = t
	}
	return nil
}

func emptyScanOutput(dt tensor.DType) (*tensor.Tensor, error) {
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	return tensor.New(dt, []int{0})
}

// stack joins same-shaped tensors along a new axis ax (0..rank).
func stack(parts []*tensor.Tensor, ax int) (*tensor.Tensor, error) {
	shape := parts[0].Shape
	withAxis := func(s []int) []int {
		return append(append(append([]int{}, s[:ax]...), 1), s[ax:]...)
	}
	var rest []*tensor.Tensor
	for i, p := range parts[1:] {
		if !equalInts(p.Shape, shape) {
			return nil, fmt.Errorf("step %d gives shape %v, step 0 gave %v", i+1, p.Shape, shape)
		}
		u, err := p.Reshaped(withAxis(p.Shape))
		if err != nil {
			return nil, err
		}
		rest = append(rest, u)
	}
	first, err := parts[0].Reshaped(withAxis(shape))
	if err != nil {
		return nil, err
	}
	outs, err := (&moveOp{kind: mvConcat, axis: ax, others: rest}).run(first)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}
