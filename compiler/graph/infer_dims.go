package graph

import (
	"fmt"
	"sort"
)

// broadcastDim is numpy broadcasting of two dims: a known 1 yields the other; equal dims
// yield themselves; a known size wins over a symbol or an unknown (the other must be that
// size or 1); two different symbols give Unknown. Two known sizes that differ, neither 1,
// are an error.
func broadcastDim(a, b Dim) (Dim, error) {
	switch {
	case a.Known() && a.Size == 1:
		return b, nil
	case b.Known() && b.Size == 1:
		return a, nil
	case a.Known() && b.Known():
		if a.Size != b.Size {
			return Dim{}, fmt.Errorf("dims %d and %d do not broadcast", a.Size, b.Size)
		}
		return a, nil
	case a.Known():
		return a, nil
	case b.Known():
		return b, nil
	case a.Param != "" && a.Param == b.Param:
		return a, nil
	}
	return Unknown(), nil
}

// broadcastShapes is multidirectional (numpy) broadcasting of shapes, right-aligned.
func broadcastShapes(shapes ...Shape) (Shape, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make(Shape, r)
	for i := range out {
		out[i] = D(1)
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			b, err := broadcastDim(out[off+i], d)
			if err != nil {
				return nil, err
			}
			out[off+i] = b
		}
	}
	return out, nil
}

// broadcastValues broadcasts the shapes of vs (nil entries are skipped). known is false when
// some rank is unknown; the error names every shape.
func broadcastValues(vs ...*Value) (Shape, bool, error) {
	var shapes []Shape
	for _, v := range vs {
		if v == nil {
			continue
		}
		if !v.RankKnown {
			return nil, false, nil
		}
		shapes = append(shapes, v.Shape)
	}
	s, err := broadcastShapes(shapes...)
	if err != nil {
		strs := make([]string, 0, len(vs))
		for _, v := range vs {
			if v != nil {
				strs = append(strs, shapeStr(v))
			}
		}
		return nil, false, fmt.Errorf("shapes %v cannot be broadcast: %w", strs, err)
	}
	return s, true, nil
}

// mergeDim unifies two dims that must be equal: a known size wins; two known sizes that
// differ fail (ok false); of two symbols the first is kept.
func mergeDim(a, b Dim) (Dim, bool) {
	switch {
	case a.Known() && b.Known():
		return a, a.Size == b.Size
	case a.Known():
		return a, true
	case b.Known():
		return b, true
	case a.Param != "":
		return a, true
	}
	return b, true
}

// mapDim applies f to a known dim; a symbolic or unknown dim stays itself when same is true
// (f is the identity for it) and becomes Unknown otherwise.
func mapDim(d Dim, f func(int64) int64, same bool) Dim {
	if d.Known() {
		return D(f(d.Size))
	}
	if same {
		return d
	}
	return Unknown()
}

// mulDims is the product of dims: known when all are known; a lone symbol times known 1s
// stays that symbol; otherwise Unknown.
func mulDims(ds ...Dim) Dim {
	p := int64(1)
	var sym Dim
	nsym := 0
	for _, d := range ds {
		switch {
		case d.Known():
			p *= d.Size
		case d.Param != "":
			nsym++
			sym = d
		default:
			return Unknown()
		}
	}
	switch {
	case nsym == 0:
		return D(p)
	case p == 0:
		return D(0)
	case nsym == 1 && p == 1:
		return sym
	}
	return Unknown()
}

// dimProduct describes a product of dims: the known factor, the symbols (sorted) and
// whether any factor is unknown.
type dimProduct struct {
	known   int64
	syms    []string
	unknown bool
}

func productOf(ds Shape) dimProduct {
	p := dimProduct{known: 1}
	for _, d := range ds {
		switch {
		case d.Known():
			p.known *= d.Size
		case d.Param != "":
			p.syms = append(p.syms, d.Param)
		default:
			p.unknown = true
		}
	}
	sort.Strings(p.syms)
	return p
}

// divide returns the quotient p/q as a dim when it is determined: q's symbols must all
// appear in p, and what remains must be a known size or one symbol.
func (p dimProduct) divide(q dimProduct) (Dim, error) {
	if p.unknown || q.unknown {
		return Unknown(), nil
	}
	rest := map[string]int{}
	for _, s := range p.syms {
		rest[s]++
	}
	for _, s := range q.syms {
		if rest[s] == 0 {
			return Unknown(), nil
		}
		rest[s]--
	}
	var left []string
	for s, k := range rest {
		for range k {
			left = append(left, s)
		}
	}
	if q.known == 0 {
		if p.known == 0 {
			return Unknown(), nil
		}
		return Dim{}, fmt.Errorf("cannot infer a -1 dim next to a 0 dim")
	}
	if len(left) == 0 {
		if p.known%q.known != 0 {
			return Dim{}, fmt.Errorf("%d elements do not divide by %d", p.known, q.known)
		}
		return D(p.known / q.known), nil
	}
	if len(left) == 1 && p.known == q.known {
		return P(left[0]), nil
	}
	return Unknown(), nil
}

// sameDim reports whether a and b are provably the same size.
func sameDim(a, b Dim) bool {
	if a.Known() || b.Known() {
		return a.Known() && b.Known() && a.Size == b.Size
	}
	return a.Param != "" && a.Param == b.Param
}
