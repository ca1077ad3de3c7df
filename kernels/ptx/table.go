package ptx

import (
	"strconv"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// form says how a row's operands follow its mnemonic.
type form uint8

const (
	fALU     form = iota // ins d, a[, b[, c]];
	fSelp                // ins d, a, b, p;  (kir Args: p, a, b)
	fConst               // ins d, imm;
	fParam               // ins d, [param]; (+ cvta.to.global for pointers)
	fSReg                // ins d, %sreg;
	fShared              // ins d, symbol+offset;
	fLd                  // ins {d...}, [a+imm];
	fSt                  // ins [a+imm], {v...};
	fAtom                // ins d, [a+imm], b[, c];
	fBare                // ins;
	fShfl                // ins d, a, b, clamp, 0xffffffff;
	fControl             // laid out by control.go
)

// row renders one kir op. ins returns the PTX mnemonic with all its modifiers for the
// instruction, or "" when the op has no PTX form at the instruction's type.
type row struct {
	ins  func(in *kir.Inst) string
	form form
}

// table maps every kir op to its PTX template (the kir op constants name the same
// instructions). Adding an op to kir means adding a row here; TestEveryOpHasARow fails
// otherwise.
var table = map[kir.Op]row{
	kir.OpConst:      {typed("mov"), fConst},
	kir.OpMov:        {typed("mov"), fALU},
	kir.OpParam:      {typed("ld.param"), fParam},
	kir.OpSReg:       {only(kir.U32, "mov.u32"), fSReg},
	kir.OpSharedAddr: {only(kir.U32, "mov.u32"), fShared},
	kir.OpCvt:        {cvt, fALU},
	kir.OpBitcast:    {bits("mov"), fALU},
	kir.OpSelp:       {typed("selp"), fSelp},

	kir.OpAdd:     {intOrF("add", "add.rn"), fALU},
	kir.OpSub:     {intOrF("sub", "sub.rn"), fALU},
	kir.OpMul:     {intOrF("mul.lo", "mul.rn"), fALU},
	kir.OpMad:     {intOrF("mad.lo", ""), fALU},
	kir.OpFma:     {intOrF("", "fma.rn"), fALU},
	kir.OpDiv:     {intOrF("div", "div.rn"), fALU},
	kir.OpRem:     {intOrF("rem", ""), fALU},
	kir.OpMulHi:   {intOrF("mul.hi", ""), fALU},
	kir.OpMulWide: {mulWide, fALU},
	kir.OpMin:     {intOrF("min", "min"), fALU},
	kir.OpMax:     {intOrF("max", "max"), fALU},
	kir.OpNeg:     {signed("neg"), fALU},
	kir.OpAbs:     {signed("abs"), fALU},

	kir.OpRcp:   {only(kir.F32, "rcp.rn.f32"), fALU},
	kir.OpSqrt:  {only(kir.F32, "sqrt.rn.f32"), fALU},
	kir.OpRsqrt: {only(kir.F32, "rsqrt.approx.f32"), fALU},
	kir.OpEx2:   {only(kir.F32, "ex2.approx.f32"), fALU},
	kir.OpLg2:   {only(kir.F32, "lg2.approx.f32"), fALU},
	kir.OpSin:   {only(kir.F32, "sin.approx.f32"), fALU},
	kir.OpCos:   {only(kir.F32, "cos.approx.f32"), fALU},
	kir.OpTanh:  {only(kir.F32, "tanh.approx.f32"), fALU}, // sm_75+
	kir.OpFloor: {only(kir.F32, "cvt.rmi.f32.f32"), fALU},
	kir.OpCeil:  {only(kir.F32, "cvt.rpi.f32.f32"), fALU},
	kir.OpTrunc: {only(kir.F32, "cvt.rzi.f32.f32"), fALU},
	kir.OpRound: {only(kir.F32, "cvt.rni.f32.f32"), fALU},

	kir.OpAnd: {bits("and"), fALU},
	kir.OpOr:  {bits("or"), fALU},
	kir.OpXor: {bits("xor"), fALU},
	kir.OpNot: {bits("not"), fALU},
	kir.OpShl: {noPred(bits("shl")), fALU},
	kir.OpShr: {intOrB("shr"), fALU}, // shr.s32/.s64 shift arithmetically

	kir.OpSetp: {setp, fALU},

	kir.OpLd: {ld, fLd},
	kir.OpSt: {st, fSt},

	kir.OpAtomAdd:  {atom("add", kir.U32, kir.S32, kir.F32), fAtom},
	kir.OpAtomCAS:  {atomBits("cas", kir.B32, kir.U32, kir.S32), fAtom},
	kir.OpAtomExch: {atomBits("exch", kir.B32, kir.U32, kir.S32, kir.F32), fAtom},
	kir.OpAtomMin:  {atom("min", kir.U32, kir.S32), fAtom},
	kir.OpAtomMax:  {atom("max", kir.U32, kir.S32), fAtom},

	kir.OpBar:    {bar, fBare},
	kir.OpMembar: {membar, fBare},
	kir.OpShfl:   {shfl, fShfl},

	kir.OpIf:       {control, fControl},
	kir.OpFor:      {control, fControl},
	kir.OpWhile:    {control, fControl},
	kir.OpBreak:    {control, fControl},
	kir.OpContinue: {control, fControl},
	kir.OpReturn:   {control, fControl},
}

// sfx is the PTX type suffix of t.
var sfx = map[kir.Type]string{kir.Pred: "pred", kir.B32: "b32", kir.U32: "u32", kir.S32: "s32",
	kir.U64: "u64", kir.S64: "s64", kir.F32: "f32"}

// bitSfx is the untyped suffix of t's size (.pred for predicates).
func bitSfx(t kir.Type) string {
	switch t.Size() {
	case 4:
		return "b32"
	case 8:
		return "b64"
	}
	if t == kir.Pred {
		return "pred"
	}
	return ""
}

// intSfx is the suffix of t as an integer (b32 reads as u32, where b types are not allowed).
func intSfx(t kir.Type) string {
	if t == kir.B32 {
		return "u32"
	}
	if t.IsInt() {
		return sfx[t]
	}
	return ""
}

func join(stem, suffix string) string {
	if stem == "" || suffix == "" {
		return ""
	}
	return stem + "." + suffix
}

// typed: stem.T for every type.
func typed(stem string) func(*kir.Inst) string {
	return func(in *kir.Inst) string { return join(stem, sfx[in.T]) }
}

// bits: stem.bN (stem.pred for predicates).
func bits(stem string) func(*kir.Inst) string {
	return func(in *kir.Inst) string { return join(stem, bitSfx(in.T)) }
}

func noPred(f func(*kir.Inst) string) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if in.T == kir.Pred {
			return ""
		}
		return f(in)
	}
}

