package ptxsim

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// thread states
const (
	stRun  uint8 = iota // runnable
	stBar               // waiting at a barrier (pc is past it)
	stShfl              // waiting at a shuffle (pc is on it)
	stExit              // exited
)

type thread struct {
	r     []uint64
	pc    int32
	state uint8
	bar   uint32 // the barrier waited on
	count uint32 // its thread count (0: all threads of the block)
	barPC int32  // where the barrier is (for .aligned)
	tid   [3]uint32
}

// slot runs blocks one after another: its threads, registers and shared memory are reused.
type slot struct {
	l       *launchState
	k       *Kernel
	sm      int
	ctaid   [3]uint32
	threads []thread
	regs    []uint64
	tmpl    []uint64
	shared  []byte
	wins    []window // recently used global memory windows, most recent first
	instrs  int64
}

// regPool keeps register files of finished slots for later launches (reset overwrites them).
var regPool sync.Pool // *[]uint64

func newSlot(l *launchState, sm int) *slot {
	k := l.k
	n := len(k.template)
	regs, ok := regPool.Get().(*[]uint64)
	if !ok || cap(*regs) < n*l.nthreads {
		r := make([]uint64, n*l.nthreads)
		regs = &r
	}
	s := &slot{l: l, k: k, sm: sm, threads: make([]thread, l.nthreads),
		regs: (*regs)[:n*l.nthreads], tmpl: append([]uint64(nil), k.template...),
		shared: make([]byte, l.shared)}
	bx, by := int(l.block[0]), int(l.block[1])
	for i := range s.threads {
		t := &s.threads[i]
		t.r = s.regs[i*n : (i+1)*n : (i+1)*n]
		t.tid = [3]uint32{uint32(i % bx), uint32(i / bx % by), uint32(i / (bx * by))}
	}
	sr := func(i int) *uint64 { return &s.tmpl[k.sregSlot(i)] }
	for i := 0; i < 3; i++ {
		*sr(sNTidX + i) = uint64(l.block[i])
		*sr(sNCtaX + i) = uint64(l.grid[i])
	}
	*sr(sSMID) = uint64(sm)
	*sr(sNSMID) = uint64(l.cfg.SMs)
	return s
}

// reset prepares the slot to run block idx: fresh registers (zero, with the special
// registers and constants), zeroed shared memory, every thread at the first instruction.
func (s *slot) reset(idx int) {
	g := s.l.grid
	gx, gy := int(g[0]), int(g[1])
	s.ctaid = [3]uint32{uint32(idx % gx), uint32(idx / gx % gy), uint32(idx / (gx * gy))}
	k := s.k
	for i := 0; i < 3; i++ {
		s.tmpl[k.sregSlot(sCtaX+i)] = uint64(s.ctaid[i])
	}
	tid, lane, warp := k.sregSlot(sTidX), k.sregSlot(sLane), k.sregSlot(sWarp)
	for i := range s.threads {
		t := &s.threads[i]
		copy(t.r, s.tmpl)
		t.r[tid], t.r[tid+1], t.r[tid+2] = uint64(t.tid[0]), uint64(t.tid[1]), uint64(t.tid[2])
		t.r[lane], t.r[warp] = uint64(i%32), uint64(i/32)
		t.pc, t.state = 0, stRun
	}
	clear(s.shared)
}

// release returns the slot's register file to the pool.
func (s *slot) release() {
	r := s.regs
	s.regs, s.threads = nil, nil
	regPool.Put(&r)
}

func (s *slot) where(t *thread) string {
	return fmt.Sprintf("block (%d,%d,%d) on SM %d, thread (%d,%d,%d)", s.ctaid[0], s.ctaid[1],
		s.ctaid[2], s.sm, t.tid[0], t.tid[1], t.tid[2])
}

// run executes the block to completion: threads run one at a time, each for a time slice or
// until it waits at a barrier or shuffle or exits; waits complete when their threads have all
// arrived.
func (s *slot) run() error {
	slice := s.l.cfg.TimeSlice
	for {
		if s.l.abort.Load() {
			return errAborted
		}
		progress, spun := false, false
		live := 0
		for lo := 0; lo < len(s.threads); lo += 32 {
			warp := s.threads[lo:min(lo+32, len(s.threads))]
			shfl := 0
			for i := range warp {
				t := &warp[i]
				if t.state == stRun {
					n, err := s.exec(t, slice)
					s.instrs += int64(n)
					if err != nil {
						return fmt.Errorf("kernel %s: %s: %w", s.k.name, s.where(t), err)
					}
					progress = progress || n > 0
					spun = spun || t.state == stRun
				}
				switch t.state {
				case stShfl:
					shfl++
				case stExit:
					continue
				}
				live++
			}
			if shfl > 0 {
				done, err := s.shuffle(warp)
				if err != nil {
					return err
				}
				progress = progress || done
			}
		}
		if live == 0 {
			return nil
		}
		done, err := s.barrier(live)
		if err != nil {
			return err
		}
		if spun {
			runtime.Gosched() // a thread used its whole slice: maybe it spins on a flag
		} else if !done && !progress {
			return s.deadlock()
		}
	}
}

// barrier releases the threads waiting at a barrier every participant of which has arrived:
// all live threads, or the barrier's thread count.
func (s *slot) barrier(live int) (bool, error) {
	var waiting [16]int
	var first [16]*thread
	for i := range s.threads {
		t := &s.threads[i]
		if t.state != stBar {
			continue
		}
		waiting[t.bar]++
		if f := first[t.bar]; f == nil {
			first[t.bar] = t
		} else if f.count != t.count {
			return false, fmt.Errorf("kernel %s: %s: barrier %d with thread counts %d and %d",
				s.k.name, s.where(t), t.bar, f.count, t.count)
		}
	}
	released := false
	for id, n := range waiting {
		f := first[id]
		if n == 0 || (f.count == 0 && n < live) || (f.count > 0 && n < int(f.count)) {
			continue
		}
		for i := range s.threads {
			t := &s.threads[i]
			if t.state != stBar || t.bar != uint32(id) {
				continue
			}
			if t.barPC != f.barPC && (s.k.code[t.barPC].sub == 1 || s.k.code[f.barPC].sub == 1) {
				return false, fmt.Errorf("kernel %s: %s: threads reached bar.sync %d at %s and at %s: bar.sync is .aligned, every thread must execute the same one",
					s.k.name, s.where(t), id, s.k.mod.where(int(s.k.code[f.barPC].line)), s.k.mod.where(int(s.k.code[t.barPC].line)))
			}
			t.state = stRun
		}
		released = true
	}
	return released, nil
}

// deadlock describes a block in which no thread can move.
func (s *slot) deadlock() error {
	waits := map[string]int{}
	for i := range s.threads {
		t := &s.threads[i]
		switch t.state {
		case stBar:
			waits[fmt.Sprintf("barrier %d at %s", t.bar, s.k.mod.where(int(s.k.code[t.barPC].line)))]++
		case stShfl:
			waits[fmt.Sprintf("shfl.sync at %s", s.k.mod.where(int(s.k.code[t.pc].line)))]++
		}
	}
	var parts []string
	for w, n := range waits {
		parts = append(parts, fmt.Sprintf("%d threads wait at %s", n, w))
	}
	sort.Strings(parts)
	return fmt.Errorf("kernel %s: block (%d,%d,%d) on SM %d: deadlock: %s", s.k.name,
		s.ctaid[0], s.ctaid[1], s.ctaid[2], s.sm, strings.Join(parts, "; "))
}
