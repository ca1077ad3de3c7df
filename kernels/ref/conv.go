package ref

import (
	"fmt"
	"math"
	"strings"
)

// ConvParams describes an N-D convolution (1 to 3 spatial dims) in NC[D]HW layout with
// weights [M, C/Group, k...]. Pads are explicit: resolve auto_pad with AutoPads first.
type ConvParams struct {
	N, C, M, Group int
	In             []int // spatial input dims
	Kernel         []int
	Strides        []int // default 1
	Dilations      []int // default 1
	PadsBegin      []int // default 0
	PadsEnd        []int // default 0
	Act            Activation
	Workers        int // 0 = GOMAXPROCS
}

// AutoPads returns the begin/end pads ONNX's auto_pad asks for on one spatial axis of a
// Conv or pool: "SAME_UPPER"/"SAME_LOWER" keep ceil(in/stride) outputs, "VALID" pads
// nothing. ok is false for "NOTSET" or "" (use the explicit pads).
func AutoPads(autoPad string, in, kernel, stride, dilation int) (begin, end int, ok bool, err error) {
	switch strings.ToUpper(autoPad) {
	case "", "NOTSET":
		return 0, 0, false, nil
	case "VALID":
		return 0, 0, true, nil
	case "SAME_UPPER", "SAME_LOWER":
		out := (in + stride - 1) / stride
		total := max(0, (out-1)*stride+(kernel-1)*dilation+1-in)
		if strings.ToUpper(autoPad) == "SAME_UPPER" {
			return total / 2, total - total/2, true, nil
		}
		return total - total/2, total / 2, true, nil
	}
	return 0, 0, false, fmt.Errorf("unknown auto_pad %q", autoPad)
}

// spatial3 is a ConvParams/PoolParams geometry widened to 3 spatial dims (leading 1s).
type spatial3 struct {
	in, k, s, d, pb, pe, out [3]int
}

func widen(in, kernel, strides, dilations, pb, pe []int) (spatial3, error) {
	var g spatial3
	r := len(in)
	if r < 1 || r > 3 {
		return g, fmt.Errorf("%d spatial dims (1 to 3 supported)", r)
	}
	if len(kernel) != r {
		return g, fmt.Errorf("kernel %v does not match %d spatial dims", kernel, r)
	}
	get := func(v []int, i, def int, name string) (int, error) {
		if v == nil {
			return def, nil
		}
		if len(v) != r {
			return 0, fmt.Errorf("%s %v does not match %d spatial dims", name, v, r)
		}
		return v[i], nil
	}
	for i := 0; i < 3; i++ {
		g.in[i], g.k[i], g.s[i], g.d[i], g.out[i] = 1, 1, 1, 1, 1
	}
	for i := 0; i < r; i++ {
		j := 3 - r + i
		var err error
		g.in[j], g.k[j] = in[i], kernel[i]
		if g.s[j], err = get(strides, i, 1, "strides"); err != nil {
			return g, err
		}
		if g.d[j], err = get(dilations, i, 1, "dilations"); err != nil {
			return g, err
		}
		if g.pb[j], err = get(pb, i, 0, "pads"); err != nil {
			return g, err
		}
		if g.pe[j], err = get(pe, i, 0, "pads"); err != nil {
			return g, err
		}
		if g.k[j] < 1 || g.s[j] < 1 || g.d[j] < 1 || g.pb[j] < 0 || g.pe[j] < 0 || g.in[j] < 0 {
			return g, fmt.Errorf("bad geometry on spatial axis %d: in %d kernel %d stride %d dilation %d pads %d,%d", i, g.in[j], g.k[j], g.s[j], g.d[j], g.pb[j], g.pe[j])
		}
	}
	return g, nil
}

func (g *spatial3) outDims(ceil bool) error {
	for i := 0; i < 3; i++ {
		span := g.in[i] + g.pb[i] + g.pe[i] - (g.k[i]-1)*g.d[i] - 1
		if span < 0 {
			return fmt.Errorf("kernel %d (dilation %d) is larger than the padded input %d", g.k[i], g.d[i], g.in[i]+g.pb[i]+g.pe[i])
		}
		o := span/g.s[i] + 1
		if ceil {
			o = (span+g.s[i]-1)/g.s[i] + 1
			if (o-1)*g.s[i] >= g.in[i]+g.pb[i] { // last window must start inside input or begin pad
				o--
			}
		}
		g.out[i] = o
	}
	return nil
}

