package ref

import "fmt"

// ConvTransposeParams describes ONNX ConvTranspose: x [N, C, in...], w [C, M/Group, k...],
// output [N, M, out...] with out = s*(in-1) + OutputPadding + (k-1)*d + 1 - padsBegin - padsEnd.
type ConvTransposeParams struct {
	N, C, M, Group int
	In             []int
	Kernel         []int
	Strides        []int
	Dilations      []int
	PadsBegin      []int
	PadsEnd        []int
	OutputPadding  []int
	Act            Activation
	Workers        int
}

// ConvTransposeAutoPads returns the pads ONNX derives for ConvTranspose from an explicit
// output size (output_shape attribute) or auto_pad SAME_*: total = s*(in-1) + outpad +
// (k-1)*d + 1 - out; SAME_UPPER puts the extra pad at the end (begin = total/2).
func ConvTransposeAutoPads(upper bool, in, kernel, stride, dilation, outPad, out int) (begin, end int) {
	total := stride*(in-1) + outPad + (kernel-1)*dilation + 1 - out
	if upper {
		return total / 2, total - total/2
	}
	return total - total/2, total / 2
}

func (p *ConvTransposeParams) geometry() (spatial3, [3]int, error) {
	var op [3]int
	g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, nil, nil)
	if err != nil {
		return g, op, err
	}
	r := len(p.In)
	for _, v := range [][]int{p.PadsBegin, p.PadsEnd, p.OutputPadding} {
		if v != nil && len(v) != r {
			return g, op, fmt.Errorf("pads/output_padding %v do not match %d spatial dims", v, r)
		}
	}
	for i := 0; i < r; i++ {
		j := 3 - r + i
		if p.PadsBegin != nil {
			g.pb[j] = p.PadsBegin[i]
		}
		if p.PadsEnd != nil {
			g.pe[j] = p.PadsEnd[i]
		}
		if p.OutputPadding != nil {
			op[j] = p.OutputPadding[i]
		}
	}
	for i := 0; i < 3; i++ {
		g.out[i] = g.s[i]*(g.in[i]-1) + op[i] + (g.k[i]-1)*g.d[i] + 1 - g.pb[i] - g.pe[i]
		if g.out[i] < 0 || g.in[i] < 1 {
			return g, op, fmt.Errorf("output size %d on spatial axis %d is negative", g.out[i], i)
		}
	}
	return g, op, nil
}

// ConvTransposeOutShape returns [N, M, out...].
func ConvTransposeOutShape(p ConvTransposeParams) ([]int, error) {
	g, _, err := p.geometry()
	if err != nil {
		return nil, err
	}
	return append([]int{p.N, p.M}, g.outSlice(len(p.In))...), nil
}

// ConvTranspose computes p into out: a GEMM per group into a column buffer, then col2im.
func ConvTranspose(p ConvTransposeParams, x, w, bias, out []float32) error {
	g, _, err := p.geometry()
	if err != nil {
		return fmt.Errorf("convtranspose: %w", err)
	}
	if p.Group < 1 || p.C%p.Group != 0 || p.M%p.Group != 0 {
		return fmt.Errorf("convtranspose: group %d does not divide channels %d and outputs %d", p.Group, p.C, p.M)
	}
	cg, mg := p.C/p.Group, p.M/p.Group
	kvol := g.k[0] * g.k[1] * g.k[2]
	inSp := g.in[0] * g.in[1] * g.in[2]
	outSp := g.out[0] * g.out[1] * g.out[2]
	if len(x) != p.N*p.C*inSp {
		return fmt.Errorf("convtranspose: input has %d elements, want %d", len(x), p.N*p.C*inSp)
	}
	if len(w) != p.C*mg*kvol {
		return fmt.Errorf("convtranspose: weight has %d elements, want %d", len(w), p.C*mg*kvol)
	}
	if bias != nil && len(bias) != p.M {
		return fmt.Errorf("convtranspose: bias has %d elements, want %d", len(bias), p.M)
	}
	if len(out) != p.N*p.M*outSp {
		return fmt.Errorf("convtranspose: output has %d elements, want %d", len(out), p.N*p.M*outSp)
	}
	clear(out)
	rows := mg * kvol
	col := getBuf(rows * inSp)
	defer putBuf(col)
	for n := 0; n < p.N; n++ {
		for gr := 0; gr < p.Group; gr++ {
			xg := x[(n*p.C+gr*cg)*inSp : (n*p.C+(gr+1)*cg)*inSp]
			wg := w[gr*cg*rows : (gr+1)*cg*rows]
			sgemm(true, false, rows, inSp, cg, 1, wg, rows, xg, inSp, 0, col, inSp)
			og := out[(n*p.M+gr*mg)*outSp : (n*p.M+(gr+1)*mg)*outSp]
			col2im(&g, col, mg, og, p.Workers)
		}
	}
	biasAct(out, bias, p.N, p.M, outSp, p.Act, p.Workers)
	return nil
}

// col2im accumulates col ([mg*kvol, inSp]) into out ([mg, outSp]).
func col2im(g *spatial3, col []float32, mg int, out []float32, w int) {
	kvol := g.k[0] * g.k[1] * g.k[2]
	inSp := g.in[0] * g.in[1] * g.in[2]
	outSp := g.out[0] * g.out[1] * g.out[2]
	ID, IH, IW := g.in[0], g.in[1], g.in[2]
	OD, OH, OW := g.out[0], g.out[1], g.out[2]
	parallelFor(mg, 1, w, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			dst := out[m*outSp : (m+1)*outSp]
			for kk := 0; kk < kvol; kk++ {
				kd, kh, kw := kk/(g.k[1]*g.k[2]), (kk/g.k[2])%g.k[1], kk%g.k[2]
				src := col[(m*kvol+kk)*inSp : (m*kvol+kk+1)*inSp]
				offW := kw*g.d[2] - g.pb[2]
				for id := 0; id < ID; id++ {
					od := id*g.s[0] + kd*g.d[0] - g.pb[0]
					if od < 0 || od >= OD {
						continue
					}
					for ih := 0; ih < IH; ih++ {
						oh := ih*g.s[1] + kh*g.d[1] - g.pb[1]
						if oh < 0 || oh >= OH {
							continue
						}
						srow := src[(id*IH+ih)*IW : (id*IH+ih+1)*IW]
						drow := dst[(od*OH+oh)*OW : (od*OH+oh+1)*OW]
						sw := g.s[2]
						for iw, v := range srow {
							ow := iw*sw + offW
							if ow >= 0 && ow < OW {
								drow[ow] += v
							}
						}
					}
				}
			}
		}
	})
}
