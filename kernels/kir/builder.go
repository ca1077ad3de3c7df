package kir

import (
	"fmt"
	"math"
)

// Builder writes a Kernel instruction by instruction. Its methods mirror CUDA C: arithmetic on
// Values, loads and stores through pointer params, If/For/While taking Go closures for their
// bodies. A misuse (mismatched types, an op at a type it does not support, Break outside a loop)
// is recorded as the first error and returned by Build; methods never panic and keep returning
// Values of the expected type so that the caller's code runs to the end.
type Builder struct {
	k         *Kernel
	cur       *[]*Inst
	err       error
	consts    map[int32]uint64 // registers defined by OpConst and never re-assigned
	loopDepth int
}

// NewKernel starts a kernel named name for target t.
func NewKernel(name string, t Target) *Builder {
	k := &Kernel{Name: name, Target: t, Regs: []Type{Invalid}}
	b := &Builder{k: k, consts: map[int32]uint64{}}
	b.cur = &k.Body
	return b
}

// Err is the first error recorded so far.
func (b *Builder) Err() error { return b.err }

// Build verifies the kernel and returns it.
func (b *Builder) Build() (*Kernel, error) {
	if b.err != nil {
		return nil, fmt.Errorf("kernel %q: build: %w", b.k.Name, b.err)
	}
	if err := Verify(b.k); err != nil {
		return nil, err
	}
	return b.k, nil
}

// Kernel returns the kernel under construction, unverified.
func (b *Builder) Kernel() *Kernel { return b.k }

