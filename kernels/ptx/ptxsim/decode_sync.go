package ptxsim

type atomForm struct {
	op    uint8
	types []ptype
}

var atomForms = map[string]atomForm{
	"add": {atomAdd, []ptype{tU32, tS32, tU64, tF32}},
	"inc": {atomInc, []ptype{tU32}}, "dec": {atomDec, []ptype{tU32}},
	"min": {atomMinU, []ptype{tU32, tS32}}, "max": {atomMaxU, []ptype{tU32, tS32}},
	"and": {atomAnd, []ptype{tB32}}, "or": {atomOr, []ptype{tB32}}, "xor": {atomXor, []ptype{tB32}},
	"exch": {atomExch, []ptype{tB32, tB64}}, "cas": {atomCAS, []ptype{tB32, tB64}},
}

// decodeAtom: atom{.sem}{.scope}.space.op.type d, [a], b{, c} and red (no d).
func decodeAtom(d *dec) error {
	red := d.base == "red"
	space, err := d.space("global", "shared")
	if err != nil {
		return err
	}
	// Memory orders and scopes change nothing: the simulator is sequentially consistent.
	for _, m := range []string{"relaxed", "acquire", "release", "acq_rel", "cta", "gpu", "sys", "cluster"} {
		d.has(m)
	}
	var name string
	for n := range atomForms {
		if d.has(n) {
			if name != "" {
				return d.errf("%s: two operations", d.s.op.s)
			}
			name = n
		}
	}
	f, ok := atomForms[name]
	if !ok || red && (name == "exch" || name == "cas") {
		return d.errf("%s: unsupported atomic operation", d.s.op.s)
	}
	t, err := d.typ(f.types...)
	if err != nil {
		return err
	}
	in := inst{n: uint8(t.size()), sub: f.op}
	switch {
	case t == tF32:
		in.sub = atomAddF
	case t == tS32 && (f.op == atomMinU || f.op == atomMaxU):
		in.sub++ // atomMinS, atomMaxS
	}
	if space == "global" {
		in.op = opAtomG
	} else {
		in.op = opAtomS
	}
	args := d.args
	want := 3
	if f.op == atomCAS {
		want = 4
	}
	if red {
		want--
		args = append([]operand{{}}, args...)
	}
	if err := d.nargs(want); err != nil {
		return err
	}
	if !red {
		if in.r[0], err = d.reg(args[0], t, compatible, true); err != nil {
			return err
		}
	}
	if in.r[4], in.imm, err = d.address(args[1], space); err != nil {
		return err
	}
	for i := 2; i < len(args); i++ {
		if in.r[i-1], err = d.srcRule(args[i], t, compatible); err != nil {
			return err
		}
	}
	d.emit(in)
	return nil
}

// decodeBar: bar{.cta}.sync a{, b} and barrier{.cta}.sync{.aligned} a{, b}.
func decodeBar(d *dec) error {
	d.has("cta")
	if !d.has("sync") {
		return d.errf("%s: only the .sync form of barriers is modelled", d.s.op.s)
	}
	in := inst{op: opBar}
	if d.base == "bar" || d.has("aligned") {
		in.sub = 1
	}
	if len(d.args) != 1 && len(d.args) != 2 {
		return d.errf("%s takes a barrier and an optional thread count", d.s.op.s)
	}
	if d.args[0].kind == oImm {
		if v, err := parseInt(d.args[0].num); err != nil || v > 15 {
			return d.errf("barrier %s: want 0..15", d.args[0].num)
		}
	}
	var err error
	if in.r[1], err = d.src(0, tU32); err != nil {
		return err
	}
	if len(d.args) == 2 {
		if in.r[2], err = d.src(1, tU32); err != nil {
			return err
		}
	}
	d.emit(in)
	return nil
}

// membar and fence order memory; the simulator is sequentially consistent, so they do nothing.
func decodeFence(d *dec) error {
	if d.base == "membar" {
		if _, err := d.oneOf("cta", "gl", "sys"); err != nil {
			return err
		}
	} else {
		for _, m := range []string{"sc", "acq_rel", "cta", "gpu", "sys", "cluster"} {
			d.has(m)
		}
	}
	if err := d.nargs(0); err != nil {
		return err
	}
	d.emit(inst{op: opNop})
	return nil
}

var shflModes = map[string]uint8{"up": shflUp, "down": shflDown, "bfly": shflBfly, "idx": shflIdx}

// decodeShfl: shfl.sync.mode.b32 d{|p}, a, b, c, membermask.
func decodeShfl(d *dec) error {
	if !d.has("sync") {
		return d.errf("%s: only shfl.sync is modelled", d.s.op.s)
	}
	mode, err := d.oneOf("up", "down", "bfly", "idx")
	if err != nil {
		return err
	}
	if mode == "" {
		return d.errf("%s needs .up, .down, .bfly or .idx", d.s.op.s)
	}
	if _, err := d.typ(tB32); err != nil {
		return err
	}
	if err := d.nargs(5); err != nil {
		return err
	}
	in := inst{op: opShfl, sub: shflModes[mode]}
	dst := d.args[0]
	if dst.pred != "" {
		p, err := d.reg(operand{kind: oReg, name: dst.pred, tok: dst.tok}, tPred, compatible, true)
		if err != nil {
			return err
		}
		in.imm = int64(p)
		dst.pred = ""
	}
	if in.r[0], err = d.reg(dst, tB32, compatible, true); err != nil {
		return err
	}
	for i, t := range []ptype{tB32, tU32, tU32, tU32} {
		if in.r[i+1], err = d.src(i+1, t); err != nil {
			return err
		}
	}
	d.emit(in)
	return nil
}

// decodeBra: bra{.uni} label; a guarded branch becomes a conditional one.
func decodeBra(d *dec) error {
	d.has("uni")
	if err := d.nargs(1); err != nil {
		return err
	}
	if d.args[0].kind != oSym || d.args[0].off != 0 {
		return d.errf("bra: want a label, found %s", d.args[0])
	}
	in := inst{op: opBra}
	if d.g != 0 {
		in.op, in.r[1] = opBraT, d.g
		if d.gneg {
			in.op = opBraF
		}
		d.g, d.gneg = 0, false
	}
	*d.fix = append(*d.fix, fixup{at: len(d.k.code), label: d.args[0].name, line: d.s.line})
	d.emit(in)
	return nil
}

func decodeExit(d *dec) error {
	d.has("uni")
	if err := d.nargs(0); err != nil {
		return err
	}
	d.emit(inst{op: opExit})
	return nil
}

func decodeTrap(d *dec) error {
	if err := d.nargs(0); err != nil {
		return err
	}
	d.emit(inst{op: opTrap})
	return nil
}
