package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// maxIdle is how many attempts in a row may run no tile, with no mask change or yield between
// them, before a sequence fails.
const maxIdle = 3

// run is one Run's state of the launch sequence: its options and, per kernel step, the launches
// it took.
type run struct {
	in       *Instance
	opts     RunOptions
	q        device.Queue
	launches []int // per kernel step
}

// newRun resets every control block (one copy) and, when tracing, the trace buffer.
func (in *Instance) newRun(opts RunOptions) (*run, error) {
	r := &run{in: in, opts: opts, launches: make([]int, len(in.ctlImage)/max(int(in.ctlStride), 1))}
	if len(in.ctlImage) == 0 {
		return r, nil
	}
	if err := in.dev.CopyToDevice(in.ctlBase, in.ctlImage); err != nil {
		return nil, fmt.Errorf("control blocks: %w", err)
	}
	if opts.Trace {
		if in.tracePtr == 0 {
			p, err := in.alloc(int64(4*in.tiles), false)
			if err != nil {
				return nil, fmt.Errorf("trace buffer: %w", err)
			}
			in.tracePtr = p
		}
		fill := make([]byte, 4*in.tiles)
		for i := range fill {
			fill[i] = 0xFF
		}
		if err := in.dev.CopyToDevice(in.tracePtr, fill); err != nil {
			return nil, fmt.Errorf("trace buffer: %w", err)
		}
	}
	q, err := in.queue(opts.Priority)
	if err != nil {
		return nil, err
	}
	r.q = q
	return r, nil
}

// queue is the instance's queue of the given priority: the device's own (device.Queuer), or
// one that launches each kernel in turn when the device has none.
func (in *Instance) queue(prio int) (device.Queue, error) {
	if q := in.queues[prio]; q != nil {
		return q, nil
	}
	var q device.Queue = &launchQueue{dev: in.dev}
	if qr, ok := in.dev.(device.Queuer); ok {
		var err error
		if q, err = qr.NewQueue(prio); err != nil {
			return nil, fmt.Errorf("launch queue: %w", err)
		}
	}
	if in.queues == nil {
		in.queues = map[int]device.Queue{}
	}
	in.queues[prio] = q
	return q, nil
}

// sequence runs kernel steps seg (consecutive, no host step between) to completion: it queues
// them all, waits once, reads their control blocks back, and while one is unfinished (a yield,
// a mask change) waits until the instance may run and queues again from the first unfinished
// one, whose control block resumes it where it stopped.
func (r *run) sequence(ctx context.Context, seg []*step) error {
	in := r.in
	in.mu.Lock()
	in.seg = seg
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.seg = nil
		in.mu.Unlock()
	}()
	before := make([]uint32, len(seg)) // tiles done before the last attempt
	idle := 0                          // attempts in a row that ran nothing
	for from := 0; ; {
		gen, units, err := in.start(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", seg[from].name, err)
		}
		for _, s := range seg[from:] {
			if err := r.q.Launch(s.fn, r.cfg(s, units), r.args(s)...); err != nil {
				in.stop()
				return fmt.Errorf("%s: %w", s.name, errorsJoin(err, r.q.Sync()))
			}
		}
		err = in.wait(ctx, r.q)
		changed := in.stop() != gen
		done, rerr := in.doneCounts(seg[from:])
		if err != nil {
			return fmt.Errorf("%s: %w", nameAt(seg, from, done), err)
		}
		if rerr != nil {
			return fmt.Errorf("%s: control block: %w", seg[from].name, rerr)
		}
		first, progress := len(seg), false
		for k, d := range done {
			if d != before[from+k] {
				progress = true
			}
			before[from+k] = d
			if int(d) < seg[from+k].kernel.Tiles && first == len(seg) {
				first = from + k
			}
		}
		for k := from; k < len(seg) && k <= first; k++ {
			r.launches[seg[k].kstep]++
		}
		if first == len(seg) {
			return nil
		}
		// An attempt that ran nothing with no yield or mask change in between: on a GPU, every
		// block of the kernel may have been placed on units outside the mask (others' blocks
		// held the rest); a few more tries, then it is an error.
		if progress || changed {
			idle = 0
		} else if idle++; idle >= maxIdle {
			s := seg[first]
			return fmt.Errorf("%s: no progress: %d of %d tiles done, and %d launches of grid %v on units %v ran none",
				s.name, before[first], s.kernel.Tiles, idle, in.grid(s, len(in.Mask())), in.Mask())
		}
		from = first
	}
}

