package emu

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// LaunchConfig is the shape of a launch.
type LaunchConfig struct {
	Grid, Block [3]int // blocks per grid and threads per block in x, y, z (0 counts as 1)
	SharedBytes int    // dynamic shared memory per block, after the static declarations
	// RegsPerThread limits occupancy like the hardware's register file; 0 takes the kernel's
	// Target.MaxRegs, and if that is 0 too registers do not limit occupancy.
	RegsPerThread int
}

// Stats describes a finished launch.
type Stats struct {
	Blocks        int   // blocks run to completion
	BlocksPerSM   []int // blocks run on each SM
	ResidentPerSM int   // occupancy: blocks resident on one SM at once
	Steps         int64 // interpreter steps executed, all threads together
}

type launch struct {
	dev         *Device
	prog        *Program
	params      []uint64
	mem         []*alloc
	grid, block [3]uint32
	nsm         uint32
	nthreads    int
	nblocks     int
	sharedBytes int
	next        atomic.Int64
	abort       atomic.Bool
	errOnce     sync.Once
	err         error
	perSM       []atomic.Int64
	steps       atomic.Int64
}

// Launch runs k over grid x block with sharedBytes of dynamic shared memory and the given
// arguments, one per kernel parameter: pointers as Ptr (or uint64), scalars as uint32, int32,
// float32, uint64 or int64 matching the parameter's type (an untyped int is accepted for
// integer params). It returns when every block has finished.
func (d *Device) Launch(k *kir.Kernel, grid, block [3]int, sharedBytes int, args ...any) error {
	_, err := d.LaunchWith(context.Background(), k, LaunchConfig{Grid: grid, Block: block, SharedBytes: sharedBytes}, args...)
	return err
}

func dims(v [3]int, what string) ([3]uint32, int, error) {
	var out [3]uint32
	total := 1
	for i, x := range v {
		if x == 0 {
			x = 1
		}
		if x < 0 || x > math.MaxInt32 {
			return out, 0, fmt.Errorf("%s dimension %d is %d", what, i, x)
		}
		out[i] = uint32(x)
		total *= x
		if total > math.MaxInt32 {
			return out, 0, fmt.Errorf("%s of %v is too large", what, v)
		}
	}
	return out, total, nil
}

// LaunchWith is Launch with a context (cancelling it aborts the launch: blocks stop at their
// next time slice and the launch returns the context's error) and statistics.
func (d *Device) LaunchWith(ctx context.Context, k *kir.Kernel, c LaunchConfig, args ...any) (Stats, error) {
	fail := func(err error) (Stats, error) {
		return Stats{}, fmt.Errorf("emu: launch %q: %w", k.Name, err)
	}
	prog, err := d.Compile(k)
	if err != nil {
		return Stats{}, err
	}
	grid, nblocks, err := dims(c.Grid, "grid")
	if err != nil {
		return fail(err)
	}
	block, nthreads, err := dims(c.Block, "block")
	if err != nil {
		return fail(err)
	}
	if nthreads > d.cfg.MaxThreadsPerBlock {
		return fail(fmt.Errorf("%d threads per block, the device allows %d", nthreads, d.cfg.MaxThreadsPerBlock))
	}
	if c.SharedBytes < 0 {
		return fail(fmt.Errorf("dynamic shared memory %d bytes", c.SharedBytes))
	}
	params, err := convertArgs(k, args)
	if err != nil {
		return fail(err)
	}
	shared := prog.sharedStatic + c.SharedBytes
	regs := c.RegsPerThread
	if regs == 0 {
		regs = k.Target.MaxRegs
	}
	occ := d.Occupancy(nthreads, shared, regs)
	if occ == 0 {
		return fail(fmt.Errorf("a block of %d threads, %d shared bytes and %d registers per thread does not fit on an SM (%+v)",
			nthreads, shared, regs, d.cfg))
	}
	l := &launch{dev: d, prog: prog, params: params, mem: d.mem.table(), grid: grid, block: block,
		nsm: uint32(d.cfg.SMs), nthreads: nthreads, nblocks: nblocks, sharedBytes: (shared + 3) / 4 * 4,
		perSM: make([]atomic.Int64, d.cfg.SMs)}
	slots := d.cfg.SMs * occ
	l.next.Store(int64(slots))
	stop := context.AfterFunc(ctx, func() { l.fail(ctx.Err()) })
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < slots && i < nblocks; i++ {
		wg.Add(1)
		go func(sm, first int) {
			defer wg.Done()
			l.worker(sm, first)
		}(i%d.cfg.SMs, i)
	}
	wg.Wait()
	st := Stats{BlocksPerSM: make([]int, d.cfg.SMs), ResidentPerSM: occ, Steps: l.steps.Load()}
	for i := range l.perSM {
		st.BlocksPerSM[i] = int(l.perSM[i].Load())
		st.Blocks += st.BlocksPerSM[i]
	}
	if l.err != nil {
		return st, fmt.Errorf("emu: launch %q: %w", k.Name, l.err)
	}
	return st, nil
}

func (l *launch) fail(err error) {
	l.errOnce.Do(func() { l.err = err })
	l.abort.Store(true)
}

// worker is one resident-block slot of SM sm: it runs block first, then unstarted blocks.
func (l *launch) worker(sm, first int) {
	bk := newBlock(l, sm)
	defer func() {
		l.steps.Add(bk.steps)
		l.dev.putRegs(bk.regs)
	}()
	for idx := first; idx < l.nblocks; idx = int(l.next.Add(1) - 1) {
		if l.abort.Load() {
			return
		}
		bk.reset(idx)
		if err := bk.run(); err != nil {
			if err != errAborted {
				l.fail(err)
			}
			return
		}
		l.perSM[sm].Add(1)
	}
}

// convertArgs turns launch arguments into parameter register values.
func convertArgs(k *kir.Kernel, args []any) ([]uint64, error) {
	if len(args) != len(k.Params) {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(args), len(k.Params))
	}
	out := make([]uint64, len(args))
	for i, a := range args {
		p := k.Params[i]
		bad := fmt.Errorf("param %d %q (%s): argument %v of type %T", i, p.Name, p.T, a, a)
		switch p.T {
		case kir.U64:
			switch v := a.(type) {
			case Ptr:
				out[i] = uint64(v)
			case uint64:
				out[i] = v
			case int:
				if p.Ptr && v != 0 || v < 0 {
					return nil, bad
				}
				out[i] = uint64(v)
			default:
				return nil, bad
			}
		case kir.S64:
			switch v := a.(type) {
			case int64:
				out[i] = uint64(v)
			case int:
				out[i] = uint64(int64(v))
			default:
				return nil, bad
			}
		case kir.U32, kir.B32:
			switch v := a.(type) {
			case uint32:
				out[i] = uint64(v)
			case int:
				if v < 0 || v > math.MaxUint32 {
					return nil, bad
				}
				out[i] = uint64(v)
			default:
				return nil, bad
			}
		case kir.S32:
			switch v := a.(type) {
			case int32:
				out[i] = uint64(uint32(v))
			case int:
				if v < math.MinInt32 || v > math.MaxInt32 {
					return nil, bad
				}
				out[i] = uint64(uint32(int32(v)))
			default:
				return nil, bad
			}
		case kir.F32:
			v, ok := a.(float32)
			if !ok {
				return nil, bad
			}
			out[i] = uint64(math.Float32bits(v))
		default:
			return nil, bad
		}
	}
	return out, nil
}
