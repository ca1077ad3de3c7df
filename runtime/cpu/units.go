package cpu

// The cpu device's units: a pool of worker goroutines that honours the same protocol as the
// SM-aware persistent kernels (DESIGN.md section 4). A graph run by Pool.Run is cut, node by
// node, into tiles; every unit's worker takes the next unclaimed tile of a job whose mask holds
// the unit (jobs of higher priority first). A unit not in a job's mask takes none of its tiles,
// a claimed tile is always finished, a mask may change while a node runs (the next claim sees
// it), and a job whose mask is empty waits, preempted, until units are given back.

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configure NewPool.
type PoolOptions struct {
	// Units is the number of units (worker goroutines); 0 = GOMAXPROCS. More units than cores
	// is allowed (the pool's Name says so): units then share cores.
	Units int
	// TileTime is the time one tile should take on this CPU, the bound on how long a unit stays
	// busy after it was taken away (the preemption latency); 0 = DefaultTileTime.
	TileTime time.Duration
}

// DefaultTileTime is the target duration of one tile.
const DefaultTileTime = 500 * time.Microsecond

// Pool is the cpu device's set of units. Jobs of several runs (tenants) share it; which units a
// run may use is its Mask. Pool methods are safe for concurrent use.
type Pool struct {
	units    int
	tileTime time.Duration
	flopRate float64 // float32 FLOPs per nanosecond of one unit, measured at start
	epoch    time.Time
	rates    sync.Map // *graph.Node -> *nodeRate: rates measured on earlier runs

	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []*job // sorted by priority (higher first), then by age
	seq    uint64
	closed bool
	wg     sync.WaitGroup
}

// NewPool starts a pool of units.
func NewPool(opt PoolOptions) (*Pool, error) {
	if opt.Units < 0 {
		return nil, fmt.Errorf("cpu: pool of %d units", opt.Units)
	}
	if opt.Units == 0 {
		opt.Units = runtime.GOMAXPROCS(0)
	}
	if opt.Units > MaxUnits {
		return nil, fmt.Errorf("cpu: pool of %d units (at most %d)", opt.Units, MaxUnits)
	}
	if opt.TileTime < 0 {
		return nil, fmt.Errorf("cpu: tile time %v is negative", opt.TileTime)
	}
	if opt.TileTime == 0 {
		opt.TileTime = DefaultTileTime
	}
	p := &Pool{units: opt.Units, tileTime: opt.TileTime, flopRate: measuredFlopRate(), epoch: time.Now()}
	p.cond = sync.NewCond(&p.mu)
	for u := 0; u < p.units; u++ {
		p.wg.Add(1)
		go p.worker(u)
	}
	return p, nil
}

// MaxUnits bounds a pool's units (masks are bit sets of this many bits).
const MaxUnits = 1024

// Units is the number of units.
func (p *Pool) Units() int { return p.units }

// Name describes the pool, saying when units outnumber the cores.
func (p *Pool) Name() string {
	cores := runtime.GOMAXPROCS(0)
	if p.units > cores {
		return fmt.Sprintf("cpu (%d units on %d cores, oversubscribed)", p.units, cores)
	}
	return fmt.Sprintf("cpu (%d units)", p.units)
}

// TileTime is the target duration of one tile.
func (p *Pool) TileTime() time.Duration { return p.tileTime }

// FlopRate is the measured float32 GEMM rate of one unit, in FLOPs per nanosecond, from
// which tile sizes are computed.
func (p *Pool) FlopRate() float64 { return p.flopRate }

// Close stops the workers once the jobs under way have finished their claimed tiles; runs
// still waiting for tiles fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, j := range p.jobs {
		if j.err == nil {
			j.err = errors.New("cpu: pool closed")
		}
		j.next = j.ntiles
		p.maybeFinish(j)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Mask is the set of units a run may use. It may be changed at any time, also while the run
// is in a node: a unit removed takes no further tile of the run (it finishes the tile it has),
// a unit added starts taking tiles at once, and an empty mask pauses the run.
type Mask struct {
	p    *Pool
	bits [MaxUnits / 64]atomic.Uint64
	gen  atomic.Uint64 // changes counted
}

// NewMask returns a mask of the given units.
func (p *Pool) NewMask(units []int) (*Mask, error) {
	m := &Mask{p: p}
	if err := m.Set(units); err != nil {
		return nil, err
	}
	return m, nil
}

// Set replaces the mask's units.
func (m *Mask) Set(units []int) error {
	var bits [MaxUnits / 64]uint64
	for _, u := range units {
		if u < 0 || u >= m.p.units {
			return fmt.Errorf("cpu: unit %d of a %d-unit pool", u, m.p.units)
		}
		bits[u/64] |= 1 << (u % 64)
	}
	m.p.mu.Lock()
	for i := range bits {
		m.bits[i].Store(bits[i])
	}
	m.gen.Add(1)
	m.p.cond.Broadcast()
	m.p.mu.Unlock()
	return nil
}