// nameAt names the first step of seg[from:] not complete by done (or seg[from]).
func nameAt(seg []*step, from int, done []uint32) string {
	for k, d := range done {
		if int(d) < seg[from+k].kernel.Tiles {
			return seg[from+k].name
		}
	}
	return seg[from].name
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (then: %v)", a, b)
}

// cfg is the launch configuration of s while the mask has units units.
func (r *run) cfg(s *step, units int) device.LaunchConfig {
	c := s.cfg
	c.Priority = r.opts.Priority
	c.Grid = r.in.grid(s, units)
	return c
}

// args are the step's launch arguments, with its slice of the trace buffer when tracing.
func (r *run) args(s *step) []any {
	if !r.opts.Trace || len(s.trace) == 0 {
		return s.args
	}
	args := append([]any(nil), s.args...)
	for _, j := range s.trace {
		args[j] = r.in.tracePtr.Add(4 * int64(s.tile0))
	}
	return args
}

// doneCounts reads the done words of seg's control blocks (one copy: they are contiguous).
func (in *Instance) doneCounts(seg []*step) ([]uint32, error) {
	if len(seg) == 0 {
		return nil, nil
	}
	first := seg[0].ctl
	raw := make([]byte, int64(seg[len(seg)-1].ctl-first)+in.ctlStride)
	if err := in.dev.CopyToHost(raw, first); err != nil {
		return nil, err
	}
	out := make([]uint32, len(seg))
	for k, s := range seg {
		out[k] = binary.LittleEndian.Uint32(raw[int64(s.ctl-first)+4*protocol.WordDone:])
	}
	return out, nil
}

// wait waits for the queue; when ctx is done first it raises the signal's yield (every queued
// kernel then leaves after its tiles in flight) and returns ctx's error once the queue drained.
func (in *Instance) wait(ctx context.Context, q device.Queue) error {
	if ctx.Done() == nil {
		return q.Sync()
	}
	done := make(chan error, 1)
	go func() { done <- q.Sync() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	serr := in.dev.Store32(in.signal.Add(4*protocol.SignalYield), 1)
	if err := <-done; err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("stop on %v: %w", ctx.Err(), serr)
	}
	return ctx.Err()
}

// traces are the run's kernel traces (nil unless tracing).
func (r *run) traces() ([]KernelTrace, error) {
	in := r.in
	if !r.opts.Trace {
		return nil, nil
	}
	var raw []byte
	if in.tiles > 0 {
		raw = make([]byte, 4*in.tiles)
		if err := in.dev.CopyToHost(raw, in.tracePtr); err != nil {
			return nil, fmt.Errorf("trace buffer: %w", err)
		}
	}
	var out []KernelTrace
	for _, s := range in.steps {
		if s.kernel == nil {
			continue
		}
		tr := KernelTrace{Launch: s.index, Kernel: s.kernel.Name, Launches: r.launches[s.kstep]}
		if len(s.trace) > 0 {
			tr.TileUnit = make([]int, s.kernel.Tiles)
			for i := range tr.TileUnit {
				tr.TileUnit[i] = int(int32(binary.LittleEndian.Uint32(raw[4*(s.tile0+i):])))
			}
		}
		out = append(out, tr)
	}
	return out, nil
}

// launchQueue is the queue of a device without one: Sync launches what was queued, in order,
// each waiting for the one before.
type launchQueue struct {
	dev device.Device
	ops []queued
}

type queued struct {
	fn   device.Function
	cfg  device.LaunchConfig
	args []any
}

func (q *launchQueue) Launch(fn device.Function, cfg device.LaunchConfig, args ...any) error {
	q.ops = append(q.ops, queued{fn, cfg, args})
	return nil
}

