package kir

import (
	"fmt"
	"strings"
)

// Target is what a kernel is compiled for, as far as the IR cares: the PTX target and the
// launch bounds rendered into the kernel's directives. The full hardware description (SMs,
// per-SM limits) belongs to compiler/budget.
type Target struct {
	Arch       string // PTX target, e.g. "sm_80", "sm_90"; empty: the renderer's default
	MaxRegs    int    // registers per thread (.maxnreg); 0: unbounded
	MaxThreads int    // threads per block (.maxntid); 0: unbounded
}

// Param is a kernel parameter. Pointers are u64 global addresses.
type Param struct {
	Name string
	T    Type // U64 for pointers, else U32, S32, F32, U64, S64
	Ptr  bool // a pointer into global memory
}

// SharedDecl declares a shared memory array of the block. A Dynamic declaration (at most one,
// the last) has Len 0 and takes the dynamic shared memory size given at launch.
type SharedDecl struct {
	Name    string
	Elem    Type
	Len     int
	Align   int // bytes, a power of two >= Elem.Size()
	Dynamic bool
}

// Bytes is the static size of the declaration.
func (d SharedDecl) Bytes() int { return d.Len * d.Elem.Size() }

// Inst is one instruction. Which fields matter depends on Op (see the op constants and the op
// table); unused ones are zero.
type Inst struct {
	Op       Op
	T        Type    // the type the op is instantiated at (Invalid for untyped ops)
	Dst      []Value // results (vector loads: 2 or 4)
	Args     []Value // operands
	Imm      uint64  // Const: bits; Param: index; SharedAddr: decl index; Ld/St/Atom*: byte offset; Bar: barrier id
	Space    Space   // Ld, St, Atom*
	Volatile bool    // Ld, St: .volatile
	Cmp      Cmp     // Setp
	Shfl     ShflMode
	SReg     SReg    // SReg
	Level    Level   // Membar
	Cond     []*Inst // While: the block that computes Args[0], run before every iteration
	Body     []*Inst // If (then), For, While
	Else     []*Inst // If
}

// Kernel is a complete kernel: its parameters, registers, shared memory and body.
type Kernel struct {
	Name   string
	Target Target
	Params []Param
	Regs   []Type // Regs[id] is the type of register id; Regs[0] is unused
	Shared []SharedDecl
	Body   []*Inst
}

// SharedLayout returns the byte offset of every shared declaration in the block's shared window
// (aligned, in declaration order) and the static total in bytes. A dynamic declaration starts
// at its offset and extends over the launch's dynamic shared size.
func (k *Kernel) SharedLayout() (offsets []int, static int) {
	offsets = make([]int, len(k.Shared))
	off := 0
	for i, d := range k.Shared {
		a := d.Align
		if a < 1 {
			a = 1
		}
		off = (off + a - 1) / a * a
		offsets[i] = off
		off += d.Bytes()
	}
	return offsets, off
}

// Walk calls f for every instruction of the body in program order, depth first (Cond before
// Body before Else). depth is the nesting level.
func Walk(body []*Inst, f func(in *Inst, depth int)) { walk(body, 0, f) }

func walk(body []*Inst, depth int, f func(*Inst, int)) {
	for _, in := range body {
		f(in, depth)
		walk(in.Cond, depth+1, f)
		walk(in.Body, depth+1, f)
		walk(in.Else, depth+1, f)
	}
}

// String prints the kernel in a readable, PTX-like text form (for dumps and test failures).
func (k *Kernel) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "kernel %s(", k.Name)
	for i, p := range k.Params {
		if i > 0 {
			sb.WriteString(", ")
		}
		ptr := ""
		if p.Ptr {
			ptr = "*"
		}
		fmt.Fprintf(&sb, "%s %s%s", p.Name, ptr, p.T)
	}
	sb.WriteString(")\n")
	for _, d := range k.Shared {
		fmt.Fprintf(&sb, "  .shared .align %d %s %s[%d]", d.Align, d.Elem, d.Name, d.Len)
		if d.Dynamic {
			sb.WriteString(" dynamic")
		}
		sb.WriteString("\n")
	}
	printBody(&sb, k.Body, 1)
	return sb.String()
}

func printBody(sb *strings.Builder, body []*Inst, depth int) {
	for _, in := range body {
		ind := strings.Repeat("  ", depth)
		switch in.Op {
		case OpIf:
			fmt.Fprintf(sb, "%sif %v {\n", ind, in.Args)
			printBody(sb, in.Body, depth+1)
			if len(in.Else) > 0 {
				fmt.Fprintf(sb, "%s} else {\n", ind)
				printBody(sb, in.Else, depth+1)
			}
			fmt.Fprintf(sb, "%s}\n", ind)
		case OpFor:
			fmt.Fprintf(sb, "%sfor %v = %v {\n", ind, in.Dst, in.Args)
			printBody(sb, in.Body, depth+1)
			fmt.Fprintf(sb, "%s}\n", ind)
		case OpWhile:
			fmt.Fprintf(sb, "%swhile {\n", ind)
			printBody(sb, in.Cond, depth+2)
			fmt.Fprintf(sb, "%s} %v {\n", ind, in.Args)
			printBody(sb, in.Body, depth+1)
			fmt.Fprintf(sb, "%s}\n", ind)
		default:
			fmt.Fprintf(sb, "%s%s\n", ind, in.String())
		}
	}
}

// String prints one instruction (bodies are not printed).
func (in *Inst) String() string {
	var sb strings.Builder
	if len(in.Dst) > 0 {
		fmt.Fprintf(&sb, "%v = ", in.Dst)
	}
	sb.WriteString(in.Op.String())
	switch in.Op {
	case OpLd, OpSt, OpAtomAdd, OpAtomCAS, OpAtomExch, OpAtomMin, OpAtomMax:
		if in.Volatile {
			sb.WriteString(".volatile")
		}
		fmt.Fprintf(&sb, ".%s", in.Space)
	case OpSetp:
		fmt.Fprintf(&sb, ".%s", in.Cmp)
	case OpShfl:
		fmt.Fprintf(&sb, ".%s", in.Shfl)
	case OpSReg:
		fmt.Fprintf(&sb, " %%%s", in.SReg)
	case OpMembar:
		fmt.Fprintf(&sb, ".%s", in.Level)
	}
	if in.T != Invalid {
		fmt.Fprintf(&sb, ".%s", in.T)
	}
	if len(in.Args) > 0 {
		fmt.Fprintf(&sb, " %v", in.Args)
	}
	switch in.Op {
	case OpConst, OpParam, OpSharedAddr, OpLd, OpSt, OpBar, OpAtomAdd, OpAtomCAS, OpAtomExch, OpAtomMin, OpAtomMax:
		fmt.Fprintf(&sb, " imm=%#x", in.Imm)
	}
	return sb.String()
}
