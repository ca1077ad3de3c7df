package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// RunOptions tune one Run.
type RunOptions struct {
	// SMs are the units this run may use (and the instance's mask from now on); nil keeps the
	// instance's current mask, initially the budget's first Budget.SMs units.
	SMs []int
	// Trace records the unit that ran every tile of every kernel (LastTrace).
	Trace bool
	// Priority is passed to every launch.
	Priority int
}

// KernelTrace is where one kernel launch ran its tiles.
type KernelTrace struct {
	Launch   int    // index in the plan's Launches
	Kernel   string // kernel name
	TileUnit []int  // unit (SM) that ran each tile
	Launches int    // device launches it took (more than 1 after a yield or a mask change)
}

// Progress is what the instance is doing now.
type Progress struct {
	InKernel bool   // Run is in a kernel step (on the device, or waiting to be relaunched)
	Running  bool   // the kernel is on the device now
	Launch   int    // the step's index in the plan's Launches
	Kernel   string // the kernel's name
	Done     int    // tiles finished
	Tiles    int    // tiles in all
	Paused   bool   // Yield was called and Resume was not
	Mask     []int  // current units
}

// Run checks inputs against the plan's inputs (every one present, dtype and shape exact),
// copies them to the device, runs the launch sequence and returns the plan's outputs.
func (in *Instance) Run(ctx context.Context, inputs map[string]*tensor.Tensor, opts RunOptions) (map[string]*tensor.Tensor, error) {
	in.runMu.Lock()
	defer in.runMu.Unlock()
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("exec: plan %q: run on a closed instance", in.p.Model)
	}
	if opts.SMs != nil {
		if err := in.SetMask(opts.SMs); err != nil {
			return nil, err
		}
	}
	if err := in.checkInputs(inputs); err != nil {
		return nil, fmt.Errorf("exec: plan %q: %w", in.p.Model, err)
	}
	for _, v := range in.p.Inputs {
		if err := in.write(v.Name, inputs[v.Name]); err != nil {
			return nil, fmt.Errorf("exec: plan %q: input %q: %w", in.p.Model, v.Name, err)
		}
	}
	r, err := in.newRun(opts)
	if err != nil {
		return nil, fmt.Errorf("exec: plan %q: %w", in.p.Model, err)
	}
	for i := 0; i < len(in.steps); {
		s := in.steps[i]
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("exec: plan %q: %s: %w", in.p.Model, s.name, err)
		}
		if s.kernel == nil {
			if err := in.runHost(ctx, s); err != nil {
				return nil, fmt.Errorf("exec: plan %q: %s: %w", in.p.Model, s.name, err)
			}
			i++
			continue
		}
		j := i
		for j < len(in.steps) && in.steps[j].kernel != nil {
			j++
		}
		if err := r.sequence(ctx, in.steps[i:j]); err != nil {
			return nil, fmt.Errorf("exec: plan %q: %w", in.p.Model, err)
		}
		i = j
	}
	traces, err := r.traces()
	if err != nil {
		return nil, fmt.Errorf("exec: plan %q: %w", in.p.Model, err)
	}
	out := map[string]*tensor.Tensor{}
	for _, v := range in.p.Outputs {
		t, err := in.read(v.Name)
		if err != nil {
			return nil, fmt.Errorf("exec: plan %q: output %q: %w", in.p.Model, v.Name, err)
		}
		out[v.Name] = t
	}
	if opts.Trace {
		in.mu.Lock()
		in.last = traces
		in.mu.Unlock()
	}
	return out, nil
}

// LastTrace is the trace of the last Run with RunOptions.Trace.
func (in *Instance) LastTrace() []KernelTrace {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.last
}

func (in *Instance) checkInputs(inputs map[string]*tensor.Tensor) error {
	want := map[string]bool{}
	var names []string
	for _, v := range in.p.Inputs {
		want[v.Name] = true
		names = append(names, v.String())
		t, ok := inputs[v.Name]
		if !ok || t == nil {
			return fmt.Errorf("input %q is missing (want %v%v)", v.Name, v.DType, v.Shape)
		}
		shape, conc := v.Shape.Concrete()
		if !conc {
			return fmt.Errorf("input %q: the plan's shape %v is not concrete", v.Name, v.Shape)
		}
		if t.DType != v.DType || !sameShape(t.Shape, shape) {
			return fmt.Errorf("input %q is %v%v, the plan was compiled for %v%v", v.Name, t.DType, t.Shape, v.DType, shape)
		}
		if err := checkData(t); err != nil {
			return fmt.Errorf("input %q: %w", v.Name, err)
		}
	}
	var extra []string
	for name := range inputs {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("inputs %q are not inputs of the plan (it takes %s)", extra, strings.Join(names, ", "))
	}
	return nil
}

