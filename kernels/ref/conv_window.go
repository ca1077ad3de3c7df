package ref

import "math"

// Patch rows without im2col. The input of each group is copied once into "phase planes":
// for strides (sh, sw), plane (c, ph, pw) holds the input pixels (y*sh+ph, x*sw+pw) at
// (y, x), in rows as wide as the output (OW); with stride 1 that is the input itself. Then
// the patch-matrix row of input channel c and tap (kh, kw), at flat output position
// j = oh*OW + ow, is a phase plane read at its flat index dy*OW + dx + j: a window shifted
// by a constant, except where the tap falls into the padding, which a mask zeroes. The
// blocked GEMM's B packer reads those windows straight from the phase planes, so the patch
// matrix is never written out. This needs every phase plane to be at most OW wide, which
// holds for the usual paddings (the output as wide as the input over the stride).

// winConv is the window geometry of one convolution.
type winConv struct {
	taps            int
	dy, dx          []int // each tap's shift in rows and columns of its phase plane
	rows, cols      []int // each tap's phase plane size (rows, columns holding input)
	rowOff, rowTap  []int // each patch row's shift in the planes, and tap
	sh, sw          int
	oh, ow          int // output rows and columns (2-D view)
	ih, iw          int // input rows and columns
	plane           int // floats per phase plane: ceil(ih/sh) rows of ow
	guard, len      int // room before the planes in the copy; the copy's length
	maxShift, maxDy int // the largest |dy*ow+dx| and |dy| of a tap
}

// maxWinTaps bounds the taps of a window-packed convolution.
const maxWinTaps = 64

// windowOf returns the window geometry of l, or nil when its convolution does not have it.
func windowOf(l *convLayout) *winConv {
	g := &l.g
	if l.pointwise || g.k[0] != 1 || g.pb[0] != 0 || g.pe[0] != 0 || g.s[0] != 1 || g.in[0] != 1 || l.kvol > maxWinTaps {
		return nil
	}
	w := &winConv{taps: l.kvol, sh: g.s[1], sw: g.s[2], oh: g.out[1], ow: g.out[2], ih: g.in[1], iw: g.in[2]}
	if (w.iw+w.sw-1)/w.sw > w.ow {
		return nil
	}
	w.plane = (w.ih + w.sh - 1) / w.sh * w.ow
	nph := w.sh * w.sw
	base := make([]int, w.taps) // each tap's phase plane within a channel's planes
	maxShift := 0
	for kh := 0; kh < g.k[1]; kh++ {
		for kw := 0; kw < g.k[2]; kw++ {
			qh, qw := kh*g.d[1]-g.pb[1], kw*g.d[2]-g.pb[2]
			ph, pw := mod(qh, w.sh), mod(qw, w.sw)
			dy, dx := (qh-ph)/w.sh, (qw-pw)/w.sw
			base[kh*g.k[2]+kw] = (ph*w.sw + pw) * w.plane
			w.dy, w.dx = append(w.dy, dy), append(w.dx, dx)
			w.rows = append(w.rows, (w.ih-ph+w.sh-1)/w.sh)
			w.cols = append(w.cols, (w.iw-pw+w.sw-1)/w.sw)
			maxShift = max(maxShift, abs(dy*w.ow+dx))
			w.maxDy = max(w.maxDy, abs(dy))
		}
	}
	for c := 0; c < l.cg; c++ {
		for t := 0; t < w.taps; t++ {
			w.rowOff = append(w.rowOff, c*nph*w.plane+base[t]+w.dy[t]*w.ow+w.dx[t])
			w.rowTap = append(w.rowTap, t)
		}
	}
	// reads reach maxShift before the planes and up to maxShift + outSp + 16 past the start
	// of the last one
	w.guard, w.maxShift = maxShift, maxShift
	w.len = w.guard + l.cg*nph*w.plane + maxShift + l.outSp + nr
	return w
}

