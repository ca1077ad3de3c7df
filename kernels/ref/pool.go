package ref

import (
	"fmt"
	"math"
)

// PoolParams describes MaxPool/AveragePool over 1 to 3 spatial dims of an NC[D]HW tensor.
type PoolParams struct {
	N, C            int
	In              []int
	Kernel          []int
	Strides         []int
	Dilations       []int
	PadsBegin       []int
	PadsEnd         []int
	CeilMode        bool
	CountIncludePad bool // AveragePool only
	Workers         int
}

func (p *PoolParams) geometry() (spatial3, error) {
	g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, p.PadsBegin, p.PadsEnd)
	if err != nil {
		return g, err
	}
	return g, g.outDims(p.CeilMode)
}

// PoolOutShape returns [N, C, out...].
func PoolOutShape(p PoolParams) ([]int, error) {
	g, err := p.geometry()
	if err != nil {
		return nil, err
	}
	return append([]int{p.N, p.C}, g.outSlice(len(p.In))...), nil
}

// axisTaps is, for each output position on one axis, the first input position and the
// range [lo, hi) of kernel taps that land inside the input, and the number of taps inside
// the padded input (for count_include_pad).
type axisTaps struct {
	start, lo, hi, padCnt []int
}

func taps(in, k, s, d, pb, pe, out int) axisTaps {
	t := axisTaps{make([]int, out), make([]int, out), make([]int, out), make([]int, out)}
	for o := 0; o < out; o++ {
		st := o*s - pb
		t.start[o] = st
		lo, hi, pc := k, 0, 0
		for kk := 0; kk < k; kk++ {
			pos := st + kk*d
			if pos >= 0 && pos < in {
				lo = min(lo, kk)
				hi = kk + 1
			}
			if pos >= -pb && pos < in+pe {
				pc++
			}
		}
		if hi == 0 {
			lo = 0
		}
		t.lo[o], t.hi[o], t.padCnt[o] = lo, hi, pc
	}
	return t
}

// pool runs f over every (n, c) plane and output position; f gets the output index, the
// plane, the flat input offsets of the taps' rows and their tap ranges.
func pool(p PoolParams, x, out []float32, indices []int64, isMax bool) error {
	g, err := p.geometry()
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	inSp := g.in[0] * g.in[1] * g.in[2]
	outSp := g.out[0] * g.out[1] * g.out[2]
	if len(x) != p.N*p.C*inSp || len(out) != p.N*p.C*outSp {
		return fmt.Errorf("pool: input %d / output %d elements, want %d / %d", len(x), len(out), p.N*p.C*inSp, p.N*p.C*outSp)
	}
	if indices != nil && len(indices) != len(out) {
		return fmt.Errorf("pool: indices has %d elements, want %d", len(indices), len(out))
	}
	var t [3]axisTaps
	for i := 0; i < 3; i++ {
		t[i] = taps(g.in[i], g.k[i], g.s[i], g.d[i], g.pb[i], g.pe[i], g.out[i])
	}
	IH, IW := g.in[1], g.in[2]
	dd, dh, dw := g.d[0], g.d[1], g.d[2]
	negInf := float32(math.Inf(-1))
	if isMax && indices == nil && g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1 {
		maxPool2D(p, &g, x, out)
		return nil
	}
	parallelFor(p.N*p.C, 1, p.Workers, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*inSp : (pl+1)*inSp]
			dst := out[pl*outSp : (pl+1)*outSp]
			j := 0
			for od := 0; od < g.out[0]; od++ {
				for oh := 0; oh < g.out[1]; oh++ {
					for ow := 0; ow < g.out[2]; ow++ {
						if isMax {
							m := negInf
							mi := -1
							for kd := t[0].lo[od]; kd < t[0].hi[od]; kd++ {
								id := t[0].start[od] + kd*dd
								for kh := t[1].lo[oh]; kh < t[1].hi[oh]; kh++ {
									ih := t[1].start[oh] + kh*dh
									row := (id*IH + ih) * IW
									for kw := t[2].lo[ow]; kw < t[2].hi[ow]; kw++ {
										iw := t[2].start[ow] + kw*dw
										if v := src[row+iw]; v > m || mi < 0 {
											m, mi = v, row+iw
										}
									}
								}
							}
							dst[j] = m
							if indices != nil {
								indices[pl*outSp+j] = int64(pl*inSp + mi)
							}
						} else {
							var s float32
							for kd := t[0].lo[od]; kd < t[0].hi[od]; kd++ {
								id := t[0].start[od] + kd*dd
								for kh := t[1].lo[oh]; kh < t[1].hi[oh]; kh++ {
									ih := t[1].start[oh] + kh*dh
									row := (id*IH + ih) * IW
									for kw := t[2].lo[ow]; kw < t[2].hi[ow]; kw++ {
										s += src[row+t[2].start[ow]+kw*dw]
									}
								}
							}
							var cnt int
							if p.CountIncludePad {
								cnt = t[0].padCnt[od] * t[1].padCnt[oh] * t[2].padCnt[ow]
							} else {
								cnt = (t[0].hi[od] - t[0].lo[od]) * (t[1].hi[oh] - t[1].lo[oh]) * (t[2].hi[ow] - t[2].lo[ow])
							}
							if cnt > 0 {
								dst[j] = s / float32(cnt)
							} else {
								dst[j] = 0
							}
						}
						j++
					}
				}
			}
		}
	})
	return nil
}

