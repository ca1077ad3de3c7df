package sched

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Config configures a Scheduler.
type Config struct {
	Units    int    // the device's units (SMs, cpu workers)
	UnitName string // how messages name units: "SMs", "units" (default "units")
	Policy   Policy // default ElasticRoom
	// RealtimeBorrow lets (under ElasticRoom) a real-time request use idle units beyond its
	// guarantee while no best-effort work wants them.
	RealtimeBorrow bool
	Clock          Clock // default SystemClock
}

// Interface is the small scheduler interface servers and benchmarks use (in the spirit of
// Triton's Enqueue/InflightInferenceCount/Stop); *Scheduler implements it.
type Interface interface {
	Submit(ctx context.Context, tenant string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
	InflightCount() int
	Drain(ctx context.Context) error
	Stop()
	Snapshot() Snapshot
}

// Scheduler shares a device's units among tenants under a Policy. Safe for concurrent use.
type Scheduler struct {
	cfg Config

	mu       sync.Mutex
	tenants  map[string]*tenant
	order    []*tenant // by admission
	seq      uint64
	stopped  bool
	draining bool
	idle     chan struct{} // closed when nothing is queued or running (Drain)
	runs     sync.WaitGroup
}

var _ Interface = (*Scheduler)(nil)

type tenant struct {
	cfg    Tenant
	part   []int // reserved (realtime) or static-partition units
	queue  []*request
	runs   []*run
	served uint64 // seq of the last start (fairness among best-effort tenants)
	timer  Timer  // pending batch window
	m      metrics
}

type request struct {
	ctx     context.Context
	inputs  map[string]*tensor.Tensor
	arrived time.Time
	seq     uint64
	done    chan result
	started bool
}

type result struct {
	out map[string]*tensor.Tensor
	err error
}

type run struct {
	t     *tenant
	reqs  []*request
	lease *Lease
	fixed bool // priority-streams: keeps the units it started with
	seq   uint64
}

// New makes a scheduler and admits tenants in order; the first refusal is the error.
func New(cfg Config, tenants ...Tenant) (*Scheduler, error) {
	if cfg.Units < 1 {
		return nil, fmt.Errorf("sched: a device of %d units", cfg.Units)
	}
	if cfg.UnitName == "" {
		cfg.UnitName = "units"
	}
	if cfg.Policy == "" {
		cfg.Policy = ElasticRoom
	}
	if _, err := ParsePolicy(string(cfg.Policy)); err != nil {
		return nil, fmt.Errorf("sched: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	s := &Scheduler{cfg: cfg, tenants: map[string]*tenant{}}
	for _, t := range tenants {
		if err := s.AddTenant(t); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Policy is the scheduler's policy.
func (s *Scheduler) Policy() Policy { return s.cfg.Policy }

// Units is the device's unit count.
func (s *Scheduler) Units() int { return s.cfg.Units }

// AddTenant admits a tenant: a real-time tenant's guarantee must fit beside the others'; under
// static-partition best-effort tenants need room too. A refusal is an *AdmissionError.
func (s *Scheduler) AddTenant(t Tenant) error {
	if t.Name == "" {
		return &AdmissionError{Reason: "no name"}
	}
	if t.Runner == nil {
		return &AdmissionError{Tenant: t.Name, Reason: "no runner"}
	}
	if t.Class != Realtime && t.Class != BestEffort {
		return &AdmissionError{Tenant: t.Name, Reason: fmt.Sprintf("unknown class %v", t.Class)}
	}
	if t.Units < 0 || (t.Class == Realtime && t.Units < 1) {
		return &AdmissionError{Tenant: t.Name, Reason: fmt.Sprintf("a realtime tenant needs a guarantee of at least 1 %s, asks %d", s.cfg.UnitName, t.Units)}
	}
	if t.MaxBatch < 0 || t.SLO < 0 || t.BatchWindow < 0 {
		return &AdmissionError{Tenant: t.Name, Reason: "negative max batch, SLO or batch window"}
	}
	if t.Runner.Slots() < 1 {
		return &AdmissionError{Tenant: t.Name, Reason: "runner has no slots"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.draining {
		return &AdmissionError{Tenant: t.Name, Reason: "scheduler stopping"}
	}
	if _, ok := s.tenants[t.Name]; ok {
		return &AdmissionError{Tenant: t.Name, Reason: "a tenant of that name exists"}
	}
	held, fixedBE, shareBE := 0, 0, 0
	for _, o := range s.order {
		switch {
		case o.cfg.Class == Realtime:
			held += o.cfg.Units
		case o.cfg.Units > 0:
			fixedBE += o.cfg.Units
		default:
			shareBE++
		}
	}
	if t.Class == Realtime && held+t.Units > s.cfg.Units {
		return &AdmissionError{Tenant: t.Name, Asks: t.Units, Held: held, Units: s.cfg.Units, UnitName: s.cfg.UnitName}
	}
	if s.cfg.Policy == StaticPartition {
		need := held + fixedBE + t.Units
		if t.Class == BestEffort && t.Units == 0 {
			shareBE++
		}
		if shareBE > 0 {
			need += shareBE // every equal-share tenant needs one unit at least
		}
		if need > s.cfg.Units {
			return &AdmissionError{Tenant: t.Name, Units: s.cfg.Units, UnitName: s.cfg.UnitName,
				Reason: fmt.Sprintf("static partitions need %d of %d %s with it", need, s.cfg.Units, s.cfg.UnitName)}
		}
	}
	nt := &tenant{cfg: t}
	s.tenants[t.Name] = nt
	s.order = append(s.order, nt)
	s.partition()
	s.reschedule()
	return nil
}

// RemoveTenant removes an idle tenant (no request queued or running).
func (s *Scheduler) RemoveTenant(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[name]
	if !ok {
		return fmt.Errorf("sched: tenant %q: %w", name, ErrUnknownTenant)
	}
	if len(t.queue) > 0 || len(t.runs) > 0 {
		return fmt.Errorf("sched: tenant %q has %d requests queued and %d running", name, len(t.queue), len(t.runs))
	}
	delete(s.tenants, name)
	for i, o := range s.order {
		if o == t {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.partition()
	s.reschedule()
	return nil
}

// Tenants lists the admitted tenants in admission order.
func (s *Scheduler) Tenants() []Tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tenant, len(s.order))
	for i, t := range s.order {
		out[i] = t.cfg
	}
	return out
}

// Submit queues a request for tenant and waits for its outputs. A request whose ctx ends
// while queued leaves the queue; while running, the runner sees ctx.
func (s *Scheduler) Submit(ctx context.Context, tenantName string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	s.mu.Lock()
	t, ok := s.tenants[tenantName]
	switch {
	case !ok:
		s.mu.Unlock()
		return nil, fmt.Errorf("sched: tenant %q: %w", tenantName, ErrUnknownTenant)
	case s.stopped:
		s.mu.Unlock()
		return nil, ErrStopped
	case s.draining:
		s.mu.Unlock()
		return nil, ErrDraining
	}
	s.seq++
	r := &request{ctx: ctx, inputs: inputs, arrived: s.cfg.Clock.Now(), seq: s.seq, done: make(chan result, 1)}
	t.queue = append(t.queue, r)
	t.m.requests++
	s.reschedule()
	s.mu.Unlock()
	select {
	case res := <-r.done:
		return res.out, res.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	if !r.started {
		for i, q := range t.queue {
			if q == r {
				t.queue = append(t.queue[:i], t.queue[i+1:]...)
				break
			}
		}
		t.m.failed++
		s.checkIdle()
		s.mu.Unlock()
		return nil, fmt.Errorf("sched: tenant %q: request left the queue: %w", tenantName, ctx.Err())
	}
	s.mu.Unlock()
	res := <-r.done
	return res.out, res.err
}

// InflightCount is the number of requests queued or running.
func (s *Scheduler) InflightCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight()
}

func (s *Scheduler) inflight() int {
	n := 0
	for _, t := range s.order {
		n += len(t.queue)
		for _, r := range t.runs {
			n += len(r.reqs)
		}
	}
	return n
}

// Drain refuses new requests and waits until every queued and running one has finished (or
// ctx ends).
func (s *Scheduler) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.reschedule() // batch windows no longer wait
	s.checkIdle()
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sched: drain: %d requests in flight: %w", s.InflightCount(), ctx.Err())
	}
}

// checkIdle closes the drain channel when nothing is left (s.mu held).
func (s *Scheduler) checkIdle() {
	if s.idle != nil && s.inflight() == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

// Stop fails every queued request and waits for the running ones (their runners see no
// cancellation from Stop: cancel their contexts to cut them short).
func (s *Scheduler) Stop() {
	s.mu.Lock()
	s.stopped = true
	for _, t := range s.order {
		for _, r := range t.queue {
			r.done <- result{err: ErrStopped}
			t.m.failed++
		}
		t.queue = nil
		if t.timer != nil {
			t.timer.Stop()
			t.timer = nil
		}
	}
	s.checkIdle()
	s.mu.Unlock()
	s.runs.Wait()
}

// Partition is the units each tenant's running requests hold now.
func (s *Scheduler) Partition() map[string][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]int{}
	for _, t := range s.order {
		var us []int
		for _, r := range t.runs {
			us = append(us, r.lease.Units()...)
		}
		sort.Ints(us)
		out[t.cfg.Name] = us
	}
	return out
}

// reschedule starts what the policy lets start and sets every run's units (s.mu held).
func (s *Scheduler) reschedule() {
	if s.stopped {
		return
	}
	for {
		t, n := s.pick()
		if t == nil {
			break
		}
		s.start(t, n)
	}
	s.assign()
}

// start moves the first n queued requests of t into a new run.
func (s *Scheduler) start(t *tenant, n int) {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	s.seq++
	r := &run{t: t, reqs: t.queue[:n:n], lease: newLease(), seq: s.seq}
	t.queue = append([]*request(nil), t.queue[n:]...)
	t.served = s.seq
	for _, q := range r.reqs {
		q.started = true
	}
	if s.cfg.Policy == PriorityStreams {
		r.fixed = true
		r.lease.set(s.freeUnits())
	}
	t.runs = append(t.runs, r)
	s.runs.Add(1)
	go s.execute(r)
}

// execute runs r's requests back to back on r's lease.
func (s *Scheduler) execute(r *run) {
	defer s.runs.Done()
	// start runs inside reschedule, which assigns units to every run (r's lease included)
	// before it releases s.mu: waiting for the lock means r starts with its units.
	s.mu.Lock()
	s.mu.Unlock() //nolint:staticcheck // a barrier, not a critical section
	for _, q := range r.reqs {
		var res result
		if err := q.ctx.Err(); err != nil {
			res.err = fmt.Errorf("sched: tenant %q: %w", r.t.cfg.Name, err)
		} else {
			res.out, res.err = r.t.cfg.Runner.Run(q.ctx, q.inputs, r.lease)
			if res.err != nil {
				res.err = fmt.Errorf("sched: tenant %q: %w", r.t.cfg.Name, res.err)
			}
		}
		s.mu.Lock()
		r.t.m.record(r.t.cfg.SLO, s.cfg.Clock.Now().Sub(q.arrived), res.err)
		s.mu.Unlock()
		q.done <- res
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range r.t.runs {
		if o == r {
			r.t.runs = append(r.t.runs[:i], r.t.runs[i+1:]...)
			break
		}
	}
	r.lease.set(nil)
	s.reschedule()
	s.checkIdle()
}

// batchReady decides whether t's best-effort batch starts now; if it waits, a timer is set
// for the end of its window (s.mu held).
func (s *Scheduler) batchReady(t *tenant) (int, bool) {
	mb := t.cfg.MaxBatch
	if t.cfg.Class != BestEffort || mb <= 1 {
		return 1, true
	}
	n := min(mb, len(t.queue))
	if n == mb || s.draining {
		return n, true
	}
	w := t.cfg.BatchWindow
	if w == 0 {
		w = DefaultBatchWindow
	}
	wait := t.queue[0].arrived.Add(w).Sub(s.cfg.Clock.Now())
	if wait <= 0 {
		return n, true
	}
	if t.timer == nil {
		t.timer = s.cfg.Clock.AfterFunc(wait, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.timer = nil
			s.reschedule()
		})
	}
	return 0, false
}

// Metrics hooks ------------------------------------------------------------------------

// errCanceled reports errors that are the caller's cancellation.
func errCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
