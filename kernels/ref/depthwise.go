package ref

import "math"

// depthwise is the direct convolution for group == C (one input channel per group), 1-D or
// 2-D: blocks of 8 channels on the channel-blocked kernel (depthwise8) where it applies, the
// other channels plane by plane (depthwisePlanes). Both give the same bits for a channel.
func depthwise(p ConvParams, g *spatial3, x, w, bias, out []float32) {
	m0 := 0
	if haveFMA && p.M == p.C && p.C >= 8 {
		m0 = p.C &^ 7
		depthwise8(p, g, x, w, bias, out)
	}
	if m0 < p.M {
		depthwisePlanes(p, g, x, w, bias, out, m0)
	}
}

// depthwisePlanes computes the output channels [m0, M) of every image one plane at a time.
// Each plane is copied once, zero-padded and split into its stride phases (sh*sw planes, so
// a tap reads a contiguous run of one phase); the output is accumulated in a "wide" layout
// whose rows have the phase width, which makes every kernel tap a single vectorised axpy
// over the whole plane. The valid columns are then copied out with bias and activation.
func depthwisePlanes(p ConvParams, g *spatial3, x, w, bias, out []float32, m0 int) {
	mult := p.M / p.C
	KH, KW := g.k[1], g.k[2]
	IH, IW := g.in[1], g.in[2]
	OH, OW := g.out[1], g.out[2]
	sh, sw := g.s[1], g.s[2]
	dh, dw := g.d[1], g.d[2]
	pt, pl := g.pb[1], g.pb[2]
	PH, PW := IH+g.pb[1]+g.pe[1], IW+g.pb[2]+g.pe[2]
	PHs, PWs := (PH+sh-1)/sh+1, (PW+sw-1)/sw // one slack row for the wide rows' overrun
	wideLen := (OH*PWs + 15) &^ 15           // whole vector pairs
	phSize := PHs*PWs + 16
	taps := KH * KW
	offs := make([]int, taps) // each tap's start in the phase planes
	for kh := 0; kh < KH; kh++ {
		for kw := 0; kw < KW; kw++ {
			yh, xw := kh*dh, kw*dw
			offs[kh*KW+kw] = ((yh%sh)*sw+xw%sw)*phSize + (yh/sh)*PWs + xw/sw
		}
	}
	grain := max(1, (1<<14)/max(1, OH*PWs*taps))
	lo, hi, isClamp := p.Act.clamp()
	if !isClamp {
		lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	mc := p.M - m0
	parallelForWake(p.N*mc, grain, p.Workers, p.N*mc*OH*OW*taps >= wakeMACs, func(c0, c1 int) {
		phases := getBuf(sh * sw * phSize)
		wide := getBuf(wideLen)
		defer putBuf(phases)
		defer putBuf(wide)
		lastSrc := -1
		for u := c0; u < c1; u++ {
			n, m := u/mc, m0+u%mc
			i := n*p.M + m
			if src := n*p.C + m/mult; src != lastSrc { // channel multipliers reuse the phases
				lastSrc = src
				splitPhases(x[src*IH*IW:(src+1)*IH*IW], IH, IW, pt, pl, sh, sw, phSize, PWs, phases)
			}
			var b float32
			if bias != nil {
				b = bias[m]
			}
			dwTaps(offs, w[m*taps:(m+1)*taps], phases, wide, b, lo, hi)
			dst := out[i*OH*OW : (i+1)*OH*OW]
			for oh := 0; oh < OH; oh++ {
				copy(dst[oh*OW:(oh+1)*OW], wide[oh*PWs:oh*PWs+OW])
			}
			if !isClamp {
				p.Act.apply(dst)
			}
		}
	})
}

// splitPhases writes the zero-padded plane src [IH, IW] (pads pt on top, pl on the left)
// as sh*sw phase planes with rows of PWs: padded (y, x) goes to phase (y%sh, x%sw) at
// (y/sh, x/sw). Phase planes start phSize apart.
func splitPhases(src []float32, IH, IW, pt, pl, sh, sw, phSize, PWs int, phases []float32) {
	clear(phases)
	for ih := 0; ih < IH; ih++ {
		y := ih + pt
		qh, ry := y%sh, y/sh
		row := src[ih*IW : (ih+1)*IW]
		if sw == 1 {
			base := qh*phSize + ry*PWs + pl
			copy(phases[base:base+IW], row)
			continue
		}
		for q := 0; q < sw; q++ {
			// padded x = iw+pl with x%sw == q: iw = q-pl (mod sw) upward, at x/sw onward
			iw0 := ((q-pl)%sw + sw) % sw
			if iw0 >= IW {
				continue
			}
			dst := phases[(qh*sw+q)*phSize+ry*PWs+(iw0+pl)/sw:]
			k := 0
			for iw := iw0; iw < IW; iw += sw {
				dst[k] = row[iw]
				k++
			}
		}
	}
}

// depthwise8 computes the channels [0, C&^7) of a depthwise convolution with one filter per
// channel (M == C) in blocks of 8 channels: the block's input planes are transposed once
// into a zero-padded buffer of 8-channel pixels, each output row is computed on 8 channels
// at once (every tap a vector FMA, in the same order as depthwisePlanes: the same bits) and
// transposed back into the output planes. Needs AVX2/FMA.
func depthwise8(p ConvParams, g *spatial3, x, w, bias, out []float32) {
	KH, KW := g.k[1], g.k[2]
	IH, IW := g.in[1], g.in[2]
	OH, OW := g.out[1], g.out[2]
	pt, pl := g.pb[1], g.pb[2]
	PH, PW := IH+pt+g.pe[1], IW+pl+g.pe[2]
	taps := KH * KW
	offs := make([]int, taps)
	for kh := 0; kh < KH; kh++ {
		for kw := 0; kw < KW; kw++ {
			offs[kh*KW+kw] = (kh*g.d[1]*PW + kw*g.d[2]) * 8
		}
	}
	lo, hi, isClamp := p.Act.clamp()
	flags := 0
	if isClamp && (!math.IsInf(float64(lo), -1) || !math.IsInf(float64(hi), 1)) {
		flags = gemmClamp
	}
	kern := 0 // the 3x3 kernels for strides 1 and 2 (both axes), dilation 1
	if KH == 3 && KW == 3 && g.d[1] == 1 && g.d[2] == 1 && g.s[1] == g.s[2] && g.s[1] <= 2 {
		kern = g.s[1]
	}
	blocks := p.C / 8
	inSp, outSp := IH*IW, OH*OW
	grain := max(1, (1<<11)/max(1, outSp*taps))
	parallelForWake(p.N*blocks, grain, p.Workers, p.N*p.C*outSp*taps >= wakeMACs, func(u0, u1 int) {
		pad := getBuf(PH * PW * 8)
		wb := getBuf(taps*8 + 8)
		defer putBuf(pad)
		defer putBuf(wb)
		var tin, tout []float32
		if IW%8 != 0 {
			tin = getBuf(inSp * 8)
			defer putBuf(tin)
		}
		if OW%8 == 0 {
			tout = getBuf(OW * 8)
		} else {
			tout = getBuf(outSp * 8)
		}
		defer putBuf(tout)
		clear(pad) // the borders stay zero; the interior is rewritten per block
		w8, b8 := wb[:taps*8], wb[taps*8:]
		for u := u0; u < u1; u++ {
			n, c0 := u/blocks, u%blocks*8
			for j := 0; j < 8; j++ {
				for t := 0; t < taps; t++ {
					w8[t*8+j] = w[(c0+j)*taps+t]
				}
				b8[j] = 0
				if bias != nil {
					b8[j] = bias[c0+j]
				}
			}
			xs := x[(n*p.C+c0)*inSp : (n*p.C+c0+8)*inSp]
			if IW%8 == 0 { // row by row straight into the padded buffer
				for ih := 0; ih < IH; ih++ {
					interleave8(xs[ih*IW:], inSp, IW, pad[((ih+pt)*PW+pl)*8:])
				}
			} else { // the whole plane at once (fewer leftover pixels), then its rows
				interleave8(xs, inSp, inSp, tin)
				for ih := 0; ih < IH; ih++ {
					copy(pad[((ih+pt)*PW+pl)*8:((ih+pt)*PW+pl+IW)*8], tin[ih*IW*8:])
				}
			}
			os := out[(n*p.M+c0)*outSp : (n*p.M+c0+8)*outSp]
			rowStep, step := g.s[1]*PW*8, g.s[2]*8
			rows := func(n, oh int) { // output rows [oh, oh+n) into tout
				src := &pad[oh*rowStep]
				switch kern {
				case 1:
					dw3x3s1Rows8(n, rowStep, OW, &w8[0], src, PW, &tout[0], &b8[0], flags, lo, hi)
				case 2:
					dw3x3s2Rows8(n, rowStep, OW, &w8[0], src, PW, &tout[0], &b8[0], flags, lo, hi)
				default:
					dwRows8(n, rowStep, OW, taps, &offs[0], &w8[0], src, step, &tout[0], &b8[0], flags, lo, hi)
				}
			}
			if OW%8 == 0 {
				for oh := 0; oh < OH; oh++ {
					rows(1, oh)
					deinterleave8(tout, os[oh*OW:], outSp, OW)
				}
			} else {
				rows(OH, 0)
				deinterleave8(tout, os, outSp, outSp)
			}
			if !isClamp {
				for j := 0; j < 8; j++ {
					p.Act.apply(os[j*outSp : (j+1)*outSp])
				}
			}
		}
	})
}

// interleave8 writes the n floats of 8 rows src[j*stride:] as n 8-float pixels in dst.
func interleave8(src []float32, stride, n int, dst []float32) {
	nb := n / 8
	if nb > 0 {
		transpose8(nb, &src[0], stride, 8, &dst[0], 8, 64)
	}
	for i := nb * 8; i < n; i++ {
		for j := 0; j < 8; j++ {
			dst[i*8+j] = src[j*stride+i]
		}
	}
}

// deinterleave8 writes the n 8-float pixels of src as 8 rows dst[j*stride:] of n floats.
func deinterleave8(src, dst []float32, stride, n int) {
	nb := n / 8
	if nb > 0 {
		transpose8(nb, &src[0], 8, 64, &dst[0], stride, 8)
	}
	for i := nb * 8; i < n; i++ {
		for j := 0; j < 8; j++ {
			dst[j*stride+i] = src[i*8+j]
		}
	}
}
