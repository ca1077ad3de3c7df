package ref

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

var blasImpl gonum.Implementation

// sgemm computes c = alpha*op(a)*op(b) + beta*c for row-major matrices (gonum's layout).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	if haveFMA && m <= 4 && n*k >= 2048 {
		sgemmSkinny(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0)
		return
	}
	if haveFMA && n == 1 && ldc == 1 && (transB || ldb == 1) && m*k >= 2048 {
		// a matrix-vector product: C^T (1 x m) = B^T A^T, row i of A a dot product
		sgemmSkinny(false, !transA, 1, m, k, alpha, b, k, a, lda, beta, c, m, 0)
		return
	}
	if useFast(m, n, k) {
		sgemmFast(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	blasImpl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Activation is an activation fused into the epilogue of Gemm/MatMul/Conv.
type Activation struct {
	Op          UnaryOp // Identity for none; Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, ...
	Alpha, Beta float32
	// Bounded applies y = min(max(y, Lo), Hi) after Op: a Max and/or Min with constants that
	// followed the activation in the graph (Lo = -Inf or Hi = +Inf for a one-sided bound).
	// Lo and Hi must not be NaN.
	Bounded bool
	Lo, Hi  float32
}

// none reports an activation that leaves its input unchanged.
func (a Activation) none() bool { return a.Op == Identity && !a.Bounded }

func (a Activation) apply(x []float32) {
	if a.none() {
		return
	}
	if biasActTo(a, x, x, 0) {
		return
	}
	if a.Op != Identity {
		unaryRange(UnaryParams{Op: a.Op, Alpha: a.Alpha, Beta: a.Beta}, x, x)
	}
	a.bound(x)
}

// bound applies the Bounded step in place.
func (a Activation) bound(x []float32) {
	if a.Bounded {
		clampAddTo(x, x, 0, a.Lo, a.Hi)
	}
}

// clamp gives the bounds of an activation that is a clamp (Identity, Relu, Clip, each with
// or without Bounded) when the vector loops are available.
func (a Activation) clamp() (lo, hi float32, ok bool) {
	if !haveFMA {
		return 0, 0, false
	}
	inf := float32(math.Inf(1))
	switch a.Op {
	case Identity:
		lo, hi = -inf, inf
	case Relu:
		lo, hi = 0, inf
	case Clip:
		lo, hi = a.Alpha, a.Beta
	default:
		return 0, 0, false
	}
	if a.Bounded { // clamp(clamp(x, lo, hi), Lo, Hi) == clamp(x, clamp(lo, Lo, Hi), clamp(hi, Lo, Hi))
		lo, hi = min(max(lo, a.Lo), a.Hi), min(max(hi, a.Lo), a.Hi)
	}
	return lo, hi, true
}

// GemmParams is ONNX Gemm: Y = Alpha*op(A)*op(B) + Beta*C, A is MxK after op, B KxN.
type GemmParams struct {
	M, N, K        int
	TransA, TransB bool
	Alpha, Beta    float32
	Act            Activation
}

// Gemm computes p into out (M*N). c (may be nil) has shape cshape and broadcasts to [M, N].
func Gemm(p GemmParams, a, b, c []float32, cshape []int, out []float32) error {
	if p.M < 0 || p.N < 0 || p.K < 0 {
		return fmt.Errorf("gemm: negative size %dx%dx%d", p.M, p.N, p.K)
	}
	if len(a) != p.M*p.K || len(b) != p.K*p.N || len(out) != p.M*p.N {
		return fmt.Errorf("gemm: operands of %d, %d, %d elements for M=%d N=%d K=%d", len(a), len(b), len(out), p.M, p.N, p.K)
	}
	beta := float32(0)
	if c != nil && p.Beta != 0 {
		if len(cshape) > 2 {
			return fmt.Errorf("gemm: C has rank %d", len(cshape))
		}
		ce, err := Expand(c, cshape, []int{p.M, p.N})
		if err != nil {
			return fmt.Errorf("gemm: C of shape %v: %w", cshape, err)
		}
		if len(ce) != len(out) {
			return fmt.Errorf("gemm: C of shape %v does not broadcast to [%d %d]", cshape, p.M, p.N)
		}
		copy(out, ce)
		beta = p.Beta
	}
	lda, ldb := p.K, p.N
	if p.TransA {
		lda = p.M
	}
	if p.TransB {
		ldb = p.K
	}
	sgemm(p.TransA, p.TransB, p.M, p.N, p.K, p.Alpha, a, lda, b, ldb, beta, out, p.N)
	p.Act.apply(out)
	return nil
}

// MatMul is numpy matmul on float32 with batch broadcasting: a [..., M, K] x b [..., K, N].
// Rank-1 operands are promoted as numpy does and the added dim removed from the result.
func MatMul(a []float32, ashape []int, b []float32, bshape []int, w int) ([]float32, []int, error) {
	if len(ashape) == 0 || len(bshape) == 0 {
		return nil, nil, fmt.Errorf("matmul of a scalar (shapes %v, %v)", ashape, bshape)
	}
	if len(a) != prod(ashape) || len(b) != prod(bshape) {
		return nil, nil, fmt.Errorf("matmul data does not match shapes %v, %v", ashape, bshape)
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
		return nil, nil, fmt.Errorf("matmul shapes %v and %v: inner dims %d and %d differ", ashape, bshape, k, k2)
	}
	batch, err := BroadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, nil, fmt.Errorf("matmul batch dims of %v and %v: %w", ashape, bshape, err)
	}
	var oshape []int
	oshape = append(oshape, batch...)
	if len(ashape) > 1 {
		oshape = append(oshape, m)
	}
	if len(bshape) > 1 {
		oshape = append(oshape, n)
	}
	nb := prod(batch)
	out := make([]float32, nb*m*n)
	if len(out) == 0 {
		return out, oshape, nil
	}
	// b shared by every batch: one big GEMM over the stacked rows of a
	if prod(bs[:len(bs)-2]) == 1 && prod(as[:len(as)-2]) == nb {
		sgemm(false, false, nb*m, n, k, 1, a, k, b, n, 0, out, n)
		return out, oshape, nil
	}
	ab := BroadcastStrides(as[:len(as)-2], batch)
	bb := BroadcastStrides(bs[:len(bs)-2], batch)
	offs := func(i int) (int, int) {
		oa, ob := 0, 0
		for d := len(batch) - 1; d >= 0; d-- {
			x := i % batch[d]
			i /= batch[d]
			oa += x * ab[d]
			ob += x * bb[d]
		}
		return oa * m * k, ob * k * n
	}
	grain := 1
	if m*n*k >= 1<<18 { // big enough for gonum's own parallelism
		grain = nb
	}
	parallelFor(nb, grain, w, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			oa, ob := offs(i)
			sgemm(false, false, m, n, k, 1, a[oa:oa+m*k], k, b[ob:ob+k*n], n, 0, out[i*m*n:(i+1)*m*n], n)
		}
	})
	return out, oshape, nil
}