// MaxPool computes p into out; indices (nil to skip) receives ONNX's flat row-major index
// of each maximum (storage_order 0).
func MaxPool(p PoolParams, x, out []float32, indices []int64) error {
	return pool(p, x, out, indices, true)
}

// AveragePool computes p into out.
func AveragePool(p PoolParams, x, out []float32) error {
	return pool(p, x, out, nil, false)
}

// GlobalPool averages (or takes the max of) each of the nc planes of sp elements.
func GlobalPool(x []float32, nc, sp int, isMax bool, out []float32) error {
	if len(x) != nc*sp || len(out) != nc {
		return fmt.Errorf("global pool: %d inputs for %d planes of %d, %d outputs", len(x), nc, sp, len(out))
	}
	parallelFor(nc, max(1, elemGrain/max(sp, 1)), 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			pl := x[i*sp : (i+1)*sp]
			if isMax {
				m := float32(math.Inf(-1))
				for _, v := range pl {
					m = max(m, v)
				}
				out[i] = m
				continue
			}
			var s float32
			for _, v := range pl {
				s += v
			}
			out[i] = s / float32(sp)
		}
	})
	return nil
}

// maxPool2D is MaxPool over 1 or 2 spatial dims without indices: each output row takes the
// running max over the kernel taps, one tap at a time across the row's valid outputs
// (branch-free max, no index bookkeeping).
func maxPool2D(p PoolParams, g *spatial3, x, out []float32) {
	IH, IW := g.in[1], g.in[2]
	OH, OW := g.out[1], g.out[2]
	KH, KW := g.k[1], g.k[2]
	sh, sw, dh, dw := g.s[1], g.s[2], g.d[1], g.d[2]
	ph, pw := g.pb[1], g.pb[2]
	negInf := float32(math.Inf(-1))
	// windows of 1x2 or 2x2 with stride 2 along the row, all inside the input: the vector
	// pair max
	pairs := haveFMA && KW == 2 && sw == 2 && dw == 1 && pw == 0 && 2*OW <= IW &&
		KH <= 2 && dh == 1 && ph == 0 && (OH-1)*sh+KH <= IH
	parallelFor(p.N*p.C, max(1, elemGrain/max(1, OH*OW*KH*KW)), p.Workers, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*IH*IW : (pl+1)*IH*IW]
			dst := out[pl*OH*OW : (pl+1)*OH*OW]
			if pairs {
				maxPoolPairs(src, dst, IW, OH, OW, sh, KH)
				continue
			}
			for oh := 0; oh < OH; oh++ {
				row := dst[oh*OW : (oh+1)*OW]
				for j := range row {
					row[j] = negInf
				}
				for kh := 0; kh < KH; kh++ {
					ih := oh*sh - ph + kh*dh
					if ih < 0 || ih >= IH {
						continue
					}
					srow := src[ih*IW : (ih+1)*IW]
					for kw := 0; kw < KW; kw++ {
						off := kw*dw - pw
						// valid ow: 0 <= ow*sw+off < IW
						o0 := 0
						if off < 0 {
							o0 = (-off + sw - 1) / sw
						}
						o1 := 0
						if IW-off > 0 {
							o1 = min(OW, (IW-off+sw-1)/sw)
						}
						if sw == 1 {
							r, s := row[o0:o1], srow[o0+off:o1+off]
							for j := range r {
								r[j] = max(r[j], s[j])
							}
							continue
						}
						for ow := o0; ow < o1; ow++ {
							row[ow] = max(row[ow], srow[ow*sw+off])
						}
					}
				}
			}
		}
	})
}

// maxPoolPairs is one plane of a max pool whose windows are 1x2 or 2x2 (KH rows) with
// stride 2 along the rows (sh between them), every window inside the input.
func maxPoolPairs(src, dst []float32, IW, OH, OW, sh, KH int) {
	n8 := 0
	if haveFMA {
		n8 = OW &^ 7
	}
	for oh := 0; oh < OH; oh++ {
		r0 := src[oh*sh*IW : oh*sh*IW+IW]
		r1 := r0
		if KH == 2 {
			r1 = src[(oh*sh+1)*IW : (oh*sh+2)*IW]
		}
		row := dst[oh*OW : (oh+1)*OW]
		if n8 > 0 {
			maxPairs8(n8, &r0[0], &r1[0], &row[0])
		}
		for j := n8; j < OW; j++ {
			row[j] = max(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1])
		}
	}
}
