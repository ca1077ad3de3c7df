// Package protocol emits ElasticRoom's SM-aware persistent kernel protocol (DESIGN.md section 4)
// into kir kernels, and describes the control block the host shares with a running kernel.
//
// A persistent kernel is launched with a grid of (device SMs x resident blocks per SM) blocks
// and a pointer to a control block of u32 words:
//
//	word 0    next_tile  atomic work counter (survives a preemption: a relaunch resumes)
//	word 1    ntiles     tiles of the launch
//	word 2    done       tiles finished
//	word 3    yield      nonzero: stop taking tiles (written by the host, read volatile)
//	word 4-5  signal     u64 address of a signal block, or 0 (see below)
//	word 6-7  after      u64 address of another control block, or 0 (see below)
//	word 8+   sm_mask    bit s of word s/32 set: the kernel may run tiles on SM s
//
// Every block loops: thread 0 reads yield and its SM's mask bit (volatile loads); if both allow,
// it claims t = atom.add(next_tile, 1), else it picks the stop value; t goes to every thread
// through shared memory and a barrier; the block leaves when t >= ntiles (which the stop value
// always is). Otherwise the block runs the tile, waits at a barrier, and thread 0 fences and
// adds 1 to done. A block on an SM outside the mask therefore leaves on its first iteration,
// before it claims anything, and a claimed tile is always finished: tiles below ntiles are
// claimed exactly once over any number of (re)launches, and next_tile may end above ntiles,
// which means only that every tile was claimed. Relaunching with the same control block after a
// yield (with yield cleared) runs exactly the tiles not yet claimed.
//
// Two optional words let a runtime queue a whole sequence of kernels without waiting for each
// (runtime/exec does): a signal block is [yield, sm_mask...] (SignalWords), shared by every
// kernel of a sequence, so that one host store preempts or moves whichever kernel is running;
// a block takes a tile only when both its control block's words and the signal's allow it. And
// a kernel whose after block is not complete (done < ntiles when the kernel starts: its
// predecessor in the queue was preempted) takes no tile at all, so a preempted sequence stops at
// the first unfinished kernel, and every later kernel's control block stays untouched for the
// relaunch. Counters and flags then live in device memory (atomics at L2 speed) and only the
// signal block in host-writable memory.
//
// protocol imports kernels/kir only.
package protocol

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// Control block word indexes.
const (
	WordNextTile = 0
	WordNTiles   = 1
	WordDone     = 2
	WordYield    = 3
	WordSignal   = 4 // low half of the signal block's address (high half at 5)
	WordAfter    = 6 // low half of the after block's address (high half at 7)
	WordSMMask   = 8
)

// Signal block word indexes.
const (
	SignalYield  = 0
	SignalSMMask = 1
)

// Stop is the tile value thread 0 broadcasts when the block must leave without claiming.
const Stop = 0xFFFFFFFF

// Words is the size in u32 words of the control block for a device with nsm SMs.
func Words(nsm int) int { return WordSMMask + (nsm+31)/32 }

// SignalWords is the size in u32 words of a signal block for a device with nsm SMs.
func SignalWords(nsm int) int { return SignalSMMask + (nsm+31)/32 }

// Control is the host's view of a control block.
type Control struct {
	NextTile, NTiles, Done, Yield uint32
	Signal, After                 uint64   // addresses; 0: none
	SMMask                        []uint32 // one bit per SM, word s/32 bit s%32
}

// NewControl is a fresh control block for ntiles tiles on a device of nsm SMs that may run on
// the given SMs (all of them when sms is empty).
func NewControl(ntiles, nsm int, sms ...int) (Control, error) {
	if ntiles < 0 || ntiles >= Stop {
		return Control{}, fmt.Errorf("control block: %d tiles", ntiles)
	}
	mask, err := Mask(nsm, sms...)
	if err != nil {
		return Control{}, fmt.Errorf("control block: %w", err)
	}
	return Control{NTiles: uint32(ntiles), SMMask: mask}, nil
}

// Mask is the sm_mask words for the given SMs of an nsm-SM device (all of them when sms is
// empty).
func Mask(nsm int, sms ...int) ([]uint32, error) {
	mask := make([]uint32, (nsm+31)/32)
	if len(sms) == 0 {
		for s := 0; s < nsm; s++ {
			sms = append(sms, s)
		}
	}
	for _, s := range sms {
		if s < 0 || s >= nsm {
			return nil, fmt.Errorf("SM %d of a %d-SM device", s, nsm)
		}
		mask[s/32] |= 1 << (s % 32)
	}
	return mask, nil
}

// Words encodes the control block as u32 words.
func (c Control) Words() []uint32 {
	return append([]uint32{c.NextTile, c.NTiles, c.Done, c.Yield,
		uint32(c.Signal), uint32(c.Signal >> 32), uint32(c.After), uint32(c.After >> 32)}, c.SMMask...)
}