func (g *spatial3) outSlice(r int) []int {
	return append([]int{}, g.out[3-r:]...)
}

// ConvOutShape returns [N, M, out spatial...] for p.
func ConvOutShape(p ConvParams) ([]int, error) {
	g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, p.PadsBegin, p.PadsEnd)
	if err != nil {
		return nil, err
	}
	if err := g.outDims(false); err != nil {
		return nil, err
	}
	return append([]int{p.N, p.M}, g.outSlice(len(p.In))...), nil
}

// maxColFloats bounds the im2col buffer (in floats); larger outputs are done in column blocks.
const maxColFloats = 1 << 22

// Conv computes the convolution of x [N, C, in...] with w [M, C/Group, k...] plus bias [M]
// (nil for none) and the fused activation into out [N, M, out...].
func Conv(p ConvParams, x, w, bias, out []float32) error {
	g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, p.PadsBegin, p.PadsEnd)
	if err != nil {
		return fmt.Errorf("conv: %w", err)
	}
	if err := g.outDims(false); err != nil {
		return fmt.Errorf("conv: %w", err)
	}
	if p.Group < 1 || p.C%p.Group != 0 || p.M%p.Group != 0 {
		return fmt.Errorf("conv: group %d does not divide channels %d and filters %d", p.Group, p.C, p.M)
	}
	cg, mg := p.C/p.Group, p.M/p.Group
	kvol := g.k[0] * g.k[1] * g.k[2]
	inSp := g.in[0] * g.in[1] * g.in[2]
	outSp := g.out[0] * g.out[1] * g.out[2]
	if len(x) != p.N*p.C*inSp {
		return fmt.Errorf("conv: input has %d elements, want %d", len(x), p.N*p.C*inSp)
	}
	if len(w) != p.M*cg*kvol {
		return fmt.Errorf("conv: weight has %d elements, want %d (M=%d, C/group=%d, kernel %v)", len(w), p.M*cg*kvol, p.M, cg, p.Kernel)
	}
	if bias != nil && len(bias) != p.M {
		return fmt.Errorf("conv: bias has %d elements, want %d", len(bias), p.M)
	}
	if len(out) != p.N*p.M*outSp {
		return fmt.Errorf("conv: output has %d elements, want %d", len(out), p.N*p.M*outSp)
	}
	if outSp == 0 || p.N == 0 || p.M == 0 {
		return nil
	}
	if cg == 1 && p.Group == p.C && p.C > 1 && len(p.In) <= 2 && kvol <= 49 {
		depthwise(p, &g, x, w, bias, out)
		return nil
	}
	K := cg * kvol
	pointwise := kvol == 1 && g.s == [3]int{1, 1, 1} && g.pb == [3]int{} && g.pe == [3]int{}
	colW := outSp
	if !pointwise && K*outSp > maxColFloats {
		colW = max(64, maxColFloats/K)
	}
	var col []float32
	if !pointwise {
		col = getBuf(K * min(colW, outSp))
		defer putBuf(col)
	}
	for n := 0; n < p.N; n++ {
		for gr := 0; gr < p.Group; gr++ {
			xg := x[(n*p.C+gr*cg)*inSp : (n*p.C+(gr+1)*cg)*inSp]
			wg := w[gr*mg*K : (gr+1)*mg*K]
			og := out[(n*p.M+gr*mg)*outSp : (n*p.M+(gr+1)*mg)*outSp]
			if pointwise {
				sgemm(false, false, mg, outSp, K, 1, wg, K, xg, outSp, 0, og, outSp)
				continue
			}
			for j0 := 0; j0 < outSp; j0 += colW {
				j1 := min(j0+colW, outSp)
				cw := j1 - j0
				c := col[:K*cw]
				im2col(&g, xg, cg, c, j0, j1, p.Workers)
				sgemm(false, false, mg, cw, K, 1, wg, K, c, cw, 0, og[j0:], outSp)
			}
		}
	}
	biasAct(out, bias, p.N, p.M, outSp, p.Act, p.Workers)
	return nil
}

