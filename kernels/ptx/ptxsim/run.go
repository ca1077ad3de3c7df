package ptxsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Config describes the simulated device.
type Config struct {
	SMs         int // %nsmid (required, >= 1)
	BlocksPerSM int // resident block slots per SM (default 1)
	TimeSlice   int // instructions a thread runs before the block scheduler moves on (default 1024)
}

// Launch is the shape and arguments of one launch.
type Launch struct {
	Grid, Block [3]int   // 0 counts as 1
	DynShared   int      // bytes of dynamic shared memory (after the static, aligned as declared)
	Params      []uint64 // one per param; a 4-byte param is the low half
}

// Stats describes a finished (or failed) launch.
type Stats struct {
	Blocks       int   // blocks run to completion
	BlocksPerSM  []int // of which on each SM
	Instructions int64 // instructions executed (guarded-off ones included), all threads together
}

// Limits of the simulated device.
const (
	MaxThreadsPerBlock = 1024
	MaxSharedPerBlock  = 227 << 10 // bytes; the largest any sm_75..sm_90 device allows
)

// launchState is shared by the slots of one launch.
type launchState struct {
	k        *Kernel
	mem      Memory
	regions  Regions
	cfg      Config
	grid     [3]uint32
	block    [3]uint32
	nthreads int
	nblocks  int
	params   []uint64
	shared   int // bytes of shared memory per block
	next     atomic.Int64
	abort    atomic.Bool
	errOnce  sync.Once
	err      error
	perSM    []atomic.Int64
	instrs   atomic.Int64
}

var errAborted = errors.New("launch aborted")

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
			return out, 0, fmt.Errorf("%s %v has too many elements", what, v)
		}
	}
	return out, total, nil
}

// Run executes a launch of k on mem and returns when every block has finished, a block has
// failed (the error names the kernel, block, thread and PTX line), or ctx is done.
func Run(ctx context.Context, k *Kernel, mem Memory, cfg Config, l Launch) (Stats, error) {
	if k == nil {
		return Stats{}, fmt.Errorf("ptxsim: run: nil kernel")
	}
	fail := func(err error) (Stats, error) {
		return Stats{}, fmt.Errorf("ptxsim: launch of %s: %w", k.name, err)
	}
	if cfg.SMs < 1 || cfg.SMs > 1<<16 {
		return fail(fmt.Errorf("config with %d SMs (want 1 .. 65536)", cfg.SMs))
	}
	if cfg.BlocksPerSM == 0 {
		cfg.BlocksPerSM = 1
	}
	if cfg.TimeSlice == 0 {
		cfg.TimeSlice = 1024
	}
	if cfg.BlocksPerSM < 0 || cfg.BlocksPerSM > 64 || cfg.TimeSlice < 0 {
		return fail(fmt.Errorf("config %+v: BlocksPerSM must be 1..64 and TimeSlice positive", cfg))
	}
	grid, nblocks, err := dims(l.Grid, "grid")
	if err != nil {
		return fail(err)
	}
	block, nthreads, err := dims(l.Block, "block")
	if err != nil {
		return fail(err)
	}
	switch {
	case nthreads > MaxThreadsPerBlock:
		return fail(fmt.Errorf("%d threads per block, at most %d", nthreads, MaxThreadsPerBlock))
	case k.maxThreads > 0 && nthreads > k.maxThreads:
		return fail(fmt.Errorf("%d threads per block, the kernel's .maxntid allows %d", nthreads, k.maxThreads))
	case l.DynShared < 0 || k.dynBase+l.DynShared > MaxSharedPerBlock:
		return fail(fmt.Errorf("%d bytes of dynamic shared memory after %d static: at most %d in all",
			l.DynShared, k.dynBase, MaxSharedPerBlock))
	case len(l.Params) > len(k.params):
		return fail(fmt.Errorf("%d params for a kernel of %d", len(l.Params), len(k.params)))
	}
	st := &launchState{k: k, mem: mem, cfg: cfg, grid: grid, block: block, nthreads: nthreads,
		nblocks: nblocks, params: l.Params, shared: k.dynBase + l.DynShared,
		perSM: make([]atomic.Int64, cfg.SMs)}
	if r, ok := mem.(Regions); ok {
		st.regions = r
	}
	slots := cfg.SMs * cfg.BlocksPerSM
	st.next.Store(int64(slots))
	stop := context.AfterFunc(ctx, func() { st.fail(ctx.Err()) })
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < slots && i < nblocks; i++ {
		wg.Add(1)
		go func(sm, first int) {
			defer wg.Done()
			st.slot(sm, first)
		}(i%cfg.SMs, i)
	}
	wg.Wait()
	out := Stats{BlocksPerSM: make([]int, cfg.SMs), Instructions: st.instrs.Load()}
	for i := range st.perSM {
		out.BlocksPerSM[i] = int(st.perSM[i].Load())
		out.Blocks += out.BlocksPerSM[i]
	}
	if st.err != nil {
		return out, fmt.Errorf("ptxsim: launch of %s: %w", k.name, st.err)
	}
	return out, nil
}

func (st *launchState) fail(err error) {
	st.errOnce.Do(func() { st.err = err })
	st.abort.Store(true)
}

// slot is one resident-block slot of SM sm: it runs block first, then blocks nobody has
// started, until none is left.
func (st *launchState) slot(sm, first int) {
	s := newSlot(st, sm)
	defer func() {
		st.instrs.Add(s.instrs)
		s.release()
	}()
	for idx := first; idx < st.nblocks; idx = int(st.next.Add(1) - 1) {
		if st.abort.Load() {
			return
		}
		s.reset(idx)
		if err := s.run(); err != nil {
			if err != errAborted {
				st.fail(err)
			}
			return
		}
		st.perSM[sm].Add(1)
	}
}
