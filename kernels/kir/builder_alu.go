package kir

import "math"

func (b *Builder) bin(op Op, x, y Value) Value {
	t := b.same(op, x, y)
	return b.op(op, t, t, x, y)
}

func (b *Builder) un(op Op, x Value) Value { return b.op(op, x.T, x.T, x) }

// Add is x + y.
func (b *Builder) Add(x, y Value) Value { return b.bin(OpAdd, x, y) }

// Sub is x - y.
func (b *Builder) Sub(x, y Value) Value { return b.bin(OpSub, x, y) }

// Mul is x * y (the low half for integers).
func (b *Builder) Mul(x, y Value) Value { return b.bin(OpMul, x, y) }

// Div is x / y (integers: truncated; division by zero gives all ones).
func (b *Builder) Div(x, y Value) Value { return b.bin(OpDiv, x, y) }

// Rem is x % y for integers (x when y is zero).
func (b *Builder) Rem(x, y Value) Value { return b.bin(OpRem, x, y) }

// MulHi is the high half of the integer product x*y.
func (b *Builder) MulHi(x, y Value) Value { return b.bin(OpMulHi, x, y) }

// MulWide is the full 64-bit product of two 32-bit integers.
func (b *Builder) MulWide(x, y Value) Value {
	t := b.same(OpMulWide, x, y)
	return b.op(OpMulWide, t, t.Wide(), x, y)
}

// Mad is x*y + z: mad.lo for integers, fma for f32.
func (b *Builder) Mad(x, y, z Value) Value {
	t := b.same(OpMad, x, y, z)
	if t == F32 {
		return b.op(OpFma, t, t, x, y, z)
	}
	return b.op(OpMad, t, t, x, y, z)
}

// Fma is the fused x*y + z (f32).
func (b *Builder) Fma(x, y, z Value) Value {
	t := b.same(OpFma, x, y, z)
	return b.op(OpFma, t, t, x, y, z)
}

// Min is the smaller of x and y (f32: the non-NaN one if one is NaN).
func (b *Builder) Min(x, y Value) Value { return b.bin(OpMin, x, y) }

// Max is the larger of x and y (f32: the non-NaN one if one is NaN).
func (b *Builder) Max(x, y Value) Value { return b.bin(OpMax, x, y) }

// Neg is -x.
func (b *Builder) Neg(x Value) Value { return b.un(OpNeg, x) }

// Abs is |x|.
func (b *Builder) Abs(x Value) Value { return b.un(OpAbs, x) }

// Rcp is 1/x (f32, correctly rounded).
func (b *Builder) Rcp(x Value) Value { return b.un(OpRcp, x) }

// Sqrt is the correctly rounded square root (f32).
func (b *Builder) Sqrt(x Value) Value { return b.un(OpSqrt, x) }

// Rsqrt is 1/sqrt(x), approximate (f32).
func (b *Builder) Rsqrt(x Value) Value { return b.un(OpRsqrt, x) }

// Ex2 is 2**x, approximate (f32).
func (b *Builder) Ex2(x Value) Value { return b.un(OpEx2, x) }

// Lg2 is log2(x), approximate (f32).
func (b *Builder) Lg2(x Value) Value { return b.un(OpLg2, x) }

// Sin is sin(x), approximate (f32).
func (b *Builder) Sin(x Value) Value { return b.un(OpSin, x) }

// Cos is cos(x), approximate (f32).
func (b *Builder) Cos(x Value) Value { return b.un(OpCos, x) }

// Tanh is tanh(x), approximate (f32).
func (b *Builder) Tanh(x Value) Value { return b.un(OpTanh, x) }

// Floor rounds toward -inf (f32).
func (b *Builder) Floor(x Value) Value { return b.un(OpFloor, x) }

// Ceil rounds toward +inf (f32).
func (b *Builder) Ceil(x Value) Value { return b.un(OpCeil, x) }

// Trunc rounds toward zero (f32).
func (b *Builder) Trunc(x Value) Value { return b.un(OpTrunc, x) }

// Round rounds to the nearest integer, ties to even (f32).
func (b *Builder) Round(x Value) Value { return b.un(OpRound, x) }

// Exp is e**x as ex2(x*log2(e)) (f32, approximate).
func (b *Builder) Exp(x Value) Value {
	return b.Ex2(b.Mul(x, b.ConstF32(float32(math.Log2E))))
}

// Log is ln(x) as lg2(x)*ln(2) (f32, approximate).
func (b *Builder) Log(x Value) Value {
	return b.Mul(b.Lg2(x), b.ConstF32(float32(math.Ln2)))
}

// And is x & y (pred: logical and).
func (b *Builder) And(x, y Value) Value { return b.bin(OpAnd, x, y) }

// Or is x | y.
func (b *Builder) Or(x, y Value) Value { return b.bin(OpOr, x, y) }

// Xor is x ^ y.
func (b *Builder) Xor(x, y Value) Value { return b.bin(OpXor, x, y) }

// Not is ^x (pred: logical not).
func (b *Builder) Not(x Value) Value { return b.un(OpNot, x) }

// Shl is x << s (s is u32; shifts by the width or more give 0).
func (b *Builder) Shl(x, s Value) Value { return b.shift(OpShl, x, s) }

// Shr is x >> s (arithmetic for signed types; s is u32, clamped to the width).
func (b *Builder) Shr(x, s Value) Value { return b.shift(OpShr, x, s) }

func (b *Builder) shift(op Op, x, s Value) Value {
	if s.T != U32 {
		b.failf("%s: shift amount has type %s, want u32", op, s.T)
	}
	return b.op(op, x.T, x.T, x, s)
}

// Compare is the predicate x c y (setp).
func (b *Builder) Compare(c Cmp, x, y Value) Value {
	t := b.same(OpSetp, x, y)
	d := b.op(OpSetp, t, Pred, x, y)
	(*b.cur)[len(*b.cur)-1].Cmp = c
	return d
}

// Lt is x < y.
func (b *Builder) Lt(x, y Value) Value { return b.Compare(LT, x, y) }

// Le is x <= y.
func (b *Builder) Le(x, y Value) Value { return b.Compare(LE, x, y) }

// Gt is x > y.
func (b *Builder) Gt(x, y Value) Value { return b.Compare(GT, x, y) }

// Ge is x >= y.
func (b *Builder) Ge(x, y Value) Value { return b.Compare(GE, x, y) }

// Eq is x == y.
func (b *Builder) Eq(x, y Value) Value { return b.Compare(EQ, x, y) }

// Ne is x != y.
func (b *Builder) Ne(x, y Value) Value { return b.Compare(NE, x, y) }
