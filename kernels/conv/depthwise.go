package conv

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// maxDepthwiseTaps bounds KH*KW of the direct template (the filter lives in registers).
const maxDepthwiseTaps = 64

// patchDims is the input patch (rows, cols) one output tile of the direct template reads.
func patchDims(g geom, cfg kernels.Config) (int, int) {
	return (cfg.TileM-1)*g.sh + (g.kh-1)*g.dh + 1, (cfg.TileN-1)*g.sw + (g.kw-1)*g.dw + 1
}

// buildDepthwise is the direct depthwise template: a tile is a TileM x TileN block of one
// channel of one image; the block's input patch (zero padded) is staged in shared memory, and
// thread (rg, col) computes output rows rg*ThreadM .. +ThreadM of column col from it with the
// channel's KH x KW filter in registers.
func buildDepthwise(p Params, g geom, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	c := cfg
	switch {
	case c.TileM <= 0 || c.TileN <= 0 || c.ThreadM <= 0 || c.TileM%c.ThreadM != 0:
		return nil, fmt.Errorf("depthwise config %s: bad tile", c)
	case c.Threads != c.TileN*(c.TileM/c.ThreadM) || c.Threads > 1024:
		return nil, fmt.Errorf("depthwise config %s: %d threads, the tile needs %d", c, c.Threads, c.TileN*(c.TileM/c.ThreadM))
	case g.kh*g.kw > maxDepthwiseTaps:
		return nil, fmt.Errorf("depthwise kernel of %d taps (at most %d)", g.kh*g.kw, maxDepthwiseTaps)
	}
	ph, pw := patchDims(g, cfg)
	if ph*pw*4 > 48<<10 {
		return nil, fmt.Errorf("depthwise config %s: input patch %dx%d does not fit in shared memory", c, ph, pw)
	}
	tilesH, tilesW := (g.oh+c.TileM-1)/c.TileM, (g.ow+c.TileN-1)/c.TileN
	perChannel := tilesH * tilesW
	tiles := g.n * g.c * perChannel
	name := kernelName("dw", p, g, cfg)
	b := kir.NewKernel(name, target)
	pr := declare(b, p.Bias)
	patch := b.Shared("dw_patch", kir.F32, ph*pw)
	base := b.SharedBase(patch)
	tid := b.FlatTid()
	rg, col := gemm.DivMod(b, tid, c.TileN)
	// the patch elements this thread stages: u = tid + i*Threads, at (row, col) of the patch
	type unit struct{ guard, row, col, addr kir.Value }
	var us []unit
	for i := 0; i*c.Threads < ph*pw; i++ {
		var u unit
		idx := b.Add(tid, b.ConstU32(uint32(i*c.Threads)))
		if (i+1)*c.Threads > ph*pw {
			u.guard = b.Lt(idx, b.ConstU32(uint32(ph*pw)))
		}
		u.row, u.col = gemm.DivMod(b, idx, pw)
		u.addr = b.Mad(idx, b.ConstU32(4), base)
		us = append(us, u)
	}
	row0 := b.Mul(rg, b.ConstU32(uint32(c.ThreadM)))
	// the thread's first tap in the patch
	tap := b.Mad(b.Mad(b.Mul(row0, b.ConstU32(uint32(g.sh))), b.ConstU32(uint32(pw)), b.Mul(col, b.ConstU32(uint32(g.sw)))), b.ConstU32(4), base)
	kvol := g.kh * g.kw

	protocol.Persistent(b, pr.ctl, func(tile kir.Value) {
		plane, r := gemm.DivMod(b, tile, perChannel) // plane = n*C + channel
		th, tw := gemm.DivMod(b, r, tilesW)
		_, ch := gemm.DivMod(b, plane, g.c)
		oh0 := b.Mul(th, b.ConstU32(uint32(c.TileM)))
		ow0 := b.Mul(tw, b.ConstU32(uint32(c.TileN)))
		ih0 := b.Sub(b.Mul(oh0, b.ConstU32(uint32(g.sh))), b.ConstU32(uint32(g.ph)))
		iw0 := b.Sub(b.Mul(ow0, b.ConstU32(uint32(g.sw))), b.ConstU32(uint32(g.pw)))
		xPlane := b.Mul(plane, b.ConstU32(uint32(g.inSp)))
		for _, u := range us {
			stage := func() {
				ih, iw := b.Add(ih0, u.row), b.Add(iw0, u.col)
				v := b.Var(b.ConstF32(0))
				b.If(b.And(b.Lt(ih, b.ConstU32(uint32(g.h))), b.Lt(iw, b.ConstU32(uint32(g.w)))), func() {
					b.Set(v, b.LoadF32(pr.x, b.Add(xPlane, b.Mad(ih, b.ConstU32(uint32(g.w)), iw))))
				})
				b.St(kir.Shared, u.addr, 0, v)
			}
			if u.guard.Valid() {
				b.If(u.guard, stage)
			} else {
				stage()
			}
		}
		// the channel's filter, while the patch is being stored
		wBase := b.Mul(ch, b.ConstU32(uint32(kvol)))
		w := make([]kir.Value, kvol)
		for j := range w {
			w[j] = b.LoadF32(pr.w, b.Add(wBase, b.ConstU32(uint32(j))))
		}
		b.Barrier()
		ow := b.Add(ow0, col)
		colOK := b.Lt(ow, b.ConstU32(uint32(g.ow)))
		yPlane := b.Mul(plane, b.ConstU32(uint32(g.outSp)))
		for i := 0; i < c.ThreadM; i++ {
			acc := b.Var(b.ConstF32(0))
			for kh := 0; kh < g.kh; kh++ {
				for kw := 0; kw < g.kw; kw++ {
					off := ((i*g.sh+kh*g.dh)*pw + kw*g.dw) * 4
					x := b.Ld(kir.Shared, kir.F32, tap, off)
					b.Emit(&kir.Inst{Op: kir.OpFma, T: kir.F32, Dst: []kir.Value{acc}, Args: []kir.Value{x, w[kh*g.kw+kw], acc}})
				}
			}
			oh := b.Add(b.Add(oh0, row0), b.ConstU32(uint32(i)))
			b.If(b.And(colOK, b.Lt(oh, b.ConstU32(uint32(g.oh)))), func() {
				v := finish(b, p, pr, ch, acc)
				b.Store(pr.y, b.Add(yPlane, b.Mad(oh, b.ConstU32(uint32(g.ow)), ow)), v)
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
