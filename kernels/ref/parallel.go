package ref

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workers resolves a requested worker count: 0 (or less) means GOMAXPROCS.
func workers(w int) int {
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return w
}

// parallelFor runs body over [0, n) in contiguous chunks on up to w goroutines. grain is the
// smallest chunk worth a goroutine; below 2*grain the body runs on the caller's goroutine.
//
// The chunks (up to chunksPer per goroutine, so that a goroutine the OS holds back on a
// shared machine holds back little) go to helper goroutines that stay spinning for a short
// while after their last chunk (spinFor), so that the back-to-back ops of a model run do
// not each pay for waking a parked thread, which on a virtual machine can take longer than
// a small op itself. The caller claims chunks too, so a chunk no helper has picked up yet
// never waits for one: at worst the caller runs every chunk itself. A parked helper is only
// woken for a job of wakeGrains grains or more.
func parallelFor(n, grain int, w int, body func(lo, hi int)) {
	parallelForWake(n, grain, w, n/max(grain, 1) >= wakeGrains, body)
}

// parallelForWake is parallelFor with the caller saying whether the job is worth waking a
// parked helper (a spinning one takes chunks of any job).
func parallelForWake(n, grain, w int, wake bool, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w = workers(w)
	if grain < 1 {
		grain = 1
	}
	if maxW := n / grain; maxW < w {
		w = maxW
	}
	if w <= 1 {
		body(0, n)
		return
	}
	chunks := min(n/grain, chunksPer*w)
	j := &pfJob{body: body, n: n, chunk: (n + chunks - 1) / chunks}
	j.total = int64((n + j.chunk - 1) / j.chunk)
	team.post(j, min(w, int(j.total))-1, wake)
	j.work()
	for spins := 0; j.done.Load() < j.total; spins++ {
		if spins < 64 {
			continue
		}
		runtime.Gosched()
	}
}

// A parked helper is woken only for jobs long enough to pay for the wake-up (and for the
// helper then spinning beside the caller, which on a loaded machine takes a core from it):
// wakeGrains grains of parallelFor, or wakeMACs multiply-adds of a GEMM or convolution
// (about 0.1 ms on one core).
const (
	wakeGrains = 8
	wakeMACs   = 4 << 20
)

// chunksPer is the most chunks parallelFor cuts per goroutine.
const chunksPer = 2

// elemGrain is the number of elements of a cheap elementwise op worth one goroutine.
const elemGrain = 1 << 15

// pfJob is one parallelFor: its chunks are claimed in order by the caller and the helpers.
type pfJob struct {
	body       func(lo, hi int)
	n, chunk   int
	total      int64
	next, done atomic.Int64
}

// work runs unclaimed chunks until none is left.
func (j *pfJob) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.total {
			return
		}
		lo := int(i) * j.chunk
		j.body(lo, min(lo+j.chunk, j.n))
		j.done.Add(1)
	}
}

// spinFor is how long a helper keeps looking for work before it parks.
const spinFor = 200 * time.Microsecond

// helper is one goroutine of the team.
type helper struct {
	slot     atomic.Pointer[pfJob]
	sleeping atomic.Bool
	wake     chan struct{}
}

// helpers is the team parallelFor hands chunks to, grown to GOMAXPROCS-1 on demand.
type helpers struct {
	mu sync.Mutex
	hs atomic.Pointer[[]*helper]
}

var team helpers

// post offers j to up to k idle helpers, parked ones only when wake is set.
func (t *helpers) post(j *pfJob, k int, wake bool) {
	hs := t.get(k)
	for _, h := range hs {
		if k == 0 {
			return
		}
		if !wake && h.sleeping.Load() {
			continue
		}
		if h.slot.CompareAndSwap(nil, j) {
			k--
			if h.sleeping.Load() {
				select {
				case h.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// get returns the team, first growing it towards k helpers (at most GOMAXPROCS-1).
func (t *helpers) get(k int) []*helper {
	k = min(k, runtime.GOMAXPROCS(0)-1)
	if p := t.hs.Load(); p != nil && len(*p) >= k {
		return *p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var hs []*helper
	if p := t.hs.Load(); p != nil {
		hs = *p
	}
	if len(hs) >= k {
		return hs
	}
	grown := append([]*helper(nil), hs...)
	for len(grown) < k {
		h := &helper{wake: make(chan struct{}, 1)}
		grown = append(grown, h)
		go h.loop()
	}
	t.hs.Store(&grown)
	return grown
}

// loop runs posted jobs, spinning for spinFor after the last one, then parks until posted.
func (h *helper) loop() {
	idle := time.Now()
	for spins := 0; ; spins++ {
		if j := h.slot.Load(); j != nil {
			j.work()
			h.slot.Store(nil)
			idle, spins = time.Now(), 0
			continue
		}
		if spins%64 != 0 {
			continue
		}
		runtime.Gosched()
		if time.Since(idle) < spinFor {
			continue
		}
		h.sleeping.Store(true)
		if h.slot.Load() == nil {
			<-h.wake
		}
		h.sleeping.Store(false)
		idle = time.Now()
	}
}
