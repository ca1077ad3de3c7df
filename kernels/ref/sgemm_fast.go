package ref

import "math"

// A blocked SGEMM around the 6x16 AVX2/FMA micro-kernel. A is packed into 6-row slivers per
// K block (packA; constant convolution weights are packed once, see PackConv); B is packed
// per K block into 16-column slivers by the caller's packer (a plain matrix, or convolution
// patches read straight from the input, conv_window.go). Workers take column ranges, or row
// ranges when B is narrow; inside a task the A slivers of an L2-sized row block run against
// each B sliver held in L1. The kernel overwrites C on the first K block (or accumulates
// into it) and applies the epilogue (bias per row, LeakyRelu, clamp) on the last.
const (
	mr, nr = 6, 16
	kcBlk  = 256
	ncBlk  = 512
	mcSliv = 20 // A slivers per row block: 120 rows x 256 K = 120 KiB
)

// Micro-kernel flags (sgemmKernel6x16).
const (
	gemmAcc   = 1 // add the existing C
	gemmBias  = 2 // add bias[row]
	gemmLeaky = 4 // max(v, alpha*v)
	gemmClamp = 8 // min(max(v, lo), hi)
)

// gemmEpi is the epilogue applied with a GEMM's last K block.
type gemmEpi struct {
	flags         int       // gemmBias | gemmLeaky | gemmClamp
	bias          []float32 // per row of C, padded to whole slivers, when gemmBias
	lo, hi, alpha float32
}

// kernelEpi returns the epilogue for a bias per row (nil for none) and act: ok is false when
// the kernel cannot apply act itself (the caller applies it afterwards; the epilogue still
// adds the bias).
func kernelEpi(act Activation, bias []float32, m int) (ep gemmEpi, ok bool) {
	if bias != nil {
		ep.flags = gemmBias
		ep.bias = make([]float32, (m+mr-1)/mr*mr)
		copy(ep.bias, bias)
	}
	inf := float32(math.Inf(1))
	if act.Op == LeakyRelu && act.Alpha >= 0 && act.Alpha <= 1 {
		ep.flags |= gemmLeaky
		ep.alpha = act.Alpha
		ep.lo, ep.hi = -inf, inf
		if act.Bounded {
			ep.lo, ep.hi = act.Lo, act.Hi
		}
	} else {
		lo, hi, isClamp := act.clamp()
		if !isClamp {
			return ep, false
		}
		ep.lo, ep.hi = lo, hi
	}
	if ep.lo != -inf || ep.hi != inf {
		ep.flags |= gemmClamp
	}
	return ep, true
}

// useFast says whether a product is worth the packing.
func useFast(m, n, k int) bool { return haveFMA && m*n*k >= 4096 && n >= 8 }

// packedLen is the length of A packed for the micro-kernel.
func packedLen(m, k int) int { return (m + mr - 1) / mr * mr * k }

// packA packs alpha*op(A) (m x k) into dst (packedLen(m, k)): for each K block, the
// (m+5)/6 slivers of [kc][6], rows past m zero.
func packA(transA bool, m, k int, alpha float32, a []float32, lda int, dst []float32) {
	mp := (m + mr - 1) / mr
	for pc := 0; pc < k; pc += kcBlk {
		kc := min(kcBlk, k-pc)
		blk := dst[pc*mp*mr:]
		for s := 0; s < mp; s++ {
			d := blk[s*kc*mr : (s+1)*kc*mr]
			for r := 0; r < mr; r++ {
				i := s*mr + r
				switch {
				case i >= m:
					for l := 0; l < kc; l++ {
						d[l*mr+r] = 0
					}
				case transA:
					for l := 0; l < kc; l++ {
						d[l*mr+r] = alpha * a[(pc+l)*lda+i]
					}
				default:
					for l, v := range a[i*lda+pc : i*lda+pc+kc] {
						d[l*mr+r] = alpha * v
					}
				}
			}
		}
	}
}

// bPacker packs B[pc:pc+kc, jc:jc+nc] into slivers of [kc][16], zero-padding the last.
type bPacker func(pc, kc, jc, nc int, dst []float32)

// matrixB packs from a row-major B (or B transposed).
func matrixB(transB bool, b []float32, ldb int) bPacker {
	return func(pc, kc, jc, nc int, dst []float32) { packB(transB, b, ldb, pc, kc, jc, nc, dst) }
}

