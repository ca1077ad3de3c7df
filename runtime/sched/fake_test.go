package sched

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fakeClock is a settable clock whose timers fire on Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	dead bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.dead
	t.dead = true
	return was
}

// Advance moves the clock and runs the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.dead:
		case !t.at.After(c.now):
			t.dead = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// fakeRunner's requests run until the test finishes them.
type fakeRunner struct {
	slots   int
	started chan *fakeRun
}

type fakeRun struct {
	lease  *Lease
	finish chan error
	inputs map[string]*tensor.Tensor
}

func newFakeRunner(slots int) *fakeRunner {
	return &fakeRunner{slots: slots, started: make(chan *fakeRun, 100)}
}

func (f *fakeRunner) Slots() int { return f.slots }

func (f *fakeRunner) Run(ctx context.Context, inputs map[string]*tensor.Tensor, lease *Lease) (map[string]*tensor.Tensor, error) {
	r := &fakeRun{lease: lease, finish: make(chan error, 1), inputs: inputs}
	f.started <- r
	select {
	case err := <-r.finish:
		if err != nil {
			return nil, err
		}
		return inputs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// next waits for the runner's next request to start.
func (f *fakeRunner) next(t *testing.T) *fakeRun {
	t.Helper()
	select {
	case r := <-f.started:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request started")
		return nil
	}
}

// none checks no request starts within a short while.
func (f *fakeRunner) none(t *testing.T) {
	t.Helper()
	select {
	case <-f.started:
		t.Fatal("a request started")
	case <-time.After(30 * time.Millisecond):
	}
}

func units(lo, hi int) []int {
	var u []int
	for i := lo; i < hi; i++ {
		u = append(u, i)
	}
	return u
}

// wantUnits waits until r's lease holds exactly want.
func wantUnits(t *testing.T, what string, r *fakeRun, want []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.lease.Units()
		sort.Ints(got)
		if equalUnits(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds units %v, want %v", what, got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// submit runs Submit in the background; the channel gets its error.
func submit(t *testing.T, s *Scheduler, tenant string) chan error {
	ch := make(chan error, 1)
	ctx := t.Context() // cancelled when the test ends, so a failed test does not hang in Stop
	go func() {
		_, err := s.Submit(ctx, tenant, map[string]*tensor.Tensor{"x": tensor.FromFloat32([]int{1}, []float32{1})})
		ch <- err
	}()
	return ch
}

func wait(t *testing.T, ch chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request did not finish")
	}
}
