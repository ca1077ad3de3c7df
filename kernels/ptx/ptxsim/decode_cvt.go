package ptxsim

// cvtII packs an integer conversion for opCvtII: source and destination sizes and
// signedness, .sat, and the destination register's size (the result is extended to it).
func cvtII(src, dst ptype, sat bool, regSize int) int64 {
	v := int64(src.size()) | int64(dst.size())<<8 | int64(regSize)<<16
	if src.signed() {
		v |= 1 << 4
	}
	if dst.signed() {
		v |= 1 << 12
	}
	if sat {
		v |= 1 << 24
	}
	return v
}

var irnd = map[string]uint8{"rni": rndNearest, "rzi": rndZero, "rmi": rndDown, "rpi": rndUp}
var frnd = map[string]uint8{"rn": rndNearest, "rz": rndZero, "rm": rndDown, "rp": rndUp}

// decodeCvt: cvt{.irnd|.frnd}{.sat}.dtype.atype d, a for integers of 8 to 64 bits and f32.
func decodeCvt(d *dec) error {
	ir, err := d.oneOf("rni", "rzi", "rmi", "rpi")
	if err != nil {
		return err
	}
	fr, err := d.oneOf("rn", "rz", "rm", "rp")
	if err != nil {
		return err
	}
	sat := d.has("sat")
	ts := d.types()
	if len(ts) != 2 {
		return d.errf("%s: want a destination and a source type", d.s.op.s)
	}
	dt, at := ts[0], ts[1]
	for _, t := range ts {
		if !t.isInt() && t != tF32 {
			return d.errf("%s: conversions with %s are not modelled (integers and .f32 are)", d.s.op.s, t)
		}
	}
	if err := d.nargs(2); err != nil {
		return err
	}
	if ir != "" && fr != "" {
		return d.errf("%s: two rounding modifiers", d.s.op.s)
	}
	dst, err := d.reg(d.args[0], dt, relaxed, true)
	if err != nil {
		return err
	}
	src, err := d.srcRule(d.args[1], at, relaxed)
	if err != nil {
		return err
	}
	regSize := d.k.regType(dst).size()
	in := inst{r: [5]int32{dst, src}}
	switch {
	case dt.isInt() && at.isInt():
		if ir != "" || fr != "" {
			return d.errf("%s: integer-to-integer conversions take no rounding", d.s.op.s)
		}
		in.op, in.imm = opCvtII, cvtII(at, dt, sat, regSize)
		// a source register wider than the type is read through its low bits (the general
		// case); immediates and special registers already have the type's width
		exact := d.k.regType(src) == tNone || d.k.regType(src).size() == at.size()
		switch {
		case sat:
		case dt.size() == at.size() && dt.size() == regSize && exact:
			in.op = opMov
		case at == tU32 && dt.size() == 8 && exact:
			in.op = opMov // zero extension: 32-bit slots are zero-extended
		case at == tS32 && dt.size() == 8:
			in.op = opSext32
		case at.size() == 8 && dt.size() == 4 && regSize == 4:
			in.op = opTrunc32
		}
	case at == tF32 && dt.isInt():
		if ir == "" {
			return d.errf("%s: float-to-integer conversions need .rni, .rzi, .rmi or .rpi", d.s.op.s)
		}
		// .sat is redundant: float-to-integer conversions always saturate.
		in.op, in.sub, in.n, in.cnt = opCvtF2I, irnd[ir], uint8(dt), uint8(regSize)
	case dt == tF32 && at.isInt():
		if fr == "" {
			return d.errf("%s: integer-to-float conversions need .rn, .rz, .rm or .rp", d.s.op.s)
		}
		if sat {
			return d.errf("%s: .sat is not modelled for integer-to-float conversions", d.s.op.s)
		}
		in.op, in.sub, in.n = opCvtI2F, frnd[fr], uint8(at)
	default: // f32 -> f32
		switch {
		case ir != "" && !sat:
			in.op, in.sub = opCvtFRound, irnd[ir]
		case ir == "" && fr == "" && sat:
			in.op = opCvtFSat
		default:
			return d.errf("%s: f32-to-f32 conversions are modelled with one integer rounding or .sat alone", d.s.op.s)
		}
	}
	d.emit(in)
	return nil
}
