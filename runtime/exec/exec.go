// Package exec runs a compiled plan (compiler/plan) on a device (runtime/device): it places
// the plan's buffers (one arena per plan instance, the weights uploaded once), prepares every
// launch of the sequence (its function, arguments and control block), and runs the sequence
// for each request: kernel launches through the SM-aware persistent protocol, host steps with
// the reference operators of runtime/cpu. It also offers the preemption interface the
// scheduler drives while a request runs (SetMask, Yield, Resume): a kernel that yields or
// loses its units is relaunched on the same control block and resumes where it stopped.
//
// The kernels between two host steps are queued back to back on a device queue
// (device.Queuer: a GPU stream) and waited for once, not one by one. Every control block names
// the instance's signal block (one mapped block holding the yield flag and unit mask that every
// kernel obeys, so one host store reaches whichever kernel runs) and the previous kernel's
// block (a kernel takes no tile while its predecessor is unfinished). A preempted sequence
// therefore stops at its first unfinished kernel; Run reads the control blocks back and
// relaunches from there. Devices without queues run the same sequence launch by launch.
//
// exec imports runtime/device, runtime/cpu (host steps), compiler/plan, compiler/graph (data
// types) and kernels/tensor; never a device implementation (runtime/emu, runtime/cuda) nor
// compiler passes or lowering.
package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// buffer is where a value lives on the device.
type buffer struct {
	name  string
	ptr   device.Ptr
	size  int64 // bytes reserved
	dtype tensor.DType
	shape []int // concrete shape; nil when unknown (kernel-only values)
}

// step is one prepared launch of the sequence.
type step struct {
	index  int
	kernel *plan.Kernel // nil for a host step
	fn     device.Function
	cfg    device.LaunchConfig
	args   []any
	trace  []int // indexes of args that take the trace pointer
	ctl    device.Ptr
	kstep  int         // index among the kernel steps (its control block, its trace slice)
	resid  int         // blocks resident per unit, from the device (device.Resident); 0: unknown
	tile0  int         // first tile of its slice of the trace buffer
	node   *graph.Node // host step
	free   []string    // host step: outer-scope values its subgraphs read
	name   string      // for errors: kernel or node name
}

// Instance is a plan loaded on a device: its buffers allocated, weights uploaded and kernels
// loaded. Run may be called any number of times, one call at a time per Instance (calls
// serialise); SetMask, Yield, Resume and Progress may be called from any goroutine.
type Instance struct {
	dev      device.Device
	p        *plan.Plan
	units    int
	bufs     map[string]*buffer
	consts   map[string]*tensor.Tensor // initializers read by host steps or returned as outputs
	steps    []*step
	allocs   []device.Ptr
	tiles    int // tiles of all kernel steps (the trace buffer's length)
	tracePtr device.Ptr

	// Control blocks: one per kernel step, ctlStride apart from ctlBase in device memory, reset
	// from ctlImage before every Run; each names the signal block and its predecessor's block.
	ctlBase   device.Ptr
	ctlStride int64
	ctlImage  []byte
	signal    device.Ptr // the signal block (mapped memory): yield and the unit mask of every kernel

	runMu  sync.Mutex           // one Run at a time
	queues map[int]device.Queue // by priority; Run's alone

	mu      sync.Mutex
	mask    []int
	paused  bool
	wake    chan struct{} // closed when mask or paused change
	gen     uint64        // counts SetMask/Yield calls (a sequence that ends early after one is expected)
	running bool          // a sequence of kernels is on the device now
	seg     []*step       // the kernel steps Run is running (queued, or waiting to be relaunched)
	last    []KernelTrace
	closed  bool
}

// Load places p on dev: one arena allocation for the plan's intermediates, one for the weights
// kernels read (uploaded here, once), one for graph inputs and outputs outside the arena, one
// for the control blocks and a mapped one for the signal block; every kernel is loaded. Errors
// name the launch, kernel or value at fault.
func Load(ctx context.Context, dev device.Device, p *plan.Plan) (*Instance, error) {
	if dev == nil || p == nil || p.Graph == nil {
		return nil, errors.New("exec: load needs a device and a plan with a graph")
	}
	in := &Instance{dev: dev, p: p, units: dev.Units(), bufs: map[string]*buffer{},
		consts: map[string]*tensor.Tensor{}, wake: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			in.Close()
		}
	}()
	in.mask = defaultMask(p.Budget.SMs, in.units)
	if err := in.place(ctx); err != nil {
		return nil, fmt.Errorf("exec: plan %q: %w", p.Model, err)
	}
	ok = true
	return in, nil
}

func defaultMask(budgetSMs, units int) []int {
	n := budgetSMs
	if n <= 0 || n > units {
		n = units
	}
	m := make([]int, n)
	for i := range m {
		m[i] = i
	}
	return m
}

