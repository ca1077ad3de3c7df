package kir

import (
	"errors"
	"fmt"
)

// maxVerifyErrors bounds how many problems one Verify reports.
const maxVerifyErrors = 10

// Verify checks a kernel: every instruction against its op-table row (operand count and types,
// result count and types, the instantiated type), every register defined before use in the
// structured scope that reaches the use, params read with their declared types, constant
// shared-memory offsets inside their declaration, Break/Continue inside loops, and barriers not
// inside control flow whose condition varies between the threads of a block (as far as a
// flow-insensitive divergence analysis can tell: thread ids, lane ids, atomics and shuffles are
// divergent, and so is everything computed from them or under them).
func Verify(k *Kernel) error {
	v := &verifier{k: k, defined: make([]bool, len(k.Regs)), writes: make([]int, len(k.Regs)),
		sharedBase: map[int32]int{}}
	if k.Name == "" {
		v.errf("", "kernel has no name")
	}
	for i, t := range k.Regs {
		if i > 0 && (t == Invalid || t >= numTypes) {
			v.errf("", "register %d has type %s", i, t)
		}
	}
	for i, p := range k.Params {
		if p.Ptr && p.T != U64 {
			v.errf("", "param %d %q: pointer of type %s", i, p.Name, p.T)
		}
		if !OpParam.Allows(p.T) {
			v.errf("", "param %d %q: type %s", i, p.Name, p.T)
		}
	}
	for i, d := range k.Shared {
		if d.Elem.Size() == 0 || d.Align <= 0 || d.Align&(d.Align-1) != 0 || d.Len < 0 ||
			(d.Dynamic && i != len(k.Shared)-1) {
			v.errf("", "shared %d %q: bad declaration %+v", i, d.Name, d)
		}
	}
	Walk(k.Body, func(in *Inst, _ int) {
		for _, d := range in.Dst {
			if d.ID > 0 && int(d.ID) < len(v.writes) {
				v.writes[d.ID]++
			}
		}
	})
	Walk(k.Body, func(in *Inst, _ int) {
		if in.Op == OpSharedAddr && len(in.Dst) == 1 && in.Dst[0].ID > 0 &&
			int(in.Dst[0].ID) < len(v.writes) && v.writes[in.Dst[0].ID] == 1 {
			v.sharedBase[in.Dst[0].ID] = int(in.Imm)
		}
	})
	v.block(k.Body, "", 0)
	if len(v.errs) == 0 {
		v.checkBarriers()
	}
	if len(v.errs) > 0 {
		return fmt.Errorf("kernel %q: verify: %w", k.Name, errors.Join(v.errs...))
	}
	return nil
}

type verifier struct {
	k          *Kernel
	errs       []error
	defined    []bool
	writes     []int         // how many instructions write each register
	sharedBase map[int32]int // registers holding a shared decl's base address (written once)
}

