package kir

import "fmt"

// Op is an IR operation. Its typing rules are a row of the op table (Info).
type Op uint8

// Operations. The comment gives the PTX instruction each renders to (T = Inst.T).
const (
	OpInvalid Op = iota
	// data movement
	OpConst      // mov.T d, Imm (Imm holds the bits: f32 bits for F32, 0/1 for Pred)
	OpMov        // mov.T d, a
	OpParam      // ld.param.T d, [param Imm] (pointer params: + cvta.to.global)
	OpSReg       // mov.u32 d, %SReg
	OpSharedAddr // mov.u32 d, shared decl Imm (address of Kernel.Shared[Imm])
	OpCvt        // cvt[.rzi|.rn].T.Targ d, a
	OpBitcast    // mov.bT d, a (same size, reinterpret bits)
	OpSelp       // selp.T d, a, b, p  (Args: p, a, b)
	// arithmetic
	OpAdd     // add.T
	OpSub     // sub.T
	OpMul     // mul.lo.T (ints), mul.rn.f32
	OpMad     // mad.lo.T d, a, b, c (ints)
	OpFma     // fma.rn.f32 d, a, b, c
	OpDiv     // div.T (ints), div.rn.f32
	OpRem     // rem.T
	OpMulHi   // mul.hi.T
	OpMulWide // mul.wide.T (u32 -> u64, s32 -> s64)
	OpMin     // min.T
	OpMax     // max.T
	OpNeg     // neg.T
	OpAbs     // abs.T
	// float only
	OpRcp   // rcp.rn.f32
	OpSqrt  // sqrt.rn.f32
	OpRsqrt // rsqrt.approx.f32
	OpEx2   // ex2.approx.f32
	OpLg2   // lg2.approx.f32
	OpSin   // sin.approx.f32
	OpCos   // cos.approx.f32
	OpTanh  // tanh.approx.f32
	OpFloor // cvt.rmi.f32.f32
	OpCeil  // cvt.rpi.f32.f32
	OpTrunc // cvt.rzi.f32.f32
	OpRound // cvt.rni.f32.f32 (to nearest even)
	// bits
	OpAnd // and.bT / and.pred
	OpOr  // or
	OpXor // xor
	OpNot // not
	OpShl // shl.bT d, a, b(u32)
	OpShr // shr.T d, a, b(u32) (arithmetic for signed T)
	// compare
	OpSetp // setp.Cmp.T p, a, b
	// memory
	OpLd // ld[.volatile].Space[.vN].T {d...}, [a+Imm]
	OpSt // st[.volatile].Space[.vN].T [a+Imm], {v...}
	// atomics (return the old value)
	OpAtomAdd  // atom.Space.add.T d, [a+Imm], v
	OpAtomCAS  // atom.Space.cas.bT d, [a+Imm], cmp, new
	OpAtomExch // atom.Space.exch.bT d, [a+Imm], v
	OpAtomMin  // atom.Space.min.T
	OpAtomMax  // atom.Space.max.T
	// synchronisation
	OpBar    // bar.sync Imm
	OpMembar // membar.Level
	OpShfl   // shfl.sync.Mode.b32 d, a, b, clamp, 0xffffffff
	// structured control flow
	OpIf       // Args: p; Body, Else
	OpFor      // Dst: i; Args: start, end, step; for i = start; i < end; i += step { Body }
	OpWhile    // Cond block, Args: p (computed by Cond); while p { Body }
	OpBreak    // leave the innermost loop
	OpContinue // next iteration of the innermost loop (For: runs the increment)
	OpReturn   // the thread exits
	numOps
)

// Class groups ops by how backends treat them.
type Class uint8

// Op classes.
const (
	ClassData Class = iota
	ClassALU
	ClassMem
	ClassAtomic
	ClassSync
	ClassWarp
	ClassControl
)

// Operand is a typing rule for one operand or the result of an op.
type Operand uint8

// Operand rules.
const (
	OperNone Operand = iota // no result
	OperT                   // the instruction's type T
	OperPred                // a predicate
	OperU32                 // u32
	OperWide                // T.Wide()
	OperAddr                // an address: u64 in global space, u32 in shared space
	OperAny                 // any non-pred type (Cvt, Bitcast sources; checked by the verifier)
	OperVec                 // 1, 2 or 4 values of type T (vector loads and stores)
)

// OpInfo is one row of the op table.
type OpInfo struct {
	Name   string    // PTX mnemonic stem
	Class  Class     // how backends treat it
	Types  []Type    // types T the op may be instantiated at (empty: T unused, Invalid)
	Args   []Operand // operand rules, in order
	Result Operand   // result rule (OperNone: no Dst)
}

var (
	tAll   = []Type{Pred, B32, U32, S32, U64, S64, F32}
	tData  = []Type{B32, U32, S32, U64, S64, F32}
	tNum   = []Type{U32, S32, U64, S64, F32}
	tInt   = []Type{U32, S32, U64, S64}
	tSNum  = []Type{S32, S64, F32}
	tF     = []Type{F32}
	tBits  = []Type{Pred, B32, U32, S32, U64, S64}
	tShift = []Type{B32, U32, S32, U64, S64}
	t32    = []Type{B32, U32, S32, F32}
	tI32   = []Type{U32, S32}

	aT   = []Operand{OperT}
	aTT  = []Operand{OperT, OperT}
	aTTT = []Operand{OperT, OperT, OperT}
)

