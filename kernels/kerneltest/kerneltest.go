// Package kerneltest runs kernel template instances (kernels.Instance) on the kernels/emu
// interpreter for the templates' tests: it binds buffers to the instance's argument roles,
// builds the persistent protocol's control block, launches one block per resident slot of every
// virtual SM, and reads outputs back. RunWith shapes a run the way the scheduler would: an SM
// mask, a host hook running during the launch (YieldAfter sets the yield word), a relaunch
// that resumes on the same control block, and the per-tile SM trace. RunPreempted and
// CheckMaskAndResume use it so every template family can check that the protocol confines
// tiles to the mask and resumes to a bit-identical result. It also compares outputs with a
// relative (norm-based) error and checks that instances assemble with ptxas (CheckPTX). Run
// also runs every instance's rendered PTX on kernels/ptx/ptxsim and requires the same bits as
// the emulator's, so every template test checks the PTX's meaning, not only the kir's.
//
// It is test support, like net/http/httptest: only tests import it. It imports kernels,
// kernels/emu, kernels/kir, kernels/kir/protocol, kernels/ptx and its ptxas and ptxsim, never
// compiler/ or runtime/ packages.
package kerneltest

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// Device shape of the test runs: a few small SMs, so that multi-SM scheduling happens while
// the interpreter's register files stay small.
const (
	SMs          = 3
	BlocksPerSM  = 2
	launchTimout = 60 * time.Second
)

// Buffers maps an instance's buffer roles to their initial contents: []float32, []uint32,
// []int32 or []int64 (int64 is stored as two little-endian u32 words per element), or an int
// giving the size in 32-bit words of a zeroed output buffer.
type Buffers map[string]any

type rig struct {
	d     *emu.Device
	in    *kernels.Instance
	ptrs  map[string]emu.Ptr
	ctl   emu.Ptr
	trace emu.Ptr // 0: the kernel records no trace
}

func words(v any) ([]uint32, error) {
	switch x := v.(type) {
	case []float32:
		w := make([]uint32, len(x))
		for i, f := range x {
			w[i] = math.Float32bits(f)
		}
		return w, nil
	case []uint32:
		return append([]uint32(nil), x...), nil
	case []int32:
		w := make([]uint32, len(x))
		for i, f := range x {
			w[i] = uint32(f)
		}
		return w, nil
	case []int64:
		w := make([]uint32, 2*len(x))
		for i, f := range x {
			w[2*i], w[2*i+1] = uint32(uint64(f)), uint32(uint64(f)>>32)
		}
		return w, nil
	case int:
		return make([]uint32, x), nil
	}
	return nil, fmt.Errorf("buffer of type %T", v)
}

