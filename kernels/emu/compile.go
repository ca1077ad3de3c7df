package emu

import (
	"errors"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// ErrUnsupported is wrapped by compile errors for an op (at a type) the emulator does not
// implement.
var ErrUnsupported = errors.New("not implemented by the emulator")

type stepKind uint8

const (
	kOp      stepKind = iota // run f, next
	kJump                    // goto target
	kBrFalse                 // if r[a] == 0 goto target
	kBar                     // barrier
	kShfl                    // warp shuffle (done by the block scheduler)
	kExit                    // thread exits
)

type step struct {
	kind   stepKind
	f      func(t *thread)
	a      int32 // predicate slot of kBrFalse
	target int32
	shfl   *shflStep
}

type shflStep struct {
	mode       kir.ShflMode
	dst, v, ln int32
}

// Program is a kernel compiled for the emulator.
type Program struct {
	Kernel       *kir.Kernel
	code         []step
	nregs        int
	sharedOff    []int
	sharedStatic int
}

type loopCtx struct {
	breaks, conts []int
}

type compiler struct {
	p     *Program
	nregs int32
	loops []*loopCtx
	err   error
}

// Compile verifies k and compiles it into a Program.
func Compile(k *kir.Kernel) (*Program, error) {
	if err := kir.Verify(k); err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	p := &Program{Kernel: k}
	p.sharedOff, p.sharedStatic = k.SharedLayout()
	c := &compiler{p: p, nregs: int32(len(k.Regs))}
	c.body(k.Body)
	c.emit(step{kind: kExit})
	if c.err != nil {
		return nil, fmt.Errorf("emu: kernel %q: %w", k.Name, c.err)
	}
	p.nregs = int(c.nregs)
	return p, nil
}

func (c *compiler) emit(s step) int {
	c.p.code = append(c.p.code, s)
	return len(c.p.code) - 1
}

func (c *compiler) here() int32 { return int32(len(c.p.code)) }

func (c *compiler) scratch() int32 {
	c.nregs++
	return c.nregs - 1
}

func (c *compiler) body(b []*kir.Inst) {
	for _, in := range b {
		c.inst(in)
	}
}

func (c *compiler) patch(at []int, target int32) {
	for _, i := range at {
		c.p.code[i].target = target
	}
}

func (c *compiler) inst(in *kir.Inst) {
	switch in.Op {
	case kir.OpIf:
		br := c.emit(step{kind: kBrFalse, a: in.Args[0].ID})
		c.body(in.Body)
		if len(in.Else) == 0 {
			c.p.code[br].target = c.here()
			return
		}
		j := c.emit(step{kind: kJump})
		c.p.code[br].target = c.here()
		c.body(in.Else)
		c.p.code[j].target = c.here()
	case kir.OpFor:
		i, start, end, inc := in.Dst[0].ID, in.Args[0].ID, in.Args[1].ID, in.Args[2].ID
		c.emit(step{kind: kOp, f: func(t *thread) { t.r[i] = t.r[start] }})
		top := c.here()
		p := c.scratch()
		lt := compare(kir.LT, in.T)
		add := binTable[kir.OpAdd][in.T]
		if lt == nil || add == nil {
			c.fail(in)
			return
		}
		c.emit(step{kind: kOp, f: func(t *thread) { t.r[p] = b2u(lt(t.r[i], t.r[end])) }})
		br := c.emit(step{kind: kBrFalse, a: p})
		l := &loopCtx{}
		c.loops = append(c.loops, l)
		c.body(in.Body)
		c.loops = c.loops[:len(c.loops)-1]
		c.patch(l.conts, c.here())
		c.emit(step{kind: kOp, f: func(t *thread) { t.r[i] = add(t.r[i], t.r[inc]) }})
		c.emit(step{kind: kJump, target: top})
		c.p.code[br].target = c.here()
		c.patch(l.breaks, c.here())
	case kir.OpWhile:
		top := c.here()
		c.body(in.Cond)
		br := c.emit(step{kind: kBrFalse, a: in.Args[0].ID})
		l := &loopCtx{}
		c.loops = append(c.loops, l)
		c.body(in.Body)
		c.loops = c.loops[:len(c.loops)-1]
		c.emit(step{kind: kJump, target: top})
		c.p.code[br].target = c.here()
		c.patch(l.breaks, c.here())
		c.patch(l.conts, top)
	case kir.OpBreak, kir.OpContinue:
		if len(c.loops) == 0 {
			c.failf("%s outside a loop", in.Op)
			return
		}
		l := c.loops[len(c.loops)-1]
		j := c.emit(step{kind: kJump})
		if in.Op == kir.OpBreak {
			l.breaks = append(l.breaks, j)
		} else {
			l.conts = append(l.conts, j)
		}
	case kir.OpReturn:
		c.emit(step{kind: kExit})
	case kir.OpBar:
		c.emit(step{kind: kBar})
	case kir.OpShfl:
		c.emit(step{kind: kShfl, shfl: &shflStep{mode: in.Shfl, dst: in.Dst[0].ID, v: in.Args[0].ID, ln: in.Args[1].ID}})
	default:
		f := c.op(in)
		if f == nil {
			c.fail(in)
			return
		}
		c.emit(step{kind: kOp, f: f})
	}
}

func (c *compiler) failf(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func (c *compiler) fail(in *kir.Inst) {
	c.failf("%s at type %s: %w", in.Op, in.T, ErrUnsupported)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// op returns the closure of a straight-line instruction, nil when unsupported.
func (c *compiler) op(in *kir.Inst) func(*thread) {
	var d, a, b, e int32
	if len(in.Dst) > 0 {
		d = in.Dst[0].ID
	}
	if len(in.Args) > 0 {
		a = in.Args[0].ID
	}
	if len(in.Args) > 1 {
		b = in.Args[1].ID
	}
	if len(in.Args) > 2 {
		e = in.Args[2].ID
	}
	switch in.Op {
	case kir.OpConst:
		v := in.Imm
		if in.T.Size() == 4 {
			v = uint64(uint32(v))
		} else if in.T == kir.Pred {
			v = b2u(v != 0)
		}
		return func(t *thread) { t.r[d] = v }
	case kir.OpMov:
		return func(t *thread) { t.r[d] = t.r[a] }
	case kir.OpParam:
		idx := int(in.Imm)
		return func(t *thread) { t.r[d] = t.blk.l.params[idx] }
	case kir.OpSReg:
		return sregFunc(in.SReg, d)
	case kir.OpSharedAddr:
		if int(in.Imm) >= len(c.p.sharedOff) {
			return nil
		}
		off := uint64(c.p.sharedOff[in.Imm])
		return func(t *thread) { t.r[d] = off }
	case kir.OpCvt, kir.OpBitcast:
		var f unFn
		if in.Op == kir.OpCvt {
			f = cvt(in.Args[0].T, in.T)
		} else if in.T.Size() == in.Args[0].T.Size() && in.T.Size() > 0 {
			f = func(x uint64) uint64 { return x }
		}
		if f == nil {
			return nil
		}
		return func(t *thread) { t.r[d] = f(t.r[a]) }
	case kir.OpSelp:
		return func(t *thread) {
			if t.r[a] != 0 {
				t.r[d] = t.r[b]
			} else {
				t.r[d] = t.r[e]
			}
		}
	case kir.OpMad:
		mul, add := binTable[kir.OpMul][in.T], binTable[kir.OpAdd][in.T]
		if mul == nil || add == nil || !in.T.IsInt() {
			return nil
		}
		return func(t *thread) { t.r[d] = add(mul(t.r[a], t.r[b]), t.r[e]) }
	case kir.OpFma:
		if in.T != kir.F32 {
			return nil
		}
		return func(t *thread) {
			t.r[d] = pf32(fma32(math.Float32frombits(uint32(t.r[a])), math.Float32frombits(uint32(t.r[b])), math.Float32frombits(uint32(t.r[e]))))
		}
	case kir.OpSetp:
		f := compare(in.Cmp, in.T)
		if f == nil {
			return nil
		}
		return func(t *thread) { t.r[d] = b2u(f(t.r[a], t.r[b])) }
	case kir.OpMembar:
		return func(*thread) {} // every emulated access is sequentially consistent or block-local
	case kir.OpLd, kir.OpSt, kir.OpAtomAdd, kir.OpAtomCAS, kir.OpAtomExch, kir.OpAtomMin, kir.OpAtomMax:
		return memFunc(in)
	}
	if m, ok := binTable[in.Op]; ok {
		f := m[in.T]
		if f == nil {
			return nil
		}
		if g := fastBin(in.Op, in.T, d, a, b); g != nil {
			return g
		}
		return func(t *thread) { t.r[d] = f(t.r[a], t.r[b]) }
	}
	if m, ok := unTable[in.Op]; ok {
		f := m[in.T]
		if f == nil {
			return nil
		}
		return func(t *thread) { t.r[d] = f(t.r[a]) }
	}
	return nil
}

func sregFunc(s kir.SReg, d int32) func(*thread) {
	switch s {
	case kir.TidX, kir.TidY, kir.TidZ:
		i := s - kir.TidX
		return func(t *thread) { t.r[d] = uint64(t.tid[i]) }
	case kir.NTidX, kir.NTidY, kir.NTidZ:
		i := s - kir.NTidX
		return func(t *thread) { t.r[d] = uint64(t.blk.l.block[i]) }
	case kir.CtaIDX, kir.CtaIDY, kir.CtaIDZ:
		i := s - kir.CtaIDX
		return func(t *thread) { t.r[d] = uint64(t.blk.ctaid[i]) }
	case kir.NCtaIDX, kir.NCtaIDY, kir.NCtaIDZ:
		i := s - kir.NCtaIDX
		return func(t *thread) { t.r[d] = uint64(t.blk.l.grid[i]) }
	case kir.SMID:
		return func(t *thread) { t.r[d] = uint64(t.blk.sm) }
	case kir.NSMID:
		return func(t *thread) { t.r[d] = uint64(t.blk.l.nsm) }
	case kir.LaneID:
		return func(t *thread) { t.r[d] = uint64(t.lin % 32) }
	case kir.WarpID:
		return func(t *thread) { t.r[d] = uint64(t.lin / 32) }
	}
	return nil
}
