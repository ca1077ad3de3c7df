package ref

// A blocked SGEMM around the 6x16 AVX2/FMA micro-kernel: A is packed once into 6-row
// slivers (alpha applied), each worker takes a range of columns, packs 16-column slivers
// of B per K block and runs the micro-kernel over them.
const (
	mr, nr = 6, 16
	kcBlk  = 256
	ncBlk  = 1024
)

// useFast says whether a product is worth the packing.
func useFast(m, n, k int) bool { return haveFMA && m*n*k >= 4096 && n >= 8 }

func sgemmFast(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, w int) {
	// scale C by beta
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	mp := (m + mr - 1) / mr
	// packed A: for each K block, mp slivers of [kc][6]
	ap := getBuf(mp * mr * k)
	defer putBuf(ap)
	for pc := 0; pc < k; pc += kcBlk {
		kc := min(kcBlk, k-pc)
		blk := ap[pc*mp*mr:]
		for s := 0; s < mp; s++ {
			dst := blk[s*kc*mr : (s+1)*kc*mr]
			for r := 0; r < mr; r++ {
				i := s*mr + r
				if i >= m {
					for l := 0; l < kc; l++ {
						dst[l*mr+r] = 0
					}
					continue
				}
				if transA {
					for l := 0; l < kc; l++ {
						dst[l*mr+r] = alpha * a[(pc+l)*lda+i]
					}
				} else {
					src := a[i*lda+pc : i*lda+pc+kc]
					for l, v := range src {
						dst[l*mr+r] = alpha * v
					}
				}
			}
		}
	}
	nSliv := (n + nr - 1) / nr
	grain := max(1, (1<<16)/max(1, m*k/nr))
	parallelFor(nSliv, grain, w, func(s0, s1 int) {
		j0, j1 := s0*nr, min(s1*nr, n)
		bp := getBuf(kcBlk * ncBlk)
		defer putBuf(bp)
		var tmp [mr * nr]float32
		for jc := j0; jc < j1; jc += ncBlk {
			nc := min(ncBlk, j1-jc)
			ns := (nc + nr - 1) / nr
			for pc := 0; pc < k; pc += kcBlk {
				kc := min(kcBlk, k-pc)
				packB(transB, b, ldb, pc, kc, jc, nc, bp)
				ablk := ap[pc*mp*mr:]
				for js := 0; js < ns; js++ {
					bs := bp[js*kc*nr:]
					jj := jc + js*nr
					cols := min(nr, n-jj)
					for s := 0; s < mp; s++ {
						as := ablk[s*kc*mr:]
						ii := s * mr
						rows := min(mr, m-ii)
						if rows == mr && cols == nr {
							sgemmKernel6x16(kc, &as[0], &bs[0], &c[ii*ldc+jj], ldc)
							continue
						}
						clear(tmp[:])
						sgemmKernel6x16(kc, &as[0], &bs[0], &tmp[0], nr)
						for r := 0; r < rows; r++ {
							crow := c[(ii+r)*ldc+jj : (ii+r)*ldc+jj+cols]
							for q := range crow {
								crow[q] += tmp[r*nr+q]
							}
						}
					}
				}
			}
		}
	})
}

// packB packs B[pc:pc+kc, jc:jc+nc] into slivers of [kc][16], zero-padding the last.
func packB(transB bool, b []float32, ldb, pc, kc, jc, nc int, bp []float32) {
	ns := (nc + nr - 1) / nr
	for s := 0; s < ns; s++ {
		dst := bp[s*kc*nr : (s+1)*kc*nr]
		j := jc + s*nr
		cols := min(nr, jc+nc-j)
		if !transB {
			if cols == nr {
				for l := 0; l < kc; l++ {
					copy(dst[l*nr:l*nr+nr], b[(pc+l)*ldb+j:(pc+l)*ldb+j+nr])
				}
				continue
			}
			for l := 0; l < kc; l++ {
				d := dst[l*nr : l*nr+nr]
				copy(d, b[(pc+l)*ldb+j:(pc+l)*ldb+j+cols])
				clear(d[cols:])
			}
			continue
		}
		for q := 0; q < nr; q++ {
			if q >= cols {
				for l := 0; l < kc; l++ {
					dst[l*nr+q] = 0
				}
				continue
			}
			src := b[(j+q)*ldb+pc : (j+q)*ldb+pc+kc]
			for l, v := range src {
				dst[l*nr+q] = v
			}
		}
	}
}
