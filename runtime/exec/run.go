package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/device"
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
	var traces []KernelTrace
	if opts.Trace && in.maxTiles > 0 && in.tracePtr == 0 {
		p, err := in.alloc(int64(4*in.maxTiles), false)
		if err != nil {
			return nil, fmt.Errorf("exec: trace buffer: %w", err)
		}
		in.tracePtr = p
	}
	for _, s := range in.steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("exec: plan %q: %s: %w", in.p.Model, s.name, err)
		}
		if s.kernel == nil {
			if err := in.runHost(ctx, s); err != nil {
				return nil, fmt.Errorf("exec: plan %q: %s: %w", in.p.Model, s.name, err)
			}
			continue
		}
		tr, err := in.runKernel(ctx, s, opts)
		if err != nil {
			return nil, fmt.Errorf("exec: plan %q: %s: %w", in.p.Model, s.name, err)
		}
		if opts.Trace {
			traces = append(traces, tr)
		}
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

// runKernel runs one kernel launch to completion on a fresh control block, relaunching it on
// the current mask after a yield or a mask change, and waiting while paused or unit-less.
func (in *Instance) runKernel(ctx context.Context, s *step, opts RunOptions) (KernelTrace, error) {
	k := s.kernel
	tr := KernelTrace{Launch: s.index, Kernel: k.Name}
	ctl, err := protocol.NewControl(k.Tiles, in.units)
	if err != nil {
		return tr, err
	}
	words := ctl.Words()
	for i := range words {
		if i >= protocol.WordSMMask {
			words[i] = 0
		}
	}
	raw := make([]byte, 4*len(words))
	for i, w := range words {
		raw[4*i], raw[4*i+1], raw[4*i+2], raw[4*i+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	}
	if err := in.dev.CopyToDevice(s.ctl, raw); err != nil {
		return tr, fmt.Errorf("control block: %w", err)
	}
	args := s.args
	if opts.Trace && len(s.trace) > 0 {
		args = append([]any(nil), s.args...)
		for _, j := range s.trace {
			args[j] = in.tracePtr
		}
		fill := make([]byte, 4*k.Tiles)
		for i := range fill {
			fill[i] = 0xFF
		}
		if err := in.dev.CopyToDevice(in.tracePtr, fill); err != nil {
			return tr, fmt.Errorf("trace buffer: %w", err)
		}
	}
	cfg := s.cfg
	cfg.Priority = opts.Priority
	in.mu.Lock()
	in.at = s
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.at = nil
		in.mu.Unlock()
	}()
	done := uint32(0)
	for {
		gen, err := in.start(ctx, s)
		if err != nil {
			return tr, err
		}
		err = in.dev.Launch(ctx, s.fn, cfg, args...)
		tr.Launches++
		changed := in.stop(gen)
		if err != nil {
			return tr, err
		}
		now, err := in.dev.Load32(s.ctl.Add(4 * protocol.WordDone))
		if err != nil {
			return tr, err
		}
		if int(now) >= k.Tiles {
			break
		}
		if now == done && !changed {
			in.mu.Lock()
			mask := append([]int(nil), in.mask...)
			in.mu.Unlock()
			return tr, fmt.Errorf("no progress: %d of %d tiles done, and a launch of grid %v on units %v ran none",
				now, k.Tiles, cfg.Grid, mask)
		}
		done = now
	}
	if opts.Trace && len(s.trace) > 0 {
		raw := make([]byte, 4*k.Tiles)
		if err := in.dev.CopyToHost(raw, in.tracePtr); err != nil {
			return tr, fmt.Errorf("trace buffer: %w", err)
		}
		tr.TileUnit = make([]int, k.Tiles)
		for i := range tr.TileUnit {
			w := uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24
			tr.TileUnit[i] = int(int32(w))
		}
	}
	return tr, nil
}

