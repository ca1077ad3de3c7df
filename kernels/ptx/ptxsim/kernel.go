package ptxsim

import (
	"fmt"
)

// Kernel is one decoded .entry of a Module.
type Kernel struct {
	mod          *Module
	name         string
	line         int
	params       []Param
	paramIdx     map[string]int
	maxThreads   int
	maxRegs      int
	regs         []regDecl // register i lives in slot i+1
	regByName    map[string]int32
	shared       []sharedVar
	sharedByName map[string]int
	static       int // bytes of function-scope shared memory
	sharedAlign  int
	body         []stmt

	// decoded
	code     []inst
	template []uint64 // initial register file: zeros, special registers, constants
	consts   map[uint64]int32
	dynBase  int // offset of the dynamic shared array
}

// Slot layout of a thread's register file: slot 0 always holds 0, the declared registers
// follow, then the special registers (sregNames order), then the constants of the code.
const numSregs = 16

var sregNames = [numSregs]string{
	"%tid.x", "%tid.y", "%tid.z", "%ntid.x", "%ntid.y", "%ntid.z",
	"%ctaid.x", "%ctaid.y", "%ctaid.z", "%nctaid.x", "%nctaid.y", "%nctaid.z",
	"%smid", "%nsmid", "%laneid", "%warpid",
}

const (
	sTidX = iota
	sTidY
	sTidZ
	sNTidX
	sNTidY
	sNTidZ
	sCtaX
	sCtaY
	sCtaZ
	sNCtaX
	sNCtaY
	sNCtaZ
	sSMID
	sNSMID
	sLane
	sWarp
)

var sregIndex = func() map[string]int {
	m := map[string]int{}
	for i, n := range sregNames {
		m[n] = i
	}
	return m
}()

// Name returns the kernel's name.
func (k *Kernel) Name() string { return k.name }

// Params returns the kernel's parameters in order.
func (k *Kernel) Params() []Param { return append([]Param(nil), k.params...) }

// MaxThreads is the product of the .maxntid (or .reqntid) dimensions, 0 when absent.
func (k *Kernel) MaxThreads() int { return k.maxThreads }

// MaxRegs is the .maxnreg directive, 0 when absent.
func (k *Kernel) MaxRegs() int { return k.maxRegs }

// StaticShared is the number of bytes of the kernel's function-scope .shared arrays, laid out
// in declaration order at their alignments (ptxas may round its own figure up).
func (k *Kernel) StaticShared() int { return k.static }

// Registers estimates the kernel's register demand as its declared 32-bit register slots: a
// 64-bit register counts 2, a predicate 0. ptxas allocates far fewer.
func (k *Kernel) Registers() int {
	n := 0
	for _, r := range k.regs {
		switch r.typ.size() {
		case 4:
			n++
		case 8:
			n += 2
		}
	}
	return n
}

// Instructions is the number of decoded instructions (with the implicit exit at the end).
func (k *Kernel) Instructions() int { return len(k.code) }

func (k *Kernel) declare(name string, t ptype) error {
	if _, dup := k.regByName[name]; dup {
		return fmt.Errorf("register %s declared twice", name)
	}
	if _, sreg := sregIndex[name]; sreg {
		return fmt.Errorf("%s is a special register", name)
	}
	k.regs = append(k.regs, regDecl{name: name, typ: t})
	k.regByName[name] = int32(len(k.regs))
	return nil
}

// sregSlot is the slot of special register i.
func (k *Kernel) sregSlot(i int) int32 { return int32(len(k.regs) + 1 + i) }

// constSlot returns the slot holding constant v, adding it to the template.
func (k *Kernel) constSlot(v uint64) int32 {
	if s, ok := k.consts[v]; ok {
		return s
	}
	s := int32(len(k.template))
	k.template = append(k.template, v)
	k.consts[v] = s
	return s
}

// regType is the declared type of slot s (tNone for special registers and constants).
func (k *Kernel) regType(s int32) ptype {
	if s >= 1 && int(s) <= len(k.regs) {
		return k.regs[s-1].typ
	}
	return tNone
}