// Has reports whether unit u is in the mask.
func (m *Mask) Has(u int) bool {
	if u < 0 || u >= MaxUnits {
		return false
	}
	return m.bits[u/64].Load()&(1<<(u%64)) != 0
}

// Units lists the mask's units in increasing order.
func (m *Mask) Units() []int {
	var out []int
	for u := 0; u < m.p.units; u++ {
		if m.Has(u) {
			out = append(out, u)
		}
	}
	return out
}

// Count is the number of units in the mask.
func (m *Mask) Count() int { return len(m.Units()) }

// TileTrace is one tile of a traced run: which unit ran it and when (since the pool started).
type TileTrace struct {
	Node       int    // index in the graph's nodes
	NodeName   string // node name
	Tile       int    // tile index within the node
	Tiles      int    // tiles of the node
	Unit       int    // unit that ran it
	Start, End time.Duration
}

// TileLog collects the tiles of traced runs; safe for concurrent use.
type TileLog struct {
	mu    sync.Mutex
	tiles []TileTrace
}

func (l *TileLog) add(t TileTrace) {
	l.mu.Lock()
	l.tiles = append(l.tiles, t)
	l.mu.Unlock()
}

// Tiles returns the tiles recorded so far, in the order they finished.
func (l *TileLog) Tiles() []TileTrace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]TileTrace(nil), l.tiles...)
}

// Since is the pool's clock: the time elapsed since it started (the clock of TileTrace).
func (p *Pool) Since() time.Duration { return time.Since(p.epoch) }

// job is one node's tiles.
type job struct {
	mask     *Mask
	prio     int
	seq      uint64
	ntiles   int
	next     int // next unclaimed tile
	running  int // claimed, not finished
	done     int // finished
	tile     func(t int) error
	err      error
	fin      chan struct{}
	finished bool
	log      *TileLog
	node     int
	nodeName string
}

// do runs a job of n tiles and waits for it; f runs tile t on some unit of mask. Once ctx
// is done no further tile is claimed, and do returns after the claimed ones have finished.
func (p *Pool) do(ctx doneCtx, mask *Mask, prio int, n int, f func(t int) error, log *TileLog, node int, name string) error {
	if n <= 0 {
		return nil
	}
	j := &job{mask: mask, prio: prio, ntiles: n, tile: f, fin: make(chan struct{}), log: log, node: node, nodeName: name}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("cpu: pool closed")
	}
	p.seq++
	j.seq = p.seq
	i := sort.Search(len(p.jobs), func(i int) bool {
		o := p.jobs[i]
		return o.prio < j.prio || (o.prio == j.prio && o.seq > j.seq)
	})
	p.jobs = append(p.jobs, nil)
	copy(p.jobs[i+1:], p.jobs[i:])
	p.jobs[i] = j
	p.cond.Broadcast()
	p.mu.Unlock()
	select {
	case <-j.fin:
	case <-ctx.Done():
		p.mu.Lock()
		if j.err == nil {
			j.err = ctx.Err()
		}
		j.next = j.ntiles
		p.maybeFinish(j)
		p.mu.Unlock()
		<-j.fin
	}
	return j.err
}

// doneCtx is the part of a context do needs.
type doneCtx interface {
	Done() <-chan struct{}
	Err() error
}

// maybeFinish ends j when no tile is left to claim and none is running (p.mu held).
func (p *Pool) maybeFinish(j *job) {
	if j.finished || j.next < j.ntiles || j.running > 0 {
		return
	}
	j.finished = true
	for i, o := range p.jobs {
		if o == j {
			p.jobs = append(p.jobs[:i], p.jobs[i+1:]...)
			break
		}
	}
	close(j.fin)
}

// claim finds the first job (by priority) with a tile left whose mask holds u (p.mu held).
func (p *Pool) claim(u int) (*job, int) {
	for _, j := range p.jobs {
		if j.next < j.ntiles && j.mask.Has(u) {
			t := j.next
			j.next++
			j.running++
			return j, t
		}
	}
	return nil, 0
}

func (p *Pool) worker(u int) {
	defer p.wg.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed && len(p.jobs) == 0 {
			return
		}
		j, t := p.claim(u)
		if j == nil {
			if p.closed {
				return
			}
			p.cond.Wait()
			continue
		}
		start := p.Since() // the claim's time: before any mask change that came after it
		p.mu.Unlock()
		err := safeTile(j.tile, t)
		end := p.Since()
		if j.log != nil {
			j.log.add(TileTrace{Node: j.node, NodeName: j.nodeName, Tile: t, Tiles: j.ntiles, Unit: u, Start: start, End: end})
		}
		p.mu.Lock()
		j.running--
		j.done++
		if err != nil && j.err == nil {
			j.err = err
			j.next = j.ntiles
		}
		p.maybeFinish(j)
	}
}

// safeTile runs one tile, turning a panic in an operator into an error so that a bad model
// cannot take a unit down.
func safeTile(f func(int) error, t int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tile %d panicked: %v", t, r)
		}
	}()
	return f(t)
}
