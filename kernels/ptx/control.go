package ptx

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// loopLabels are the branch targets of Break and Continue in the innermost loop.
type loopLabels struct{ brk, cont string }

// label returns a fresh label of the kernel (labels are function-scoped in PTX).
func (e *emitter) label(kind string) string {
	e.labels++
	return fmt.Sprintf("$L__%s%d", kind, e.labels)
}

func (e *emitter) place(l string) {
	fmt.Fprintf(e.out, "%s:\n", l)
}

// control lays out structured control flow the way kernels/emu compiles it:
//
//	if p {A} else {B}:   @!p bra ELSE; A; bra END; ELSE: B; END:
//	for i = s; i < n; i += k {A}:
//	                     mov i, s; TOP: setp.lt i, n; @!q bra END; A; CONT: add i, i, k; bra TOP; END:
//	while {C} p {A}:     TOP: C; @!p bra END; A; bra TOP; END:   (continue goes to TOP)
func (e *emitter) control(in *kir.Inst) {
	switch in.Op {
	case kir.OpIf:
		p := e.rf.name(in.Args[0])
		end := e.label("endif")
		if len(in.Else) == 0 {
			e.line("@!%s bra %s;", p, end)
			e.body(in.Body)
			e.place(end)
			return
		}
		els := e.label("else")
		e.line("@!%s bra %s;", p, els)
		e.body(in.Body)
		e.line("bra %s;", end)
		e.place(els)
		e.body(in.Else)
		e.place(end)
	case kir.OpFor:
		i := e.rf.name(in.Dst[0])
		a := e.regs(in.Args)
		t := sfx[in.T]
		top, cont, end := e.label("for"), e.label("next"), e.label("endfor")
		q := e.rf.temp(kir.Pred)
		e.line("mov.%s %s, %s;", bitSfx(in.T), i, a[0])
		e.place(top)
		e.line("setp.lt.%s %s, %s, %s;", t, q, i, a[1])
		e.line("@!%s bra %s;", q, end)
		e.loop(loopLabels{brk: end, cont: cont}, in.Body)
		e.place(cont)
		e.line("add.%s %s, %s, %s;", t, i, i, a[2])
		e.line("bra %s;", top)
		e.place(end)
	case kir.OpWhile:
		top, end := e.label("while"), e.label("endwhile")
		e.place(top)
		e.body(in.Cond)
		e.line("@!%s bra %s;", e.rf.name(in.Args[0]), end)
		e.loop(loopLabels{brk: end, cont: top}, in.Body)
		e.line("bra %s;", top)
		e.place(end)
	case kir.OpBreak, kir.OpContinue:
		if len(e.loops) == 0 {
			e.failf(in, "%s outside a loop", in.Op)
			return
		}
		l := e.loops[len(e.loops)-1]
		if in.Op == kir.OpBreak {
			e.line("bra %s;", l.brk)
		} else {
			e.line("bra %s;", l.cont)
		}
	case kir.OpReturn:
		e.line("ret;")
	default:
		e.failf(in, "not a control flow op")
	}
}

func (e *emitter) loop(l loopLabels, body []*kir.Inst) {
	e.loops = append(e.loops, l)
	e.body(body)
	e.loops = e.loops[:len(e.loops)-1]
}
