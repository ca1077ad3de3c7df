package graph

import (
	"fmt"
)

// linalgInfer: matrix products.
var linalgInfer = map[string]inferFunc{
	"MatMul": inferMatMul,
	"Gemm":   inferGemm,
}

// inferMatMul is numpy matmul: 1-D operands are promoted (and the added dim removed after),
// the leading dims broadcast, the inner dims must agree.
func inferMatMul(c *inferCtx, n *Node) error {
	vs, err := c.reqs(n, 2)
	if err != nil {
		return err
	}
	a, b := vs[0], vs[1]
	dt, err := sameTypes(a, b)
	if err != nil {
		return err
	}
	if !a.RankKnown || !b.RankKnown {
		c.setOutUnranked(n, 0, dt)
		return nil
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 0 || len(bs) == 0 {
		return fmt.Errorf("operands %s and %s: scalars are not allowed", as, bs)
	}
	dropA, dropB := len(as) == 1, len(bs) == 1
	if dropA {
		as = Shape{D(1), as[0]}
	}
	if dropB {
		bs = Shape{bs[0], D(1)}
	}
	k1, k2 := as[len(as)-1], bs[len(bs)-2]
	if _, ok := mergeDim(k1, k2); !ok {
		return fmt.Errorf("operands %s and %s: inner dims %v and %v differ", a.Shape, b.Shape, k1, k2)
	}
	batch, err := broadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return fmt.Errorf("operands %s and %s: batch dims: %w", a.Shape, b.Shape, err)
	}
	out := append(Shape{}, batch...)
	if !dropA {
		out = append(out, as[len(as)-2])
	}
	if !dropB {
		out = append(out, bs[len(bs)-1])
	}
	c.setOut(n, 0, dt, out)
	return nil
}

// inferGemm: Y = alpha*A'*B' + beta*C with A' [M,K], B' [K,N]; C broadcasts to [M,N].
func inferGemm(c *inferCtx, n *Node) error {
	a, err := c.req(n, 0)
	if err != nil {
		return err
	}
	b, err := c.req(n, 1)
	if err != nil {
		return err
	}
	cc, err := c.in(n, 2)
	if err != nil {
		return err
	}
	dt, err := sameTypes(a, b, cc)
	if err != nil {
		return err
	}
	for _, v := range []*Value{a, b} {
		if v.RankKnown && len(v.Shape) != 2 {
			return fmt.Errorf("operands %s and %s must be matrices", shapeStr(a), shapeStr(b))
		}
	}
	as, bs := shapeOrUnknown(a, 2), shapeOrUnknown(b, 2)
	m, ka := as[0], as[1]
	if n.AttrInt("transA", 0) != 0 {
		m, ka = ka, m
	}
	kb, nn := bs[0], bs[1]
	if n.AttrInt("transB", 0) != 0 {
		kb, nn = nn, kb
	}
	if _, ok := mergeDim(ka, kb); !ok {
		return fmt.Errorf("operands %s and %s (transA=%d, transB=%d): inner dims %v and %v differ",
			as, bs, n.AttrInt("transA", 0), n.AttrInt("transB", 0), ka, kb)
	}
	out := Shape{m, nn}
	if cc != nil && cc.RankKnown {
		if len(cc.Shape) > 2 {
			return fmt.Errorf("C %s has rank > 2", cc.Shape)
		}
		bc, err := broadcastShapes(out, cc.Shape)
		if err != nil {
			return fmt.Errorf("C %s does not broadcast to the product %s: %w", cc.Shape, out, err)
		}
		// C only broadcasts toward [M,N]; where the product's dim is open, C may pin it.
		for i := range out {
			if !out[i].Known() && bc[i].Known() && bc[i].Size != 1 {
				out[i] = bc[i]
			}
		}
	}
	c.setOut(n, 0, dt, out)
	return nil
}
