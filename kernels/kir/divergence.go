package kir

import "fmt"

// divergentOp reports whether op produces values that differ between the threads of a block
// whatever its operands.
func divergentInst(in *Inst) bool {
	switch in.Op {
	case OpSReg:
		switch in.SReg {
		case TidX, TidY, TidZ, LaneID, WarpID:
			return true
		}
	case OpAtomAdd, OpAtomCAS, OpAtomExch, OpAtomMin, OpAtomMax, OpShfl:
		return true
	}
	return false
}

// Divergent returns, per register, whether its value may differ between the threads of one
// block: a flow-insensitive fixed point over the kernel where a register is divergent if an
// instruction writing it is divergent by nature (thread and lane ids, atomics, shuffles), reads a
// divergent operand, or runs under control flow whose condition or bounds are divergent.
func Divergent(k *Kernel) []bool {
	div := make([]bool, len(k.Regs))
	is := func(x Value) bool { return x.ID > 0 && int(x.ID) < len(div) && div[x.ID] }
	changed := true
	var visit func(body []*Inst, ctx bool)
	visit = func(body []*Inst, ctx bool) {
		for _, in := range body {
			d := ctx || divergentInst(in)
			for _, a := range in.Args {
				d = d || is(a)
			}
			switch in.Op {
			case OpIf:
				visit(in.Body, d)
				visit(in.Else, d)
				continue
			case OpWhile:
				visit(in.Cond, d)
				visit(in.Body, d)
				continue
			case OpFor:
				visit(in.Body, d)
			}
			if d {
				for _, x := range in.Dst {
					if x.ID > 0 && int(x.ID) < len(div) && !div[x.ID] {
						div[x.ID] = true
						changed = true
					}
				}
			}
		}
	}
	for changed {
		changed = false
		visit(k.Body, false)
	}
	return div
}

// checkBarriers reports barriers under divergent control flow.
func (v *verifier) checkBarriers() {
	div := Divergent(v.k)
	is := func(x Value) bool { return x.ID > 0 && int(x.ID) < len(div) && div[x.ID] }
	var visit func(body []*Inst, path string, ctx bool)
	visit = func(body []*Inst, path string, ctx bool) {
		for i, in := range body {
			where := fmt.Sprintf("%s[%d] %s", path, i, in.Op)
			d := ctx
			for _, a := range in.Args {
				d = d || is(a)
			}
			switch in.Op {
			case OpBar:
				if ctx {
					v.errf(where, "barrier under control flow that diverges within the block")
				}
			case OpShfl:
				// shuffles under divergent control flow are legal (lanes that take part must
				// all reach it); not checked
			case OpIf:
				visit(in.Body, where+".then", d)
				visit(in.Else, where+".else", d)
			case OpWhile:
				visit(in.Cond, where+".cond", d)
				visit(in.Body, where+".body", d)
			case OpFor:
				visit(in.Body, where+".body", d)
			}
		}
	}
	visit(v.k.Body, "", false)
}
