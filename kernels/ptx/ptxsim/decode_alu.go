package ptxsim

var aluDecoders = map[string]decoder{
	"mov": decodeMov, "selp": decodeSelp, "cvta": decodeCvta, "cvt": decodeCvt,
	"add": arith(opAdd32, opAdd64, opAddF), "sub": arith(opSub32, opSub64, opSubF),
	"mul": decodeMul, "mad": decodeMad, "fma": decodeFma, "div": decodeDiv,
	"rem": intOnly(opRemU32, opRemS32, opRemU64, opRemS64),
	"min": minMax(opMinU32, opMinS32, opMinU64, opMinS64, opMinF, opMinNaNF),
	"max": minMax(opMaxU32, opMaxS32, opMaxU64, opMaxS64, opMaxF, opMaxNaNF),
	"neg": signedUnary(opNeg32, opNeg64, opNegF), "abs": signedUnary(opAbs32, opAbs64, opAbsF),
	"rcp": floatUnary(opRcpF, "rn", "approx"), "sqrt": floatUnary(opSqrtF, "rn", "approx"),
	"rsqrt": floatUnary(opRsqrtF, "approx"), "ex2": floatUnary(opEx2F, "approx"),
	"lg2": floatUnary(opLg2F, "approx"), "sin": floatUnary(opSinF, "approx"),
	"cos": floatUnary(opCosF, "approx"), "tanh": floatUnary(opTanhF, "approx"),
	"and": logic(opAnd), "or": logic(opOr), "xor": logic(opXor), "not": decodeNot,
	"shl": shift(opShl32, opShl64, opShl64), "shr": shift(opShrU32, opShrU64, opShrS64),
	"setp": decodeSetp,
}

var (
	intTypes = []ptype{tU32, tS32, tU64, tS64}
	regTypes = []ptype{tPred, tB32, tB64, tU32, tU64, tS32, tS64, tF32}
)

// by64 picks the 32- or 64-bit opcode of an integer type.
func by64(t ptype, op32, op64 opcode) opcode {
	if t.size() == 8 {
		return op64
	}
	return op32
}

func decodeMov(d *dec) error {
	t, err := d.typ(regTypes...)
	if err != nil {
		return err
	}
	if err := d.nargs(2); err != nil {
		return err
	}
	dst, err := d.dst(0, t)
	if err != nil {
		return err
	}
	a := d.args[1]
	var src int32
	if a.kind == oSym {
		addr, err := d.symbolAddr(a)
		if err != nil {
			return err
		}
		if t.size() != 4 && t.size() != 8 || t.kind() == kFloat {
			return d.errf("the address of %s moves as a 32- or 64-bit integer, not %s", a.name, t)
		}
		src = d.k.constSlot(uint64(addr))
	} else if src, err = d.src(1, t); err != nil {
		return err
	}
	d.emit(inst{op: opMov, r: [5]int32{dst, src}})
	return nil
}

// symbolAddr is the shared-window address of a function-scope .shared array or the module's
// dynamic shared array, plus the operand's offset.
func (d *dec) symbolAddr(o operand) (int64, error) {
	var base int
	if i, ok := d.k.sharedByName[o.name]; ok {
		base = d.k.shared[i].off
	} else if _, ok := d.k.mod.externs[o.name]; ok {
		base = d.k.dynBase
	} else {
		if _, ok := d.k.paramIdx[o.name]; ok {
			return 0, d.errf("%s is a param: only ld.param reads params", o.name)
		}
		return 0, d.errf("unknown symbol %s (ptxsim knows the kernel's .shared arrays and the module's .extern .shared arrays)", o.name)
	}
	addr := int64(base) + o.off
	if addr < 0 || addr > 1<<31 {
		return 0, d.errf("address %s%+d out of range", o.name, o.off)
	}
	return addr, nil
}

func decodeSelp(d *dec) error {
	t, err := d.typ(regTypes[1:]...)
	if err != nil {
		return err
	}
	if err := d.nargs(4); err != nil {
		return err
	}
	in := inst{op: opSelp}
	if in.r[0], err = d.dst(0, t); err != nil {
		return err
	}
	for i, ty := range []ptype{t, t, tPred} {
		if in.r[i+1], err = d.src(i+1, ty); err != nil {
			return err
		}
	}
	d.emit(in)
	return nil
}

// cvta.to.global.u64 and cvta.global.u64: generic and global addresses are the same numbers
// in the simulator (it models no generic window for other spaces).
func decodeCvta(d *dec) error {
	d.has("to")
	if !d.has("global") {
		return d.errf("%s: ptxsim models cvta for the global space only", d.s.op.s)
	}
	if _, err := d.typ(tU64); err != nil {
		return err
	}
	return d.alu(opMov, tU64, tU64)
}

// floatRound consumes a float rounding modifier; only round-to-nearest (explicit or the
// default) is modelled.
func (d *dec) floatRound(required bool) error {
	r, err := d.oneOf("rn", "rz", "rm", "rp")
	if err != nil {
		return err
	}
	switch {
	case r == "" && required:
		return d.errf("%s needs a rounding modifier", d.s.op.s)
	case r != "" && r != "rn":
		return d.errf("%s: rounding .%s is not modelled (only .rn)", d.s.op.s, r)
	}
	return nil
}

func arith(op32, op64, opF opcode) decoder {
	return func(d *dec) error {
		t, err := d.typ(tU32, tS32, tU64, tS64, tF32)
		if err != nil {
			return err
		}
		if t == tF32 {
			if err := d.floatRound(false); err != nil {
				return err
			}
			return d.alu(opF, t, t, t)
		}
		return d.alu(by64(t, op32, op64), t, t, t)
	}
}

