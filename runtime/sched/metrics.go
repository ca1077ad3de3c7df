package sched

import (
	"sort"
	"time"
)

// LatencyBuckets are the upper bounds of the latency histogram (Prometheus style: a
// request counts in every bucket whose bound is at least its latency).
var LatencyBuckets = []time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// metrics are one tenant's counters (guarded by the scheduler's mutex).
type metrics struct {
	requests, completed, failed, sloMisses, onTime, preemptions uint64
	latencySum, latencyMax                                      time.Duration
	buckets                                                     []uint64 // per LatencyBuckets, not cumulative
}

func (m *metrics) record(slo, lat time.Duration, err error) {
	if err != nil {
		m.failed++
		if slo > 0 && !errCanceled(err) {
			m.sloMisses++
		}
		return
	}
	m.completed++
	m.latencySum += lat
	m.latencyMax = max(m.latencyMax, lat)
	if m.buckets == nil {
		m.buckets = make([]uint64, len(LatencyBuckets))
	}
	if i := sort.Search(len(LatencyBuckets), func(i int) bool { return LatencyBuckets[i] >= lat }); i < len(LatencyBuckets) {
		m.buckets[i]++
	}
	if slo > 0 && lat > slo {
		m.sloMisses++
	} else {
		m.onTime++
	}
}

// TenantStats is one tenant's figures at a Snapshot.
type TenantStats struct {
	Name        string
	Class       Class
	Guarantee   int           // Tenant.Units
	SLO         time.Duration // 0: none
	Requests    uint64        // submitted
	Completed   uint64        // finished without error
	Failed      uint64        // errors, cancellations, refusals after queuing
	SLOMisses   uint64        // completed late, or failed (not cancelled) with an SLO
	OnTime      uint64        // completed within the SLO (all completed when there is none): goodput's numerator
	Preemptions uint64        // times a running request of the tenant lost units
	UnitsHeld   int           // units its running requests hold now
	Units       []int         // which
	QueueDepth  int           // requests waiting
	Running     int           // requests running (batched ones included)
	LatencySum  time.Duration // over completed requests
	LatencyMax  time.Duration
	// LatencyCounts[i] counts completed requests with latency <= LatencyBuckets[i]
	// (cumulative, as Prometheus histograms are); Completed is the +Inf bucket.
	LatencyCounts []uint64
}

// Snapshot is the scheduler's state and counters at one moment.
type Snapshot struct {
	Policy  Policy
	Units   int
	Free    int // units no running request holds
	Tenants []TenantStats
}

// Snapshot returns the counters of every tenant (admission order).
func (s *Scheduler) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Policy: s.cfg.Policy, Units: s.cfg.Units, Free: len(s.freeUnits())}
	for _, t := range s.order {
		m := t.m
		st := TenantStats{Name: t.cfg.Name, Class: t.cfg.Class, Guarantee: t.cfg.Units, SLO: t.cfg.SLO,
			Requests: m.requests, Completed: m.completed, Failed: m.failed, SLOMisses: m.sloMisses, OnTime: m.onTime,
			Preemptions: m.preemptions, QueueDepth: len(t.queue), LatencySum: m.latencySum, LatencyMax: m.latencyMax,
			LatencyCounts: make([]uint64, len(LatencyBuckets))}
		var acc uint64
		for i := range LatencyBuckets {
			if m.buckets != nil {
				acc += m.buckets[i]
			}
			st.LatencyCounts[i] = acc
		}
		for _, r := range t.runs {
			u := r.lease.Units()
			st.Units = append(st.Units, u...)
			st.Running += len(r.reqs)
		}
		sort.Ints(st.Units)
		st.UnitsHeld = len(st.Units)
		snap.Tenants = append(snap.Tenants, st)
	}
	return snap
}
