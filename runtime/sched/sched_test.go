package sched

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAdmission(t *testing.T) {
	r := newFakeRunner(1)
	s, err := New(Config{Units: 132, UnitName: "SMs"},
		Tenant{Name: "rt1", Class: Realtime, Units: 100, Runner: r},
		Tenant{Name: "be", Class: BestEffort, Runner: r})
	if err != nil {
		t.Fatal(err)
	}
	err = s.AddTenant(Tenant{Name: "rt2", Class: Realtime, Units: 40, Runner: r})
	var ae *AdmissionError
	if !errors.As(err, &ae) || err.Error() != `tenant "rt2" asks 40 SMs; realtime tenants hold 100 of 132` {
		t.Fatalf("refusal: %v", err)
	}
	if err := s.AddTenant(Tenant{Name: "rt3", Class: Realtime, Units: 32, Runner: r}); err != nil {
		t.Fatalf("32 more SMs fit: %v", err)
	}
	for _, bad := range []Tenant{
		{Name: "rt4", Class: Realtime, Units: 0, Runner: r},
		{Name: "be", Class: BestEffort, Runner: r},
		{Name: "x", Class: BestEffort},
		{Name: "y", Runner: r},
	} {
		if err := s.AddTenant(bad); err == nil {
			t.Errorf("admitted %+v", bad)
		}
	}
	if _, err := New(Config{Units: 8, Policy: "fifo"}); err == nil || !strings.Contains(err.Error(), "timeshare") {
		t.Errorf("unknown policy: %v", err)
	}
	// static partitions need room for the best-effort tenants too
	if _, err := New(Config{Units: 4, Policy: StaticPartition},
		Tenant{Name: "rt", Class: Realtime, Units: 4, Runner: r},
		Tenant{Name: "be", Class: BestEffort, Runner: r}); err == nil {
		t.Error("static partition without room for best-effort admitted")
	}
}

// scenario: a best-effort request runs alone; a real-time request arrives; it finishes; the
// best-effort one finishes. It returns the best-effort and real-time runs' units at each step.
type step struct{ be, rt []int }

