package kir

import "fmt"

// Type is the type of a virtual register. 32-bit and 64-bit integer types, f32, untyped 32-bit
// bits (b32) and predicates exist; every one maps to one PTX register class.
type Type uint8

// Register types.
const (
	Invalid Type = iota
	Pred         // predicate (PTX .pred)
	B32          // untyped 32 bits (PTX .b32)
	U32          // unsigned 32-bit integer
	S32          // signed 32-bit integer
	U64          // unsigned 64-bit integer; global addresses are U64
	S64          // signed 64-bit integer
	F32          // IEEE binary32
	numTypes
)

var typeNames = [numTypes]string{"invalid", "pred", "b32", "u32", "s32", "u64", "s64", "f32"}

func (t Type) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Size is the size of the type in memory, in bytes (0 for Pred and Invalid).
func (t Type) Size() int {
	switch t {
	case B32, U32, S32, F32:
		return 4
	case U64, S64:
		return 8
	}
	return 0
}

// IsInt reports whether t is an integer type (u32 s32 u64 s64).
func (t Type) IsInt() bool { return t == U32 || t == S32 || t == U64 || t == S64 }

// IsSigned reports whether t is a signed integer type.
func (t Type) IsSigned() bool { return t == S32 || t == S64 }

// IsFloat reports whether t is a floating point type.
func (t Type) IsFloat() bool { return t == F32 }

// Is64 reports whether t is a 64-bit type.
func (t Type) Is64() bool { return t == U64 || t == S64 }

// Wide is the double-width type of a 32-bit integer type (u32 -> u64, s32 -> s64), Invalid
// for any other type.
func (t Type) Wide() Type {
	switch t {
	case U32:
		return U64
	case S32:
		return S64
	}
	return Invalid
}

// Types lists every valid register type.
func Types() []Type { return []Type{Pred, B32, U32, S32, U64, S64, F32} }

// Value names a virtual register: its number in Kernel.Regs and its type. The zero Value is
// "no value".
type Value struct {
	ID int32
	T  Type
}

// Valid reports whether v names a register.
func (v Value) Valid() bool { return v.ID > 0 }

func (v Value) String() string {
	if !v.Valid() {
		return "_"
	}
	return fmt.Sprintf("r%d:%s", v.ID, v.T)
}

// Space is a memory state space.
type Space uint8

// State spaces.
const (
	Global Space = iota // device memory, u64 addresses
	Shared              // the block's shared memory, u32 addresses
)

func (s Space) String() string {
	if s == Shared {
		return "shared"
	}
	return "global"
}

// AddrType is the type of an address in space s.
func (s Space) AddrType() Type {
	if s == Shared {
		return U32
	}
	return U64
}

// Cmp is the comparison of a Setp. Float comparisons are ordered: false if either side is NaN.
type Cmp uint8

// Comparisons.
const (
	EQ Cmp = iota
	NE
	LT
	LE
	GT
	GE
)

var cmpNames = [...]string{"eq", "ne", "lt", "le", "gt", "ge"}

func (c Cmp) String() string {
	if int(c) < len(cmpNames) {
		return cmpNames[c]
	}
	return fmt.Sprintf("cmp(%d)", uint8(c))
}

// ShflMode is the lane selection of a warp shuffle (PTX shfl.sync.mode.b32).
type ShflMode uint8

// Shuffle modes. Down: lane+delta, Up: lane-delta, Bfly: lane^mask, Idx: the given lane. A source
// lane outside the warp (or beyond the block) yields the reading lane's own value.
const (
	ShflDown ShflMode = iota
	ShflUp
	ShflBfly
	ShflIdx
)

var shflNames = [...]string{"down", "up", "bfly", "idx"}

func (m ShflMode) String() string {
	if int(m) < len(shflNames) {
		return shflNames[m]
	}
	return fmt.Sprintf("shfl(%d)", uint8(m))
}

// Level is the scope of a memory fence (PTX membar.cta / membar.gl / membar.sys).
type Level uint8

// Fence scopes.
const (
	LevelCTA Level = iota
	LevelGL
	LevelSys
)

var levelNames = [...]string{"cta", "gl", "sys"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// SReg is a special (read-only) register; all are u32.
type SReg uint8

// Special registers, named as in PTX (%tid.x ... %warpid).
const (
	TidX SReg = iota
	TidY
	TidZ
	NTidX
	NTidY
	NTidZ
	CtaIDX
	CtaIDY
	CtaIDZ
	NCtaIDX
	NCtaIDY
	NCtaIDZ
	SMID
	NSMID
	LaneID
	WarpID
	numSRegs
)

var sregNames = [numSRegs]string{"tid.x", "tid.y", "tid.z", "ntid.x", "ntid.y", "ntid.z",
	"ctaid.x", "ctaid.y", "ctaid.z", "nctaid.x", "nctaid.y", "nctaid.z", "smid", "nsmid",
	"laneid", "warpid"}

func (s SReg) String() string {
	if s < numSRegs {
		return sregNames[s]
	}
	return fmt.Sprintf("sreg(%d)", uint8(s))
}

// Valid reports whether s is a known special register.
func (s SReg) Valid() bool { return s < numSRegs }
