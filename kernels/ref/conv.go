package ref

import (
	"fmt"
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
	Workers        int         // 0 = GOMAXPROCS
	Packed         *PackedConv // the weights packed by PackConv, or nil (packed per call)
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
	cg := p.C / p.Group
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
	l, err := convLayoutOf(p)
	if err != nil {
		return fmt.Errorf("conv: %w", err)
	}
	convSpan(p, &l, x, w, bias, out, 0, outSp)
	return nil
}

// biasAct adds bias[m] to each channel plane and applies act, in parallel over planes.
func biasAct(out, bias []float32, n, m, sp int, act Activation, w int) {
	if bias == nil && act.none() {
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
					// valid output columns [lo, hi): 0 <= o*sw+offW < IW
					rowSrc := src[(id*IH+ih)*IW:]
					lo, hi := max(ow, owLo), min(ow+n, owHi)
					if hi <= lo {
						clear(seg)
					} else {
						clear(seg[:lo-ow])
						clear(seg[hi-ow:])
						d := seg[lo-ow : hi-ow]
						if sw == 1 {
							copy(d, rowSrc[lo+offW:hi+offW])
						} else {
							for i, s := 0, lo*sw+offW; i < len(d); i, s = i+1, s+sw {
								d[i] = rowSrc[s]
							}
						}
					}
				}
				j += n
			}
		}
	})
}
