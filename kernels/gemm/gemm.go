package gemm

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/epilogue"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Params is one (batched) GEMM: for every batch index, Y = Act(Alpha*op(A)*op(B) + Beta*C)
// with ref.GemmParams' meaning of M, N, K, TransA, TransB, Alpha, Beta and Act.
//
// Buffers: A holds the batch's matrices [M, K] ([K, M] when TransA) and B [K, N] ([N, K] when
// TransB), at the batch strides below; Y is [batch..., M, N] contiguous; C (when HasC and
// Beta != 0) has shape CShape of rank <= 2 broadcasting to [M, N] numpy-style, the same for
// every batch index. Every buffer must be 16-byte aligned (vector loads and stores).
type Params struct {
	ref.GemmParams
	Batch        []int // batch dims of Y; empty: one matrix
	BatchStrideA []int // per batch dim, A's stride in elements (0: broadcast); len(Batch) entries
	BatchStrideB []int
	HasC         bool
	CShape       []int
}

// MatMul returns the Params of numpy matmul of a [..., M, K] by b [..., K, N] with batch
// broadcasting (ONNX MatMul); rank-1 operands are promoted as numpy does (the caller drops the
// added dim from Y's shape).
func MatMul(ashape, bshape []int) (Params, error) {
	if len(ashape) == 0 || len(bshape) == 0 {
		return Params{}, fmt.Errorf("matmul of a scalar (shapes %v, %v)", ashape, bshape)
	}
	as, bs := ashape, bshape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return Params{}, fmt.Errorf("matmul shapes %v and %v: inner dims %d and %d differ", ashape, bshape, k, k2)
	}
	ab, bb := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := ref.BroadcastShape(ab, bb)
	if err != nil {
		return Params{}, fmt.Errorf("matmul batch dims of %v and %v: %w", ashape, bshape, err)
	}
	p := Params{GemmParams: ref.GemmParams{M: m, N: n, K: k, Alpha: 1}, Batch: batch}
	strides := func(dims []int, mat int) []int {
		st := make([]int, len(batch))
		s := mat
		for d := len(batch) - 1; d >= 0; d-- {
			j := d - (len(batch) - len(dims))
			if j >= 0 && dims[j] != 1 {
				st[d] = s
				s *= dims[j]
			}
		}
		return st
	}
	p.BatchStrideA, p.BatchStrideB = strides(ab, m*k), strides(bb, k*n)
	return p, nil
}

