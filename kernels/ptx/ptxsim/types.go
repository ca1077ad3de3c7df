package ptxsim

// ptype is a PTX fundamental type (as in .reg .b32, add.u32, cvt.f32.s32).
type ptype uint8

const (
	tNone ptype = iota
	tPred
	tB8
	tB16
	tB32
	tB64
	tU8
	tU16
	tU32
	tU64
	tS8
	tS16
	tS32
	tS64
	tF16
	tF32
	tF64
)

// kind is the class of a type.
type kind uint8

const (
	kNone kind = iota
	kPred
	kBits
	kUnsigned
	kSigned
	kFloat
)

var typeNames = map[string]ptype{
	"pred": tPred, "b8": tB8, "b16": tB16, "b32": tB32, "b64": tB64,
	"u8": tU8, "u16": tU16, "u32": tU32, "u64": tU64,
	"s8": tS8, "s16": tS16, "s32": tS32, "s64": tS64,
	"f16": tF16, "f32": tF32, "f64": tF64,
}

var typeInfo = [...]struct {
	name string
	size int
	kind kind
}{
	tNone: {"?", 0, kNone},
	tPred: {"pred", 0, kPred},
	tB8:   {"b8", 1, kBits}, tB16: {"b16", 2, kBits}, tB32: {"b32", 4, kBits}, tB64: {"b64", 8, kBits},
	tU8: {"u8", 1, kUnsigned}, tU16: {"u16", 2, kUnsigned}, tU32: {"u32", 4, kUnsigned}, tU64: {"u64", 8, kUnsigned},
	tS8: {"s8", 1, kSigned}, tS16: {"s16", 2, kSigned}, tS32: {"s32", 4, kSigned}, tS64: {"s64", 8, kSigned},
	tF16: {"f16", 2, kFloat}, tF32: {"f32", 4, kFloat}, tF64: {"f64", 8, kFloat},
}

func (t ptype) String() string { return "." + typeInfo[t].name }
func (t ptype) size() int      { return typeInfo[t].size }
func (t ptype) kind() kind     { return typeInfo[t].kind }
func (t ptype) signed() bool   { return t.kind() == kSigned }
func (t ptype) isInt() bool    { k := t.kind(); return k == kUnsigned || k == kSigned }

// intOrBits: an integer or untyped-bits type.
func (t ptype) intOrBits() bool { return t.isInt() || t.kind() == kBits }

// regType reports whether registers of type t can be declared and executed: the simulator
// models predicates, 32- and 64-bit integers and bits, and f32 (no f16 or f64 arithmetic).
func (t ptype) regType() bool {
	switch t {
	case tPred, tB32, tB64, tU32, tU64, tS32, tS64, tF32:
		return true
	}
	return false
}

// compatible is PTX's operand type-checking rule for a register of type reg used where an
// instruction expects type inst: the same type, or the same size where one of them is untyped
// bits, or two integer types of the same size.
func compatible(reg, inst ptype) bool {
	if reg == inst {
		return true
	}
	if reg.size() != inst.size() || reg.kind() == kPred || inst.kind() == kPred {
		return false
	}
	if reg.kind() == kBits || inst.kind() == kBits {
		return true
	}
	return reg.isInt() && inst.isInt()
}

// relaxed is the rule of ld, st and cvt: for integer and bit instruction types a register
// wider than the type may be used (the low bits are read; loads extend by the type's
// signedness).
func relaxed(reg, inst ptype) bool {
	if compatible(reg, inst) {
		return true
	}
	return inst.intOrBits() && reg.intOrBits() && reg.size() > inst.size()
}

// mask returns the low-bits mask of a size in bytes.
func mask(size int) uint64 {
	if size >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(size)) - 1
}

// extend sign- or zero-extends the low size bytes of v to 64 bits.
func extend(v uint64, size int, signed bool) uint64 {
	if size >= 8 {
		return v
	}
	sh := 64 - 8*uint(size)
	if signed {
		return uint64(int64(v<<sh) >> sh)
	}
	return v << sh >> sh
}