// only: the fixed mnemonic ins at type t.
func only(t kir.Type, ins string) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if in.T != t {
			return ""
		}
		return ins
	}
}

// intOrF: ints.T for integer types, fl.f32 for f32 (an empty stem: not defined there).
func intOrF(ints, fl string) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		switch {
		case in.T.IsInt():
			return join(ints, sfx[in.T])
		case in.T == kir.F32:
			return join(fl, "f32")
		}
		return ""
	}
}

// intOrB: stem.T for integers and b32/b64.
func intOrB(stem string) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if in.T.IsInt() || in.T == kir.B32 {
			return join(stem, sfx[in.T])
		}
		return ""
	}
}

// signed: stem.T for s32, s64, f32.
func signed(stem string) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if in.T.IsSigned() || in.T == kir.F32 {
			return join(stem, sfx[in.T])
		}
		return ""
	}
}

func mulWide(in *kir.Inst) string {
	if in.T != kir.U32 && in.T != kir.S32 {
		return ""
	}
	return "mul.wide." + sfx[in.T]
}

// cvt follows kir (and kernels/emu): float -> int truncates toward zero and saturates (PTX
// float-to-int cvt clamps, and maps NaN to 0 for 32-bit and to 1<<63 for 64-bit integers), int -> float rounds to nearest even, integer
// widening extends by the source's signedness, narrowing keeps the low bits.
func cvt(in *kir.Inst) string {
	if len(in.Args) != 1 {
		return ""
	}
	from, to := in.Args[0].T, in.T
	switch {
	case from == to:
		return join("mov", sfx[to])
	case from == kir.F32 && to.IsInt():
		return "cvt.rzi." + sfx[to] + ".f32"
	case to == kir.F32 && intSfx(from) != "":
		return "cvt.rn.f32." + intSfx(from)
	case intSfx(from) == "" || !to.IsInt():
		return ""
	case from.Size() == to.Size():
		return "mov." + bitSfx(to)
	case from.Size() < to.Size():
		if from.IsSigned() {
			return "cvt.s64.s32"
		}
		return "cvt.u64.u32"
	}
	return "cvt.u32.u64"
}

var cmpNames = map[kir.Cmp]string{kir.EQ: "eq", kir.NE: "ne", kir.LT: "lt", kir.LE: "le",
	kir.GT: "gt", kir.GE: "ge"}

