package ref

// sgemmSkinny is the GEMM for a few rows of A (batch-1 Gemm/MatMul layers): a matrix-vector
// product per row that streams B once, with vectorised axpy (B not transposed) or dot
// products (B transposed), split over columns between workers.
func sgemmSkinny(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, w int) {
	rows := make([][]float32, m)
	for i := range rows {
		if transA {
			r := make([]float32, k)
			for l := range r {
				r[l] = a[l*lda+i]
			}
			rows[i] = r
		} else {
			rows[i] = a[i*lda : i*lda+k]
		}
	}
	const colBlk = 64
	blocks := (n + colBlk - 1) / colBlk
	grain := max(1, (1<<15)/max(1, k*colBlk))
	parallelForWake(blocks, grain, w, m*n*k >= wakeMACs, func(b0, b1 int) {
		j0, j1 := b0*colBlk, min(b1*colBlk, n)
		if transB {
			for i, r := range rows {
				crow := c[i*ldc+j0 : i*ldc+j1]
				for j := range crow {
					v := alpha * dot(r, b[(j0+j)*ldb:(j0+j)*ldb+k])
					if beta != 0 {
						v += beta * crow[j]
					}
					crow[j] = v
				}
			}
			return
		}
		for i := range rows {
			crow := c[i*ldc+j0 : i*ldc+j1]
			switch beta {
			case 0:
				clear(crow)
			case 1:
			default:
				for j := range crow {
					crow[j] *= beta
				}
			}
		}
		for l := 0; l < k; l++ {
			brow := b[l*ldb+j0 : l*ldb+j1]
			for i, r := range rows {
				axpy(alpha*r[l], brow, c[i*ldc+j0:i*ldc+j1])
			}
		}
	})
}
