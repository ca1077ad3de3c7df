package ref

// Conv over a range of output positions, for callers that cut one convolution into tiles
// (runtime/cpu's unit pool): ConvRange computes the flat output positions [j0, j1) of every
// image and channel, bit for bit as Conv computes them, when j0 and j1 are boundaries that
// ConvSpans hands out. Bit-identity holds because a range keeps Conv's choices: the same
// im2col column blocks, the same GEMM kernel (chosen from the whole block's width, not the
// range's), and range ends that fall on the kernels' own block edges (multiples of
// ConvRangeAlign columns from the block start: the register-blocked kernel's 16-column
// slivers and the skinny kernel's 64-column blocks), so every output element sees the same
// sequence of floating-point operations; the bias/activation epilogue runs on 64-aligned
// pieces of each plane, so its 8-wide vector loop and scalar tail cover the same elements.

import "fmt"

// ConvRangeAlign is the alignment of ConvRange's inner boundaries (in flat output positions).
const ConvRangeAlign = 64

// convLayout is the part of Conv's plan that ConvRange must reproduce.
type convLayout struct {
	g                                  spatial3
	cg, mg, kvol, K, inSp, outSp, colW int
	pointwise, depthwise               bool
}

func convLayoutOf(p ConvParams) (convLayout, error) {
	var l convLayout
	g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, p.PadsBegin, p.PadsEnd)
	if err != nil {
		return l, err
	}
	if err := g.outDims(false); err != nil {
		return l, err
	}
	if p.Group < 1 || p.C%p.Group != 0 || p.M%p.Group != 0 {
		return l, fmt.Errorf("group %d does not divide channels %d and filters %d", p.Group, p.C, p.M)
	}
	l.g = g
	l.cg, l.mg = p.C/p.Group, p.M/p.Group
	l.kvol = g.k[0] * g.k[1] * g.k[2]
	l.inSp = g.in[0] * g.in[1] * g.in[2]
	l.outSp = g.out[0] * g.out[1] * g.out[2]
	l.K = l.cg * l.kvol
	l.depthwise = l.cg == 1 && p.Group == p.C && p.C > 1 && len(p.In) <= 2 && l.kvol <= 49
	l.pointwise = l.kvol == 1 && g.s == [3]int{1, 1, 1} && g.pb == [3]int{} && g.pe == [3]int{}
	l.colW = l.outSp
	if !l.pointwise && l.K*l.outSp > maxColFloats {
		l.colW = max(64, maxColFloats/l.K)
	}
	return l, nil
}

// gemmKind is sgemm's choice of kernel for an m x n x k product.
type gemmKind int

const (
	gemmNone gemmKind = iota
	gemmZeroK
	gemmSkinnyKind
	gemmFastKind
	gemmGonum
)

func gemmKindOf(m, n, k int) gemmKind {
	switch {
	case m == 0 || n == 0:
		return gemmNone
	case k == 0:
		return gemmZeroK
	case haveFMA && m <= 4 && n*k >= 2048:
		return gemmSkinnyKind
	case useFast(m, n, k):
		return gemmFastKind
	}
	return gemmGonum
}

// block returns the im2col column block [c0, c1) holding position j.
func (l *convLayout) block(j int) (int, int) {
	c0 := j / l.colW * l.colW
	return c0, min(c0+l.colW, l.outSp)
}

// boundary reports whether j may end one range and start the next.
func (l *convLayout) boundary(j int) bool {
	if j <= 0 || j >= l.outSp {
		return j == 0 || j == l.outSp
	}
	if l.depthwise || j%ConvRangeAlign != 0 {
		return false
	}
	c0, c1 := l.block(j)
	if j == c0 {
		return true
	}
	if (j-c0)%ConvRangeAlign != 0 {
		return false
	}
	k := gemmKindOf(l.mg, c1-c0, l.K)
	return k == gemmSkinnyKind || k == gemmFastKind
}

// ConvSpans cuts the flat output positions [0, outSp) of p into at most parts ranges that
// ConvRange computes bit-identically to Conv; one range where p does not split (depthwise,
// or a product too small for the blocked GEMM kernels).
func ConvSpans(p ConvParams, parts int) ([][2]int, error) {
	l, err := convLayoutOf(p)
	if err != nil {
		return nil, fmt.Errorf("conv: %w", err)
	}
	if l.outSp == 0 {
		return nil, nil
	}
	parts = max(1, parts)
	size := (l.outSp + parts - 1) / parts
	size = max(ConvRangeAlign, (size+ConvRangeAlign-1)/ConvRangeAlign*ConvRangeAlign)
	var out [][2]int
	lo := 0
	for lo < l.outSp {
		hi := min(lo+size, l.outSp)
		for !l.boundary(hi) {
			hi = min((hi/ConvRangeAlign+1)*ConvRangeAlign, l.outSp)
		}
		out = append(out, [2]int{lo, hi})
		lo = hi
	}
	return out, nil
}

// ConvRange computes the flat output positions [j0, j1) of every image and output channel of
// Conv(p, x, w, bias, out) into out (the whole [N, M, out...] output); other positions are
// not written. j0 and j1 must be ends of ConvSpans's ranges (0, the output size, or other
// boundaries it allows); the result is then bit-identical to Conv's. Unlike Conv, the GEMMs
// run on p.Workers goroutines (0 = GOMAXPROCS).
func ConvRange(p ConvParams, x, w, bias, out []float32, j0, j1 int) error {
	l, err := convLayoutOf(p)
	if err != nil {
		return fmt.Errorf("conv: %w", err)
	}
	if len(x) != p.N*p.C*l.inSp {
		return fmt.Errorf("conv: input has %d elements, want %d", len(x), p.N*p.C*l.inSp)
	}
	if len(w) != p.M*l.K {
		return fmt.Errorf("conv: weight has %d elements, want %d (M=%d, C/group=%d, kernel %v)", len(w), p.M*l.K, p.M, l.cg, p.Kernel)
	}
	if bias != nil && len(bias) != p.M {
		return fmt.Errorf("conv: bias has %d elements, want %d", len(bias), p.M)
	}
	if len(out) != p.N*p.M*l.outSp {
		return fmt.Errorf("conv: output has %d elements, want %d", len(out), p.N*p.M*l.outSp)
	}
	if j0 < 0 || j1 > l.outSp || j0 > j1 || !l.boundary(j0) || !l.boundary(j1) {
		return fmt.Errorf("conv: output range [%d, %d) of %d positions is not one ConvSpans allows", j0, j1, l.outSp)
	}
	if j0 == j1 || p.N == 0 || p.M == 0 {
		return nil
	}
	if l.depthwise { // boundary allowed only the whole output
		depthwise(p, &l.g, x, w, bias, out)
		return nil
	}
	convSpan(p, &l, x, w, bias, out, j0, j1)
	return nil
}

// sgemmKind is sgemm (no transposes, alpha 1, beta 0) with the kernel kind chosen by the
// caller (from the whole product a part of which this is) and w workers.
func sgemmKind(kind gemmKind, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, w int) {
	switch kind {
	case gemmSkinnyKind:
		sgemmSkinny(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, w)
	case gemmFastKind:
		sgemmFast(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, w)
	default:
		sgemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
	}
}