func decodeMul(d *dec) error {
	t, err := d.typ(tU32, tS32, tU64, tS64, tF32)
	if err != nil {
		return err
	}
	if t == tF32 {
		if err := d.floatRound(false); err != nil {
			return err
		}
		return d.alu(opMulF, t, t, t)
	}
	mode, err := d.oneOf("lo", "hi", "wide")
	if err != nil {
		return err
	}
	switch mode {
	case "lo":
		return d.alu(by64(t, opMulLo32, opMulLo64), t, t, t)
	case "hi":
		ops := map[ptype]opcode{tU32: opMulHiU32, tS32: opMulHiS32, tU64: opMulHiU64, tS64: opMulHiS64}
		return d.alu(ops[t], t, t, t)
	case "wide":
		switch t {
		case tU32:
			return d.alu(opMulWideU32, tU64, t, t)
		case tS32:
			return d.alu(opMulWideS32, tS64, t, t)
		}
		return d.errf("mul.wide%s: want .u32 or .s32", t)
	}
	return d.errf("integer mul needs .lo, .hi or .wide")
}

func decodeMad(d *dec) error {
	t, err := d.typ(tU32, tS32, tU64, tS64, tF32)
	if err != nil {
		return err
	}
	if t == tF32 {
		if err := d.floatRound(true); err != nil {
			return err
		}
		return d.alu(opFmaF, t, t, t, t)
	}
	mode, err := d.oneOf("lo", "hi", "wide")
	if err != nil {
		return err
	}
	switch {
	case mode == "lo":
		return d.alu(by64(t, opMad32, opMad64), t, t, t, t)
	case mode == "wide" && t == tU32:
		return d.alu(opMadWideU32, tU64, t, t, tU64)
	case mode == "wide" && t == tS32:
		return d.alu(opMadWideS32, tS64, t, t, tS64)
	}
	return d.errf("%s is not modelled (mad.lo and mad.wide are)", d.s.op.s)
}

func decodeFma(d *dec) error {
	t, err := d.typ(tF32)
	if err != nil {
		return err
	}
	if err := d.floatRound(true); err != nil {
		return err
	}
	return d.alu(opFmaF, t, t, t, t)
}

func decodeDiv(d *dec) error {
	t, err := d.typ(tU32, tS32, tU64, tS64, tF32)
	if err != nil {
		return err
	}
	if t != tF32 {
		ops := map[ptype]opcode{tU32: opDivU32, tS32: opDivS32, tU64: opDivU64, tS64: opDivS64}
		return d.alu(ops[t], t, t, t)
	}
	// div.approx and div.full are computed exactly, like div.rn.
	if !d.has("approx") && !d.has("full") {
		if err := d.floatRound(true); err != nil {
			return err
		}
	}
	return d.alu(opDivF, t, t, t)
}

func intOnly(u32, s32, u64, s64 opcode) decoder {
	return func(d *dec) error {
		t, err := d.typ(intTypes...)
		if err != nil {
			return err
		}
		ops := map[ptype]opcode{tU32: u32, tS32: s32, tU64: u64, tS64: s64}
		return d.alu(ops[t], t, t, t)
	}
}

func minMax(u32, s32, u64, s64, f, fnan opcode) decoder {
	ints := intOnly(u32, s32, u64, s64)
	return func(d *dec) error {
		if t := d.types(); len(t) == 1 && t[0] == tF32 {
			if d.has("NaN") {
				return d.alu(fnan, tF32, tF32, tF32)
			}
			return d.alu(f, tF32, tF32, tF32)
		}
		for i := range d.used {
			d.used[i] = false
		}
		return ints(d)
	}
}

func signedUnary(op32, op64, opF opcode) decoder {
	return func(d *dec) error {
		t, err := d.typ(tS32, tS64, tF32)
		if err != nil {
			return err
		}
		switch t {
		case tF32:
			return d.alu(opF, t, t)
		case tS64:
			return d.alu(op64, t, t)
		}
		return d.alu(op32, t, t)
	}
}

// floatUnary: op.<mode>.f32 where mode is one of modes (required).
func floatUnary(op opcode, modes ...string) decoder {
	return func(d *dec) error {
		m, err := d.oneOf(modes...)
		if err != nil {
			return err
		}
		if m == "" {
			return d.errf("%s needs one of %v", d.s.op.s, modes)
		}
		if _, err := d.typ(tF32); err != nil {
			return err
		}
		return d.alu(op, tF32, tF32)
	}
}

func logic(op opcode) decoder {
	return func(d *dec) error {
		t, err := d.typ(tPred, tB32, tB64)
		if err != nil {
			return err
		}
		return d.alu(op, t, t, t)
	}
}

func decodeNot(d *dec) error {
	t, err := d.typ(tPred, tB32, tB64)
	if err != nil {
		return err
	}
	switch t {
	case tPred:
		return d.alu(opNotPred, t, t)
	case tB32:
		return d.alu(opNot32, t, t)
	}
	return d.alu(opNot64, t, t)
}

// shift: shl.bN / shr.{b,u,s}N d, a, b with b a .u32 amount.
func shift(op32, op64u, op64s opcode) decoder {
	return func(d *dec) error {
		allowed := []ptype{tB32, tB64, tU32, tU64, tS32, tS64}
		if op32 == opShl32 {
			allowed = allowed[:2]
		}
		t, err := d.typ(allowed...)
		if err != nil {
			return err
		}
		op := op32
		switch {
		case op32 == opShrU32 && t == tS32:
			op = opShrS32
		case t.size() == 8 && t == tS64:
			op = op64s
		case t.size() == 8:
			op = op64u
		}
		return d.alu(op, t, t, tU32)
	}
}
