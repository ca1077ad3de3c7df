package ptxsim

var memDecoders = map[string]decoder{
	"ld": decodeLd, "st": decodeSt, "atom": decodeAtom, "red": decodeAtom,
	"bar": decodeBar, "barrier": decodeBar, "membar": decodeFence, "fence": decodeFence,
	"shfl": decodeShfl, "bra": decodeBra, "ret": decodeExit, "exit": decodeExit, "trap": decodeTrap,
}

// space consumes the state-space modifier.
func (d *dec) space(allowed ...string) (string, error) {
	sp, err := d.oneOf("global", "shared", "param", "local", "const", "tex")
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if sp == a {
			return sp, nil
		}
	}
	if sp == "" {
		return "", d.errf("%s: generic addressing is not modelled (name the state space)", d.s.op.s)
	}
	return "", d.errf("%s: the .%s state space is not modelled", d.s.op.s, sp)
}

// address resolves [reg+off], [sym+off] or [imm] in a state space to a base slot and offset.
func (d *dec) address(o operand, space string) (int32, int64, error) {
	if o.kind != oAddr {
		return 0, 0, d.errf("operand %s: want an address [...]", o)
	}
	if o.base == nil {
		v, err := parseInt(o.num)
		if err != nil {
			return 0, 0, d.errf("address %s: %v", o.num, err)
		}
		return 0, int64(v), nil
	}
	if o.base.kind == oSym {
		if space != "shared" {
			return 0, 0, d.errf("address [%s]: only .shared arrays can be addressed by name here", o.base.name)
		}
		addr, err := d.symbolAddr(*o.base)
		if err != nil {
			return 0, 0, err
		}
		return 0, addr + o.off, nil
	}
	want := func(reg, _ ptype) bool {
		return reg.intOrBits() && (reg.size() == 8 || space == "shared" && reg.size() == 4)
	}
	r, err := d.reg(*o.base, tU64, want, false)
	if err != nil {
		return 0, 0, d.errf("address register %s: want a 64-bit integer register (or 32-bit for .shared)", o.base.name)
	}
	return r, o.off, nil
}

var memTypes = []ptype{tB8, tB16, tB32, tB64, tU8, tU16, tU32, tU64, tS8, tS16, tS32, tS64, tF32}

// access decodes the common part of ld and st: modifiers, element type, vector length.
func (d *dec) access() (space string, t ptype, cnt int, vol bool, err error) {
	if space, err = d.space("global", "shared", "param"); err != nil {
		return
	}
	vol = d.has("volatile")
	for _, c := range []string{"ca", "cg", "cs", "lu", "cv", "wb", "wt", "nc"} {
		d.has(c) // cache operators change no result
	}
	cnt = 1
	if d.has("v2") {
		cnt = 2
	}
	if d.has("v4") {
		cnt *= 4
	}
	if t, err = d.typ(memTypes...); err != nil {
		return
	}
	if cnt > 4 || cnt*t.size() > 16 {
		err = d.errf("%s: vectors are .v2 or .v4 of at most 128 bits", d.s.op.s)
	}
	return
}

// values resolves the register list of a load or store (one register or a {vector}).
func (d *dec) values(o operand, t ptype, cnt int, write bool) ([]int32, error) {
	elems := []operand{o}
	if o.kind == oVec {
		elems = o.elems
	}
	if len(elems) != cnt {
		return nil, d.errf("operand %s: want %d values", o, cnt)
	}
	out := make([]int32, cnt)
	for i, e := range elems {
		var err error
		if write {
			out[i], err = d.reg(e, t, relaxed, true)
		} else {
			out[i], err = d.srcRule(e, t, relaxed)
		}
		if err != nil {
			return nil, err
		}
		if i > 0 && d.k.regType(out[i]).size() != d.k.regType(out[0]).size() {
			return nil, d.errf("operand %s: the registers differ in size", o)
		}
	}
	return out, nil
}

func decodeLd(d *dec) error {
	space, t, cnt, vol, err := d.access()
	if err != nil {
		return err
	}
	if err := d.nargs(2); err != nil {
		return err
	}
	if space == "param" {
		return d.ldParam(t, cnt)
	}
	regs, err := d.values(d.args[0], t, cnt, true)
	if err != nil {
		return err
	}
	base, off, err := d.address(d.args[1], space)
	if err != nil {
		return err
	}
	d.emit(memInst(true, space, t, regs, base, off, vol, d.k.regType(regs[0]).size()))
	return nil
}

func decodeSt(d *dec) error {
	space, t, cnt, vol, err := d.access()
	if err != nil {
		return err
	}
	if space == "param" {
		return d.errf("st.param is not modelled")
	}
	if err := d.nargs(2); err != nil {
		return err
	}
	base, off, err := d.address(d.args[0], space)
	if err != nil {
		return err
	}
	regs, err := d.values(d.args[1], t, cnt, false)
	if err != nil {
		return err
	}
	d.emit(memInst(false, space, t, regs, base, off, vol, 0))
	return nil
}

// memInst builds a load or store, picking a fast case for plain 4- and 8-byte scalars.
func memInst(load bool, space string, t ptype, regs []int32, base int32, off int64, vol bool, regSize int) inst {
	in := inst{n: uint8(t.size()), cnt: uint8(len(regs)), imm: off}
	copy(in.r[:4], regs)
	in.r[4] = base
	if vol {
		in.sub |= memVolatile
	}
	if t.signed() {
		in.sub |= memSigned
	}
	if regSize == 8 {
		in.sub |= memDst64
	}
	global := space == "global"
	plain := len(regs) == 1 && !vol && (t.size() == 4 || t.size() == 8) && (!load || regSize == t.size())
	switch {
	case plain && load && global:
		in.op = by64(t, opLdG32, opLdG64)
	case plain && load:
		in.op = by64(t, opLdS32, opLdS64)
	case plain && global:
		in.op = by64(t, opStG32, opStG64)
	case plain:
		in.op = by64(t, opStS32, opStS64)
	case load && global:
		in.op = opLdG
	case load:
		in.op = opLdS
	case global:
		in.op = opStG
	default:
		in.op = opStS
	}
	return in
}

// ldParam: ld.param.T d, [name+off].
func (d *dec) ldParam(t ptype, cnt int) error {
	a := d.args[1]
	if cnt != 1 || a.kind != oAddr || a.base == nil || a.base.kind != oSym {
		return d.errf("ld.param reads one value from [param+offset]")
	}
	i, ok := d.k.paramIdx[a.base.name]
	if !ok {
		return d.errf("%s is not a param of kernel %s", a.base.name, d.k.name)
	}
	size := d.k.params[i].Size
	if a.off < 0 || int(a.off)+t.size() > size || int(a.off)%t.size() != 0 {
		return d.errf("ld.param%s at offset %d of the %d-byte param %s", t, a.off, size, a.base.name)
	}
	dst, err := d.reg(d.args[0], t, relaxed, true)
	if err != nil {
		return err
	}
	in := inst{op: opLdParam, n: uint8(t.size()), cnt: uint8(d.k.regType(dst).size()), r: [5]int32{dst, int32(i), int32(a.off)}}
	if t.signed() {
		in.sub = memSigned
	}
	d.emit(in)
	return nil
}
