package cpu

// Tilings of the heavy ops (Conv, Gemm, MatMul and their fused forms) for Pool.Run. Every
// tile calls kernels/ref on a slice of the node's operands. To stay bit-identical with the
// untiled op, a split must not change which GEMM kernel kernels/ref picks for a sub-problem,
// nor the 6-row slivers of its register-blocked kernel: row blocks are multiples of gemmMR
// rows and keep gemmPath unchanged, column blocks (for GEMMs of up to 4 rows) are multiples
// of 64 columns. The tests compare tiled and untiled runs bit for bit, so a change of those
// rules in kernels/ref shows up there.

import (
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// gemmMR is the row count of kernels/ref's GEMM micro-kernel.
const gemmMR = 6

// gemmColBlock is the column block of kernels/ref's skinny GEMM.
const gemmColBlock = 64

// maxColFloats mirrors kernels/ref's bound on the im2col buffer.
const maxColFloats = 1 << 22

// gemmPath mirrors kernels/ref's choice of GEMM kernel for an m x n x k product.
func gemmPath(m, n, k int) int {
	switch {
	case m == 0 || n == 0:
		return 0
	case k == 0:
		return 1
	case m <= 4 && n*k >= 2048:
		return 2 // skinny
	case m*n*k >= 4096 && n >= 8:
		return 3 // register-blocked
	}
	return 4 // gonum
}

// spans cuts [0,total) into at most parts spans whose sizes are multiples of align (but the
// last).
func spans(total, parts, align int) [][2]int {
	if total <= 0 {
		return nil
	}
	parts = max(1, parts)
	size := (total + parts - 1) / parts
	size = max(align, (size+align-1)/align*align)
	var out [][2]int
	for lo := 0; lo < total; lo += size {
		out = append(out, [2]int{lo, min(lo+size, total)})
	}
	return out
}

// rowSpans splits m GEMM rows into at most parts blocks that keep kernels/ref's kernel for
// every column width in widths; nil when no split of more than one block does.
func rowSpans(m int, widths []int, k, parts int) [][2]int {
	for p := min(parts, m/gemmMR); p >= 2; p-- {
		sp := spans(m, p, gemmMR)
		if len(sp) < 2 {
			continue
		}
		ok := true
		for _, s := range sp {
			for _, w := range widths {
				if gemmPath(s[1]-s[0], w, k) != gemmPath(m, w, k) {
					ok = false
				}
			}
		}
		if ok {
			return sp
		}
	}
	return nil
}

// colSpans splits the n columns of a skinny GEMM (m <= 4 rows) into at most parts blocks that
// stay on the skinny kernel; nil when none does.
func colSpans(m, n, k, parts int) [][2]int {
	if gemmPath(m, n, k) != 2 {
		return nil
	}
	for p := min(parts, n/gemmColBlock); p >= 2; p-- {
		sp := spans(n, p, gemmColBlock)
		ok := len(sp) >= 2
		for _, s := range sp {
			ok = ok && gemmPath(m, s[1]-s[0], k) == 2
		}
		if ok {
			return sp
		}
	}
	return nil
}

// convTiles cuts a float32 Conv into (batch, output-channel block, output-position range)
// tiles; the position ranges (row bands of the flattened output) come from ref.ConvSpans and
// are computed by ref.ConvRange, bit for bit as ref.Conv. Depthwise convolutions are cut
// over channels only.
func convTiles(c *opCtx, act ref.Activation, w want) (*tiling, error) {
	if len(c.in) < 2 || len(c.in) > 3 {
		return nil, nil // the op reports the arity error
	}
	x, w8 := c.opt(0), c.opt(1)
	if x == nil || w8 == nil || x.DType != tensor.Float32 || w8.DType != tensor.Float32 || len(x.Shape) < 3 || len(w8.Shape) != len(x.Shape) {
		return nil, nil
	}
	xd, wd := x.Float32s(), w8.Float32s()
	r := len(x.Shape) - 2
	g, err := readGeometry(c, r, w8.Shape[2:])
	if err != nil {
		return nil, err
	}
	if err := g.resolvePads(x.Shape[2:]); err != nil {
		return nil, err
	}
	group := int(c.node.AttrInt("group", 1))
	p := ref.ConvParams{N: x.Shape[0], C: x.Shape[1], M: w8.Shape[0], Group: group, In: x.Shape[2:],
		Kernel: g.kernel, Strides: g.strides, Dilations: g.dilations, PadsBegin: g.pb, PadsEnd: g.pe, Act: act, Workers: 1}
	if group < 1 || w8.Shape[1]*group != p.C || p.M%group != 0 {
		return nil, nil
	}
	var bias []float32
	if b := c.opt(2); b != nil {
		if b.DType != tensor.Float32 || b.Len() != p.M {
			return nil, nil
		}
		bias = b.Float32s()
	}
	oshape, err := ref.ConvOutShape(p)
	if err != nil {
		return nil, err
	}
	cg, mg := p.C/group, p.M/group
	kvol, inSp, outSp := tensor.NumElements(g.kernel), tensor.NumElements(p.In), tensor.NumElements(oshape[2:])
	K := cg * kvol
	flops := 2 * float64(p.N) * float64(p.M) * float64(outSp) * float64(K)
	perN := (w.count(flops, p.N*p.M*max(1, outSp/ref.ConvRangeAlign)) + p.N - 1) / p.N
	depthwise := cg == 1 && group == p.C && p.C > 1 && r <= 2 && kvol <= 49
	var blocks [][2]int // output-channel blocks, each inside one group or whole groups
	switch {
	case perN <= 1 || outSp == 0:
	case mg > 4 && perN > group && !depthwise: // split inside the groups
		colW := outSp
		pointwise := kvol == 1 && allOnes(g.strides) && allZero(g.pb) && allZero(g.pe)
		if !pointwise && K*outSp > maxColFloats {
			colW = max(64, maxColFloats/K)
		}
		var widths []int
		for j0 := 0; j0 < outSp; j0 += colW {
			widths = append(widths, min(colW, outSp-j0))
		}
		rows := rowSpans(mg, widths, K, (perN+group-1)/group)
		for gi := 0; gi < group; gi++ {
			if rows == nil {
				blocks = append(blocks, [2]int{gi * mg, (gi + 1) * mg})
				continue
			}
			for _, s := range rows {
				blocks = append(blocks, [2]int{gi*mg + s[0], gi*mg + s[1]})
			}
		}
	case group > 1: // whole groups
		align := 1
		if depthwise {
			align = 2
		}
		for _, s := range spans(group, perN, align) {
			blocks = append(blocks, [2]int{s[0] * mg, s[1] * mg})
		}
		if depthwise { // the depthwise kernel needs two channels or more per block
			if l := len(blocks); l > 1 && blocks[l-1][1]-blocks[l-1][0] == mg {
				blocks[l-2][1] = blocks[l-1][1]
				blocks = blocks[:l-1]
			}
		}
	}
	if len(blocks) == 0 {
		blocks = [][2]int{{0, p.M}}
	}
	// sub is the convolution of one image and one output-channel block, with the input
	// channels that block reads starting at channel c0.
	sub := func(m0, m1 int) (ref.ConvParams, int) {
		s := p
		s.N, s.M = 1, m1-m0
		var c0, c1 int
		if m0%mg == 0 && m1%mg == 0 { // whole groups
			g0, g1 := m0/mg, m1/mg
			s.Group, c0, c1 = g1-g0, g0*cg, g1*cg
		} else {
			gi := m0 / mg
			s.Group, c0, c1 = 1, gi*cg, (gi+1)*cg
		}
		s.C = c1 - c0
		return s, c0
	}
	// Blocks too long for one tile are cut further over output positions (row bands of the
	// flattened output), at boundaries where kernels/ref stays bit-identical.
	type piece struct{ m0, m1, j0, j1 int }
	var pieces []piece
	colParts := (perN + len(blocks) - 1) / len(blocks)
	for _, b := range blocks {
		ranges := [][2]int{{0, outSp}}
		if colParts > 1 && !depthwise {
			s, _ := sub(b[0], b[1])
			if r, err := ref.ConvSpans(s, colParts); err == nil && len(r) > 0 {
				ranges = r
			}
		}
		for _, r := range ranges {
			pieces = append(pieces, piece{b[0], b[1], r[0], r[1]})
		}
	}
	if p.N == 1 && len(pieces) == 1 {
		return nil, nil
	}
	out := c.alloc(tensor.NumElements(oshape))
	c.out[0] = f32Tensor(oshape, out)
	np := len(pieces)
	return &tiling{n: p.N * np, tile: func(t int) error {
		n, pc := t/np, pieces[t%np]
		s, c0 := sub(pc.m0, pc.m1)
		var sb []float32
		if bias != nil {
			sb = bias[pc.m0:pc.m1]
		}
		xs := xd[(n*p.C+c0)*inSp : (n*p.C+c0+s.C)*inSp]
		ws := wd[pc.m0*K : pc.m1*K]
		os := out[(n*p.M+pc.m0)*outSp : (n*p.M+pc.m1)*outSp]
		return ref.ConvRange(s, xs, ws, sb, os, pc.j0, pc.j1)
	}}, nil
}

func allOnes(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

func allZero(v []int) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// gemmTiles cuts a float32 Gemm (with act applied as FusedGemm does) into row blocks, or for
// up to 4 rows into column blocks.
func gemmTiles(c *opCtx, act ref.Activation, w want) (*tiling, error) {
	if len(c.in) < 2 || len(c.in) > 3 {
		return nil, nil
	}
	a, b := c.opt(0), c.opt(1)
	if a == nil || b == nil || a.DType != tensor.Float32 || b.DType != tensor.Float32 || len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil, nil
	}
	p := ref.GemmParams{TransA: c.node.AttrInt("transA", 0) != 0, TransB: c.node.AttrInt("transB", 0) != 0,
		Alpha: c.node.AttrFloat("alpha", 1), Beta: c.node.AttrFloat("beta", 1)}
	p.M, p.K = a.Shape[0], a.Shape[1]
	if p.TransA {
		p.M, p.K = p.K, p.M
	}
	k2, n := b.Shape[0], b.Shape[1]
	if p.TransB {
		k2, n = n, k2
	}
	if k2 != p.K {
		return nil, nil
	}
	p.N = n
	var cd []float32
	var cm, cn int // C's shape as [rows, cols]
	if ct := c.opt(2); ct != nil && p.Beta != 0 {
		if ct.DType != tensor.Float32 || len(ct.Shape) > 2 {
			return nil, nil
		}
		cd = ct.Float32s()
		cm, cn = 1, 1
		if len(ct.Shape) == 2 {
			cm, cn = ct.Shape[0], ct.Shape[1]
		} else if len(ct.Shape) == 1 {
			cn = ct.Shape[0]
		}
		if (cm != 1 && cm != p.M) || (cn != 1 && cn != p.N) {
			return nil, nil
		}
	}
	ad, bd := a.Float32s(), b.Float32s()
	flops := 2 * float64(p.M) * float64(p.N) * float64(p.K)
	parts := w.count(flops, max(p.M, p.N))
	if parts < 2 {
		return nil, nil
	}
	unary := ref.UnaryParams{Op: act.Op, Alpha: act.Alpha, Beta: act.Beta}
	epilogue := func(o []float32) error {
		if act.Op == ref.Identity {
			return nil
		}
		return ref.Unary(unary, o, o)
	}
	if rows := rowSpans(p.M, []int{p.N}, p.K, parts); rows != nil && !p.TransA {
		out := c.alloc(p.M * p.N)
		c.out[0] = f32Tensor([]int{p.M, p.N}, out)
		return &tiling{n: len(rows), tile: func(t int) error {
			r0, r1 := rows[t][0], rows[t][1]
			sub := p
			sub.M = r1 - r0
			sc, cs := cd, []int{cm, cn}
			if cd != nil && cm == p.M && p.M > 1 {
				sc, cs = cd[r0*cn:r1*cn], []int{r1 - r0, cn}
			}
			if cd == nil {
				cs = nil
			}
			o := out[r0*p.N : r1*p.N]
			if err := ref.Gemm(sub, ad[r0*p.K:r1*p.K], bd, sc, cs, o); err != nil {
				return err
			}
			return epilogue(o)
		}}, nil
	}
	cols := colSpans(p.M, p.N, p.K, parts)
	if cols == nil {
		return nil, nil
	}
	out := c.alloc(p.M * p.N)
	c.out[0] = f32Tensor([]int{p.M, p.N}, out)
	return &tiling{n: len(cols), tile: func(t int) error {
		j0, j1 := cols[t][0], cols[t][1]
		nt := j1 - j0
		sub := p
		sub.N = nt
		var bs []float32
		if p.TransB { // B is [N, K]: a column block is a row block
			bs = bd[j0*p.K : j1*p.K]
		} else {
			bs = columns(bd, p.K, p.N, j0, j1)
		}
		var sc []float32
		var cs []int
		if cd != nil {
			sc, cs = cd, []int{cm, cn}
			if cn == p.N && p.N > 1 {
				sc, cs = columns(cd, cm, cn, j0, j1), []int{cm, nt}
			}
		}
		o := make([]float32, p.M*nt)
		if err := ref.Gemm(sub, ad, bs, sc, cs, o); err != nil {
			return err
		}
		if err := epilogue(o); err != nil {
			return err
		}
		for i := 0; i < p.M; i++ {
			copy(out[i*p.N+j0:i*p.N+j1], o[i*nt:(i+1)*nt])
		}
		return nil
	}}, nil
}

// columns copies columns [j0, j1) of a row-major rows x n matrix.
func columns(d []float32, rows, n, j0, j1 int) []float32 {
	nt := j1 - j0
	out := make([]float32, rows*nt)
	for i := 0; i < rows; i++ {
		copy(out[i*nt:(i+1)*nt], d[i*n+j0:i*n+j1])
	}
	return out
}

// matMulTiles cuts a float32 MatMul (FusedMatMul: plus bias and act) into blocks of rows of
// the stacked A when B is one matrix, into column blocks for up to 4 rows, and into ranges
// of the batch otherwise.
func matMulTiles(c *opCtx, fused bool, act ref.Activation, w want) (*tiling, error) {
	a, b := c.opt(0), c.opt(1)
	if a == nil || b == nil || a.DType != tensor.Float32 || b.DType != tensor.Float32 || len(a.Shape) < 1 || len(b.Shape) < 2 {
		return nil, nil
	}
	if (!fused && len(c.in) != 2) || (fused && len(c.in) > 3) {
		return nil, nil
	}
	var bias []float32
	if bt := c.opt(2); fused && bt != nil {
		bd := bt.Float32s()
		if bt.DType != tensor.Float32 || bd == nil {
			return nil, nil
		}
		if len(bd) != 1 && !(len(bt.Shape) > 0 && len(bd) == bt.Shape[len(bt.Shape)-1] && len(bd) == b.Shape[len(b.Shape)-1]) {
			return nil, nil
		}
		bias = bd
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return nil, nil
	}
	batch, err := ref.BroadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, nil
	}
	if fused && bias != nil && len(bias) != 1 && len(bias) != n {
		return nil, nil
	}
	oshape := append([]int(nil), batch...)
	if len(a.Shape) > 1 {
		oshape = append(oshape, m)
	}
	oshape = append(oshape, n)
	nb := tensor.NumElements(batch)
	ad, bd := a.Float32s(), b.Float32s()
	flops := 2 * float64(nb) * float64(m) * float64(n) * float64(k)
	unary := ref.UnaryParams{Op: act.Op, Alpha: act.Alpha, Beta: act.Beta}
	// epilogue adds the bias and applies act to rows of the output starting at column j0.
	epilogue := func(o []float32, width, j0 int) error {
		if bias != nil {
			for i := range o {
				o[i] += bias[(j0+i%width)%len(bias)]
			}
		}
		if fused && act.Op != ref.Identity {
			return ref.Unary(unary, o, o)
		}
		return nil
	}
	gemm := func(mm, nn int, a, b, o []float32) error {
		return ref.Gemm(ref.GemmParams{M: mm, N: nn, K: k, Alpha: 1}, a, b, nil, nil, o)
	}
	if tensor.NumElements(bs[:len(bs)-2]) == 1 && tensor.NumElements(as[:len(as)-2]) == nb { // one B
		rowsAll := nb * m
		parts := w.count(flops, max(rowsAll, n))
		if parts < 2 {
			return nil, nil
		}
		if rows := rowSpans(rowsAll, []int{n}, k, parts); rows != nil {
			out := c.alloc(rowsAll * n)
			c.out[0] = f32Tensor(oshape, out)
			return &tiling{n: len(rows), tile: func(t int) error {
				r0, r1 := rows[t][0], rows[t][1]
				o := out[r0*n : r1*n]
				if err := gemm(r1-r0, n, ad[r0*k:r1*k], bd, o); err != nil {
					return err
				}
				return epilogue(o, n, 0)
			}}, nil
		}
		cols := colSpans(rowsAll, n, k, parts)
		if cols == nil {
			return nil, nil
		}
		out := c.alloc(rowsAll * n)
		c.out[0] = f32Tensor(oshape, out)
		return &tiling{n: len(cols), tile: func(t int) error {
			j0, j1 := cols[t][0], cols[t][1]
			nt := j1 - j0
			o := make([]float32, rowsAll*nt)
			if err := gemm(rowsAll, nt, ad, columns(bd, k, n, j0, j1), o); err != nil {
				return err
			}
			if err := epilogue(o, nt, j0); err != nil {
				return err
			}
			for i := 0; i < rowsAll; i++ {
				copy(out[i*n+j0:i*n+j1], o[i*nt:(i+1)*nt])
			}
			return nil
		}}, nil
	}
	parts := w.count(flops, nb)
	if parts < 2 {
		return nil, nil
	}
	ab := broadcastStride(as[:len(as)-2], batch)
	bb := broadcastStride(bs[:len(bs)-2], batch)
	out := c.alloc(nb * m * n)
	c.out[0] = f32Tensor(oshape, out)
	ranges := spans(nb, parts, 1)
	return &tiling{n: len(ranges), tile: func(t int) error {
		for i := ranges[t][0]; i < ranges[t][1]; i++ {
			oa, ob := 0, 0
			for d, x := len(batch)-1, i; d >= 0; d-- {
				oa += (x % batch[d]) * ab[d]
				ob += (x % batch[d]) * bb[d]
				x /= batch[d]
			}
			oa, ob = oa*m*k, ob*k*n
			o := out[i*m*n : (i+1)*m*n]
			if err := gemm(m, n, ad[oa:oa+m*k], bd[ob:ob+k*n], o); err != nil {
				return err
			}
			if err := epilogue(o, n, 0); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// broadcastStride is the element stride (in matrices) of each dim of shape broadcast to
// oshape (right-aligned; 0 where broadcast).
func broadcastStride(shape, oshape []int) []int {
	st := make([]int, len(oshape))
	acc := 1
	for i := len(oshape) - 1; i >= 0; i-- {
		j := i - (len(oshape) - len(shape))
		if j < 0 {
			continue
		}
		if shape[j] != 1 {
			st[i] = acc
		}
		acc *= shape[j]
	}
	return st
}