func (v *verifier) errf(where, format string, args ...any) {
	if len(v.errs) >= maxVerifyErrors {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
}

// block verifies a body; registers first defined inside it go out of scope at its end.
func (v *verifier) block(body []*Inst, path string, loops int) {
	var local []int32
	for i, in := range body {
		where := fmt.Sprintf("%s[%d] %s", path, i, in.Op)
		if in.Op == OpWhile {
			for _, c := range in.Cond {
				for _, d := range c.Dst {
					if d.ID > 0 && int(d.ID) < len(v.defined) && !v.defined[d.ID] {
						local = append(local, d.ID)
					}
				}
			}
		}
		v.inst(in, where, loops)
		for _, d := range in.Dst {
			if in.Op == OpFor {
				continue
			}
			if d.ID > 0 && int(d.ID) < len(v.defined) && !v.defined[d.ID] {
				v.defined[d.ID] = true
				local = append(local, d.ID)
			}
		}
	}
	for _, id := range local {
		v.defined[id] = false
	}
}

func (v *verifier) value(x Value, where, role string) bool {
	if x.ID <= 0 || int(x.ID) >= len(v.k.Regs) {
		v.errf(where, "%s %v is not a register of the kernel", role, x)
		return false
	}
	if v.k.Regs[x.ID] != x.T {
		v.errf(where, "%s %v: register %d has type %s", role, x, x.ID, v.k.Regs[x.ID])
		return false
	}
	return true
}

func (v *verifier) inst(in *Inst, where string, loops int) {
	if !in.Op.Valid() {
		v.errf(where, "unknown op")
		return
	}
	info := in.Op.Info()
	if !in.Op.Allows(in.T) {
		v.errf(where, "not defined for type %s", in.T)
		return
	}
	// operands: defined, of the right type
	for _, a := range in.Args {
		if !v.value(a, where, "operand") {
			return
		}
		if in.Op != OpWhile && !v.defined[a.ID] {
			v.errf(where, "operand %v used before it is defined", a)
		}
	}
	for _, d := range in.Dst {
		if !v.value(d, where, "result") {
			return
		}
	}
	v.signature(in, info, where)
	switch in.Op {
	case OpParam:
		if int(in.Imm) >= len(v.k.Params) {
			v.errf(where, "param index %d out of range", in.Imm)
		} else if p := v.k.Params[in.Imm]; p.T != in.T {
			v.errf(where, "param %q has type %s, read as %s", p.Name, p.T, in.T)
		}
	case OpSReg:
		if !in.SReg.Valid() {
			v.errf(where, "unknown special register %s", in.SReg)
		}
	case OpSharedAddr:
		if int(in.Imm) >= len(v.k.Shared) {
			v.errf(where, "shared declaration %d out of range", in.Imm)
		}
	case OpCvt:
		if s := in.Args[0].T; !OpCvt.Allows(s) {
			v.errf(where, "cvt from %s", s)
		}
	case OpBitcast:
		if s := in.Args[0].T; s.Size() != in.T.Size() || s == Pred {
			v.errf(where, "bitcast %s -> %s: sizes differ", s, in.T)
		}
	case OpSetp:
		if in.Cmp > GE {
			v.errf(where, "unknown comparison %s", in.Cmp)
		}
	case OpShfl:
		if in.Shfl > ShflIdx {
			v.errf(where, "unknown shuffle mode %s", in.Shfl)
		}
	case OpMembar:
		if in.Level > LevelSys {
			v.errf(where, "unknown fence level %s", in.Level)
		}
	case OpBreak, OpContinue:
		if loops == 0 {
			v.errf(where, "outside a loop")
		}
	case OpLd, OpSt, OpAtomAdd, OpAtomCAS, OpAtomExch, OpAtomMin, OpAtomMax:
		v.memory(in, where)
	case OpIf:
		v.block(in.Body, where+".then", loops)
		v.block(in.Else, where+".else", loops)
	case OpFor:
		i := in.Dst[0]
		was := v.defined[i.ID]
		v.defined[i.ID] = true
		v.block(in.Body, where+".body", loops+1)
		v.defined[i.ID] = was
	case OpWhile:
		// the condition block runs before the first test, so its definitions reach the body
		// and the code after the loop
		for j, c := range in.Cond {
			v.inst(c, fmt.Sprintf("%s.cond[%d] %s", where, j, c.Op), loops)
			for _, d := range c.Dst {
				if c.Op != OpFor && d.ID > 0 && int(d.ID) < len(v.defined) {
					v.defined[d.ID] = true
				}
			}
		}
		if p := in.Args[0]; !v.defined[p.ID] {
			v.errf(where, "condition %v is not defined by the condition block", p)
		}
		v.block(in.Body, where+".body", loops+1)
	}
	if in.Op != OpWhile && len(in.Cond) > 0 || in.Op != OpIf && len(in.Else) > 0 ||
		(in.Op != OpIf && in.Op != OpFor && in.Op != OpWhile && len(in.Body) > 0) {
		v.errf(where, "has nested instructions it cannot hold")
	}
}

// signature checks operand and result counts and types against the op table.
func (v *verifier) signature(in *Inst, info OpInfo, where string) {
	args := in.Args
	ops := info.Args
	vec := 0
	for j, o := range ops {
		if o == OperVec {
			vec = len(args) - j
			if vec != 1 && vec != 2 && vec != 4 {
				v.errf(where, "vector of %d values, want 1, 2 or 4", vec)
				return
			}
			for _, a := range args[j:] {
				if a.T != in.T {
					v.errf(where, "vector operand %v, want %s", a, in.T)
				}
			}
			args = args[:j]
			ops = ops[:j]
			break
		}
	}
	if len(args) != len(ops) {
		v.errf(where, "%d operands, want %d", len(in.Args), len(info.Args))
		return
	}
	for j, o := range ops {
		if want := v.operandType(o, in); want != Invalid && args[j].T != want {
			v.errf(where, "operand %d is %v, want %s", j, args[j], want)
		}
		if o == OperAny && (args[j].T == Pred || args[j].T == Invalid) {
			v.errf(where, "operand %d is %v, want a non-predicate", j, args[j])
		}
	}
	switch info.Result {
	case OperNone:
		if len(in.Dst) != 0 {
			v.errf(where, "has %d results, want none", len(in.Dst))
		}
	case OperVec:
		if n := len(in.Dst); n != 1 && n != 2 && n != 4 {
			v.errf(where, "vector of %d results, want 1, 2 or 4", n)
		}
		for _, d := range in.Dst {
			if d.T != in.T {
				v.errf(where, "result %v, want %s", d, in.T)
			}
		}
	default:
		if len(in.Dst) != 1 {
			v.errf(where, "has %d results, want 1", len(in.Dst))
		} else if want := v.operandType(info.Result, in); in.Dst[0].T != want {
			v.errf(where, "result %v, want %s", in.Dst[0], want)
		}
	}
}

func (v *verifier) operandType(o Operand, in *Inst) Type {
	switch o {
	case OperT:
		return in.T
	case OperPred:
		return Pred
	case OperU32:
		return U32
	case OperWide:
		return in.T.Wide()
	case OperAddr:
		return in.Space.AddrType()
	}
	return Invalid
}

// memory checks the state space and, for a shared base address plus a constant offset, the
// bounds and alignment of the access.
func (v *verifier) memory(in *Inst, where string) {
	if in.Space > Shared {
		v.errf(where, "unknown state space %d", in.Space)
		return
	}
	n := 1
	if in.Op == OpLd {
		n = len(in.Dst)
	} else if in.Op == OpSt {
		n = len(in.Args) - 1
	}
	size := in.T.Size() * n
	if size > 0 && int64(in.Imm)%int64(size) != 0 {
		v.errf(where, "offset %d is not aligned to %d bytes", int64(in.Imm), size)
	}
	if in.Space != Shared || len(in.Args) == 0 {
		return
	}
	decl, ok := v.sharedBase[in.Args[0].ID]
	if !ok || decl >= len(v.k.Shared) {
		return
	}
	d := v.k.Shared[decl]
	off := int64(in.Imm)
	if off < 0 || (!d.Dynamic && off+int64(size) > int64(d.Bytes())) {
		v.errf(where, "bytes [%d, %d) outside shared %q of %d bytes", off, off+int64(size), d.Name, d.Bytes())
	}
}