func (b *Builder) failf(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// NewReg allocates a fresh register of type t.
func (b *Builder) NewReg(t Type) Value {
	b.k.Regs = append(b.k.Regs, t)
	return Value{ID: int32(len(b.k.Regs) - 1), T: t}
}

// Emit appends a raw instruction at the current position (for ops the helpers do not cover).
func (b *Builder) Emit(in *Inst) { *b.cur = append(*b.cur, in) }

// op emits a one-result instruction of type t with result type rt.
func (b *Builder) op(op Op, t, rt Type, args ...Value) Value {
	if !op.Allows(t) {
		b.failf("%s: not defined for %s", op, t)
	}
	for _, a := range args {
		if !a.Valid() {
			b.failf("%s: operand is not a value", op)
		}
	}
	d := b.NewReg(rt)
	b.Emit(&Inst{Op: op, T: t, Dst: []Value{d}, Args: args})
	return d
}

func (b *Builder) same(op Op, args ...Value) Type {
	t := args[0].T
	for _, a := range args[1:] {
		if a.T != t {
			b.failf("%s: operand types differ: %s and %s", op, t, a.T)
		}
	}
	return t
}

// ---- parameters ----

func (b *Builder) param(name string, t Type, ptr bool) Value {
	for _, p := range b.k.Params {
		if p.Name == name {
			b.failf("param %q declared twice", name)
		}
	}
	b.k.Params = append(b.k.Params, Param{Name: name, T: t, Ptr: ptr})
	d := b.NewReg(t)
	b.Emit(&Inst{Op: OpParam, T: t, Dst: []Value{d}, Imm: uint64(len(b.k.Params) - 1)})
	return d
}

// ParamPtr declares a pointer parameter (a u64 global address).
func (b *Builder) ParamPtr(name string) Value { return b.param(name, U64, true) }

// ParamU32 declares a u32 parameter.
func (b *Builder) ParamU32(name string) Value { return b.param(name, U32, false) }

// ParamS32 declares an s32 parameter.
func (b *Builder) ParamS32(name string) Value { return b.param(name, S32, false) }

// ParamF32 declares an f32 parameter.
func (b *Builder) ParamF32(name string) Value { return b.param(name, F32, false) }

// ParamU64 declares a u64 (non-pointer) parameter.
func (b *Builder) ParamU64(name string) Value { return b.param(name, U64, false) }

// ---- constants and registers ----

// Const makes a constant of type t from its bit pattern (f32: math.Float32bits).
func (b *Builder) Const(t Type, bits uint64) Value {
	d := b.op(OpConst, t, t)
	(*b.cur)[len(*b.cur)-1].Imm = bits
	b.consts[d.ID] = bits
	return d
}

// ConstU32 makes a u32 constant.
func (b *Builder) ConstU32(v uint32) Value { return b.Const(U32, uint64(v)) }

// ConstS32 makes an s32 constant.
func (b *Builder) ConstS32(v int32) Value { return b.Const(S32, uint64(uint32(v))) }

// ConstU64 makes a u64 constant.
func (b *Builder) ConstU64(v uint64) Value { return b.Const(U64, v) }

// ConstF32 makes an f32 constant.
func (b *Builder) ConstF32(v float32) Value { return b.Const(F32, uint64(math.Float32bits(v))) }

// True and False make predicate constants.
func (b *Builder) True() Value { return b.Const(Pred, 1) }

// False makes the predicate false.
func (b *Builder) False() Value { return b.Const(Pred, 0) }

// ConstOf returns the bits of v when v is a register defined by a constant and never
// re-assigned.
func (b *Builder) ConstOf(v Value) (uint64, bool) {
	bits, ok := b.consts[v.ID]
	return bits, ok
}

// Var makes a fresh mutable register initialised with init (for accumulators and loop state).
func (b *Builder) Var(init Value) Value { return b.op(OpMov, init.T, init.T, init) }

// Set assigns v to the register dst (mov). Types must match.
func (b *Builder) Set(dst, v Value) {
	if dst.T != v.T {
		b.failf("set %v: type %s, value %v has type %s", dst, dst.T, v, v.T)
	}
	delete(b.consts, dst.ID)
	b.Emit(&Inst{Op: OpMov, T: dst.T, Dst: []Value{dst}, Args: []Value{v}})
}

// Cvt converts v to type t (float -> int truncates toward zero and saturates, int -> float
// rounds to nearest even, integer widening sign- or zero-extends by the source type, narrowing
// keeps the low bits).
func (b *Builder) Cvt(v Value, t Type) Value {
	if v.T == t {
		return v
	}
	return b.op(OpCvt, t, t, v)
}

// Bitcast reinterprets the bits of v as type t (same size).
func (b *Builder) Bitcast(v Value, t Type) Value {
	if v.T.Size() != t.Size() || t.Size() == 0 {
		b.failf("bitcast %s -> %s: sizes differ", v.T, t)
	}
	return b.op(OpBitcast, t, t, v)
}

// Select returns a where p is true, else c (selp).
func (b *Builder) Select(p, a, c Value) Value {
	if p.T != Pred {
		b.failf("select: condition has type %s, want pred", p.T)
	}
	t := b.same(OpSelp, a, c)
	return b.op(OpSelp, t, t, p, a, c)
}

// ---- special registers ----

// Special reads a special register (u32).
func (b *Builder) Special(s SReg) Value {
	d := b.op(OpSReg, U32, U32)
	(*b.cur)[len(*b.cur)-1].SReg = s
	return d
}

func dim(d int, x SReg) SReg {
	if d < 0 || d > 2 {
		d = 0
	}
	return x + SReg(d)
}

// Tid is %tid.x/y/z for d = 0/1/2.
func (b *Builder) Tid(d int) Value { return b.Special(dim(d, TidX)) }

// NTid is %ntid (block size) in dimension d.
func (b *Builder) NTid(d int) Value { return b.Special(dim(d, NTidX)) }

// CtaID is %ctaid (block index) in dimension d.
func (b *Builder) CtaID(d int) Value { return b.Special(dim(d, CtaIDX)) }

// NCtaID is %nctaid (grid size in blocks) in dimension d.
func (b *Builder) NCtaID(d int) Value { return b.Special(dim(d, NCtaIDX)) }

// SMID is %smid, the SM the block runs on.
func (b *Builder) SMID() Value { return b.Special(SMID) }

// NSMID is %nsmid, the number of SM ids.
func (b *Builder) NSMID() Value { return b.Special(NSMID) }

// LaneID is %laneid.
func (b *Builder) LaneID() Value { return b.Special(LaneID) }

// WarpID is %warpid.
func (b *Builder) WarpID() Value { return b.Special(WarpID) }

// FlatTid is the thread's linear index in its block: tid.x + ntid.x*(tid.y + ntid.y*tid.z).
func (b *Builder) FlatTid() Value {
	yz := b.Mad(b.Tid(2), b.NTid(1), b.Tid(1))
	return b.Mad(yz, b.NTid(0), b.Tid(0))
}

// ---- control flow ----

func (b *Builder) block(f func()) []*Inst {
	saved := b.cur
	body := []*Inst{}
	b.cur = &body
	if f != nil {
		f()
	}
	b.cur = saved
	return body
}

// If runs then for the threads where p is true.
func (b *Builder) If(p Value, then func()) { b.IfElse(p, then, nil) }

// IfElse runs then where p is true and els elsewhere.
func (b *Builder) IfElse(p Value, then, els func()) {
	if p.T != Pred {
		b.failf("if: condition has type %s, want pred", p.T)
	}
	in := &Inst{Op: OpIf, Args: []Value{p}}
	in.Body = b.block(then)
	if els != nil {
		in.Else = b.block(els)
	}
	b.Emit(in)
}

// For runs body for i = start; i < end; i += step (signed or unsigned comparison by the type;
// all three of one integer type). end and step are re-read every iteration.
func (b *Builder) For(start, end, step Value, body func(i Value)) {
	t := b.same(OpFor, start, end, step)
	if !OpFor.Allows(t) {
		b.failf("for: not defined for %s", t)
	}
	i := b.NewReg(t)
	in := &Inst{Op: OpFor, T: t, Dst: []Value{i}, Args: []Value{start, end, step}}
	b.loopDepth++
	in.Body = b.block(func() { body(i) })
	b.loopDepth--
	b.Emit(in)
}

// While runs body while cond() is true; cond's instructions run before every iteration.
func (b *Builder) While(cond func() Value, body func()) {
	var p Value
	in := &Inst{Op: OpWhile}
	in.Cond = b.block(func() { p = cond() })
	if p.T != Pred {
		b.failf("while: condition has type %s, want pred", p.T)
	}
	in.Args = []Value{p}
	b.loopDepth++
	in.Body = b.block(body)
	b.loopDepth--
	b.Emit(in)
}

// Loop runs body until it executes Break or Return.
func (b *Builder) Loop(body func()) { b.While(func() Value { return b.True() }, body) }

// Break leaves the innermost loop.
func (b *Builder) Break() {
	if b.loopDepth == 0 {
		b.failf("break outside a loop")
	}
	b.Emit(&Inst{Op: OpBreak})
}

// Continue goes to the next iteration of the innermost loop.
func (b *Builder) Continue() {
	if b.loopDepth == 0 {
		b.failf("continue outside a loop")
	}
	b.Emit(&Inst{Op: OpContinue})
}

// Return makes the thread exit.
func (b *Builder) Return() { b.Emit(&Inst{Op: OpReturn}) }

// Barrier is bar.sync 0: every (non-exited) thread of the block waits for all the others.
func (b *Builder) Barrier() { b.Emit(&Inst{Op: OpBar}) }

// Fence is a memory fence at scope l (membar.cta / .gl / .sys).
func (b *Builder) Fence(l Level) { b.Emit(&Inst{Op: OpMembar, Level: l}) }
