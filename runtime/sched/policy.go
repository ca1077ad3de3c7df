package sched

import "sort"

// The policies' decisions, all taken with s.mu held: partition (which units a tenant owns),
// pick (what starts next) and assign (the units of every run).

// partition gives real-time tenants their reserved units, contiguous from unit 0 in
// admission order, and under static-partition the best-effort tenants theirs.
func (s *Scheduler) partition() {
	next := 0
	take := func(n int) []int {
		u := make([]int, 0, n)
		for i := 0; i < n && next < s.cfg.Units; i++ {
			u = append(u, next)
			next++
		}
		return u
	}
	var shares []*tenant
	for _, t := range s.order {
		t.part = nil
		if t.cfg.Class == Realtime {
			t.part = take(t.cfg.Units)
		}
	}
	if s.cfg.Policy != StaticPartition {
		return
	}
	for _, t := range s.order {
		if t.cfg.Class == BestEffort {
			if t.cfg.Units > 0 {
				t.part = take(t.cfg.Units)
			} else {
				shares = append(shares, t)
			}
		}
	}
	rest := take(s.cfg.Units - next)
	for i, c := range split(rest, len(shares)) {
		shares[i].part = c
	}
}

// split cuts units into k nearly equal contiguous parts (the first ones one larger).
func split(units []int, k int) [][]int {
	if k <= 0 {
		return nil
	}
	out := make([][]int, k)
	base, extra := len(units)/k, len(units)%k
	at := 0
	for i := range out {
		n := base
		if i < extra {
			n++
		}
		out[i] = units[at : at+n : at+n]
		at += n
	}
	return out
}

// freeUnits is the units no run holds.
func (s *Scheduler) freeUnits() []int {
	held := map[int]bool{}
	for _, t := range s.order {
		for _, r := range t.runs {
			for _, u := range r.lease.Units() {
				held[u] = true
			}
		}
	}
	var free []int
	for u := 0; u < s.cfg.Units; u++ {
		if !held[u] {
			free = append(free, u)
		}
	}
	return free
}

// pick returns the tenant whose queued requests start next and how many of them (a batch).
func (s *Scheduler) pick() (*tenant, int) {
	running := 0
	for _, t := range s.order {
		running += len(t.runs)
	}
	if s.cfg.Policy == TimeShare && running > 0 {
		return nil, 0
	}
	if s.cfg.Policy == PriorityStreams && len(s.freeUnits()) == 0 {
		return nil, 0
	}
	var cands []*tenant
	for _, t := range s.order {
		if len(t.queue) == 0 || len(t.runs) >= t.cfg.Runner.Slots() {
			continue
		}
		if (s.cfg.Policy == StaticPartition || (s.cfg.Policy == ElasticRoom && t.cfg.Class == Realtime)) && len(t.runs) >= max(1, len(t.part)) {
			continue // every run of a partition gets one unit at least
		}
		if s.cfg.Policy == StaticPartition && len(t.part) == 0 {
			continue
		}
		cands = append(cands, t)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if s.cfg.Policy == TimeShare {
			return a.queue[0].seq < b.queue[0].seq
		}
		if a.cfg.Class != b.cfg.Class {
			return a.cfg.Class == Realtime
		}
		if a.cfg.Class == BestEffort && a.served != b.served {
			return a.served < b.served // the tenant served longest ago first
		}
		return a.queue[0].seq < b.queue[0].seq
	})
	for _, t := range cands {
		if n, ok := s.batchReady(t); ok {
			return t, n
		}
	}
	return nil, 0
}

// assign sets the units of every run the policy moves.
func (s *Scheduler) assign() {
	want := map[*run][]int{}
	all := make([]int, s.cfg.Units)
	for i := range all {
		all[i] = i
	}
	var rt, be []*tenant // tenants with runs
	for _, t := range s.order {
		if len(t.runs) == 0 {
			continue
		}
		if t.cfg.Class == Realtime {
			rt = append(rt, t)
		} else {
			be = append(be, t)
		}
	}
	spread := func(ts []*tenant, units []int) {
		for i, part := range split(units, len(ts)) {
			t := ts[i]
			for j, u := range split(part, len(t.runs)) {
				want[t.runs[j]] = append(want[t.runs[j]], u...)
			}
		}
	}
	switch s.cfg.Policy {
	case PriorityStreams:
		return // a run keeps the units it started with
	case TimeShare:
		spread(append(rt, be...), all)
	case StaticPartition:
		for _, t := range append(rt, be...) {
			spread([]*tenant{t}, t.part)
		}
	case PreemptOnly:
		if len(rt) > 0 {
			spread(rt, all)
			for _, t := range be {
				for _, r := range t.runs {
					want[r] = nil // yielded
				}
			}
		} else {
			spread(be, all)
		}
	case ElasticRoom:
		used := map[int]bool{}
		for _, t := range rt {
			spread([]*tenant{t}, t.part)
			for _, u := range t.part {
				used[u] = true
			}
		}
		var free []int
		for _, u := range all {
			if !used[u] {
				free = append(free, u)
			}
		}
		switch {
		case len(be) > 0:
			spread(be, free)
		case s.cfg.RealtimeBorrow && len(rt) > 0:
			spread(rt, free)
		}
	}
	for _, t := range s.order {
		for _, r := range t.runs {
			u := want[r]
			sort.Ints(u)
			if r.lease.set(u) {
				t.m.preemptions++
			}
		}
	}
}