func scenario(t *testing.T, p Policy) (alone, during, after step, rtStartedWhileBE bool) {
	t.Helper()
	rtR, beR := newFakeRunner(1), newFakeRunner(1)
	s, err := New(Config{Units: 8, Policy: p, Clock: newFakeClock()},
		Tenant{Name: "rt", Class: Realtime, Units: 3, Runner: rtR},
		Tenant{Name: "be", Class: BestEffort, Runner: beR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	beDone := submit(t, s, "be")
	be := beR.next(t)
	time.Sleep(5 * time.Millisecond)
	alone.be = be.lease.Units()
	rtDone := submit(t, s, "rt")
	var rt *fakeRun
	select {
	case rt = <-rtR.started:
		rtStartedWhileBE = true
	case <-time.After(500 * time.Millisecond): // generous: CI machines are noisy
	}
	if rt != nil {
		time.Sleep(5 * time.Millisecond)
		during = step{be: be.lease.Units(), rt: rt.lease.Units()}
		rt.finish <- nil
		wait(t, rtDone)
		time.Sleep(5 * time.Millisecond)
		after.be = be.lease.Units()
		be.finish <- nil
		wait(t, beDone)
	} else {
		during.be = be.lease.Units()
		be.finish <- nil
		wait(t, beDone)
		rt = rtR.next(t)
		after.rt = rt.lease.Units()
		rt.finish <- nil
		wait(t, rtDone)
	}
	return
}

func TestPoliciesDiffer(t *testing.T) {
	all, rtPart, rest := units(0, 8), units(0, 3), units(3, 8)
	t.Run("elasticroom", func(t *testing.T) {
		alone, during, after, started := scenario(t, ElasticRoom)
		if !equalUnits(alone.be, all) || !started || !equalUnits(during.rt, rtPart) || !equalUnits(during.be, rest) || !equalUnits(after.be, all) {
			t.Errorf("alone %v, during %+v (rt started: %v), after %v", alone, during, started, after)
		}
	})
	t.Run("timeshare", func(t *testing.T) {
		alone, _, after, started := scenario(t, TimeShare)
		if !equalUnits(alone.be, all) || started || !equalUnits(after.rt, all) {
			t.Errorf("alone %v, rt started beside be: %v, rt after %v", alone, started, after.rt)
		}
	})
	t.Run("priority-streams", func(t *testing.T) {
		alone, during, after, started := scenario(t, PriorityStreams)
		if !equalUnits(alone.be, all) || started || !equalUnits(during.be, all) || !equalUnits(after.rt, all) {
			t.Errorf("alone %v, during %v, rt started: %v, rt after %v", alone, during, started, after.rt)
		}
	})
	t.Run("static-partition", func(t *testing.T) {
		alone, during, after, started := scenario(t, StaticPartition)
		if !equalUnits(alone.be, rest) || !started || !equalUnits(during.rt, rtPart) || !equalUnits(during.be, rest) || !equalUnits(after.be, rest) {
			t.Errorf("alone %v, during %+v, after %v", alone, during, after)
		}
	})
	t.Run("preempt-only", func(t *testing.T) {
		alone, during, after, started := scenario(t, PreemptOnly)
		if !equalUnits(alone.be, all) || !started || !equalUnits(during.rt, all) || len(during.be) != 0 || !equalUnits(after.be, all) {
			t.Errorf("alone %v, during %+v, after %v", alone, during, after)
		}
	})
}

func TestShrinkRegrowAndMetrics(t *testing.T) {
	clk := newFakeClock()
	rtR, beR := newFakeRunner(2), newFakeRunner(1)
	s, err := New(Config{Units: 8, Clock: clk},
		Tenant{Name: "rt", Class: Realtime, Units: 4, SLO: 10 * time.Millisecond, Runner: rtR},
		Tenant{Name: "be", Class: BestEffort, Runner: beR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	beDone := submit(t, s, "be")
	be := beR.next(t)
	wantUnits(t, "be alone", be, units(0, 8))
	// two real-time requests split the guarantee; best-effort keeps the rest
	d1 := submit(t, s, "rt")
	r1 := rtR.next(t)
	d2 := submit(t, s, "rt")
	r2 := rtR.next(t)
	wantUnits(t, "be beside rt", be, units(4, 8))
	if a, b := r1.lease.Units(), r2.lease.Units(); len(a) != 2 || len(b) != 2 || a[0] == b[0] || a[0] >= 4 || b[0] >= 4 {
		t.Fatalf("rt runs hold %v and %v, want halves of [0 4)", a, b)
	}
	snap := s.Snapshot()
	if st := snap.Tenants[1]; st.Preemptions != 1 || st.UnitsHeld != 4 || st.Running != 1 {
		t.Errorf("be stats %+v", st)
	}
	clk.Advance(5 * time.Millisecond)
	r1.finish <- nil
	wait(t, d1)
	wantUnits(t, "rt alone", r2, units(0, 4))
	clk.Advance(20 * time.Millisecond)
	r2.finish <- nil
	wait(t, d2)
	wantUnits(t, "be regrown", be, units(0, 8))
	be.finish <- nil
	wait(t, beDone)
	snap = s.Snapshot()
	rt := snap.Tenants[0]
	if rt.Requests != 2 || rt.Completed != 2 || rt.SLOMisses != 1 || rt.OnTime != 1 || rt.LatencyMax != 25*time.Millisecond || rt.LatencySum != 30*time.Millisecond {
		t.Errorf("rt stats %+v", rt)
	}
	// cumulative histogram: 5 ms is in the 5 ms bucket, 25 ms in the 25 ms one
	for i, b := range LatencyBuckets {
		want := uint64(0)
		if b >= 5*time.Millisecond {
			want++
		}
		if b >= 25*time.Millisecond {
			want++
		}
		if rt.LatencyCounts[i] != want {
			t.Errorf("bucket %v counts %d, want %d", b, rt.LatencyCounts[i], want)
		}
	}
	if snap.Free != 8 || s.InflightCount() != 0 {
		t.Errorf("free %d, inflight %d", snap.Free, s.InflightCount())
	}
}

func TestBestEffortFairnessAndNoStarvation(t *testing.T) {
	aR, bR, rtR := newFakeRunner(2), newFakeRunner(2), newFakeRunner(1)
	s, err := New(Config{Units: 8, Clock: newFakeClock()},
		Tenant{Name: "rt", Class: Realtime, Units: 4, Runner: rtR},
		Tenant{Name: "a", Class: BestEffort, Runner: aR},
		Tenant{Name: "b", Class: BestEffort, Runner: bR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	// the real-time tenant is idle: its reserved units are lent, half to each tenant
	da := []chan error{submit(t, s, "a")}
	a1 := aR.next(t)
	da = append(da, submit(t, s, "a"))
	a2 := aR.next(t)
	db := submit(t, s, "b")
	b1 := bR.next(t)
	wantUnits(t, "b", b1, units(4, 8))
	if n1, n2 := len(a1.lease.Units()), len(a2.lease.Units()); n1+n2 != 4 || n1 != 2 {
		t.Errorf("a's runs hold %d and %d units, want 2 and 2", n1, n2)
	}
	// a third request of a waits for a slot; b's second starts (and takes half of b's share)
	da = append(da, submit(t, s, "a"))
	db2 := submit(t, s, "b")
	b2 := bR.next(t)
	aR.none(t)
	wantUnits(t, "b's second run", b2, units(6, 8))
	a1.finish <- nil
	wait(t, da[0])
	a3 := aR.next(t)
	for _, r := range []*fakeRun{a2, a3, b1, b2} {
		r.finish <- nil
	}
	for _, ch := range []chan error{da[1], da[2], db, db2} {
		wait(t, ch)
	}
}

func TestRealtimeBorrow(t *testing.T) {
	rtR := newFakeRunner(1)
	s, err := New(Config{Units: 8, RealtimeBorrow: true, Clock: newFakeClock()},
		Tenant{Name: "rt", Class: Realtime, Units: 2, Runner: rtR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	d := submit(t, s, "rt")
	r := rtR.next(t)
	wantUnits(t, "rt borrowing", r, units(0, 8))
	r.finish <- nil
	wait(t, d)
}

func TestBatching(t *testing.T) {
	clk := newFakeClock()
	beR := newFakeRunner(1)
	s, err := New(Config{Units: 4, Clock: clk},
		Tenant{Name: "be", Class: BestEffort, MaxBatch: 3, BatchWindow: 10 * time.Millisecond, Runner: beR})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	d1, d2 := submit(t, s, "be"), submit(t, s, "be")
	beR.none(t) // the batch waits for its window
	clk.Advance(10 * time.Millisecond)
	r1 := beR.next(t)
	r1.finish <- nil
	r2 := beR.next(t) // second request of the same batch, same lease
	if r1.lease != r2.lease {
		t.Error("batched requests ran on different leases")
	}
	r2.finish <- nil
	wait(t, d1)
	wait(t, d2)
	// a full batch starts at once
	ds := []chan error{submit(t, s, "be"), submit(t, s, "be"), submit(t, s, "be")}
	for range ds {
		beR.next(t).finish <- nil
	}
	for _, d := range ds {
		wait(t, d)
	}
}

func TestCancelDrainStop(t *testing.T) {
	beR := newFakeRunner(1)
	s, err := New(Config{Units: 2, Clock: newFakeClock()}, Tenant{Name: "be", Class: BestEffort, Runner: beR})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(context.Background(), "nope", nil); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
	d1 := submit(t, s, "be")
	r1 := beR.next(t)
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() { _, err := s.Submit(ctx, "be", nil); queued <- err }()
	time.Sleep(10 * time.Millisecond)
	if s.InflightCount() != 2 {
		t.Errorf("inflight %d, want 2", s.InflightCount())
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled queued request: %v", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	if _, err := s.Submit(context.Background(), "be", nil); !errors.Is(err, ErrDraining) {
		t.Errorf("submit while draining: %v", err)
	}
	select {
	case <-drained:
		t.Fatal("drain returned with a request running")
	default:
	}
	r1.finish <- nil
	wait(t, d1)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := s.Submit(context.Background(), "be", nil); !errors.Is(err, ErrStopped) {
		t.Errorf("submit after stop: %v", err)
	}
}