// Configs returns the tile configurations worth trying for p, best guesses first; the
// compiler's cost model picks among them.
func Configs(p ref.GemmParams) []kernels.Config {
	all := []kernels.Config{
		{Threads: 256, TileM: 64, TileN: 64, TileK: 8, ThreadM: 4, ThreadN: 4},
		{Threads: 256, TileM: 128, TileN: 64, TileK: 8, ThreadM: 8, ThreadN: 4},
		{Threads: 256, TileM: 64, TileN: 128, TileK: 8, ThreadM: 4, ThreadN: 8},
		{Threads: 128, TileM: 32, TileN: 64, TileK: 16, ThreadM: 4, ThreadN: 4},
		{Threads: 64, TileM: 32, TileN: 32, TileK: 16, ThreadM: 4, ThreadN: 4},
		{Threads: 128, TileM: 16, TileN: 64, TileK: 16, ThreadM: 2, ThreadN: 4},
		{Threads: 64, TileM: 8, TileN: 64, TileK: 16, ThreadM: 2, ThreadN: 4},
	}
	vec := 1
	if p.K%4 == 0 || p.N%4 == 0 || (p.TransA && p.M%4 == 0) {
		vec = 4
	}
	fits := func(tile, extent, small int) bool { return tile <= small || tile/2 < extent }
	var out []kernels.Config
	for _, c := range all {
		if fits(c.TileM, p.M, 16) && fits(c.TileN, p.N, 32) {
			c.Vec = vec
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		c := all[len(all)-1]
		c.Vec = vec
		out = append(out, c)
	}
	return out
}

// vecFor is the widest width <= want dividing every one of the values.
func vecFor(want int, vals ...int) int {
	for _, w := range []int{4, 2} {
		if w > want {
			continue
		}
		ok := true
		for _, v := range vals {
			ok = ok && v%w == 0
		}
		if ok {
			return w
		}
	}
	return 1
}

// CStrides returns C's row and column strides in elements for a C of shape cshape broadcast to
// [m, n].
func CStrides(cshape []int, m, n int) (rs, cs int, err error) {
	if len(cshape) > 2 {
		return 0, 0, fmt.Errorf("C of rank %d", len(cshape))
	}
	sh := append(make([]int, 2-len(cshape)), cshape...)
	if len(cshape) < 2 {
		sh[0] = 1
	}
	if len(cshape) < 1 {
		sh[1] = 1
	}
	if (sh[0] != m && sh[0] != 1) || (sh[1] != n && sh[1] != 1) {
		return 0, 0, fmt.Errorf("C of shape %v does not broadcast to [%d %d]", cshape, m, n)
	}
	if sh[1] != 1 {
		cs = 1
	}
	if sh[0] != 1 {
		rs = sh[1]
	}
	return rs, cs, nil
}

func prod(v []int) int {
	n := 1
	for _, x := range v {
		n *= x
	}
	return n
}

// Build instantiates the GEMM template for p and cfg. Argument roles, in order: the control
// block, the trace buffer, "a", "b", "c" (only when HasC and Beta != 0), "y".
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	fail := func(err error) (*kernels.Instance, error) {
		return nil, fmt.Errorf("gemm %dx%dx%d (%s): %w", p.M, p.N, p.K, cfg, err)
	}
	if p.M <= 0 || p.N <= 0 || p.K < 0 {
		return fail(fmt.Errorf("empty or negative problem"))
	}
	if len(p.BatchStrideA) != len(p.Batch) || len(p.BatchStrideB) != len(p.Batch) {
		return fail(fmt.Errorf("batch dims %v with strides %v, %v", p.Batch, p.BatchStrideA, p.BatchStrideB))
	}
	nb := prod(p.Batch)
	if nb <= 0 {
		return fail(fmt.Errorf("batch dims %v", p.Batch))
	}
	for d := range p.Batch {
		if p.BatchStrideA[d] < 0 || p.BatchStrideB[d] < 0 {
			return fail(fmt.Errorf("negative batch stride"))
		}
	}
	if err := epilogue.Check(p.Act); err != nil {
		return fail(err)
	}
	if err := CheckConfig(cfg); err != nil {
		return fail(err)
	}
	hasC := p.HasC && p.Beta != 0
	crs, ccs := 0, 0
	if hasC {
		var err error
		if crs, ccs, err = CStrides(p.CShape, p.M, p.N); err != nil {
			return fail(err)
		}
	}
	// extents of A, B, Y in elements must stay below 2^31 for the u32 index arithmetic
	aSpan, bSpan := p.M*p.K, p.K*p.N
	for d, n := range p.Batch {
		aSpan += (n - 1) * p.BatchStrideA[d]
		bSpan += (n - 1) * p.BatchStrideB[d]
	}
	if aSpan >= math.MaxInt32 || bSpan >= math.MaxInt32 || nb*p.M*p.N >= math.MaxInt32 {
		return fail(fmt.Errorf("operands of more than 2^31 elements"))
	}
	tilesM, tilesN := (p.M+cfg.TileM-1)/cfg.TileM, (p.N+cfg.TileN-1)/cfg.TileN
	tiles := nb * tilesM * tilesN
	if tiles >= math.MaxInt32 {
		return fail(fmt.Errorf("%d tiles", tiles))
	}

	want := max(cfg.Vec, 1)
	lda, ldb := p.K, p.N
	if p.TransA {
		lda = p.M
	}
	if p.TransB {
		ldb = p.K
	}
	va := vecFor(want, append([]int{lda, p.K}, p.BatchStrideA...)...) // k contiguous: K, LD
	if p.TransA {
		va = vecFor(want, append([]int{lda, p.M}, p.BatchStrideA...)...)
	}
	vb := vecFor(want, append([]int{ldb, p.N}, p.BatchStrideB...)...)
	if p.TransB {
		vb = vecFor(want, append([]int{ldb, p.K}, p.BatchStrideB...)...)
	}
	vy := vecFor(want, cfg.ThreadN, p.N)

	name := fmt.Sprintf("gemm_m%d_n%d_k%d", p.M, p.N, p.K)
	if p.TransA {
		name += "_ta"
	}
	if p.TransB {
		name += "_tb"
	}
	if a := epilogue.Name(p.Act); a != "" {
		name += "_" + a
	}
	name += "_" + cfg.String()

	b := kir.NewKernel(name, target)
	ctl, trace := b.ParamPtr("ctl"), b.ParamPtr("trace")
	pa, pb := b.ParamPtr("a"), b.ParamPtr("b")
	args := []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}, {Kind: kernels.ArgTrace, Name: "trace"},
		{Kind: kernels.ArgBuffer, Name: "a"}, {Kind: kernels.ArgBuffer, Name: "b"}}
	var pc kir.Value
	if hasC {
		pc = b.ParamPtr("c")
		args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "c"})
	}
	py := b.ParamPtr("y")
	args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "y"})

	ml, err := NewMainloop(b, cfg, p.K)
	if err != nil {
		return fail(err)
	}
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		bidx, r := DivMod(b, tile, tilesM*tilesN)
		tm, tn := DivMod(b, r, tilesN)
		m0 := b.Mul(tm, b.ConstU32(uint32(cfg.TileM)))
		n0 := b.Mul(tn, b.ConstU32(uint32(cfg.TileN)))
		var offA, offB kir.Value
		if len(p.Batch) > 0 {
			offA, offB = batchOffsets(b, bidx, p.Batch, p.BatchStrideA, p.BatchStrideB)
		}
		la := ml.Loader(Operand{Ptr: pa, Base: offA, X0: m0, Extent: p.M, KContig: !p.TransA, LD: lda, Vec: va}, true)
		lb := ml.Loader(Operand{Ptr: pb, Base: offB, X0: n0, Extent: p.N, KContig: p.TransB, LD: ldb, Vec: vb}, false)
		ml.Run(la, lb)
		yBase := b.Mul(bidx, b.ConstU32(uint32(p.M*p.N)))
		out := func(i, j, w int, m, n kir.Value) {
			vals := make([]kir.Value, w)
			for jj := range vals {
				v := ml.Acc[i][j+jj]
				if p.Alpha != 1 {
					v = b.Mul(v, b.ConstF32(p.Alpha))
				}
				vals[jj] = v
			}
			if hasC {
				cidx := b.Add(b.Mul(m, b.ConstU32(uint32(crs))), b.Mul(n, b.ConstU32(uint32(ccs))))
				var cv []kir.Value
				if ccs == 1 && w > 1 {
					cv = b.LdVec(kir.Global, kir.F32, b.Index(pc, cidx, 4), 0, w)
				} else {
					c := b.LoadF32(pc, cidx)
					for range w {
						cv = append(cv, c)
					}
				}
				for jj := range vals {
					vals[jj] = b.Fma(b.ConstF32(p.Beta), cv[jj], vals[jj])
				}
			}
			for jj := range vals {
				vals[jj] = epilogue.Apply(b, p.Act, vals[jj])
			}
			yi := b.Add(yBase, b.Mad(m, b.ConstU32(uint32(p.N)), n))
			b.St(kir.Global, b.Index(py, yi, 4), 0, vals...)
		}
		for i := 0; i < cfg.ThreadM; i++ {
			m := b.Add(m0, ml.Row(i))
			b.If(b.Lt(m, b.ConstU32(uint32(p.M))), func() {
				for j := 0; j < cfg.ThreadN; j += vy {
					n := b.Add(n0, ml.Col(j))
					b.If(b.Lt(n, b.ConstU32(uint32(p.N))), func() { out(i, j, vy, m, n) })
				}
			})
		}
	}, protocol.Options{Trace: trace})
	k, err := b.Build()
	if err != nil {
		return fail(err)
	}
	_, static := k.SharedLayout()
	aElems, bElems := p.M*p.K, p.K*p.N
	for d, n := range p.Batch {
		if p.BatchStrideA[d] != 0 {
			aElems *= n
		}
		if p.BatchStrideB[d] != 0 {
			bElems *= n
		}
	}
	read := int64(aElems + bElems)
	if hasC {
		read += int64(max(crs*p.M, 1) * max(ccs*p.N, 1))
	}
	in := &kernels.Instance{Name: name, Family: "gemm", Kernel: k, Config: cfg, Threads: cfg.Threads,
		SharedBytes: static, Tiles: tiles, Args: args,
		Work: kernels.Work{FLOPs: 2 * int64(nb) * int64(p.M) * int64(p.N) * int64(p.K),
			BytesRead: 4 * read, BytesWritten: 4 * int64(nb) * int64(p.M) * int64(p.N)}}
	if err := in.Validate(); err != nil {
		return fail(err)
	}
	return in, nil
}

// batchOffsets decomposes the batch index into the batch dims (last fastest) and returns A's
// and B's element offsets.
func batchOffsets(b *kir.Builder, bidx kir.Value, dims, sa, sb []int) (offA, offB kir.Value) {
	offA, offB = b.ConstU32(0), b.ConstU32(0)
	rest := bidx
	for d := len(dims) - 1; d >= 0; d-- {
		q, r := DivMod(b, rest, dims[d])
		if sa[d] != 0 {
			offA = b.Mad(r, b.ConstU32(uint32(sa[d])), offA)
		}
		if sb[d] != 0 {
			offB = b.Mad(r, b.ConstU32(uint32(sb[d])), offB)
		}
		rest = q
	}
	return offA, offB
}