// start waits until the instance may run (not paused, some units), then writes the mask and a
// cleared yield into s's control block and marks s running. It returns the change counter.
func (in *Instance) start(ctx context.Context, s *step) (uint64, error) {
	in.mu.Lock()
	for in.paused || len(in.mask) == 0 {
		wake := in.wake
		in.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		in.mu.Lock()
	}
	defer in.mu.Unlock()
	if err := in.writeMask(s.ctl, in.mask); err != nil {
		return 0, err
	}
	if err := in.dev.Store32(s.ctl.Add(4*protocol.WordYield), 0); err != nil {
		return 0, err
	}
	in.cur = s
	return in.gen, nil
}

// stop marks the running kernel finished; it reports whether SetMask or Yield was called
// since start.
func (in *Instance) stop(gen uint64) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cur = nil
	return in.gen != gen
}

func (in *Instance) writeMask(ctl device.Ptr, sms []int) error {
	words := make([]uint32, (in.units+31)/32)
	for _, s := range sms {
		w, bit := protocol.MaskWord(s)
		words[w-protocol.WordSMMask] |= bit
	}
	for i, w := range words {
		if err := in.dev.Store32(ctl.Add(int64(4*(protocol.WordSMMask+i))), w); err != nil {
			return err
		}
	}
	return nil
}

// SetMask sets the units the instance may use from now on. The running kernel sees it at once
// through its control block: its blocks on units no longer in the mask leave after their
// current tile; when units were added, the kernel is told to yield and Run relaunches it on the
// new mask (blocks already gone cannot come back). An empty mask pauses the run until a
// non-empty one is set.
func (in *Instance) SetMask(sms []int) error {
	seen := map[int]bool{}
	for _, s := range sms {
		if s < 0 || s >= in.units {
			return fmt.Errorf("exec: unit %d of a %d-unit device", s, in.units)
		}
		if seen[s] {
			return fmt.Errorf("exec: unit %d listed twice", s)
		}
		seen[s] = true
	}
	mask := append([]int(nil), sms...)
	sort.Ints(mask)
	in.mu.Lock()
	defer in.mu.Unlock()
	old := map[int]bool{}
	for _, s := range in.mask {
		old[s] = true
	}
	grew := false
	for _, s := range mask {
		grew = grew || !old[s]
	}
	in.mask = mask
	in.gen++
	in.signal()
	if in.cur == nil {
		return nil
	}
	if err := in.writeMask(in.cur.ctl, mask); err != nil {
		return fmt.Errorf("exec: %s: %w", in.cur.name, err)
	}
	if grew {
		if err := in.dev.Store32(in.cur.ctl.Add(4*protocol.WordYield), 1); err != nil {
			return fmt.Errorf("exec: %s: %w", in.cur.name, err)
		}
	}
	return nil
}

// Mask is the instance's current unit mask.
func (in *Instance) Mask() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]int(nil), in.mask...)
}

// Yield preempts the instance: the running kernel stops taking tiles (its blocks leave after
// their current tile) and Run waits, keeping the kernel's progress, until Resume.
func (in *Instance) Yield() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.paused = true
	in.gen++
	if in.cur != nil {
		if err := in.dev.Store32(in.cur.ctl.Add(4*protocol.WordYield), 1); err != nil {
			return fmt.Errorf("exec: %s: %w", in.cur.name, err)
		}
	}
	return nil
}

// Resume ends a Yield: Run relaunches the yielded kernel on the current mask, and it takes the
// tiles nobody claimed.
func (in *Instance) Resume() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.paused = false
	in.gen++
	in.signal()
}

func (in *Instance) signal() {
	close(in.wake)
	in.wake = make(chan struct{})
}

// Progress reports the running kernel's progress.
func (in *Instance) Progress() Progress {
	in.mu.Lock()
	defer in.mu.Unlock()
	pr := Progress{Paused: in.paused, Mask: append([]int(nil), in.mask...), Running: in.cur != nil}
	if s := in.at; s != nil {
		pr.InKernel, pr.Launch, pr.Kernel, pr.Tiles = true, s.index, s.kernel.Name, s.kernel.Tiles
		if d, err := in.dev.Load32(s.ctl.Add(4 * protocol.WordDone)); err == nil {
			pr.Done = int(d)
		}
	}
	return pr
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
