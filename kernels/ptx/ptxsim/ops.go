package ptxsim

// opcode selects the interpreter's case for a decoded instruction. Hot operations have a case
// of their own per type; rarer ones share a case and read a sub-operation.
type opcode uint8

const (
	opNop opcode = iota
	opMov
	opSelp
	opLdParam // r0 = bytes [r2, r2+n) of param r1, extended by sub (1: signed) to the dst size

	// 32-bit integers (operands zero-extended in their slots)
	opAdd32
	opSub32
	opMulLo32
	opMad32 // r0 = r1*r2 + r3
	opMulHiU32
	opMulHiS32
	opMulWideU32
	opMulWideS32
	opMadWideU32
	opMadWideS32
	opDivU32
	opDivS32
	opRemU32
	opRemS32
	opMinU32
	opMinS32
	opMaxU32
	opMaxS32
	opNeg32
	opAbs32
	opShl32
	opShrU32
	opShrS32
	opNot32

	// 64-bit integers
	opAdd64
	opSub64
	opMulLo64
	opMad64
	opMulHiU64
	opMulHiS64
	opDivU64
	opDivS64
	opRemU64
	opRemS64
	opMinU64
	opMinS64
	opMaxU64
	opMaxS64
	opNeg64
	opAbs64
	opShl64
	opShrU64
	opShrS64
	opNot64

	// bitwise operations of any width (inputs are canonical, so outputs are)
	opAnd
	opOr
	opXor
	opNotPred

	// f32
	opAddF
	opSubF
	opMulF
	opFmaF
	opDivF
	opMinF
	opMaxF
	opMinNaNF
	opMaxNaNF
	opNegF
	opAbsF
	opRcpF
	opSqrtF
	opRsqrtF
	opEx2F
	opLg2F
	opSinF
	opCosF
	opTanhF

	// conversions
	opSext32    // cvt.s64.s32
	opTrunc32   // cvt.u32.u64 and other narrowing to 32 bits
	opCvtII     // general integer conversion: imm encodes the types and .sat (see cvtII)
	opCvtF2I    // sub: integer rounding, n: destination type
	opCvtI2F    // sub: float rounding, n: source type
	opCvtFRound // cvt.rXi.f32.f32; sub: integer rounding
	opCvtFSat   // cvt.sat.f32.f32

	// comparisons; sub is the comparison
	opSetpU32
	opSetpS32
	opSetpU64
	opSetpS64
	opSetpF

	// memory. r4: address register, imm: offset, n: element size, cnt: elements (r0..), sub: flags
	opLdG32
	opLdG64
	opStG32
	opStG64
	opLdS32
	opLdS64
	opStS32
	opStS64
	opLdG // general global load (vectors, sub-word types, .volatile)
	opStG
	opLdS
	opStS
	opAtomG // sub: atomic operation; r0 = old value (0: none, red), r1 = b, r2 = c
	opAtomS

	// control
	opBra  // imm: target
	opBraT // branch to imm when r1 != 0
	opBraF // branch to imm when r1 == 0
	opExit // ret and exit
	opBar  // r1: barrier id, r2: thread count (slot 0: all); sub 1: .aligned
	opShfl // sub: mode; r0 = shfl(r1, r2, r3, mask r4); imm: predicate destination slot (0: none)
	opTrap // trap: an error
	numOpcodes
)

// memory flags (inst.sub of loads and stores)
const (
	memVolatile = 1 << iota
	memSigned   // sub-word loads sign-extend
	memDst64    // the destination registers are 64-bit
)

// comparisons (inst.sub of setp)
const (
	cmpEQ uint8 = iota
	cmpNE
	cmpLT
	cmpLE
	cmpGT
	cmpGE
	cmpEQU // unordered float comparisons: true when either operand is NaN
	cmpNEU
	cmpLTU
	cmpLEU
	cmpGTU
	cmpGEU
	cmpNUM
	cmpNAN
)

// rounding modes (inst.sub of cvt): integer rounding for float -> int, float rounding for
// int -> float.
const (
	rndNearest uint8 = iota // rni / rn
	rndZero                 // rzi / rz
	rndDown                 // rmi / rm
	rndUp                   // rpi / rp
)

// atomic operations (inst.sub of atom and red)
const (
	atomAdd uint8 = iota
	atomAddF
	atomExch
	atomCAS
	atomMinU
	atomMinS
	atomMaxU
	atomMaxS
	atomAnd
	atomOr
	atomXor
	atomInc
	atomDec
)

// shuffle modes
const (
	shflUp uint8 = iota
	shflDown
	shflBfly
	shflIdx
)

// inst is one decoded instruction.
type inst struct {
	op   opcode
	sub  uint8
	n    uint8 // access size or type code
	cnt  uint8 // vector elements
	gneg bool  // the guard is negated
	g    int32 // guard predicate slot (0: unguarded)
	r    [5]int32
	imm  int64
	line int32
}
