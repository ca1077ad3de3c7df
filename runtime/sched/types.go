package sched

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Class is a tenant's priority class.
type Class int

// The priority classes.
const (
	Realtime Class = iota + 1
	BestEffort
)

func (c Class) String() string {
	switch c {
	case Realtime:
		return "realtime"
	case BestEffort:
		return "besteffort"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// ParseClass reads "realtime" (or "rt") and "besteffort" (or "be", "best-effort").
func ParseClass(s string) (Class, error) {
	switch strings.ToLower(s) {
	case "realtime", "rt", "real-time":
		return Realtime, nil
	case "besteffort", "be", "best-effort":
		return BestEffort, nil
	}
	return 0, fmt.Errorf("unknown priority class %q (want realtime or besteffort)", s)
}

// Policy is how the scheduler shares the device's units.
type Policy string

// The policies: ElasticRoom and the baselines it is measured against.
const (
	ElasticRoom     Policy = "elasticroom"
	TimeShare       Policy = "timeshare"
	PriorityStreams Policy = "priority-streams"
	StaticPartition Policy = "static-partition"
	PreemptOnly     Policy = "preempt-only"
)

// Policies lists every policy, ElasticRoom first.
func Policies() []Policy {
	return []Policy{ElasticRoom, TimeShare, PriorityStreams, StaticPartition, PreemptOnly}
}

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies() {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, 0, 5)
	for _, p := range Policies() {
		names = append(names, string(p))
	}
	return "", fmt.Errorf("unknown policy %q (known: %s)", s, strings.Join(names, ", "))
}

// Tenant is a model served under a priority class.
type Tenant struct {
	Name  string
	Class Class
	// Units is the guarantee: the units reserved for a real-time tenant (required, >= 1);
	// for a best-effort tenant, its fixed share under static-partition (0: an equal share of
	// what real-time tenants leave).
	Units int
	// SLO is the latency a request should stay within (0: none); misses are counted.
	SLO time.Duration
	// MaxBatch > 1 lets a best-effort tenant wait up to BatchWindow for up to MaxBatch
	// requests and run them back to back on one unit set (plans are compiled at batch 1).
	MaxBatch    int
	BatchWindow time.Duration // 0: DefaultBatchWindow
	// Runner runs the tenant's model.
	Runner Runner
}

// DefaultBatchWindow is how long a best-effort batch waits to fill.
const DefaultBatchWindow = 2 * time.Millisecond

// Runner runs requests of one tenant's model on the units a Lease gives.
type Runner interface {
	// Slots is the number of requests the runner can run at once (>= 1).
	Slots() int
	// Run runs one request on lease's units. The scheduler changes the units while the
	// request runs; the runner must follow at once (no new tile on a unit taken away, the
	// claimed ones finish; an empty set pauses the request until units come back).
	Run(ctx context.Context, inputs map[string]*tensor.Tensor, lease *Lease) (map[string]*tensor.Tensor, error)
}

// Lease is the set of units one running request holds; the scheduler changes it.
type Lease struct {
	mu       sync.Mutex
	units    []int
	watchers map[int]func([]int)
	next     int
}

func newLease() *Lease { return &Lease{watchers: map[int]func([]int){}} }

// Units is the lease's units now, sorted.
func (l *Lease) Units() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.units...)
}

// Watch calls f with the lease's units now and after every change, in order, until stop is
// called (after stop returns f is not called again). f must not block.
func (l *Lease) Watch(f func(units []int)) (stop func()) {
	l.mu.Lock()
	id := l.next
	l.next++
	l.watchers[id] = f
	f(append([]int(nil), l.units...))
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.watchers, id)
		l.mu.Unlock()
	}
}

// set changes the units; it reports whether units were taken away.
func (l *Lease) set(units []int) (shrunk bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if equalUnits(l.units, units) {
		return false
	}
	now := map[int]bool{}
	for _, u := range units {
		now[u] = true
	}
	for _, u := range l.units {
		shrunk = shrunk || !now[u]
	}
	l.units = append([]int(nil), units...)
	ids := make([]int, 0, len(l.watchers))
	for id := range l.watchers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		l.watchers[id](append([]int(nil), units...))
	}
	return shrunk
}

func equalUnits(a, b []int) bool {
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

// Clock is the scheduler's time source.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface{ Stop() bool }

// SystemClock is the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                            { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Errors callers branch on.
var (
	ErrUnknownTenant = errors.New("unknown tenant")
	ErrStopped       = errors.New("scheduler stopped")
	ErrDraining      = errors.New("scheduler draining")
)

// AdmissionError is the refusal of a tenant whose guarantee cannot be given.
type AdmissionError struct {
	Tenant   string
	Asks     int    // units asked
	Held     int    // units real-time tenants (or partitions) hold already
	Units    int    // the device's units
	UnitName string // "SMs", "units"
	Reason   string // set when the refusal is not about room
}

func (e *AdmissionError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("tenant %q refused: %s", e.Tenant, e.Reason)
	}
	return fmt.Sprintf("tenant %q asks %d %s; realtime tenants hold %d of %d", e.Tenant, e.Asks, e.UnitName, e.Held, e.Units)
}