// setp: float comparisons eq ne lt le gt ge are PTX's ordered ones (false on NaN), as in kir;
// integer comparisons are signed or unsigned by the type.
func setp(in *kir.Inst) string {
	c, ok := cmpNames[in.Cmp]
	if !ok || (!in.T.IsInt() && in.T != kir.F32) {
		return ""
	}
	return "setp." + c + "." + sfx[in.T]
}

func spaceName(s kir.Space) string {
	switch s {
	case kir.Global:
		return "global"
	case kir.Shared:
		return "shared"
	}
	return ""
}

// vec is ".v2"/".v4" for vector accesses; ok is false when PTX has no such vector (more than
// 128 bits, or not 1, 2 or 4 values).
func vec(t kir.Type, n int) (string, bool) {
	switch {
	case n == 1:
		return "", true
	case (n == 2 || n == 4) && n*t.Size() <= 16:
		return ".v" + strconv.Itoa(n), true
	}
	return "", false
}

func memIns(in *kir.Inst, op string, n int) string {
	sp := spaceName(in.Space)
	v, ok := vec(in.T, n)
	if sp == "" || !ok || in.T.Size() == 0 {
		return ""
	}
	vol := ""
	if in.Volatile {
		vol = ".volatile"
	}
	return op + vol + "." + sp + v + "." + sfx[in.T]
}

func ld(in *kir.Inst) string { return memIns(in, "ld", len(in.Dst)) }

func st(in *kir.Inst) string { return memIns(in, "st", len(in.Args)-1) }

func atomIns(in *kir.Inst, op, suffix string) string {
	sp := spaceName(in.Space)
	if sp == "" || suffix == "" {
		return ""
	}
	return "atom." + sp + "." + op + "." + suffix
}

func allowed(t kir.Type, ts []kir.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// atom: atom.space.op.T for the listed types.
func atom(op string, ts ...kir.Type) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if !allowed(in.T, ts) {
			return ""
		}
		return atomIns(in, op, sfx[in.T])
	}
}

// atomBits: atom.space.op.b32 for the listed types (cas and exch are untyped in PTX).
func atomBits(op string, ts ...kir.Type) func(*kir.Inst) string {
	return func(in *kir.Inst) string {
		if !allowed(in.T, ts) {
			return ""
		}
		return atomIns(in, op, bitSfx(in.T))
	}
}

// bar: bar.sync id (ids 0..15).
func bar(in *kir.Inst) string {
	if in.Imm > 15 || in.T != kir.Invalid {
		return ""
	}
	return "bar.sync " + strconv.FormatUint(in.Imm, 10)
}

var levels = map[kir.Level]string{kir.LevelCTA: "membar.cta", kir.LevelGL: "membar.gl",
	kir.LevelSys: "membar.sys"}

func membar(in *kir.Inst) string {
	if in.T != kir.Invalid {
		return ""
	}
	return levels[in.Level]
}

var shflModes = map[kir.ShflMode]string{kir.ShflDown: "down", kir.ShflUp: "up",
	kir.ShflBfly: "bfly", kir.ShflIdx: "idx"}

// shfl: shfl.sync.mode.b32 (f32 values move as bits).
func shfl(in *kir.Inst) string {
	m, ok := shflModes[in.Shfl]
	if !ok || in.T.Size() != 4 {
		return ""
	}
	return "shfl.sync." + m + ".b32"
}

// shflClamp is the c operand of shfl.sync: the last lane for down, bfly and idx (no
// segments), 0 for up, so that a source lane outside the warp yields the reader's own value.
func shflClamp(m kir.ShflMode) string {
	if m == kir.ShflUp {
		return "0"
	}
	return "31"
}

// control marks the structured control flow rows (control.go lays them out).
func control(in *kir.Inst) string {
	switch in.Op {
	case kir.OpFor:
		return join("for", intSfx(in.T))
	case kir.OpIf, kir.OpWhile, kir.OpBreak, kir.OpContinue, kir.OpReturn:
		if in.T == kir.Invalid {
			return in.Op.String()
		}
	}
	return ""
}

var sregNames = map[kir.SReg]string{
	kir.TidX: "%tid.x", kir.TidY: "%tid.y", kir.TidZ: "%tid.z",
	kir.NTidX: "%ntid.x", kir.NTidY: "%ntid.y", kir.NTidZ: "%ntid.z",
	kir.CtaIDX: "%ctaid.x", kir.CtaIDY: "%ctaid.y", kir.CtaIDZ: "%ctaid.z",
	kir.NCtaIDX: "%nctaid.x", kir.NCtaIDY: "%nctaid.y", kir.NCtaIDZ: "%nctaid.z",
	kir.SMID: "%smid", kir.NSMID: "%nsmid", kir.LaneID: "%laneid", kir.WarpID: "%warpid",
}