// biasAct adds bias[m] to each channel plane and applies act, in parallel over planes.
func biasAct(out, bias []float32, n, m, sp int, act Activation, w int) {
	if bias == nil && act.Op == Identity {
		return
	}
	parallelFor(n*m, max(1, elemGrain/max(sp, 1)), w, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			plane := out[i*sp : (i+1)*sp]
			var b float32
			if bias != nil {
				b = bias[i%m]
			}
			if biasActTo(act, plane, plane, b) {
				continue
			}
			if bias != nil {
				b := bias[i%m]
				for j := range plane {
					plane[j] += b
				}
			}
			act.apply(plane)
		}
	})
}

// im2col writes the columns j0..j1 (flat output positions) of the [cg*kvol, outSp] patch
// matrix of one group's input into col ([cg*kvol, j1-j0]).
func im2col(g *spatial3, x []float32, cg int, col []float32, j0, j1 int, w int) {
	kvol := g.k[0] * g.k[1] * g.k[2]
	inSp := g.in[0] * g.in[1] * g.in[2]
	cw := j1 - j0
	OH, OW := g.out[1], g.out[2]
	IH, IW := g.in[1], g.in[2]
	rows := cg * kvol
	parallelFor(rows, max(1, 4096/max(cw, 1)), w, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c := r / kvol
			kk := r % kvol
			kd, kh, kw := kk/(g.k[1]*g.k[2]), (kk/g.k[2])%g.k[1], kk%g.k[2]
			src := x[c*inSp : (c+1)*inSp]
			dst := col[r*cw : (r+1)*cw]
			offD, offH, offW := kd*g.d[0]-g.pb[0], kh*g.d[1]-g.pb[1], kw*g.d[2]-g.pb[2]
			// valid ow range: 0 <= ow*s + offW < IW
			sw := g.s[2]
			owLo := 0
			if offW < 0 {
				owLo = (-offW + sw - 1) / sw
			}
			owHi := 0
			if IW-offW > 0 {
				owHi = min(OW, (IW-offW+sw-1)/sw)
			}
			j := j0
			for j < j1 {
				od := j / (OH * OW)
				oh := (j / OW) % OH
				ow := j % OW
				n := min(OW-ow, j1-j) // positions left in this output row
				seg := dst[j-j0 : j-j0+n]
				id := od*g.s[0] + offD
				ih := oh*g.s[1] + offH
				if id < 0 || id >= g.in[0] || ih < 0 || ih >= IH {
					clear(seg)
				} else {
					rowSrc := src[(id*IH+ih)*IW:]
					for t := range seg {
						o := ow + t
						if o < owLo || o >= owHi {
							seg[t] = 0
						} else if sw == 1 {
							// contiguous run
							e := min(owHi, ow+n)
							copy(seg[t:e-ow], rowSrc[o+offW:e+offW])
							for u := e - ow; u < n; u++ {
								seg[u] = 0
							}
							break
						} else {
							seg[t] = rowSrc[o*sw+offW]
						}
					}
				}
				j += n
			}
		}
	})
}

// depthwise is the direct loop for group == C (one input channel per group), 1-D or 2-D.
// Each plane is copied once, zero-padded and split into its stride phases (sh*sw planes, so
// a tap reads a contiguous run of one phase); the output is accumulated in a "wide" layout
// whose rows have the phase width, which makes every kernel tap a single vectorised axpy
// over the whole plane. The valid columns are then copied out with bias and activation.
func depthwise(p ConvParams, g *spatial3, x, w, bias, out []float32) {
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
	parallelFor(p.N*p.M, grain, p.Workers, func(c0, c1 int) {
		phases := getBuf(sh * sw * phSize)
		wide := getBuf(wideLen)
		defer putBuf(phases)
		defer putBuf(wide)
		lastSrc := -1
		for i := c0; i < c1; i++ {
			n, m := i/p.M, i%p.M
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