// MaskWord returns the word index and bit of SM sm in the control block (in a signal block
// the word is MaskWord - WordSMMask + SignalSMMask).
func MaskWord(sm int) (word int, bit uint32) { return WordSMMask + sm/32, 1 << (sm % 32) }

// Options are optional parts of the protocol.
type Options struct {
	// Trace, when valid, is a u64 pointer param: after finishing tile t thread 0 stores the
	// block's %smid to Trace[t] (u32), unless the pointer is 0 at run time.
	Trace kir.Value
}

// Persistent emits the protocol loop into b, calling body once (at build time) to emit the
// tile's code, with tile the u32 tile index, uniform across the block. ctl is the pointer param
// of the control block. body may use barriers; it must not Return (a block must finish its
// tile), and a Break inside it leaves only loops of its own.
func Persistent(b *kir.Builder, ctl kir.Value, body func(tile kir.Value), opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if ctl.T != kir.U64 {
		b.Errorf("persistent: control block pointer has type %s, want u64", ctl.T)
		return
	}
	zero, one, zero64 := b.ConstU32(0), b.ConstU32(1), b.ConstU64(0)
	slot := b.SharedAligned("er_tile", kir.U32, 1, 4)
	isT0 := b.Eq(b.FlatTid(), zero)
	smid := b.SMID()
	maskOff := b.Shl(b.Shr(smid, b.ConstU32(5)), b.ConstU32(2)) // byte offset of the SM's mask word
	ntiles := b.Ld(kir.Global, kir.U32, ctl, 4*WordNTiles)
	b.If(isT0, func() {
		// A kernel queued after an unfinished one runs nothing: every block leaves at once.
		open := b.Var(one)
		after := b.Ld(kir.Global, kir.U64, ctl, 4*WordAfter)
		b.If(b.Ne(after, zero64), func() {
			done := b.LdVolatile(kir.Global, kir.U32, after, 4*WordDone)
			n := b.LdVolatile(kir.Global, kir.U32, after, 4*WordNTiles)
			b.If(b.Lt(done, n), func() { b.Set(open, zero) })
		})
		b.StoreShared(slot, zero, open)
	})
	b.Barrier()
	open := b.LoadShared(slot, zero)
	b.Barrier()
	b.If(b.Ne(open, zero), func() { loop(b, ctl, ntiles, slot, isT0, smid, maskOff, body, o) })
}

func loop(b *kir.Builder, ctl, ntiles kir.Value, slot kir.SharedArray, isT0, smid, maskOff kir.Value, body func(kir.Value), o Options) {
	zero, one := b.ConstU32(0), b.ConstU32(1)
	b.Loop(func() {
		b.If(isT0, func() {
			// Addresses are recomputed every tile so that they hold no registers during the
			// tile's body. With no signal block the signal loads read the control block's own
			// words again (the same values): thread 0 issues all four loads back to back.
			bit := b.And(smid, b.ConstU32(31))
			maskAddr := b.Add(ctl, b.Cvt(maskOff, kir.U64))
			signal := b.Ld(kir.Global, kir.U64, ctl, 4*WordSignal)
			hasSignal := b.Ne(signal, b.ConstU64(0))
			sigYield := b.Select(hasSignal, b.Add(signal, b.ConstU64(4*SignalYield)), b.Add(ctl, b.ConstU64(4*WordYield)))
			sigMask := b.Select(hasSignal, b.Add(signal, b.ConstU64(4*SignalSMMask)), b.Add(ctl, b.ConstU64(4*WordSMMask)))
			sigMask = b.Add(sigMask, b.Cvt(maskOff, kir.U64))
			allows := func(yield, mask kir.Value) kir.Value {
				return b.And(b.Eq(yield, zero), b.Ne(b.And(b.Shr(mask, bit), one), zero))
			}
			t := b.Var(b.ConstU32(Stop))
			yield := b.LdVolatile(kir.Global, kir.U32, ctl, 4*WordYield)
			mask := b.LdVolatile(kir.Global, kir.U32, maskAddr, 4*WordSMMask)
			sy := b.LdVolatile(kir.Global, kir.U32, sigYield, 0)
			sm := b.LdVolatile(kir.Global, kir.U32, sigMask, 0)
			b.If(b.And(allows(yield, mask), allows(sy, sm)), func() {
				b.Set(t, b.Atom(kir.OpAtomAdd, kir.Global, ctl, 4*WordNextTile, one))
			})
			b.StoreShared(slot, zero, t)
		})
		b.Barrier()
		tile := b.LoadShared(slot, zero)
		b.If(b.Ge(tile, ntiles), func() { b.Break() })
		body(tile)
		b.Barrier()
		b.If(isT0, func() {
			if o.Trace.Valid() {
				b.If(b.Ne(o.Trace, b.ConstU64(0)), func() { b.Store(o.Trace, tile, smid) })
			}
			b.Fence(kir.LevelGL)
			b.Atom(kir.OpAtomAdd, kir.Global, ctl, 4*WordDone, one)
		})
	})
}
