package isolation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elasticroom/elasticroom/runtime/sched"
)

// phaseKind is which tenants a phase loads.
type phaseKind int

const (
	rtAlone phaseKind = iota
	beAlone
	together
)

func (k phaseKind) String() string {
	return [...]string{"rt alone", "be alone", "together"}[k]
}

type phaseSpec struct {
	kind       phaseKind
	policy     sched.Policy
	dur        time.Duration
	rate       float64
	slo        time.Duration
	seed       uint64
	round      uint64 // the arrival stream: rand.NewPCG(seed, round)
	beSlots    int
	rtIn, beIn *Model
}

type phaseResult struct {
	rtLat       []time.Duration // completed real-time requests, from arrival; plus censored ones
	rtArrived   int
	rtCompleted int
	rtOnTime    int
	beDone      int // best-effort requests completed within the phase
}

// drainGrace is how long after the phase the real-time requests still running may take
// before they are cut off (and counted as misses with the time they had waited).
func drainGrace(slo time.Duration) time.Duration { return max(2*time.Second, 20*slo) }

// runPhase loads s for sp.dur: real-time requests arrive at seeded Poisson times and each is
// timed from its arrival (queueing counts); best-effort requests run closed loop, sp.beSlots
// outstanding at every moment, and count when they finish inside the phase. The best-effort
// load continues until the real-time requests that arrived in the phase have finished.
func runPhase(ctx context.Context, s *sched.Scheduler, sp phaseSpec) (phaseResult, error) {
	var (
		res      phaseResult
		mu       sync.Mutex
		firstErr error
		beDone   atomic.Int64
		rtArr    atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	end := start.Add(sp.dur)

	beCtx, beCancel := context.WithCancel(ctx)
	defer beCancel()
	var beWG sync.WaitGroup
	if sp.kind != rtAlone {
		for range sp.beSlots {
			beWG.Add(1)
			go func() {
				defer beWG.Done()
				for beCtx.Err() == nil {
					_, err := s.Submit(beCtx, "be", sp.beIn.Inputs)
					switch {
					case beCtx.Err() != nil:
						return
					case err != nil:
						fail(fmt.Errorf("best-effort request: %w", err))
						beCancel()
						return
					}
					if time.Now().Before(end) {
						beDone.Add(1)
					}
				}
			}()
		}
	}

	rtCtx, rtCancel := context.WithCancel(ctx)
	defer rtCancel()
	var rtWG sync.WaitGroup
	var censoredAt time.Time
	if sp.kind != beAlone && sp.rate > 0 {
		rng := rand.New(rand.NewPCG(sp.seed, sp.round))
		rtWG.Add(1)
		go func() { // the arrival process
			defer rtWG.Done()
			at := start
			for {
				at = at.Add(time.Duration(rng.ExpFloat64() / sp.rate * float64(time.Second)))
				if !at.Before(end) {
					return
				}
				select {
				case <-time.After(time.Until(at)):
				case <-rtCtx.Done():
					return
				}
				rtArr.Add(1)
				rtWG.Add(1)
				go func(arrived time.Time) {
					defer rtWG.Done()
					_, err := s.Submit(rtCtx, "rt", sp.rtIn.Inputs)
					lat := time.Since(arrived)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						res.rtLat = append(res.rtLat, lat)
						if sp.slo == 0 || lat <= sp.slo {
							res.rtOnTime++
						}
						res.rtCompleted++
					case rtCtx.Err() != nil && ctx.Err() == nil: // cut off after the grace
						res.rtLat = append(res.rtLat, censoredAt.Sub(arrived))
					case firstErr == nil:
						firstErr = fmt.Errorf("real-time request: %w", err)
					}
				}(at)
			}
		}()
	}

	rtFinished := make(chan struct{})
	go func() { rtWG.Wait(); close(rtFinished) }()
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	// the phase is over: wait for the real-time requests that arrived in it
	grace := time.NewTimer(drainGrace(sp.slo))
	defer grace.Stop()
	select {
	case <-rtFinished:
	case <-grace.C:
		mu.Lock()
		censoredAt = time.Now()
		mu.Unlock()
		rtCancel()
		<-rtFinished
	case <-ctx.Done():
		rtCancel()
		<-rtFinished
	}
	beCancel()
	beWG.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.rtArrived = int(rtArr.Load())
	res.beDone = int(beDone.Load())
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		return res, firstErr
	}
	return res, nil
}
