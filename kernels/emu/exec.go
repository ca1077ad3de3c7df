package emu

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/elasticroom/elasticroom/kernels/kir"
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
	tid   [3]uint32
	lin   int
	blk   *block
	err   error
}

type block struct {
	l           *launch
	sm          int
	ctaid       [3]uint32
	shared      []uint32
	sharedBytes uint32
	threads     []thread
	regs        []uint64
	steps       int64
}

var errAborted = errors.New("launch aborted")

func newBlock(l *launch, sm int) *block {
	n := l.nthreads
	nr := l.prog.nregs
	bk := &block{l: l, sm: sm, threads: make([]thread, n), regs: l.dev.getRegs(n * nr),
		sharedBytes: uint32(l.sharedBytes), shared: make([]uint32, (l.sharedBytes+3)/4)}
	bx, by := int(l.block[0]), int(l.block[1])
	for i := range bk.threads {
		t := &bk.threads[i]
		t.r = bk.regs[i*nr : (i+1)*nr : (i+1)*nr]
		t.blk = bk
		t.lin = i
		t.tid = [3]uint32{uint32(i % bx), uint32(i / bx % by), uint32(i / (bx * by))}
	}
	return bk
}

// reset prepares the block to run block index idx of the grid.
func (bk *block) reset(idx int) {
	g := bk.l.grid
	gx, gy := int(g[0]), int(g[1])
	bk.ctaid = [3]uint32{uint32(idx % gx), uint32(idx / gx % gy), uint32(idx / (gx * gy))}
	// Registers are not cleared: the verifier guarantees every register is written before it
	// is read, so a block never sees its predecessor's values (clearing cost more than running
	// the blocks of a persistent kernel that find no tile left).
	clear(bk.shared)
	for i := range bk.threads {
		t := &bk.threads[i]
		t.pc, t.state, t.err = 0, stRun, nil
	}
}

func (bk *block) where(t *thread) string {
	return fmt.Sprintf("block (%d,%d,%d) on SM %d, thread (%d,%d,%d)", bk.ctaid[0], bk.ctaid[1],
		bk.ctaid[2], bk.sm, t.tid[0], t.tid[1], t.tid[2])
}

// run executes the block to completion in barrier-phased order.
func (bk *block) run() error {
	code := bk.l.prog.code
	slice := bk.l.dev.cfg.TimeSlice
	for {
		if bk.l.abort.Load() {
			return errAborted
		}
		live, atBar, runnable, atShfl := 0, 0, 0, 0
		for i := range bk.threads {
			t := &bk.threads[i]
			if t.state == stRun {
				bk.steps += int64(t.exec(code, slice))
				if t.err != nil {
					return fmt.Errorf("%s: %w", bk.where(t), t.err)
				}
			}
			switch t.state {
			case stRun:
				runnable++
			case stBar:
				atBar++
			case stShfl:
				atShfl++
			default:
				continue
			}
			live++
		}
		switch {
		case live == 0:
			return nil
		case runnable > 0:
			runtime.Gosched() // a thread ran out of its time slice: maybe it spins on a flag
			continue
		}
		if atShfl > 0 {
			progressed, err := bk.shuffles(code)
			if err != nil {
				return err
			}
			if progressed {
				continue
			}
		}
		if atBar == live {
			for i := range bk.threads {
				if bk.threads[i].state == stBar {
					bk.threads[i].state = stRun
				}
			}
			continue
		}
		return fmt.Errorf("block (%d,%d,%d) on SM %d: deadlock: %d threads at a barrier, %d at a shuffle their warp does not complete",
			bk.ctaid[0], bk.ctaid[1], bk.ctaid[2], bk.sm, atBar, atShfl)
	}
}

// exec runs the thread until it blocks, exits, faults or has run budget steps; it returns the
// number of steps run.
func (t *thread) exec(code []step, budget int) int {
	pc := t.pc
	r := t.r
	for n := 0; n < budget; n++ {
		s := &code[pc]
		switch s.kind {
		case kOp:
			s.f(t)
			if t.err != nil {
				t.pc = pc
				return n + 1
			}
			pc++
		case kJump:
			pc = s.target
		case kBrFalse:
			if r[s.a] == 0 {
				pc = s.target
			} else {
				pc++
			}
		case kBar:
			t.pc, t.state = pc+1, stBar
			return n + 1
		case kShfl:
			t.pc, t.state = pc, stShfl
			return n
		case kExit:
			t.pc, t.state = pc, stExit
			return n + 1
		}
	}
	t.pc = pc
	return budget
}

// shuffles completes every warp whose live lanes all wait at the same shuffle.
func (bk *block) shuffles(code []step) (bool, error) {
	progressed := false
	n := len(bk.threads)
	for lo := 0; lo < n; lo += 32 {
		hi := min(lo+32, n)
		lanes := bk.threads[lo:hi]
		pc, live, waiting := int32(-1), 0, 0
		for i := range lanes {
			t := &lanes[i]
			if t.state == stExit {
				continue
			}
			live++
			if t.state == stShfl {
				if pc >= 0 && t.pc != pc {
					return false, fmt.Errorf("%s: lanes of one warp wait at different shuffles", bk.where(t))
				}
				pc = t.pc
				waiting++
			}
		}
		if waiting == 0 || waiting != live {
			continue
		}
		s := code[pc].shfl
		var vals [32]uint64
		for i := range lanes {
			t := &lanes[i]
			if t.state == stExit {
				continue
			}
			b := int(uint32(t.r[s.ln]) & 31) // PTX reads the lane operand's low 5 bits
			src := -1
			switch s.mode {
			case kir.ShflDown:
				src = i + b
			case kir.ShflUp:
				src = i - b
			case kir.ShflBfly:
				src = i ^ b
			case kir.ShflIdx:
				src = b & 31
			}
			vals[i] = t.r[s.v]
			if src >= 0 && src < 32 && src < len(lanes) && lanes[src].state != stExit {
				vals[i] = lanes[src].r[s.v]
			}
		}
		for i := range lanes {
			t := &lanes[i]
			if t.state == stExit {
				continue
			}
			t.r[s.dst] = vals[i]
			t.pc++
			t.state = stRun
		}
		progressed = true
	}
	return progressed, nil
}
