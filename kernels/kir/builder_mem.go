package kir

import "fmt"

// Index is the address of element i of a global array of elemBytes-sized elements at ptr:
// ptr + i*elemBytes, with i u32 or s32 (mul.wide + add.u64).
func (b *Builder) Index(ptr, i Value, elemBytes int) Value {
	if ptr.T != U64 {
		b.failf("index: pointer has type %s, want u64", ptr.T)
	}
	var off Value
	switch i.T {
	case U32:
		off = b.MulWide(i, b.ConstU32(uint32(elemBytes)))
	case S32:
		off = b.Cvt(b.MulWide(i, b.ConstS32(int32(elemBytes))), U64)
	case U64:
		off = b.Mul(i, b.ConstU64(uint64(elemBytes)))
	default:
		b.failf("index: index has type %s, want u32, s32 or u64", i.T)
		return ptr
	}
	return b.Add(ptr, off)
}

func (b *Builder) checkAddr(what string, sp Space, addr Value) {
	if addr.T != sp.AddrType() {
		b.failf("%s.%s: address has type %s, want %s", what, sp, addr.T, sp.AddrType())
	}
}

// Ld loads one value of type t from [addr+off] in space sp.
func (b *Builder) Ld(sp Space, t Type, addr Value, off int) Value {
	return b.LdVec(sp, t, addr, off, 1)[0]
}

// LdVolatile is Ld with ld.volatile: it always reads the current memory value (for flags the
// host or other blocks write while the kernel runs).
func (b *Builder) LdVolatile(sp Space, t Type, addr Value, off int) Value {
	v := b.Ld(sp, t, addr, off)
	(*b.cur)[len(*b.cur)-1].Volatile = true
	return v
}

// LdVec loads n (1, 2 or 4) consecutive values of type t from [addr+off]; the address must be
// aligned to n*size.
func (b *Builder) LdVec(sp Space, t Type, addr Value, off, n int) []Value {
	b.checkAddr("ld", sp, addr)
	if n != 1 && n != 2 && n != 4 {
		b.failf("ld: vector width %d, want 1, 2 or 4", n)
		n = 1
	}
	if !OpLd.Allows(t) {
		b.failf("ld: not defined for %s", t)
	}
	ds := make([]Value, n)
	for j := range ds {
		ds[j] = b.NewReg(t)
	}
	b.Emit(&Inst{Op: OpLd, T: t, Space: sp, Dst: ds, Args: []Value{addr}, Imm: uint64(off)})
	return ds
}

// St stores vals (1, 2 or 4 values of one type) to [addr+off] in space sp.
func (b *Builder) St(sp Space, addr Value, off int, vals ...Value) {
	b.checkAddr("st", sp, addr)
	if len(vals) != 1 && len(vals) != 2 && len(vals) != 4 {
		b.failf("st: vector width %d, want 1, 2 or 4", len(vals))
		return
	}
	t := b.same(OpSt, vals...)
	if !OpSt.Allows(t) {
		b.failf("st: not defined for %s", t)
	}
	args := append([]Value{addr}, vals...)
	b.Emit(&Inst{Op: OpSt, T: t, Space: sp, Args: args, Imm: uint64(off)})
}

// Load loads element i of the global array at ptr.
func (b *Builder) Load(t Type, ptr, i Value) Value {
	return b.Ld(Global, t, b.Index(ptr, i, t.Size()), 0)
}

// LoadF32 loads f32 element i of the global array at ptr.
func (b *Builder) LoadF32(ptr, i Value) Value { return b.Load(F32, ptr, i) }

// LoadU32 loads u32 element i of the global array at ptr.
func (b *Builder) LoadU32(ptr, i Value) Value { return b.Load(U32, ptr, i) }

// LoadVolatileU32 loads u32 element i of the global array at ptr with ld.volatile.
func (b *Builder) LoadVolatileU32(ptr, i Value) Value {
	return b.LdVolatile(Global, U32, b.Index(ptr, i, 4), 0)
}

// Store stores v to element i of the global array at ptr (element size from v's type).
func (b *Builder) Store(ptr, i, v Value) {
	b.St(Global, b.Index(ptr, i, v.T.Size()), 0, v)
}

// Atom emits an atomic op (OpAtomAdd, OpAtomCAS, ...) on [addr+off] in space sp and returns
// the old value. CAS takes (compare, new), the others one operand.
func (b *Builder) Atom(op Op, sp Space, addr Value, off int, vals ...Value) Value {
	b.checkAddr(op.String(), sp, addr)
	want := 1
	if op == OpAtomCAS {
		want = 2
	}
	if op.Info().Class != ClassAtomic || len(vals) != want {
		b.failf("%s: not an atomic op taking %d operands", op, len(vals))
		return b.NewReg(U32)
	}
	t := b.same(op, vals...)
	d := b.op(op, t, t, append([]Value{addr}, vals...)...)
	in := (*b.cur)[len(*b.cur)-1]
	in.Space, in.Imm = sp, uint64(off)
	return d
}

// AtomicAdd adds v to element i of the global array at ptr and returns the old value.
func (b *Builder) AtomicAdd(ptr, i, v Value) Value {
	return b.Atom(OpAtomAdd, Global, b.Index(ptr, i, v.T.Size()), 0, v)
}

// AtomicCAS compares element i of the global array at ptr with cmp and stores nv if equal;
// it returns the old value.
func (b *Builder) AtomicCAS(ptr, i, cmp, nv Value) Value {
	return b.Atom(OpAtomCAS, Global, b.Index(ptr, i, cmp.T.Size()), 0, cmp, nv)
}

// ---- shared memory ----

