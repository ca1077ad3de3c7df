package gemm

import "github.com/elasticroom/elasticroom/kernels/kir"

// Operand is a strided matrix operand in global memory as the mainloop sees it: element (x, k),
// x along the tile's M (operand A) or N (operand B), is at Base + x*LD + k when KContig, else at
// Base + k*LD + x.
type Operand struct {
	Ptr     kir.Value // u64 buffer pointer
	Base    kir.Value // u32 element offset of the matrix (batch, group); zero Value: 0
	X0      kir.Value // u32 first x of the tile
	Extent  int       // x extent of the operand (M or N): rows past it read as zeros
	KContig bool      // consecutive k are consecutive in memory (else consecutive x)
	LD      int       // stride of the other dim, in elements
	// Vec is the global load width (1, 2 or 4). The caller guarantees alignment: Vec divides
	// LD, Base and (KContig) the reduction length or (else) Extent, and the buffer is 16-byte
	// aligned.
	Vec int
}

// Loader returns a Loader for op as operand A (isA) or B. Call it in the tile body before Run:
// it emits the thread's tile-invariant coordinates there.
func (ml *Mainloop) Loader(op Operand, isA bool) Loader {
	b, cfg := ml.B, ml.Cfg
	bx := cfg.TileN
	if isA {
		bx = cfg.TileM
	}
	v := max(op.Vec, 1)
	store := ml.StoreB
	if isA {
		store = ml.StoreA
	}
	// the tile's units (v elements each): bx rows of TileK/v when k is contiguous, TileK rows of
	// bx/v otherwise; thread t takes units t, t+Threads, ...
	inner := cfg.TileK / v
	if !op.KContig {
		inner = bx / v
	}
	units := cfg.TileK * bx / v
	type unit struct {
		guard  kir.Value // u < units (zero Value: always)
		xIn    kir.Value // the unit's x inside the operand
		rowOff kir.Value // KContig: Base + x*LD; else Base + x
		kr, x  kir.Value // tile-local k (row) and x of the unit's first element
	}
	var us []unit
	for i := 0; i*cfg.Threads < units; i++ {
		var u unit
		idx := b.Add(ml.Tid, b.ConstU32(uint32(i*cfg.Threads)))
		if (i+1)*cfg.Threads > units {
			u.guard = b.Lt(idx, b.ConstU32(uint32(units)))
		}
		r, c := DivMod(b, idx, inner)
		if op.KContig {
			u.x, u.kr = r, b.Mul(c, b.ConstU32(uint32(v)))
		} else {
			u.kr, u.x = r, b.Mul(c, b.ConstU32(uint32(v)))
		}
		gx := b.Add(op.X0, u.x)
		u.xIn = b.Lt(gx, b.ConstU32(uint32(op.Extent)))
		if u.guard.Valid() {
			u.xIn = b.And(u.xIn, u.guard)
		}
		if op.KContig {
			u.rowOff = b.Mul(gx, b.ConstU32(uint32(op.LD)))
		} else {
			u.rowOff = gx
		}
		if op.Base.Valid() {
			u.rowOff = b.Add(u.rowOff, op.Base)
		}
		us = append(us, u)
	}
	kmax := b.ConstU32(uint32(ml.K))
	return func(k0 kir.Value) func() {
		vals := make([][]kir.Value, len(us))
		for i, u := range us {
			k := b.Add(k0, u.kr)
			ok := b.And(u.xIn, b.Lt(k, kmax))
			var idx kir.Value
			if op.KContig {
				idx = b.Add(u.rowOff, k)
			} else {
				idx = b.Mad(k, b.ConstU32(uint32(op.LD)), u.rowOff)
			}
			vs := make([]kir.Value, v)
			for j := range vs {
				vs[j] = b.Var(b.ConstF32(0))
			}
			b.If(ok, func() {
				ld := b.LdVec(kir.Global, kir.F32, b.Index(op.Ptr, idx, 4), 0, v)
				for j := range vs {
					b.Set(vs[j], ld[j])
				}
			})
			vals[i] = vs
		}
		return func() {
			for i, u := range us {
				emit := func() { store(u.kr, u.x, !op.KContig, vals[i]...) }
				if u.guard.Valid() {
					b.If(u.guard, emit)
				} else {
					emit()
				}
			}
		}
	}
}
