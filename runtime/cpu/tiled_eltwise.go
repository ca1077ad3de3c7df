package cpu

// Tilings of the cheap ops for Pool.Run: float32 unary and binary elementwise ops over
// element chunks, pooling over (n, c) planes.

import (
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Per-element cost, in FLOP-equivalents, used to size elementwise tiles.
const (
	unaryCost  = 8
	binaryCost = 2
)

func unaryTiles(c *opCtx, p ref.UnaryParams, w want) (*tiling, error) {
	if len(c.in) != 1 || c.in[0] == nil {
		return nil, nil
	}
	x := c.in[0]
	d, ok := x.Data.([]float32)
	if !ok {
		return nil, nil
	}
	parts := w.count(float64(len(d))*unaryCost, len(d)/1024)
	if parts < 2 {
		return nil, nil
	}
	chunks := spans(len(d), parts, 64)
	out := c.alloc(len(d))
	c.out[0] = f32Tensor(x.Shape, out)
	return &tiling{n: len(chunks), tile: func(t int) error {
		s := chunks[t]
		return ref.Unary(p, d[s[0]:s[1]], out[s[0]:s[1]])
	}}, nil
}

var binaryOps = map[string]ref.BinaryOp{"Add": ref.Add, "Sub": ref.Sub, "Mul": ref.Mul, "Div": ref.Div}

// binaryTiles chunks float32 Add/Sub/Mul/Div when the operands have one shape, or one of
// them broadcasts only along the leading dims of the other (a scalar, a bias row).
func binaryTiles(c *opCtx, w want) (*tiling, error) {
	if len(c.in) != 2 || c.in[0] == nil || c.in[1] == nil {
		return nil, nil
	}
	op := binaryOps[c.node.Op]
	a, b := c.in[0], c.in[1]
	ad, aok := a.Data.([]float32)
	bd, bok := b.Data.([]float32)
	if !aok || !bok {
		return nil, nil
	}
	oshape, err := ref.BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, nil
	}
	total := tensor.NumElements(oshape)
	// full is the operand with the output's shape; the other repeats every `row` elements.
	var row int
	aFull := len(ad) == total && equalInts(trimOnes(a.Shape), trimOnes(oshape))
	bFull := len(bd) == total && equalInts(trimOnes(b.Shape), trimOnes(oshape))
	switch {
	case aFull && bFull:
		row = 1
	case aFull && isSuffix(b.Shape, oshape):
		row = len(bd)
	case bFull && isSuffix(a.Shape, oshape):
		row = len(ad)
	default:
		return nil, nil
	}
	if total == 0 || row == 0 {
		return nil, nil
	}
	rows := total / row
	parts := w.count(float64(total)*binaryCost, min(rows, total/1024))
	if parts < 2 {
		return nil, nil
	}
	align := max(1, 64/row)
	chunks := spans(rows, parts, align)
	out := c.alloc(total)
	c.out[0] = f32Tensor(oshape, out)
	same := aFull && bFull
	return &tiling{n: len(chunks), tile: func(t int) error {
		lo, hi := chunks[t][0]*row, chunks[t][1]*row
		as, ash := ad, []int{len(ad)}
		bs, bsh := bd, []int{len(bd)}
		switch {
		case same:
			as, ash, bs, bsh = ad[lo:hi], []int{hi - lo}, bd[lo:hi], []int{hi - lo}
		case aFull:
			as, ash = ad[lo:hi], []int{(hi - lo) / row, row}
		default:
			bs, bsh = bd[lo:hi], []int{(hi - lo) / row, row}
		}
		_, _, err := ref.BinaryInto(op, as, ash, bs, bsh, out[lo:hi])
		return err
	}}, nil
}

// trimOnes drops leading 1s of a shape.
func trimOnes(s []int) []int {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	return s
}

// isSuffix reports whether s, without its leading 1s, is a suffix of o.
func isSuffix(s, o []int) bool {
	t := trimOnes(s)
	if len(t) > len(o) {
		return false
	}
	return equalInts(t, o[len(o)-len(t):])
}

// poolTiles cuts MaxPool/AveragePool (without the indices output) over (n, c) planes.
func poolTiles(c *opCtx, w want) (*tiling, error) {
	if len(c.in) != 1 || c.in[0] == nil || c.in[0].DType != tensor.Float32 || len(c.in[0].Shape) < 3 {
		return nil, nil
	}
	if len(c.node.Outputs) > 1 && c.node.Outputs[1] != "" {
		return nil, nil
	}
	x := c.in[0]
	xd := x.Float32s()
	r := len(x.Shape) - 2
	g, err := readGeometry(c, r, nil)
	if err != nil {
		return nil, err
	}
	if err := g.resolvePads(x.Shape[2:]); err != nil {
		return nil, err
	}
	p := ref.PoolParams{N: x.Shape[0], C: x.Shape[1], In: x.Shape[2:], Kernel: g.kernel, Strides: g.strides,
		Dilations: g.dilations, PadsBegin: g.pb, PadsEnd: g.pe, CeilMode: c.node.AttrInt("ceil_mode", 0) != 0,
		CountIncludePad: c.node.AttrInt("count_include_pad", 0) != 0, Workers: 1}
	oshape, err := ref.PoolOutShape(p)
	if err != nil {
		return nil, err
	}
	planes := p.N * p.C
	inSp, outSp := tensor.NumElements(p.In), tensor.NumElements(oshape[2:])
	flops := float64(planes) * float64(outSp) * float64(tensor.NumElements(g.kernel))
	parts := w.count(flops, planes)
	if parts < 2 {
		return nil, nil
	}
	chunks := spans(planes, parts, 1)
	out := c.alloc(tensor.NumElements(oshape))
	c.out[0] = f32Tensor(oshape, out)
	avg := c.node.Op == "AveragePool"
	return &tiling{n: len(chunks), tile: func(t int) error {
		s := chunks[t]
		sub := p
		sub.N, sub.C = 1, s[1]-s[0]
		xs, os := xd[s[0]*inSp:s[1]*inSp], out[s[0]*outSp:s[1]*outSp]
		if avg {
			return ref.AveragePool(sub, xs, os)
		}
		return ref.MaxPool(sub, xs, os, nil)
	}}, nil
}

// globalPoolTiles cuts GlobalAveragePool/GlobalMaxPool over (n, c) planes.
func globalPoolTiles(c *opCtx, w want) (*tiling, error) {
	if len(c.in) != 1 || c.in[0] == nil || c.in[0].DType != tensor.Float32 || len(c.in[0].Shape) < 2 {
		return nil, nil
	}
	x := c.in[0]
	xd := x.Float32s()
	planes := x.Shape[0] * x.Shape[1]
	sp := tensor.NumElements(x.Shape[2:])
	parts := w.count(float64(planes*sp), planes)
	if parts < 2 {
		return nil, nil
	}
	oshape := []int{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		oshape = append(oshape, 1)
	}
	chunks := spans(planes, parts, 1)
	out := c.alloc(planes)
	c.out[0] = f32Tensor(oshape, out)
	isMax := c.node.Op == "GlobalMaxPool"
	return &tiling{n: len(chunks), tile: func(t int) error {
		s := chunks[t]
		return ref.GlobalPool(xd[s[0]*sp:s[1]*sp], s[1]-s[0], sp, isMax, out[s[0]:s[1]])
	}}, nil
}
