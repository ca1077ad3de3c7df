package gemm

import (
	"fmt"
	"math/bits"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

// smemPad is the padding (in floats) of every shared tile row: it keeps 16-byte alignment for
// vector accesses and spreads the transposed stores of k-contiguous operands over the banks.
const smemPad = 4

// maxStaticShared is the static shared memory a CUDA kernel may declare.
const maxStaticShared = 48 << 10

// Mainloop is the shared-memory-tiled, register-blocked product C[TileM x TileN] = A[TileM x
// K] * B[K x TileN] of one output tile, common to the GEMM and implicit-GEMM convolution
// templates. Shared memory holds two stages of A (k-major: As[k][m]) and B (Bs[k][n]); while
// the block multiplies one stage, the next K slice is fetched from global memory into
// registers and stored into the other stage after the product, so there is one barrier per
// K slice. Thread t computes rows Ty*ThreadM .. +ThreadM and columns Tx*ThreadN .. +ThreadN of
// the tile in registers (Acc).
type Mainloop struct {
	B         *kir.Builder
	Cfg       kernels.Config
	K         int       // reduction length
	Tid       kir.Value // flat thread index (u32)
	Tx, Ty    kir.Value // the thread's column and row group in the tile (u32)
	Acc       [][]kir.Value
	sa, sb    kir.SharedArray
	lda, ldb  int // shared row strides in floats
	stageA    int // bytes of one stage of As
	stageB    int
	aFrag     kir.Value // shared address of the thread's A fragment in stage 0, k = 0
	bFrag     kir.Value
	saBase    kir.Value
	sbBase    kir.Value
	curA      kir.Value // byte offsets of the stages being multiplied (0 or one stage)
	curB      kir.Value
	dstA      kir.Value // byte offsets of the stages the loaders' stores write
	dstB      kir.Value
	sharedUse int
}

// CheckConfig reports whether cfg is a valid register-blocked tile configuration: Threads =
// (TileM/ThreadM)*(TileN/ThreadN), Vec in {1, 2, 4} dividing TileM, TileN and TileK, and the
// two shared stages within the static shared memory limit.
func CheckConfig(cfg kernels.Config) error {
	c := cfg
	switch {
	case c.TileM <= 0 || c.TileN <= 0 || c.TileK <= 0 || c.ThreadM <= 0 || c.ThreadN <= 0:
		return fmt.Errorf("config %s: non-positive tile sizes", c)
	case c.TileM%c.ThreadM != 0 || c.TileN%c.ThreadN != 0:
		return fmt.Errorf("config %s: thread blocking does not divide the tile", c)
	case c.Threads != (c.TileM/c.ThreadM)*(c.TileN/c.ThreadN):
		return fmt.Errorf("config %s: %d threads, the tile needs %d", c, c.Threads, (c.TileM/c.ThreadM)*(c.TileN/c.ThreadN))
	case c.Threads > 1024:
		return fmt.Errorf("config %s: %d threads per block", c, c.Threads)
	case c.Vec != 0 && c.Vec != 1 && c.Vec != 2 && c.Vec != 4:
		return fmt.Errorf("config %s: vector width %d", c, c.Vec)
	}
	v := max(c.Vec, 1)
	if c.TileM%v != 0 || c.TileN%v != 0 || c.TileK%v != 0 {
		return fmt.Errorf("config %s: vector width %d does not divide the tile", c, v)
	}
	if s := SharedBytes(c); s > maxStaticShared {
		return fmt.Errorf("config %s: %d bytes of shared memory (limit %d)", c, s, maxStaticShared)
	}
	return nil
}

// SharedBytes is the static shared memory of the mainloop for cfg (both stages of A and B).
func SharedBytes(cfg kernels.Config) int {
	return 2 * cfg.TileK * (cfg.TileM + smemPad + cfg.TileN + smemPad) * 4
}

// NewMainloop declares the shared tiles and computes the thread's place in the tile. Call it
// before protocol.Persistent (its registers are thread constants) and Run inside the tile body.
func NewMainloop(b *kir.Builder, cfg kernels.Config, k int) (*Mainloop, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	if k < 0 {
		return nil, fmt.Errorf("reduction length %d", k)
	}
	ml := &Mainloop{B: b, Cfg: cfg, K: k, lda: cfg.TileM + smemPad, ldb: cfg.TileN + smemPad}
	ml.stageA = cfg.TileK * ml.lda * 4
	ml.stageB = cfg.TileK * ml.ldb * 4
	ml.sa = b.Shared("gemm_as", kir.F32, 2*cfg.TileK*ml.lda)
	ml.sb = b.Shared("gemm_bs", kir.F32, 2*cfg.TileK*ml.ldb)
	ml.sharedUse = SharedBytes(cfg)
	ml.Tid = b.FlatTid()
	gx := cfg.TileN / cfg.ThreadN
	ml.Ty, ml.Tx = DivMod(b, ml.Tid, gx)
	ml.saBase, ml.sbBase = b.SharedBase(ml.sa), b.SharedBase(ml.sb)
	ml.aFrag = b.Mad(ml.Ty, b.ConstU32(uint32(cfg.ThreadM*4)), ml.saBase)
	ml.bFrag = b.Mad(ml.Tx, b.ConstU32(uint32(cfg.ThreadN*4)), ml.sbBase)
	ml.Acc = make([][]kir.Value, cfg.ThreadM)
	for i := range ml.Acc {
		ml.Acc[i] = make([]kir.Value, cfg.ThreadN)
		for j := range ml.Acc[i] {
			ml.Acc[i][j] = b.Var(b.ConstF32(0))
		}
	}
	return ml, nil
}

// Row is the tile-local row of accumulator row i of the thread (u32).
func (ml *Mainloop) Row(i int) kir.Value {
	b := ml.B
	return b.Add(b.Mul(ml.Ty, b.ConstU32(uint32(ml.Cfg.ThreadM))), b.ConstU32(uint32(i)))
}

// Col is the tile-local column of accumulator column j of the thread (u32).
func (ml *Mainloop) Col(j int) kir.Value {
	b := ml.B
	return b.Add(b.Mul(ml.Tx, b.ConstU32(uint32(ml.Cfg.ThreadN))), b.ConstU32(uint32(j)))
}

// A Loader emits the global loads of one operand's K slice [k0, k0+TileK) into registers
// (zeros outside the operand) and returns the code that stores those registers into the
// shared stage being filled, through Mainloop.StoreA or StoreB. Loads past K must be predicated
// off: the mainloop fetches one slice beyond the last.
type Loader func(k0 kir.Value) (store func())

// StoreA stores vals into the A stage being filled: along m (As[kk][m+j], one vector store; m
// must be a multiple of len(vals)) or along k (As[kk+j][m]). kk and m are u32.
func (ml *Mainloop) StoreA(kk, m kir.Value, alongM bool, vals ...kir.Value) {
	ml.store(ml.saBase, ml.lda, ml.dstA, kk, m, alongM, vals)
}

// StoreB stores vals into the B stage being filled: along n (Bs[kk][n+j], one vector store) or
// along k (Bs[kk+j][n]).
func (ml *Mainloop) StoreB(kk, n kir.Value, alongN bool, vals ...kir.Value) {
	ml.store(ml.sbBase, ml.ldb, ml.dstB, kk, n, alongN, vals)
}

func (ml *Mainloop) store(base kir.Value, ld int, stage kir.Value, kk, x kir.Value, alongX bool, vals []kir.Value) {
	b := ml.B
	addr := b.Add(b.Mul(b.Mad(kk, b.ConstU32(uint32(ld)), x), b.ConstU32(4)), b.Add(base, stage))
	if alongX {
		b.St(kir.Shared, addr, 0, vals...)
		return
	}
	for j, v := range vals {
		b.St(kir.Shared, addr, j*ld*4, v)
	}
}

// Run emits the tile's main loop: accumulators cleared, slice 0 loaded, then for every K slice
// the prefetch of the next slice, the product of the current one and the store of the next.
func (ml *Mainloop) Run(loadA, loadB Loader) {
	b, cfg := ml.B, ml.Cfg
	for i := range ml.Acc {
		for j := range ml.Acc[i] {
			b.Set(ml.Acc[i][j], b.ConstF32(0))
		}
	}
	if ml.K == 0 {
		return
	}
	zero := b.ConstU32(0)
	ml.curA, ml.curB = b.Var(zero), b.Var(zero)
	ml.dstA, ml.dstB = ml.curA, ml.curB
	sa, sb := loadA(zero), loadB(zero)
	sa()
	sb()
	b.Barrier()
	flipA, flipB := b.ConstU32(uint32(ml.stageA)), b.ConstU32(uint32(ml.stageB))
	bk := b.ConstU32(uint32(cfg.TileK))
	b.For(zero, b.ConstU32(uint32(ml.K)), bk, func(k0 kir.Value) {
		sa, sb := loadA(b.Add(k0, bk)), loadB(b.Add(k0, bk))
		ml.product()
		ml.dstA, ml.dstB = b.Xor(ml.curA, flipA), b.Xor(ml.curB, flipB)
		sa()
		sb()
		b.Barrier()
		b.Set(ml.curA, ml.dstA)
		b.Set(ml.curB, ml.dstB)
	})
}

// frag loads n consecutive floats from shared memory at [addr+off] in the widest vector loads
// the count allows.
func (ml *Mainloop) frag(addr kir.Value, off, n int) []kir.Value {
	b := ml.B
	var out []kir.Value
	for j := 0; j < n; {
		w := 1
		switch {
		case n-j >= 4 && j%4 == 0 && n%4 == 0:
			w = 4
		case n-j >= 2 && j%2 == 0 && n%2 == 0:
			w = 2
		}
		out = append(out, b.LdVec(kir.Shared, kir.F32, addr, off+4*j, w)...)
		j += w
	}
	return out
}

// product multiplies the current stage: for every kk of the slice, the thread's A and B
// fragments from shared memory and ThreadM x ThreadN FMAs into the accumulators.
func (ml *Mainloop) product() {
	b, cfg := ml.B, ml.Cfg
	aAddr := b.Add(ml.aFrag, ml.curA)
	bAddr := b.Add(ml.bFrag, ml.curB)
	for kk := 0; kk < cfg.TileK; kk++ {
		av := ml.frag(aAddr, kk*ml.lda*4, cfg.ThreadM)
		bv := ml.frag(bAddr, kk*ml.ldb*4, cfg.ThreadN)
		for i, a := range av {
			for j, x := range bv {
				acc := ml.Acc[i][j]
				b.Emit(&kir.Inst{Op: kir.OpFma, T: kir.F32, Dst: []kir.Value{acc}, Args: []kir.Value{a, x, acc}})
			}
		}
	}
}

// DivMod emits x / d and x % d for a u32 x < 2^31 and a build-time constant d > 0: a shift and
// a mask for powers of two, else a multiply-high by the rounded-up reciprocal
// (m = ceil(2^(31+s)/d), s = ceil(log2 d), exact for x < 2^31).
func DivMod(b *kir.Builder, x kir.Value, d int) (q, r kir.Value) {
	switch {
	case d <= 0:
		b.Errorf("divmod by %d", d)
		return x, x
	case d == 1:
		return x, b.ConstU32(0)
	case d&(d-1) == 0:
		s := bits.TrailingZeros(uint(d))
		return b.Shr(x, b.ConstU32(uint32(s))), b.And(x, b.ConstU32(uint32(d-1)))
	}
	m, s := Magic(d)
	q = b.Shr(b.MulHi(x, b.ConstU32(m)), b.ConstU32(uint32(s-1)))
	r = b.Sub(x, b.Mul(q, b.ConstU32(uint32(d))))
	return q, r
}

// Magic is the multiplier and shift of DivMod for a d > 1 that is not a power of two:
// x/d = mulhi(x, m) >> (s-1) for x < 2^31.
func Magic(d int) (m uint32, s int) {
	s = bits.Len(uint(d - 1)) // ceil(log2 d)
	num := uint64(1) << (31 + s)
	return uint32((num + uint64(d) - 1) / uint64(d)), s
}
