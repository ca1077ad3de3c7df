package ref

import "fmt"

// The GEMM part of Conv and ConvRange (every convolution but the depthwise ones): per image
// and group, output positions in im2col column blocks (or straight from the input for
// pointwise convolutions) times the group's weights, with the bias and activation applied
// by the blocked kernel's epilogue where it can, or by a pass over the output afterwards.

// PackedConv holds a convolution's weights packed for the blocked GEMM kernel, one panel per
// group. Build it once for constant weights (PackConv) and pass it as ConvParams.Packed so
// that Conv does not re-pack them on every call.
type PackedConv struct {
	m, k, group int
	a           [][]float32
}

// PackConv packs the weights w of p for the blocked GEMM kernel. It returns nil (and no
// error) when p's convolution never uses that kernel (depthwise convolutions, no AVX2/FMA),
// so that there is nothing to pack. The result depends on p's channels, filters, group and
// kernel, not on the input size.
func PackConv(p ConvParams, w []float32) (*PackedConv, error) {
	l, err := convLayoutOf(p)
	if err != nil {
		return nil, fmt.Errorf("conv: %w", err)
	}
	if len(w) != p.M*l.K {
		return nil, fmt.Errorf("conv: weight has %d elements, want %d (M=%d, C/group=%d, kernel %v)", len(w), p.M*l.K, p.M, l.cg, p.Kernel)
	}
	if l.depthwise || !haveFMA {
		return nil, nil
	}
	pc := &PackedConv{m: p.M, k: l.K, group: p.Group, a: make([][]float32, p.Group)}
	for gr := range pc.a {
		pc.a[gr] = make([]float32, packedLen(l.mg, l.K))
		packA(false, l.mg, l.K, 1, w[gr*l.mg*l.K:(gr+1)*l.mg*l.K], l.K, pc.a[gr])
	}
	return pc, nil
}

// fastAll reports whether every column block of the layout runs on the blocked kernel.
func (l *convLayout) fastAll() bool {
	if l.outSp == 0 {
		return false
	}
	last := l.outSp - (l.outSp-1)/l.colW*l.colW
	return gemmKindOf(l.mg, min(l.colW, l.outSp), l.K) == gemmFastKind && gemmKindOf(l.mg, last, l.K) == gemmFastKind
}

// convSpan computes the flat output positions [j0, j1) of every image and output channel of
// the (non-depthwise) convolution p with layout l; j0 and j1 are boundaries of l. The result
// depends only on the positions, not on the range asked for, so ranges compose bit for bit.
func convSpan(p ConvParams, l *convLayout, x, w, bias, out []float32, j0, j1 int) {
	K, mg, cg, outSp := l.K, l.mg, l.cg, l.outSp
	fast := l.fastAll()
	var eps []*gemmEpi
	post, postBias := p.Act, bias
	if fast {
		eps = make([]*gemmEpi, p.Group)
		inKernel := false
		for gr := range eps {
			var gb []float32
			if bias != nil {
				gb = bias[gr*mg : (gr+1)*mg]
			}
			ep, ok := kernelEpi(p.Act, gb, mg)
			eps[gr], inKernel = &ep, ok
		}
		postBias = nil
		if inKernel {
			post = Activation{Op: Identity}
		}
	}
	packed := p.Packed
	if packed != nil && (packed.m != p.M || packed.k != K || packed.group != p.Group || !fast) {
		packed = nil
	}
	var ap []float32
	if fast && packed == nil {
		ap = getBuf(packedLen(mg, K))
		defer putBuf(ap)
	}
	var win *winConv
	var wbuf []float32
	if fast {
		win = windowOf(l)
	}
	var col []float32
	switch {
	case win != nil:
		wbuf = getBuf(win.len)
		defer putBuf(wbuf)
	case !l.pointwise:
		col = getBuf(K * min(l.colW, j1-j0))
		defer putBuf(col)
	}
	for n := 0; n < p.N; n++ {
		for gr := 0; gr < p.Group; gr++ {
			xg := x[(n*p.C+gr*cg)*l.inSp : (n*p.C+(gr+1)*cg)*l.inSp]
			wg := w[gr*mg*K : (gr+1)*mg*K]
			og := out[(n*p.M+gr*mg)*outSp : (n*p.M+(gr+1)*mg)*outSp]
			var pa []float32
			switch {
			case packed != nil:
				pa = packed.a[gr]
			case fast:
				pa = ap
				packA(false, mg, K, 1, wg, K, pa)
			}
			if win != nil {
				win.fill(xg, wbuf, j0, j1)
			}
			for a := j0; a < j1; {
				c0, c1 := l.block(a)
				b := min(c1, j1)
				src, ld := xg[a:], outSp
				if !l.pointwise && win == nil {
					src, ld = col[:K*(b-a)], b-a
					im2col(&l.g, xg, cg, src, a, b, p.Workers)
				}
				switch {
				case win != nil:
					gemmPacked(pa, mg, b-a, K, win.packer(wbuf, a, b), og[a:], outSp, false, eps[gr], p.Workers)
				case fast:
					gemmPacked(pa, mg, b-a, K, matrixB(false, src, ld), og[a:], outSp, false, eps[gr], p.Workers)
				default:
					sgemmKind(gemmKindOf(mg, c1-c0, K), mg, b-a, K, wg, K, src, ld, og[a:], outSp, p.Workers)
				}
				a = b
			}
		}
	}
	if postBias == nil && post.none() {
		return
	}
	parallelFor(p.N*p.M, max(1, elemGrain/max(j1-j0, 1)), p.Workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seg := out[i*outSp+j0 : i*outSp+j1]
			var b float32
			if postBias != nil {
				b = postBias[i%p.M]
			}
			if biasActTo(post, seg, seg, b) {
				continue
			}
			if postBias != nil {
				for j := range seg {
					seg[j] += b
				}
			}
			post.apply(seg)
		}
	})
}