func checkData(t *tensor.Tensor) error {
	n := tensor.NumElements(t.Shape)
	var have int
	switch d := t.Data.(type) {
	case []float32:
		have = len(d)
	case []float64:
		have = len(d)
	case []uint16:
		have = len(d)
	case []int8:
		have = len(d)
	case []uint8:
		have = len(d)
	case []int16:
		have = len(d)
	case []int32:
		have = len(d)
	case []int64:
		have = len(d)
	case []bool:
		have = len(d)
	default:
		return fmt.Errorf("data of type %T", t.Data)
	}
	if have < n {
		return fmt.Errorf("%d elements of data for shape %v", have, t.Shape)
	}
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// write copies t into the value's buffer, checking its type and size.
func (in *Instance) write(name string, t *tensor.Tensor) error {
	b := in.bufs[name]
	if b == nil {
		return fmt.Errorf("value %q has no device buffer", name)
	}
	if t.DType != b.dtype && b.dtype != tensor.Undefined {
		return fmt.Errorf("value %q: %v tensor for a %v buffer", name, t.DType, b.dtype)
	}
	if b.shape != nil && !sameShape(t.Shape, b.shape) {
		return fmt.Errorf("value %q: shape %v, the plan has %v", name, t.Shape, b.shape)
	}
	raw, err := encode(t)
	if err != nil {
		return fmt.Errorf("value %q: %w", name, err)
	}
	if int64(len(raw)) > b.size {
		return fmt.Errorf("value %q: %d bytes for a %d-byte buffer", name, len(raw), b.size)
	}
	return in.dev.CopyToDevice(b.ptr, raw)
}

// read returns a value as a host tensor: a weight as it is, a buffer copied from the device.
func (in *Instance) read(name string) (*tensor.Tensor, error) {
	if t, ok := in.p.Graph.Initializers[name]; ok {
		return t, nil
	}
	b := in.bufs[name]
	if b == nil {
		return nil, fmt.Errorf("value %q has no device buffer", name)
	}
	if b.shape == nil || b.dtype.Size() == 0 {
		return nil, fmt.Errorf("value %q: the plan records no concrete type and shape", name)
	}
	raw := make([]byte, tensor.NumElements(b.shape)*b.dtype.Size())
	if err := in.dev.CopyToHost(raw, b.ptr); err != nil {
		return nil, fmt.Errorf("value %q: %w", name, err)
	}
	return decode(b.dtype, b.shape, raw)
}

// runHost runs a host step: its inputs (and the outer values its subgraphs read) are copied
// to the host, the node runs with runtime/cpu, and its outputs are copied back.
func (in *Instance) runHost(ctx context.Context, s *step) error {
	n := s.node
	ins := make([]*tensor.Tensor, len(n.Inputs))
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		t, err := in.read(name)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		ins[i] = t
	}
	extra := map[string]*tensor.Tensor{}
	for _, name := range s.free {
		t, err := in.read(name)
		if err != nil {
			return fmt.Errorf("outer value read by a subgraph: %w", err)
		}
		extra[name] = t
	}
	outs, err := evalNode(ctx, n, ins, extra)
	if err != nil {
		return err
	}
	for i, name := range n.Outputs {
		if name == "" || outs[i] == nil || in.bufs[name] == nil {
			continue
		}
		if err := in.write(name, outs[i]); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}
	return nil
}

// freeVars lists the values a node's subgraphs read from enclosing scopes, besides its inputs.
func freeVars(n *graph.Node) []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range n.Inputs {
		seen[name] = true
	}
	var walk func(g *graph.Graph, outer map[string]bool)
	walk = func(g *graph.Graph, outer map[string]bool) {
		def := map[string]bool{}
		for k := range outer {
			def[k] = true
		}
		for _, v := range g.Inputs {
			def[v.Name] = true
		}
		for name := range g.Initializers {
			def[name] = true
		}
		use := func(name string) {
			if name != "" && !def[name] && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
		for _, m := range g.Nodes {
			for _, name := range m.Inputs {
				use(name)
			}
			for _, a := range m.Attrs {
				if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
					walk(a.Graph, def)
				}
			}
			for _, o := range m.Outputs {
				def[o] = true
			}
		}
		for _, v := range g.Outputs {
			use(v.Name)
		}
	}
	for _, a := range n.Attrs {
		if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
			walk(a.Graph, map[string]bool{})
		}
	}
	sort.Strings(out)
	return out
}
