package conv

import (
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// vecFor is the widest width <= want dividing every value.
func vecFor(want int, vals ...int) int {
	for _, w := range []int{4, 2} {
		ok := w <= want
		for _, v := range vals {
			ok = ok && v%w == 0
		}
		if ok {
			return w
		}
	}
	return 1
}

// buildImplicit is the implicit-GEMM template: per tile (image n, group, output channels
// m0.., output pixels p0..), A = the group's weights [mg, kc] and B = the im2col view of the
// image's group channels [kc, outSp], gathered into shared memory by the B loader.
func buildImplicit(p Params, g geom, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	if err := gemm.CheckConfig(cfg); err != nil {
		return nil, err
	}
	tilesM, tilesN := (g.mg+cfg.TileM-1)/cfg.TileM, (g.outSp+cfg.TileN-1)/cfg.TileN
	perImage := g.g * tilesM * tilesN
	tiles := g.n * perImage
	want := max(cfg.Vec, 1)
	name := kernelName("igemm", p, g, cfg)
	b := kir.NewKernel(name, target)
	pr := declare(b, p.Bias)
	ml, err := gemm.NewMainloop(b, cfg, g.kc)
	if err != nil {
		return nil, err
	}
	vy := vecFor(want, cfg.ThreadN, g.outSp)
	protocol.Persistent(b, pr.ctl, func(tile kir.Value) {
		n, r := gemm.DivMod(b, tile, perImage)
		grp, r2 := gemm.DivMod(b, r, tilesM*tilesN)
		tm, tn := gemm.DivMod(b, r2, tilesN)
		m0 := b.Mul(tm, b.ConstU32(uint32(cfg.TileM)))
		p0 := b.Mul(tn, b.ConstU32(uint32(cfg.TileN)))
		wBase := b.Mul(grp, b.ConstU32(uint32(g.mg*g.kc)))
		// first element of the image's group channels in x
		xBase := b.Mul(b.Mad(n, b.ConstU32(uint32(g.g)), grp), b.ConstU32(uint32(g.cg*g.inSp)))
		la := ml.Loader(gemm.Operand{Ptr: pr.w, Base: wBase, X0: m0, Extent: g.mg, KContig: true, LD: g.kc,
			Vec: vecFor(want, g.kc)}, true)
		var lb gemm.Loader
		if g.pointwise() {
			lb = ml.Loader(gemm.Operand{Ptr: pr.x, Base: xBase, X0: p0, Extent: g.outSp, KContig: false, LD: g.inSp,
				Vec: vecFor(want, g.inSp)}, false)
		} else {
			lb = im2colLoader(ml, g, pr.x, xBase, p0)
		}
		ml.Run(la, lb)
		// epilogue: y[n, grp*mg + m, p]
		ocBase := b.Add(b.Mul(grp, b.ConstU32(uint32(g.mg))), m0)
		yImage := b.Mul(n, b.ConstU32(uint32(g.m)))
		for i := 0; i < cfg.ThreadM; i++ {
			m := b.Add(m0, ml.Row(i))
			b.If(b.Lt(m, b.ConstU32(uint32(g.mg))), func() {
				oc := b.Add(ocBase, ml.Row(i))
				rowBase := b.Mul(b.Add(yImage, oc), b.ConstU32(uint32(g.outSp)))
				for j := 0; j < cfg.ThreadN; j += vy {
					px := b.Add(p0, ml.Col(j))
					b.If(b.Lt(px, b.ConstU32(uint32(g.outSp))), func() {
						vals := make([]kir.Value, vy)
						for jj := range vals {
							vals[jj] = finish(b, p, pr, oc, ml.Acc[i][j+jj])
						}
						b.St(kir.Global, b.Index(pr.y, b.Add(rowBase, px), 4), 0, vals...)
					})
				}
			})
		}
	}, protocol.Options{Trace: pr.trace})
	k, err := b.Build()
	if err != nil {
		return nil, err
	}
	_, static := k.SharedLayout()
	return &kernels.Instance{Name: name, Family: "conv", Kernel: k, Config: cfg, Threads: cfg.Threads,
		SharedBytes: static, Tiles: tiles, Args: pr.args}, nil
}

// im2colLoader gathers B[r, p] = x[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (zero outside the
// image) for r = (c*KH + kh)*KW + kw of the tile's K slice and its output pixels p0.., one
// element per unit (unit u: row u / TileN, column u % TileN). The pixel coordinates of the
// thread's units are computed once per tile; when Threads is a multiple of TileN every unit of
// a thread has the same column, so they are computed once per thread and tile.
func im2colLoader(ml *gemm.Mainloop, g geom, x, xBase, p0 kir.Value) gemm.Loader {
	b, cfg := ml.B, ml.Cfg
	units := cfg.TileK * cfg.TileN
	type pixel struct {
		ok         kir.Value // pixel inside the output
		ih0, iw0   kir.Value // top-left input coordinate of the pixel's window (u32, wraps below 0)
		pixelStart kir.Value // xBase + ih0*W + iw0
	}
	pixelOf := func(col kir.Value) pixel {
		px := b.Add(p0, col)
		oh, ow := gemm.DivMod(b, px, g.ow)
		var q pixel
		q.ok = b.Lt(px, b.ConstU32(uint32(g.outSp)))
		q.ih0 = b.Sub(b.Mul(oh, b.ConstU32(uint32(g.sh))), b.ConstU32(uint32(g.ph)))
		q.iw0 = b.Sub(b.Mul(ow, b.ConstU32(uint32(g.sw))), b.ConstU32(uint32(g.pw)))
		q.pixelStart = b.Add(xBase, b.Mad(q.ih0, b.ConstU32(uint32(g.w)), q.iw0))
		return q
	}
	type unit struct {
		guard   kir.Value // unit index < units (zero Value: always)
		kr, col kir.Value
		pix     pixel
	}
	shared := cfg.Threads%cfg.TileN == 0
	var us []unit
	var first pixel
	for i := 0; i*cfg.Threads < units; i++ {
		var u unit
		idx := b.Add(ml.Tid, b.ConstU32(uint32(i*cfg.Threads)))
		if (i+1)*cfg.Threads > units {
			u.guard = b.Lt(idx, b.ConstU32(uint32(units)))
		}
		u.kr, u.col = gemm.DivMod(b, idx, cfg.TileN)
		switch {
		case !shared:
			u.pix = pixelOf(u.col)
		case i == 0:
			first = pixelOf(u.col)
			u.pix = first
		default:
			u.pix = first
		}
		us = append(us, u)
	}
	kvol := g.kh * g.kw
	return func(k0 kir.Value) func() {
		vals := make([]kir.Value, len(us))
		for i, u := range us {
			r := b.Add(k0, u.kr)
			c, rem := gemm.DivMod(b, r, kvol)
			kh, kw := gemm.DivMod(b, rem, g.kw)
			dy := b.Mul(kh, b.ConstU32(uint32(g.dh)))
			dx := b.Mul(kw, b.ConstU32(uint32(g.dw)))
			// unsigned compares: a window row or column left of / above the image wraps to a
			// huge u32 and fails them
			inside := b.And(b.Lt(b.Add(u.pix.ih0, dy), b.ConstU32(uint32(g.h))), b.Lt(b.Add(u.pix.iw0, dx), b.ConstU32(uint32(g.w))))
			ok := b.And(b.And(u.pix.ok, b.Lt(r, b.ConstU32(uint32(g.kc)))), inside)
			if u.guard.Valid() {
				ok = b.And(ok, u.guard)
			}
			v := b.Var(b.ConstF32(0))
			b.If(ok, func() {
				off := b.Add(b.Mad(c, b.ConstU32(uint32(g.inSp)), b.Mad(dy, b.ConstU32(uint32(g.w)), dx)), u.pix.pixelStart)
				b.Set(v, b.LoadF32(x, off))
			})
			vals[i] = v
		}
		return func() {
			for i, u := range us {
				emit := func() { ml.StoreB(u.kr, u.col, true, vals[i]) }
				if u.guard.Valid() {
					b.If(u.guard, emit)
				} else {
					emit()
				}
			}
		}
	}
}