func (q *launchQueue) Sync() error {
	ops := q.ops
	q.ops = nil
	for _, op := range ops {
		if err := q.dev.Launch(context.Background(), op.fn, op.cfg, op.args...); err != nil {
			return fmt.Errorf("kernel %s: %w", op.fn.Name(), err)
		}
	}
	return nil
}

func (q *launchQueue) Close() error { return q.Sync() }

// start waits until the instance may run (not paused, some units), then writes the mask and a
// cleared yield into the signal block and marks a sequence running. It returns the change
// counter and the number of units in the mask.
func (in *Instance) start(ctx context.Context) (uint64, int, error) {
	in.mu.Lock()
	for in.paused || len(in.mask) == 0 {
		wake := in.wake
		in.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		in.mu.Lock()
	}
	defer in.mu.Unlock()
	if err := in.writeSignal(in.mask); err != nil {
		return 0, 0, err
	}
	if err := in.dev.Store32(in.signal.Add(4*protocol.SignalYield), 0); err != nil {
		return 0, 0, err
	}
	in.running = true
	return in.gen, len(in.mask), nil
}

// stop marks the sequence finished and returns the change counter (SetMask, Yield, Resume).
func (in *Instance) stop() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.running = false
	return in.gen
}

// writeSignal writes the signal block's unit mask.
func (in *Instance) writeSignal(sms []int) error {
	if in.signal == 0 {
		return nil
	}
	words, err := protocol.Mask(in.units, sms...)
	if err != nil {
		return err
	}
	if len(sms) == 0 {
		clear(words)
	}
	for i, w := range words {
		if err := in.dev.Store32(in.signal.Add(int64(4*(protocol.SignalSMMask+i))), w); err != nil {
			return err
		}
	}
	return nil
}

// SetMask sets the units the instance may use from now on. The running kernel sees it at once
// through the signal block: its blocks on units no longer in the mask leave after their
// current tile; when units were added, the sequence is told to yield and Run relaunches it on
// the new mask (blocks already gone cannot come back). An empty mask pauses the run until a
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
	in.signalChange()
	if err := in.writeSignal(mask); err != nil {
		return fmt.Errorf("exec: signal block: %w", err)
	}
	if grew && in.running {
		if err := in.dev.Store32(in.signal.Add(4*protocol.SignalYield), 1); err != nil {
			return fmt.Errorf("exec: signal block: %w", err)
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
// their current tile), the kernels queued after it run none, and Run waits, keeping their
// progress, until Resume.
func (in *Instance) Yield() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.paused = true
	in.gen++
	if in.signal != 0 {
		if err := in.dev.Store32(in.signal.Add(4*protocol.SignalYield), 1); err != nil {
			return fmt.Errorf("exec: signal block: %w", err)
		}
	}
	return nil
}

// Resume ends a Yield: Run relaunches the sequence from the yielded kernel on the current
// mask, and it takes the tiles nobody claimed.
func (in *Instance) Resume() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.paused = false
	in.gen++
	in.signalChange()
}

func (in *Instance) signalChange() {
	close(in.wake)
	in.wake = make(chan struct{})
}

// Progress reports where the instance's run is: the first unfinished kernel of the sequence
// Run is in, read from its control block. The kernels of a sequence finish in order (a kernel
// takes no tile before its predecessor is complete), so a binary search over their done
// counters finds it in a few reads.
func (in *Instance) Progress() Progress {
	in.mu.Lock()
	pr := Progress{Paused: in.paused, Mask: append([]int(nil), in.mask...), Running: in.running}
	seg := in.seg
	in.mu.Unlock()
	if len(seg) == 0 {
		return pr
	}
	// Load32 (atomic) per block, not a copy: kernels may be writing them.
	done := func(s *step) (int, bool) {
		d, err := in.dev.Load32(s.ctl.Add(4 * protocol.WordDone))
		return int(d), err == nil
	}
	k := sort.Search(len(seg), func(k int) bool {
		d, ok := done(seg[k])
		return !ok || d < seg[k].kernel.Tiles
	})
	s := seg[min(k, len(seg)-1)]
	d, ok := done(s)
	if !ok {
		return pr
	}
	pr.InKernel, pr.Launch, pr.Kernel, pr.Tiles, pr.Done = true, s.index, s.kernel.Name, s.kernel.Tiles, d
	return pr
}
