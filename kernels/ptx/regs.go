package ptx

import (
	"fmt"
	"strings"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// class is a PTX register class: every kir type lives in one of four (as in nvcc's output:
// %p .pred, %r .b32, %rd .b64, %f .f32). b32 registers serve u32, s32 and b32 instructions
// alike, which PTX allows for same-size integer types.
type class uint8

const (
	cPred class = iota
	cB32
	cB64
	cF32
	numClasses
)

var classes = [numClasses]struct{ prefix, decl string }{
	cPred: {"%p", ".pred"},
	cB32:  {"%r", ".b32"},
	cB64:  {"%rd", ".b64"},
	cF32:  {"%f", ".f32"},
}

func classOf(t kir.Type) (class, bool) {
	switch t {
	case kir.Pred:
		return cPred, true
	case kir.B32, kir.U32, kir.S32:
		return cB32, true
	case kir.U64, kir.S64:
		return cB64, true
	case kir.F32:
		return cF32, true
	}
	return 0, false
}

// regFile names the kernel's virtual registers in their PTX classes and hands out scratch
// registers for lowerings (loop predicates).
type regFile struct {
	names []string // by kir register id
	count [numClasses]int
}

func newRegFile(k *kir.Kernel) (*regFile, error) {
	rf := &regFile{names: make([]string, len(k.Regs))}
	for id, t := range k.Regs {
		if id == 0 {
			continue
		}
		c, ok := classOf(t)
		if !ok {
			return nil, fmt.Errorf("register %d has type %s, which has no PTX register class", id, t)
		}
		rf.names[id] = rf.next(c)
	}
	return rf, nil
}

func (rf *regFile) next(c class) string {
	rf.count[c]++
	return fmt.Sprintf("%s%d", classes[c].prefix, rf.count[c])
}

// temp allocates a scratch register of type t.
func (rf *regFile) temp(t kir.Type) string {
	c, _ := classOf(t)
	return rf.next(c)
}

// name is the PTX name of v ("" when v is not a register of the kernel).
func (rf *regFile) name(v kir.Value) string {
	if v.ID <= 0 || int(v.ID) >= len(rf.names) {
		return ""
	}
	return rf.names[v.ID]
}

// decls writes the .reg declarations (registers are numbered from 1, as nvcc does).
func (rf *regFile) decls(sb *strings.Builder) {
	for c := class(0); c < numClasses; c++ {
		if n := rf.count[c]; n > 0 {
			fmt.Fprintf(sb, "\t.reg %s %s<%d>;\n", classes[c].decl, classes[c].prefix, n+1)
		}
	}
}