// SharedArray is a shared memory declaration of the kernel.
type SharedArray struct {
	Index int // index in Kernel.Shared
	Elem  Type
	Len   int
}

// Shared declares a shared array of n elements of type t, aligned to 16 bytes.
func (b *Builder) Shared(name string, t Type, n int) SharedArray {
	return b.SharedAligned(name, t, n, 16)
}

// SharedAligned declares a shared array with the given alignment (a power of two).
func (b *Builder) SharedAligned(name string, t Type, n, align int) SharedArray {
	return b.shared(SharedDecl{Name: name, Elem: t, Len: n, Align: align})
}

// SharedDynamic declares the dynamic shared array, sized at launch (at most one, the last).
func (b *Builder) SharedDynamic(name string, t Type, align int) SharedArray {
	return b.shared(SharedDecl{Name: name, Elem: t, Align: align, Dynamic: true})
}

func (b *Builder) shared(d SharedDecl) SharedArray {
	if t := d.Elem; t.Size() == 0 {
		b.failf("shared %q: element type %s has no size", d.Name, t)
	}
	if d.Align < d.Elem.Size() || d.Align&(d.Align-1) != 0 {
		b.failf("shared %q: alignment %d", d.Name, d.Align)
	}
	if d.Len < 0 || (d.Len == 0 && !d.Dynamic) {
		b.failf("shared %q: length %d", d.Name, d.Len)
	}
	for _, o := range b.k.Shared {
		if o.Name == d.Name {
			b.failf("shared %q declared twice", d.Name)
		}
		if o.Dynamic {
			b.failf("shared %q declared after the dynamic array %q", d.Name, o.Name)
		}
	}
	b.k.Shared = append(b.k.Shared, d)
	return SharedArray{Index: len(b.k.Shared) - 1, Elem: d.Elem, Len: d.Len}
}

// SharedBase is the u32 shared address of the array's first element.
func (b *Builder) SharedBase(a SharedArray) Value {
	d := b.op(OpSharedAddr, U32, U32)
	(*b.cur)[len(*b.cur)-1].Imm = uint64(a.Index)
	return d
}

// sharedAddr returns (address register, byte offset) of element i; a constant i is folded
// into the offset so the verifier can check it against the array's bounds.
func (b *Builder) sharedAddr(a SharedArray, i Value) (Value, int) {
	base := b.SharedBase(a)
	if c, ok := b.ConstOf(i); ok && (i.T == U32 || i.T == S32) {
		return base, int(int32(uint32(c))) * a.Elem.Size()
	}
	if i.T != U32 && i.T != S32 {
		b.failf("shared index has type %s, want u32 or s32", i.T)
		return base, 0
	}
	if i.T == S32 {
		i = b.Bitcast(i, U32)
	}
	return b.Mad(i, b.ConstU32(uint32(a.Elem.Size())), base), 0
}

// LoadShared loads element i of shared array a.
func (b *Builder) LoadShared(a SharedArray, i Value) Value {
	addr, off := b.sharedAddr(a, i)
	return b.Ld(Shared, a.Elem, addr, off)
}

// StoreShared stores v to element i of shared array a.
func (b *Builder) StoreShared(a SharedArray, i, v Value) {
	if v.T != a.Elem {
		b.failf("store shared: value type %s, array of %s", v.T, a.Elem)
	}
	addr, off := b.sharedAddr(a, i)
	b.St(Shared, addr, off, v)
}

// AtomicAddShared adds v to element i of shared array a and returns the old value.
func (b *Builder) AtomicAddShared(a SharedArray, i, v Value) Value {
	addr, off := b.sharedAddr(a, i)
	return b.Atom(OpAtomAdd, Shared, addr, off, v)
}

// ---- warp shuffles ----

// Shfl is shfl.sync.mode with the full warp mask: lane is the delta (Down, Up), the xor mask
// (Bfly) or the source lane (Idx). Every non-exited lane of the warp must execute it together.
func (b *Builder) Shfl(mode ShflMode, v, lane Value) Value {
	if lane.T != U32 {
		b.failf("shfl: lane has type %s, want u32", lane.T)
	}
	if mode > ShflIdx {
		b.failf("shfl: %s", mode)
	}
	d := b.op(OpShfl, v.T, v.T, v, lane)
	(*b.cur)[len(*b.cur)-1].Shfl = mode
	return d
}

// ShflDown reads v from lane laneid+delta.
func (b *Builder) ShflDown(v Value, delta int) Value {
	return b.Shfl(ShflDown, v, b.ConstU32(uint32(delta)))
}

// ShflBfly reads v from lane laneid^mask.
func (b *Builder) ShflBfly(v Value, mask int) Value {
	return b.Shfl(ShflBfly, v, b.ConstU32(uint32(mask)))
}

// ShflIdx reads v from the given lane.
func (b *Builder) ShflIdx(v, lane Value) Value { return b.Shfl(ShflIdx, v, lane) }

// WarpReduce reduces v over the 32 lanes of the warp with op (OpAdd, OpMax, OpMin, ...) by a
// butterfly, so every lane gets the result.
func (b *Builder) WarpReduce(op Op, v Value) Value {
	if op.Info().Class != ClassALU || len(op.Info().Args) != 2 {
		b.failf("warp reduce: %s is not a binary ALU op", op)
		return v
	}
	for m := 16; m >= 1; m /= 2 {
		v = b.bin(op, v, b.ShflBfly(v, m))
	}
	return v
}

// Errorf records an error (for templates built on the Builder) and returns it.
func (b *Builder) Errorf(format string, args ...any) error {
	b.failf(format, args...)
	return fmt.Errorf(format, args...)
}