func mod(a, b int) int { return (a%b + b) % b }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// fill copies what the output positions [a, b) read of one group's input xg (cg planes of
// ih x iw) into buf (w.len floats) as its phase planes. Nothing else of buf is written: the
// packer reads other places (the room around the planes, the columns past the input, the
// rows other positions need) only where a mask zeroes what it read, whatever it is.
func (w *winConv) fill(xg, buf []float32, a, b int) {
	inSp := w.ih * w.iw
	planes := buf[w.guard:]
	if w.sh == 1 && w.sw == 1 && w.ow == w.iw { // the planes are the input
		lo, hi := max(0, a-w.maxShift), min(inSp, b+w.maxShift)
		for c := 0; c*inSp < len(xg); c++ {
			copy(planes[c*inSp+lo:c*inSp+hi], xg[c*inSp+lo:c*inSp+hi])
		}
		return
	}
	y0, y1 := max(0, a/w.ow-w.maxDy), min(w.plane/w.ow, (b-1)/w.ow+w.maxDy+1) // phase rows read
	for c := 0; c*inSp < len(xg); c++ {
		src := xg[c*inSp : (c+1)*inSp]
		for ih := y0 * w.sh; ih < min(w.ih, y1*w.sh); ih++ {
			row := src[ih*w.iw : (ih+1)*w.iw]
			y, ph := ih/w.sh, ih%w.sh
			for pw := 0; pw < w.sw && pw < w.iw; pw++ {
				dst := planes[(c*w.sh*w.sw+ph*w.sw+pw)*w.plane+y*w.ow:]
				dst = dst[:(w.iw-pw+w.sw-1)/w.sw]
				if w.sw == 1 {
					copy(dst, row)
					continue
				}
				for x, s := 0, pw; x < len(dst); x, s = x+1, s+w.sw {
					dst[x] = row[s]
				}
			}
		}
	}
}

// winOnes is the all-ones masks of a sliver no tap of which falls into the padding.
var winOnes = func() (m [maxWinTaps * nr]float32) {
	for i := range m {
		m[i] = math.Float32frombits(^uint32(0))
	}
	return m
}()

// packer returns the B packer for output positions [a, b) of the input copied by fill into
// buf.
func (w *winConv) packer(buf []float32, a, b int) bPacker {
	return func(pc, kc, jc, nc int, dst []float32) {
		var masks [maxWinTaps * nr]float32
		for s := 0; s*nr < nc; s++ {
			j0 := a + jc + s*nr
			m := &winOnes[0]
			if !w.interior(j0, b) {
				w.masks(j0, b, masks[:w.taps*nr])
				m = &masks[0]
			}
			packWin16(kc, &w.rowOff[pc], &w.rowTap[pc], m, &buf[w.guard+j0], &dst[s*kc*nr])
		}
	}
}

// interior reports whether every tap is inside the input for the 16 positions from j0
// (all before b, in one output row).
func (w *winConv) interior(j0, b int) bool {
	oh, ow := j0/w.ow, j0%w.ow
	if j0+nr > b || ow+nr > w.ow {
		return false
	}
	for t := 0; t < w.taps; t++ {
		if y, x := oh+w.dy[t], ow+w.dx[t]; y < 0 || y >= w.rows[t] || x < 0 || x+nr > w.cols[t] {
			return false
		}
	}
	return true
}

// masks writes the masks of the 16 positions from j0 (those from b on are zero) for each tap.
func (w *winConv) masks(j0, b int, masks []float32) {
	ones := winOnes[0]
	oh, ow := j0/w.ow, j0%w.ow
	if ow+nr <= w.ow { // one output row: per tap, the row is in or out, the columns an interval
		end := min(nr, b-j0)
		for t := 0; t < w.taps; t++ {
			m := masks[t*nr : (t+1)*nr]
			lo, hi := 0, 0
			if y := oh + w.dy[t]; y >= 0 && y < w.rows[t] {
				lo, hi = max(0, -w.dx[t]-ow), min(end, w.cols[t]-w.dx[t]-ow)
			}
			for q := range m {
				m[q] = 0
				if q >= lo && q < hi {
					m[q] = ones
				}
			}
		}
		return
	}
	for q := 0; q < nr; q++ {
		for t := 0; t < w.taps; t++ {
			y, x := oh+w.dy[t], ow+w.dx[t]
			m := ones
			if j0+q >= b || y < 0 || y >= w.rows[t] || x < 0 || x >= w.cols[t] {
				m = 0
			}
			masks[t*nr+q] = m
		}
		if ow++; ow == w.ow {
			oh, ow = oh+1, 0
		}
	}
}