func sgemmFast(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, w int) {
	if beta != 0 && beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	ap := getBuf(packedLen(m, k))
	defer putBuf(ap)
	packA(transA, m, k, alpha, a, lda, ap)
	gemmPacked(ap, m, n, k, matrixB(transB, b, ldb), c, ldc, beta != 0, nil, w)
}

// gemmPacked computes C (m x n, row stride ldc) = A*B, plus the old C when acc, with the
// epilogue ep (nil for none), A packed by packA and B packed by packB, on up to w workers.
func gemmPacked(ap []float32, m, n, k int, pb bPacker, c []float32, ldc int, acc bool, ep *gemmEpi, w int) {
	if m == 0 || n == 0 {
		return
	}
	mp, nSliv := (m+mr-1)/mr, (n+nr-1)/nr
	w = min(workers(w), max(1, m*n*k/(1<<16)))
	// Workers split the columns, each reading all of A, or, for a B narrower than A is tall,
	// the rows, each packing all of B: one task per worker (more tasks would read A, or
	// pack B, once more each).
	var tasks [][4]int // sliver ranges: rows [0], [1]; columns [2], [3]
	switch {
	case w <= 1:
		tasks = [][4]int{{0, mp, 0, nSliv}}
	case mp >= 2*w && (m > n || nSliv < 2*w):
		for _, s := range splitRange(mp, w) {
			tasks = append(tasks, [4]int{s[0], s[1], 0, nSliv})
		}
	default:
		for _, s := range splitRange(nSliv, w) {
			tasks = append(tasks, [4]int{0, mp, s[0], s[1]})
		}
	}
	parallelForWake(len(tasks), 1, w, m*n*k >= wakeMACs, func(t0, t1 int) {
		bp := getBuf(min(kcBlk, k) * ncBlk)
		defer putBuf(bp)
		for _, t := range tasks[t0:t1] {
			gemmTask(ap, m, n, k, pb, c, ldc, acc, ep, t, bp)
		}
	})
}

// splitRange cuts [0, n) into up to parts nearly equal ranges.
func splitRange(n, parts int) [][2]int {
	parts = max(1, min(parts, n))
	out := make([][2]int, 0, parts)
	for i := 0; i < parts; i++ {
		out = append(out, [2]int{i * n / parts, (i + 1) * n / parts})
	}
	return out
}

// gemmTask runs the A slivers [t[0], t[1]) against the B slivers [t[2], t[3]).
func gemmTask(ap []float32, m, n, k int, pb bPacker, c []float32, ldc int, acc bool, ep *gemmEpi, t [4]int, bp []float32) {
	mp := (m + mr - 1) / mr
	j0, j1 := t[2]*nr, min(t[3]*nr, n)
	var tmp [mr * nr]float32
	var zeroBias [mr]float32
	for jc := j0; jc < j1; jc += ncBlk {
		nc := min(ncBlk, j1-jc)
		ns := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += kcBlk {
			kc := min(kcBlk, k-pc)
			pb(pc, kc, jc, nc, bp)
			flags := 0
			if acc || pc > 0 {
				flags = gemmAcc
			}
			var lo, hi, alpha float32
			if ep != nil && pc+kc >= k {
				flags |= ep.flags
				lo, hi, alpha = ep.lo, ep.hi, ep.alpha
			}
			ablk := ap[pc*mp*mr:]
			for ic := t[0]; ic < t[1]; ic += mcSliv {
				ie := min(ic+mcSliv, t[1])
				for js := 0; js < ns; js++ {
					bs := &bp[js*kc*nr]
					jj := jc + js*nr
					cols := min(nr, n-jj)
					for s := ic; s < ie; s++ {
						as := &ablk[s*kc*mr]
						ii := s * mr
						rows := min(mr, m-ii)
						bias := &zeroBias[0]
						if flags&gemmBias != 0 {
							bias = &ep.bias[ii]
						}
						if rows == mr && cols == nr {
							sgemmKernel6x16(kc, as, bs, &c[ii*ldc+jj], ldc, flags, bias, lo, hi, alpha)
							continue
						}
						if flags&gemmAcc != 0 {
							for r := 0; r < rows; r++ {
								copy(tmp[r*nr:r*nr+cols], c[(ii+r)*ldc+jj:])
							}
						}
						sgemmKernel6x16(kc, as, bs, &tmp[0], nr, flags, bias, lo, hi, alpha)
						for r := 0; r < rows; r++ {
							copy(c[(ii+r)*ldc+jj:(ii+r)*ldc+jj+cols], tmp[r*nr:])
						}
					}
				}
			}
		}
	}
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