// Close frees the instance's device memory.
func (in *Instance) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	var errs []error
	for _, q := range in.queues {
		errs = append(errs, q.Close())
	}
	in.queues = nil
	for _, p := range in.allocs {
		errs = append(errs, in.dev.Free(p))
	}
	in.allocs = nil
	return errors.Join(errs...)
}

// Plan is the plan the instance runs.
func (in *Instance) Plan() *plan.Plan { return in.p }

// Device is the device the instance runs on.
func (in *Instance) Device() device.Device { return in.dev }

func (in *Instance) alloc(n int64, mapped bool) (device.Ptr, error) {
	n = max(n, 4)
	var p device.Ptr
	var err error
	if mapped {
		p, err = in.dev.AllocMapped(n)
	} else {
		p, err = in.dev.Alloc(n)
	}
	if err != nil {
		return 0, err
	}
	in.allocs = append(in.allocs, p)
	return p, nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// valueInfo returns the dtype and concrete shape (nil when unknown) of a value.
func (in *Instance) valueInfo(name string) (tensor.DType, []int, bool) {
	for _, vs := range [][]graph.Value{in.p.Inputs, in.p.Outputs} {
		for _, v := range vs {
			if v.Name == name {
				s, _ := v.Shape.Concrete()
				return v.DType, s, true
			}
		}
	}
	v, ok := in.p.Graph.Value(name)
	if !ok {
		return tensor.Undefined, nil, false
	}
	s, conc := v.Shape.Concrete()
	if !conc || !v.RankKnown {
		s = nil
	}
	return v.DType, s, true
}

// place resolves every value the sequence names to device memory and prepares the steps.
func (in *Instance) place(ctx context.Context) error {
	p := in.p
	mem := p.Memory
	align := max(mem.Alignment, device.Alignment)
	isIO := map[string]bool{}
	for _, v := range p.Inputs {
		isIO[v.Name] = true
	}
	for _, v := range p.Outputs {
		isIO[v.Name] = true
	}
	nodes := map[string]*graph.Node{}
	for _, n := range p.Graph.Nodes {
		nodes[n.Name] = n
	}

	// Which values live where: weights read by kernels, values outside the arena.
	var weights, extras []string
	seen := map[string]bool{}
	need := func(name string, kernelArg bool) error {
		if name == "" || seen[name] {
			return nil
		}
		if t, ok := p.Graph.Initializers[name]; ok {
			if !kernelArg {
				in.consts[name] = t
				return nil
			}
			seen[name] = true
			weights = append(weights, name)
			return nil
		}
		seen[name] = true
		if _, ok := mem.Offsets[name]; ok {
			return nil
		}
		dt, shape, known := in.valueInfo(name)
		if !known || shape == nil || dt.Size() == 0 {
			return fmt.Errorf("value %q is neither in the memory plan, a weight, nor a value of known shape", name)
		}
		extras = append(extras, name)
		return nil
	}
	for _, v := range p.Inputs {
		if err := need(v.Name, false); err != nil {
			return fmt.Errorf("input: %w", err)
		}
	}
	for _, v := range p.Outputs {
		if err := need(v.Name, false); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	for i, l := range p.Launches {
		if l.Kernel == plan.HostStep {
			n := nodes[l.Host]
			if n == nil {
				return fmt.Errorf("launch %d: host step for node %q, which the graph does not have", i, l.Host)
			}
			for _, name := range append(append([]string{}, n.Inputs...), freeVars(n)...) {
				if err := need(name, false); err != nil {
					return fmt.Errorf("launch %d (host %s): %w", i, n, err)
				}
			}
			for _, name := range n.Outputs {
				_, inArena := mem.Offsets[name]
				if name != "" && (inArena || isIO[name]) {
					if err := need(name, false); err != nil {
						return fmt.Errorf("launch %d (host %s): %w", i, n, err)
					}
				}
			}
			continue
		}
		if l.Kernel < 0 || l.Kernel >= len(p.Kernels) {
			return fmt.Errorf("launch %d names kernel %d of %d", i, l.Kernel, len(p.Kernels))
		}
		for _, a := range l.Args {
			if err := need(a.Value, true); err != nil {
				return fmt.Errorf("launch %d (kernel %s): %w", i, p.Kernels[l.Kernel].Name, err)
			}
		}
	}

	// The arena.
	if mem.ArenaBytes > 0 {
		arena, err := in.alloc(mem.ArenaBytes, false)
		if err != nil {
			return fmt.Errorf("arena of %d bytes: %w", mem.ArenaBytes, err)
		}
		for name, off := range mem.Offsets {
			size := mem.Sizes[name]
			if off < 0 || off%4 != 0 || size < 0 || off+size > mem.ArenaBytes {
				return fmt.Errorf("memory plan: value %q at [%d, +%d) outside the %d-byte arena or misaligned", name, off, size, mem.ArenaBytes)
			}
			dt, shape, _ := in.valueInfo(name)
			if shape != nil && int64(tensor.NumElements(shape)*dt.Size()) > size {
				return fmt.Errorf("memory plan: value %q (%v%v) needs %d bytes, the plan gives %d", name, dt, shape,
					tensor.NumElements(shape)*dt.Size(), size)
			}
			in.bufs[name] = &buffer{name: name, ptr: arena.Add(off), size: size, dtype: dt, shape: shape}
		}
	} else if len(mem.Offsets) > 0 {
		return fmt.Errorf("memory plan places %d values in an arena of 0 bytes", len(mem.Offsets))
	}

	// Weights, packed into one allocation and uploaded once; then graph I/O outside the arena.
	if err := in.pack(weights, align, func(name string) (*tensor.Tensor, tensor.DType, []int) {
		t := p.Graph.Initializers[name]
		return t, t.DType, t.Shape
	}); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := in.pack(extras, align, func(name string) (*tensor.Tensor, tensor.DType, []int) {
		dt, shape, _ := in.valueInfo(name)
		return nil, dt, shape
	}); err != nil {
		return fmt.Errorf("graph inputs and outputs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return in.prepare(nodes)
}

// pack places values in one allocation (align-aligned), uploading the tensors given.
func (in *Instance) pack(names []string, align int64, info func(string) (*tensor.Tensor, tensor.DType, []int)) error {
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	offs := make([]int64, len(names))
	var total int64
	for i, name := range names {
		_, dt, shape := info(name)
		offs[i] = total
		total = alignUp(total+int64(tensor.NumElements(shape)*dt.Size()), align)
	}
	base, err := in.alloc(total, false)
	if err != nil {
		return fmt.Errorf("%d bytes: %w", total, err)
	}
	for i, name := range names {
		t, dt, shape := info(name)
		b := &buffer{name: name, ptr: base.Add(offs[i]), size: int64(tensor.NumElements(shape) * dt.Size()), dtype: dt, shape: shape}
		in.bufs[name] = b
		if t == nil {
			continue
		}
		raw, err := encode(t)
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		if err := in.dev.CopyToDevice(b.ptr, raw); err != nil {
			return fmt.Errorf("upload %q: %w", name, err)
		}
	}
	return nil
}

// prepare loads the kernels and builds every launch's arguments and control block.
func (in *Instance) prepare(nodes map[string]*graph.Node) error {
	p := in.p
	fns := make([]device.Function, len(p.Kernels))
	nkernels := 0
	for _, l := range p.Launches {
		if l.Kernel != plan.HostStep {
			nkernels++
		}
	}
	in.ctlStride = alignUp(int64(4*protocol.Words(in.units)), 64)
	if nkernels > 0 {
		var err error
		if in.ctlBase, err = in.alloc(in.ctlStride*int64(nkernels), false); err != nil {
			return fmt.Errorf("control blocks: %w", err)
		}
		if in.signal, err = in.alloc(int64(4*protocol.SignalWords(in.units)), true); err != nil {
			return fmt.Errorf("signal block: %w", err)
		}
		if err := in.writeSignal(in.mask); err != nil {
			return fmt.Errorf("signal block: %w", err)
		}
	}
	in.ctlImage = make([]byte, in.ctlStride*int64(nkernels))
	all, err := protocol.Mask(in.units)
	if err != nil {
		return err
	}
	kernelSteps := 0
	for i, l := range p.Launches {
		if l.Kernel == plan.HostStep {
			n := nodes[l.Host]
			in.steps = append(in.steps, &step{index: i, node: n, free: freeVars(n), name: fmt.Sprintf("host step %d (%s)", i, n)})
			continue
		}
		k := &p.Kernels[l.Kernel]
		if fns[l.Kernel] == nil {
			fn, err := in.dev.Load(k)
			if err != nil {
				return fmt.Errorf("launch %d: load kernel %q: %w", i, k.Name, err)
			}
			fns[l.Kernel] = fn
		}
		s := &step{index: i, kernel: k, fn: fns[l.Kernel], ctl: in.ctlBase.Add(in.ctlStride * int64(kernelSteps)),
			kstep: kernelSteps, tile0: in.tiles, name: fmt.Sprintf("launch %d (kernel %s)", i, k.Name)}
		if k.Tiles <= 0 || k.Tiles >= protocol.Stop {
			return fmt.Errorf("%s: %d tiles", s.name, k.Tiles)
		}
		// The control block's initial words: all units open (the signal block's mask rules),
		// and the previous kernel step as the one that must be complete.
		c := protocol.Control{NTiles: uint32(k.Tiles), Signal: uint64(in.signal), SMMask: all}
		if kernelSteps > 0 {
			c.After = uint64(s.ctl) - uint64(in.ctlStride)
		}
		for j, w := range c.Words() {
			binary.LittleEndian.PutUint32(in.ctlImage[in.ctlStride*int64(kernelSteps)+4*int64(j):], w)
		}
		kernelSteps++
		in.tiles += k.Tiles
		if err := in.bind(s, l); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.cfg, s.resid = in.launchConfig(k, s.fn)
		in.steps = append(in.steps, s)
	}
	return nil
}

// launchConfig is the kernel's launch shape on this device. Persistent kernels take their
// tiles from the control block, so any grid is correct; a grid too small to put a block on
// every unit is widened to units x blocks per SM (DESIGN.md section 4), so any mask works.
// On a device that knows the function's real residency (device.Resident: a GPU, from the
// registers its JIT allotted), the grid is exactly units x that: every block slot of every
// unit the mask may open, however the plan's register estimate erred; it returns that number
// of blocks per unit too (0 when the device does not know it), and each launch then takes no
// more blocks per unit than its tiles can keep busy (grid).
func (in *Instance) launchConfig(k *plan.Kernel, fn device.Function) (device.LaunchConfig, int) {
	dyn := k.SharedBytes
	if k.IR != nil {
		_, static := k.IR.SharedLayout()
		dyn = max(k.SharedBytes-static, 0)
	}
	cfg := device.LaunchConfig{Grid: k.Grid, Block: k.Block, SharedBytes: dyn, RegsPerThread: k.Registers}
	threads := max(k.Block[0], 1) * max(k.Block[1], 1) * max(k.Block[2], 1)
	if r, ok := in.dev.(device.Resident); ok {
		if n, err := r.BlocksPerUnit(fn, threads, dyn); err == nil && n > 0 {
			cfg.Grid = [3]int{in.units * n, 1, 1}
			return cfg, n
		}
	}
	if blocks := max(k.Grid[0], 1) * max(k.Grid[1], 1) * max(k.Grid[2], 1); blocks < in.units {
		cfg.Grid = [3]int{in.units * max(k.BlocksPerSM, 1), 1, 1}
	}
	return cfg, 0
}

// grid is the grid of one launch of s while the mask has units units: every unit of the
// device gets the same number of blocks (any unit may be in the mask, and the hardware spreads
// a grid over all of them), as many as the mask's units need to take every tile at once, at
// most the resident ones. A kernel of 4 tiles on a 132-SM GPU then launches 132 blocks, not
// 132 x the resident ones that would each read the signal block once and leave.
func (in *Instance) grid(s *step, units int) [3]int {
	if s.resid == 0 || units <= 0 {
		return s.cfg.Grid
	}
	per := min(s.resid, (s.kernel.Tiles+units-1)/units)
	return [3]int{in.units * max(per, 1), 1, 1}
}

// bind turns a launch's Args into device arguments.
func (in *Instance) bind(s *step, l plan.Launch) error {
	k := s.kernel
	if len(l.Args) != len(k.Params) {
		return fmt.Errorf("%d arguments for %d parameters", len(l.Args), len(k.Params))
	}
	if k.IR != nil && len(k.IR.Params) != len(k.Params) {
		return fmt.Errorf("the plan lists %d parameters, the kernel IR has %d", len(k.Params), len(k.IR.Params))
	}
	s.args = make([]any, len(k.Params))
	for j, prm := range k.Params {
		a := l.Args[j]
		switch {
		case prm.Kind == plan.ParamCtl:
			s.args[j] = s.ctl
		case prm.Name == "trace" && a.Value == "":
			s.args[j] = device.Ptr(0)
			s.trace = append(s.trace, j)
		case prm.Kind == plan.ParamBuffer:
			if a.Value == "" {
				s.args[j] = device.Ptr(0)
				continue
			}
			b := in.bufs[a.Value]
			if b == nil {
				return fmt.Errorf("param %d %q: value %q has no buffer", j, prm.Name, a.Value)
			}
			if a.Offset < 0 || a.Offset%4 != 0 || a.Offset > b.size {
				return fmt.Errorf("param %d %q: offset %d into %q (%d bytes)", j, prm.Name, a.Offset, a.Value, b.size)
			}
			s.args[j] = b.ptr.Add(a.Offset)
		case prm.Kind == plan.ParamU32 || prm.Kind == plan.ParamU64:
			s.args[j] = a.Int
		case prm.Kind == plan.ParamF32:
			s.args[j] = float32(a.Float)
		default:
			return fmt.Errorf("param %d %q of kind %q", j, prm.Name, prm.Kind)
		}
	}
	return nil
}
