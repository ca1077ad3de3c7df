package ptxsim

var cmpNames = map[string]uint8{"eq": cmpEQ, "ne": cmpNE, "lt": cmpLT, "le": cmpLE, "gt": cmpGT,
	"ge": cmpGE, "lo": cmpLT, "ls": cmpLE, "hi": cmpGT, "hs": cmpGE, "equ": cmpEQU, "neu": cmpNEU,
	"ltu": cmpLTU, "leu": cmpLEU, "gtu": cmpGTU, "geu": cmpGEU, "num": cmpNUM, "nan": cmpNAN}

func decodeSetp(d *dec) error {
	t, err := d.typ(tB32, tB64, tU32, tS32, tU64, tS64, tF32)
	if err != nil {
		return err
	}
	var name string
	for i, m := range d.mods {
		if _, ok := cmpNames[m]; ok && !d.used[i] {
			if name != "" {
				return d.errf("%s: two comparisons", d.s.op.s)
			}
			name, d.used[i] = m, true
		}
	}
	c, ok := cmpNames[name]
	switch {
	case !ok:
		return d.errf("%s needs a comparison", d.s.op.s)
	case t == tF32 && (name == "lo" || name == "ls" || name == "hi" || name == "hs"):
		return d.errf("%s: .%s is an unsigned comparison", d.s.op.s, name)
	case t != tF32 && c >= cmpEQU:
		return d.errf("%s: .%s is a floating-point comparison", d.s.op.s, name)
	case t.kind() == kBits && c != cmpEQ && c != cmpNE:
		return d.errf("%s: bit types compare with .eq and .ne only", d.s.op.s)
	case t.kind() == kUnsigned && (name == "lt" || name == "le" || name == "gt" || name == "ge"):
		// PTX allows lt/le/gt/ge on unsigned types as the unsigned comparisons.
	}
	var op opcode
	switch t {
	case tF32:
		op = opSetpF
	case tS32:
		op = opSetpS32
	case tS64:
		op = opSetpS64
	case tU64, tB64:
		op = opSetpU64
	default:
		op = opSetpU32
	}
	if err := d.nargs(3); err != nil {
		return err
	}
	if d.args[0].pred != "" {
		return d.errf("setp with two destinations (p|q) is not modelled")
	}
	in := inst{op: op, sub: c}
	if in.r[0], err = d.dst(0, tPred); err != nil {
		return err
	}
	if in.r[1], err = d.src(1, t); err != nil {
		return err
	}
	if in.r[2], err = d.src(2, t); err != nil {
		return err
	}
	d.emit(in)
	return nil
}