func newRig(in *kernels.Instance, bufs Buffers, trace bool, sms ...int) (*rig, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	d, err := emu.NewDevice(emu.Config{SMs: SMs, MaxBlocksPerSM: BlocksPerSM, TimeSlice: 512})
	if err != nil {
		return nil, err
	}
	r := &rig{d: d, in: in, ptrs: map[string]emu.Ptr{}}
	names := make([]string, 0, len(bufs))
	for name := range bufs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w, err := words(bufs[name])
		if err != nil {
			return nil, fmt.Errorf("buffer %q: %w", name, err)
		}
		if r.ptrs[name], err = d.AllocU32(w); err != nil {
			return nil, fmt.Errorf("buffer %q: %w", name, err)
		}
	}
	c, err := protocol.NewControl(in.Tiles, SMs, sms...)
	if err != nil {
		return nil, err
	}
	if r.ctl, err = d.AllocU32(c.Words()); err != nil {
		return nil, err
	}
	if trace {
		if r.trace, err = d.AllocU32(make([]uint32, in.Tiles)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *rig) launch() error {
	args := make([]any, len(r.in.Args))
	for i, a := range r.in.Args {
		switch a.Kind {
		case kernels.ArgControl:
			args[i] = r.ctl
		case kernels.ArgBuffer:
			p, ok := r.ptrs[a.Name]
			if !ok {
				return fmt.Errorf("kernel %s: no buffer for role %q", r.in.Name, a.Name)
			}
			args[i] = p
		case kernels.ArgTrace:
			args[i] = r.trace
		case kernels.ArgU32:
			args[i] = a.U32
		case kernels.ArgS32:
			args[i] = a.S32
		case kernels.ArgF32:
			args[i] = a.F32
		default:
			return fmt.Errorf("kernel %s: argument %d of kind %d", r.in.Name, i, a.Kind)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), launchTimout)
	defer cancel()
	_, err := r.d.LaunchWith(ctx, r.in.Kernel, emu.LaunchConfig{
		Grid: [3]int{SMs * BlocksPerSM}, Block: [3]int{r.in.Threads}, SharedBytes: r.in.DynamicShared}, args...)
	return err
}

// launchDuring launches with during (when not nil) running on the host meanwhile; during's
// stop channel is closed once the launch has returned, and launchDuring waits for during.
func (r *rig) launchDuring(during During) error {
	if during == nil {
		return r.launch()
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- during(r.d, r.ctl, stop) }()
	err := r.launch()
	close(stop)
	if herr := <-done; err == nil && herr != nil {
		err = fmt.Errorf("kernel %s: host hook during the launch: %w", r.in.Name, herr)
	}
	return err
}

// resume clears yield, opens every SM and launches again on the same control block.
func (r *rig) resume() error {
	if err := r.d.Store32(r.ctl.Add(4*protocol.WordYield), 0); err != nil {
		return err
	}
	for s := 0; s < SMs; s++ {
		w, bit := protocol.MaskWord(s)
		if err := r.d.Store32(r.ctl.Add(4*w), r.word(w)|bit); err != nil {
			return err
		}
	}
	return r.launch()
}

func (r *rig) word(i int) uint32 {
	v, _ := r.d.Load32(r.ctl.Add(4 * i))
	return v
}

func (r *rig) read(name string, n int) ([]uint32, error) {
	p, ok := r.ptrs[name]
	if !ok {
		return nil, fmt.Errorf("no buffer %q", name)
	}
	return r.d.ReadU32(p, n)
}

// outputs reads every buffer back after the last launch and checks that the control block
// says every tile was claimed and done.
func (r *rig) outputs(bufs Buffers) (map[string][]uint32, error) {
	out := map[string][]uint32{}
	for name, v := range bufs {
		w, err := words(v)
		if err != nil {
			return nil, err
		}
		if out[name], err = r.read(name, len(w)); err != nil {
			return nil, err
		}
	}
	done, next, n := r.word(protocol.WordDone), r.word(protocol.WordNextTile), r.in.Tiles
	if int(done) != n || int(next) < n {
		return nil, fmt.Errorf("kernel %s: control block after the run: next %d, done %d of %d tiles", r.in.Name, next, done, n)
	}
	return out, nil
}

// During is a host hook that runs while a launch runs, with the device and the address of the
// protocol's control block; stop is closed once the launch has returned. Its error fails the
// run.
type During func(d *emu.Device, ctl emu.Ptr, stop <-chan struct{}) error

// Launch shapes one run of an instance (RunWith).
type Launch struct {
	SMs      []int  // the first launch's SM mask (every SM when empty)
	During   During // runs on the host during the first launch (nil: none)
	Relaunch bool   // then clear yield, open every SM and launch again: the protocol's resume
	Trace    bool   // bind a trace buffer: Result.Trace gets the SM that ran each tile
}

// Result is what RunWith reads back.
type Result struct {
	Out     map[string][]uint32 // every buffer's contents after the run, as u32 words
	Trace   []uint32            // with Launch.Trace, per tile the SM that (last) ran it
	First   int                 // tiles done when the first launch returned
	Claimed int                 // tiles claimed (the next-tile word) when the first launch returned
}

// RunWith runs in on a fresh emu device with every buffer of bufs bound to its role, shaped by
// l. It fails unless, after the run, every tile was claimed and done.
func RunWith(in *kernels.Instance, bufs Buffers, l Launch) (*Result, error) {
	r, err := newRig(in, bufs, l.Trace, l.SMs...)
	if err != nil {
		return nil, err
	}
	if err := r.launchDuring(l.During); err != nil {
		return nil, err
	}
	res := &Result{First: int(r.word(protocol.WordDone)), Claimed: int(r.word(protocol.WordNextTile))}
	if l.Relaunch {
		if err := r.resume(); err != nil {
			return nil, err
		}
	}
	if res.Out, err = r.outputs(bufs); err != nil {
		return nil, err
	}
	if l.Trace {
		if res.Trace, err = r.d.ReadU32(r.trace, in.Tiles); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Run launches in once on a fresh emu device with every buffer of bufs bound to its role and
// returns every buffer's contents afterwards, as u32 words. It also runs the instance's
// rendered PTX on kernels/ptx/ptxsim (RunSim) and fails unless every buffer comes out the same,
// bit for bit (SimEnv=0 turns that off).
func Run(in *kernels.Instance, bufs Buffers) (map[string][]uint32, error) {
	res, err := RunWith(in, bufs, Launch{})
	if err != nil {
		return nil, err
	}
	if err := crossCheck(in, bufs, res.Out); err != nil {
		return nil, err
	}
	return res.Out, nil
}

// YieldAfter is a During hook that sets the protocol's yield word once tiles tiles are done
// (polling the control block every few microseconds), asking the launch to stop early.
func YieldAfter(tiles int) During {
	return func(d *emu.Device, ctl emu.Ptr, stop <-chan struct{}) error {
		for {
			select {
			case <-stop:
				return nil
			default:
			}
			if v, err := d.Load32(ctl.Add(4 * protocol.WordDone)); err == nil && int(v) >= tiles {
				return d.Store32(ctl.Add(4*protocol.WordYield), 1)
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// RunPreempted launches in restricted to SM 1, sets yield once the first tile is done, then
// clears yield, opens every SM and relaunches on the same control block until all tiles are
// done. It returns the buffers' contents and how many tiles the first launch ran. The yield
// races the kernel, so it tries up to 10 times (on fresh buffers) until the first launch stops
// part-way.
func RunPreempted(in *kernels.Instance, bufs Buffers) (map[string][]uint32, int, error) {
	for try := 0; ; try++ {
		res, err := RunWith(in, bufs, Launch{SMs: []int{1}, During: YieldAfter(1), Relaunch: true})
		if err != nil {
			return nil, 0, err
		}
		if res.First < in.Tiles || try == 9 {
			return res.Out, res.First, nil
		}
	}
}