var opTable = [numOps]OpInfo{
	OpConst:      {"const", ClassData, tAll, nil, OperT},
	OpMov:        {"mov", ClassData, tAll, aT, OperT},
	OpParam:      {"param", ClassData, tData, nil, OperT},
	OpSReg:       {"sreg", ClassData, []Type{U32}, nil, OperT},
	OpSharedAddr: {"shared_addr", ClassData, []Type{U32}, nil, OperT},
	OpCvt:        {"cvt", ClassData, tNum, []Operand{OperAny}, OperT},
	OpBitcast:    {"bitcast", ClassData, tData, []Operand{OperAny}, OperT},
	OpSelp:       {"selp", ClassData, tData, []Operand{OperPred, OperT, OperT}, OperT},

	OpAdd:     {"add", ClassALU, tNum, aTT, OperT},
	OpSub:     {"sub", ClassALU, tNum, aTT, OperT},
	OpMul:     {"mul", ClassALU, tNum, aTT, OperT},
	OpMad:     {"mad", ClassALU, tInt, aTTT, OperT},
	OpFma:     {"fma", ClassALU, tF, aTTT, OperT},
	OpDiv:     {"div", ClassALU, tNum, aTT, OperT},
	OpRem:     {"rem", ClassALU, tInt, aTT, OperT},
	OpMulHi:   {"mul.hi", ClassALU, tInt, aTT, OperT},
	OpMulWide: {"mul.wide", ClassALU, tI32, aTT, OperWide},
	OpMin:     {"min", ClassALU, tNum, aTT, OperT},
	OpMax:     {"max", ClassALU, tNum, aTT, OperT},
	OpNeg:     {"neg", ClassALU, tSNum, aT, OperT},
	OpAbs:     {"abs", ClassALU, tSNum, aT, OperT},

	OpRcp:   {"rcp", ClassALU, tF, aT, OperT},
	OpSqrt:  {"sqrt", ClassALU, tF, aT, OperT},
	OpRsqrt: {"rsqrt", ClassALU, tF, aT, OperT},
	OpEx2:   {"ex2", ClassALU, tF, aT, OperT},
	OpLg2:   {"lg2", ClassALU, tF, aT, OperT},
	OpSin:   {"sin", ClassALU, tF, aT, OperT},
	OpCos:   {"cos", ClassALU, tF, aT, OperT},
	OpTanh:  {"tanh", ClassALU, tF, aT, OperT},
	OpFloor: {"floor", ClassALU, tF, aT, OperT},
	OpCeil:  {"ceil", ClassALU, tF, aT, OperT},
	OpTrunc: {"trunc", ClassALU, tF, aT, OperT},
	OpRound: {"round", ClassALU, tF, aT, OperT},

	OpAnd: {"and", ClassALU, tBits, aTT, OperT},
	OpOr:  {"or", ClassALU, tBits, aTT, OperT},
	OpXor: {"xor", ClassALU, tBits, aTT, OperT},
	OpNot: {"not", ClassALU, tBits, aT, OperT},
	OpShl: {"shl", ClassALU, tShift, []Operand{OperT, OperU32}, OperT},
	OpShr: {"shr", ClassALU, tShift, []Operand{OperT, OperU32}, OperT},

	OpSetp: {"setp", ClassALU, tNum, aTT, OperPred},

	OpLd: {"ld", ClassMem, tData, []Operand{OperAddr}, OperVec},
	OpSt: {"st", ClassMem, tData, []Operand{OperAddr, OperVec}, OperNone},

	OpAtomAdd:  {"atom.add", ClassAtomic, []Type{U32, S32, F32}, []Operand{OperAddr, OperT}, OperT},
	OpAtomCAS:  {"atom.cas", ClassAtomic, []Type{B32, U32, S32}, []Operand{OperAddr, OperT, OperT}, OperT},
	OpAtomExch: {"atom.exch", ClassAtomic, t32, []Operand{OperAddr, OperT}, OperT},
	OpAtomMin:  {"atom.min", ClassAtomic, tI32, []Operand{OperAddr, OperT}, OperT},
	OpAtomMax:  {"atom.max", ClassAtomic, tI32, []Operand{OperAddr, OperT}, OperT},

	OpBar:    {"bar.sync", ClassSync, nil, nil, OperNone},
	OpMembar: {"membar", ClassSync, nil, nil, OperNone},
	OpShfl:   {"shfl.sync", ClassWarp, t32, []Operand{OperT, OperU32}, OperT},

	OpIf:       {"if", ClassControl, nil, []Operand{OperPred}, OperNone},
	OpFor:      {"for", ClassControl, tInt, aTTT, OperT},
	OpWhile:    {"while", ClassControl, nil, []Operand{OperPred}, OperNone},
	OpBreak:    {"break", ClassControl, nil, nil, OperNone},
	OpContinue: {"continue", ClassControl, nil, nil, OperNone},
	OpReturn:   {"return", ClassControl, nil, nil, OperNone},
}

// Info returns the op's row of the op table (a zero OpInfo for an unknown op).
func (o Op) Info() OpInfo {
	if o > OpInvalid && o < numOps {
		return opTable[o]
	}
	return OpInfo{}
}

// Valid reports whether o is a known op.
func (o Op) Valid() bool { return o > OpInvalid && o < numOps }

func (o Op) String() string {
	if o.Valid() {
		return opTable[o].Name
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Ops lists every op of the table, in order.
func Ops() []Op {
	ops := make([]Op, 0, numOps-1)
	for o := OpInvalid + 1; o < numOps; o++ {
		ops = append(ops, o)
	}
	return ops
}

// Allows reports whether op o may be instantiated at type t.
func (o Op) Allows(t Type) bool {
	info := o.Info()
	if len(info.Types) == 0 {
		return t == Invalid
	}
	for _, x := range info.Types {
		if x == t {
			return true
		}
	}
	return false
}
