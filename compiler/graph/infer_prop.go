package graph

import (
	"math"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// propFunc computes what is known of the elements of a node's first output (data
// propagation for shape arithmetic), or nil. It runs after the node's shapes are inferred.
type propFunc func(c *inferCtx, n *Node) *symTensor

// propFuncs is the table of data propagation: the ops that build and transform shape
// vectors in exported models.
var propFuncs = map[string]propFunc{
	"Constant": func(c *inferCtx, n *Node) *symTensor {
		t, _ := constantAttr(n)
		return symFromTensor(t)
	},
	"Shape": propShape,
	"Size": func(c *inferCtx, n *Node) *symTensor {
		v, err := c.in(n, 0)
		if err != nil || rankOf(v) < 0 {
			return nil
		}
		return &symTensor{shape: []int{}, ints: []sv{svOfDim(mulDims(v.Shape...))}}
	},
	"Identity":  propSame,
	"Dropout":   propSame,
	"Reshape":   propSame,
	"Squeeze":   propSame,
	"Unsqueeze": propSame,
	"Flatten":   propSame,
	"Cast":      propCast,
	"Gather":    propGather,
	"Slice":     propSlice,
	"Concat":    propConcat,
	"Add": propBinary(func(a, b int64) (int64, bool) { return a + b, true },
		func(a, b sv) (sv, bool) { return symIdentity(a, b, 0) },
		func(a, b float64) float64 { return a + b }),
	"Sub": propBinary(func(a, b int64) (int64, bool) { return a - b, true },
		func(a, b sv) (sv, bool) {
			if a.same(b) {
				return kv(0), true
			}
			if b.known && b.v == 0 {
				return a, true
			}
			return sv{}, false
		},
		func(a, b float64) float64 { return a - b }),
	"Mul": propBinary(func(a, b int64) (int64, bool) { return a * b, true },
		func(a, b sv) (sv, bool) {
			if (a.known && a.v == 0) || (b.known && b.v == 0) {
				return kv(0), true
			}
			return symIdentity(a, b, 1)
		},
		func(a, b float64) float64 { return a * b }),
	"Div": propBinary(func(a, b int64) (int64, bool) { return divTrunc(a, b) },
		func(a, b sv) (sv, bool) {
			if a.same(b) {
				return kv(1), true
			}
			if b.known && b.v == 1 {
				return a, true
			}
			return sv{}, false
		},
		func(a, b float64) float64 { return a / b }),
	"Mod": propBinary(func(a, b int64) (int64, bool) {
		if b == 0 {
			return 0, false
		}
		return pyMod(a, b), true
	}, nil, nil),
	"Max":            propVariadic(func(a, b int64) int64 { return max(a, b) }, math.Max),
	"Min":            propVariadic(func(a, b int64) int64 { return min(a, b) }, math.Min),
	"Equal":          propCompare(func(a, b int64) bool { return a == b }, func(a, b float64) bool { return a == b }, true),
	"Less":           propCompare(func(a, b int64) bool { return a < b }, func(a, b float64) bool { return a < b }, false),
	"LessOrEqual":    propCompare(func(a, b int64) bool { return a <= b }, func(a, b float64) bool { return a <= b }, false),
	"Greater":        propCompare(func(a, b int64) bool { return a > b }, func(a, b float64) bool { return a > b }, false),
	"GreaterOrEqual": propCompare(func(a, b int64) bool { return a >= b }, func(a, b float64) bool { return a >= b }, false),
	"And":            propBinary(func(a, b int64) (int64, bool) { return b2i(a != 0 && b != 0), true }, nil, nil),
	"Or":             propBinary(func(a, b int64) (int64, bool) { return b2i(a != 0 || b != 0), true }, nil, nil),
	"Neg":            propUnary(func(a int64) int64 { return -a }, func(a float64) float64 { return -a }),
	"Abs":            propUnary(func(a int64) int64 { return max(a, -a) }, math.Abs),
	"Not":            propUnary(func(a int64) int64 { return b2i(a == 0) }, nil),
	"Floor":          propUnary(nil, math.Floor),
	"Ceil":           propUnary(nil, math.Ceil),
	"Round":          propUnary(nil, math.RoundToEven),
	"Sqrt":           propUnary(nil, math.Sqrt),
	"Where":          propWhere,
	"ConstantOfShape": func(c *inferCtx, n *Node) *symTensor {
		shape, ok := c.knownInts(n, 0)
		if !ok {
			return nil
		}
		dims := make([]int, len(shape))
		total := int64(1)
		for i, d := range shape {
			if d < 0 || d > maxKnownElems {
				return nil
			}
			if total *= d; total > maxKnownElems {
				return nil
			}
			dims[i] = int(d)
		}
		val := symFromTensor(n.AttrTensor("value"))
		if val == nil {
			val = &symTensor{shape: []int{1}, float: true, floats: []float64{0}}
		}
		if val.len() != 1 {
			return nil
		}
		return symElementwise([]*symTensor{val, {shape: dims, ints: make([]sv, tensor.NumElements(dims))}},
			func(a []sv) sv { return a[0] }, func(a []float64) float64 { return a[0] }, false)
	},
	"Range": propRange,
}

func propSame(c *inferCtx, n *Node) *symTensor {
	in := c.knownOf(n.Input(0))
	out, ok := c.vals[n.Outputs[0]]
	if in == nil || !ok || !out.RankKnown {
		return nil
	}
	shape, ok := out.Shape.Concrete()
	if !ok || tensor.NumElements(shape) != in.len() {
		return nil
	}
	return &symTensor{shape: shape, float: in.float, ints: in.ints, floats: in.floats}
}

func propShape(c *inferCtx, n *Node) *symTensor {
	v, err := c.in(n, 0)
	if err != nil || rankOf(v) < 0 {
		return nil
	}
	lo, hi := shapeRange(n, len(v.Shape))
	t := &symTensor{shape: []int{hi - lo}}
	for _, d := range v.Shape[lo:hi] {
		t.ints = append(t.ints, svOfDim(d))
	}
	return t
}

// shapeRange is the [start, end) of Shape's start/end attributes, clamped to the rank.
func shapeRange(n *Node, r int) (int, int) {
	clamp := func(a int64) int {
		if a < 0 {
			a += int64(r)
		}
		return int(min(max(a, 0), int64(r)))
	}
	lo := clamp(n.AttrInt("start", 0))
	hi := clamp(n.AttrInt("end", int64(r)))
	return lo, max(lo, hi)
}

func propCast(c *inferCtx, n *Node) *symTensor {
	in := c.knownOf(n.Input(0))
	if in == nil {
		return nil
	}
	to := onnxDType(n.AttrInt("to", 0))
	switch {
	case to.IsFloat():
		f, ok := in.asFloats()
		if !ok {
			return nil
		}
		return &symTensor{shape: in.shape, float: true, floats: f}
	case to == tensor.Bool:
		out := &symTensor{shape: in.shape}
		for i := range in.len() {
			switch {
			case in.float:
				out.ints = append(out.ints, kv(b2i(in.floats[i] != 0)))
			case in.ints[i].known:
				out.ints = append(out.ints, kv(b2i(in.ints[i].v != 0)))
			default:
				out.ints = append(out.ints, sv{})
			}
		}
		return out
	case in.float:
		out := &symTensor{shape: in.shape}
		for _, f := range in.floats {
			if math.IsNaN(f) || math.Abs(f) > 1<<62 {
				return nil
			}
			out.ints = append(out.ints, kv(int64(f)))
		}
		return out
	}
	return in
}

func propGather(c *inferCtx, n *Node) *symTensor {
	data := c.knownOf(n.Input(0))
	idx, ok := c.knownInts(n, 1)
	it := c.knownOf(n.Input(1))
	if data == nil || !ok || len(data.shape) == 0 {
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", 0), len(data.shape))
	if err != nil {
		return nil
	}
	outer := tensor.NumElements(data.shape[:axis])
	inner := tensor.NumElements(data.shape[axis+1:])
	dim := data.shape[axis]
	shape := append(append(append([]int{}, data.shape[:axis]...), it.shape...), data.shape[axis+1:]...)
	out := &symTensor{shape: shape, float: data.float}
	for o := range outer {
		for _, ix := range idx {
			if ix < 0 {
				ix += int64(dim)
			}
			if ix < 0 || ix >= int64(dim) {
				return nil
			}
			base := (o*dim + int(ix)) * inner
			if data.float {
				out.floats = append(out.floats, data.floats[base:base+inner]...)
			} else {
				out.ints = append(out.ints, data.ints[base:base+inner]...)
			}
		}
	}
	return out
}

func propSlice(c *inferCtx, n *Node) *symTensor {
	data := c.knownOf(n.Input(0))
	if data == nil {
		return nil
	}
	spec, ok := c.sliceSpec(n, len(data.shape))
	if !ok {
		return nil
	}
	// Build, per axis, the list of source indices; then gather them all.
	lists := make([][]int, len(data.shape))
	shape := make([]int, len(data.shape))
	for ax, d := range data.shape {
		lists[ax] = spec.indices(ax, int64(d))
		shape[ax] = len(lists[ax])
	}
	out := &symTensor{shape: shape, float: data.float}
	strides := make([]int, len(shape))
	st := 1
	for i := len(shape) - 1; i >= 0; i-- {
		strides[i] = st
		st *= data.shape[i]
	}
	coord := make([]int, len(shape))
	total := tensor.NumElements(shape)
	for range total {
		f := 0
		for ax, k := range coord {
			f += lists[ax][k] * strides[ax]
		}
		if data.float {
			out.floats = append(out.floats, data.floats[f])
		} else {
			out.ints = append(out.ints, data.ints[f])
		}
		for j := len(shape) - 1; j >= 0; j-- {
			coord[j]++
			if coord[j] < shape[j] {
				break
			}
			coord[j] = 0
		}
	}
	return out
}

func propConcat(c *inferCtx, n *Node) *symTensor {
	var parts []*symTensor
	for _, name := range n.Inputs {
		if name == "" {
			continue
		}
		t := c.knownOf(name)
		if t == nil || (len(parts) > 0 && (t.float != parts[0].float || len(t.shape) != len(parts[0].shape))) {
			return nil
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 || len(parts[0].shape) == 0 {
		return nil
	}
	axis, err := normAxis(n.AttrInt("axis", 0), len(parts[0].shape))
	if err != nil {
		return nil
	}
	shape := append([]int{}, parts[0].shape...)
	shape[axis] = 0
	for _, p := range parts {
		for i, d := range p.shape {
			if i != axis && d != shape[i] {
				return nil
			}
		}
		shape[axis] += p.shape[axis]
	}
	outer := tensor.NumElements(shape[:axis])
	out := &symTensor{shape: shape, float: parts[0].float}
	for o := range outer {
		for _, p := range parts {
			chunk := tensor.NumElements(p.shape[axis:])
			if p.float {
				out.floats = append(out.floats, p.floats[o*chunk:(o+1)*chunk]...)
			} else {
				out.ints = append(out.ints, p.ints[o*chunk:(o+1)*chunk]...)
			}
		}
	}
	return out
}

// symIdentity applies x op e = x (and e op x = x) for the identity element e.
func symIdentity(a, b sv, e int64) (sv, bool) {
	if b.known && b.v == e {
		return a, true
	}
	if a.known && a.v == e {
		return b, true
	}
	return sv{}, false
}

func divTrunc(a, b int64) (int64, bool) {
	if b == 0 {
		return 0, false
	}
	return a / b, true
}

func propBinary(fi func(a, b int64) (int64, bool), sym func(a, b sv) (sv, bool), ff func(a, b float64) float64) propFunc {
	return func(c *inferCtx, n *Node) *symTensor {
		var f func([]float64) float64
		if ff != nil {
			f = floatBinary(ff)
		}
		return symElementwise([]*symTensor{c.knownOf(n.Input(0)), c.knownOf(n.Input(1))}, intBinary(fi, sym), f, false)
	}
}

func propVariadic(fi func(a, b int64) int64, ff func(a, b float64) float64) propFunc {
	return func(c *inferCtx, n *Node) *symTensor {
		var acc *symTensor
		for _, name := range n.Inputs {
			t := c.knownOf(name)
			if t == nil {
				return nil
			}
			if acc == nil {
				acc = t
				continue
			}
			acc = symElementwise([]*symTensor{acc, t},
				intBinary(func(a, b int64) (int64, bool) { return fi(a, b), true },
					func(a, b sv) (sv, bool) { return a, a.same(b) }),
				floatBinary(ff), false)
		}
		return acc
	}
}

func propCompare(fi func(a, b int64) bool, ff func(a, b float64) bool, eq bool) propFunc {
	return func(c *inferCtx, n *Node) *symTensor {
		return symElementwise([]*symTensor{c.knownOf(n.Input(0)), c.knownOf(n.Input(1))},
			intBinary(func(a, b int64) (int64, bool) { return b2i(fi(a, b)), true },
				func(a, b sv) (sv, bool) { return kv(b2i(eq)), a.same(b) }),
			fcmp(ff), true)
	}
}

func propUnary(fi func(int64) int64, ff func(float64) float64) propFunc {
	return func(c *inferCtx, n *Node) *symTensor {
		var i func([]sv) sv
		if fi != nil {
			i = func(a []sv) sv {
				if !a[0].known {
					return sv{}
				}
				return kv(fi(a[0].v))
			}
		}
		var f func([]float64) float64
		if ff != nil {
			f = func(a []float64) float64 { return ff(a[0]) }
		}
		return symElementwise([]*symTensor{c.knownOf(n.Input(0))}, i, f, false)
	}
}

func propWhere(c *inferCtx, n *Node) *symTensor {
	cond := c.knownOf(n.Input(0))
	if cond == nil || cond.float {
		return nil
	}
	x, y := c.knownOf(n.Input(1)), c.knownOf(n.Input(2))
	if x == nil || y == nil || x.float != y.float {
		return nil
	}
	ts := []*symTensor{cond, x, y}
	if !x.float {
		return symElementwise(ts, func(a []sv) sv {
			switch {
			case !a[0].known:
				if a[1].same(a[2]) {
					return a[1]
				}
				return sv{}
			case a[0].v != 0:
				return a[1]
			}
			return a[2]
		}, nil, false)
	}
	cf, ok := cond.asFloats()
	if !ok {
		return nil
	}
	return symElementwise([]*symTensor{{shape: cond.shape, float: true, floats: cf}, x, y}, nil, func(a []float64) float64 {
		if a[0] != 0 {
			return a[1]
		}
		return a[2]
	}, false)
}

func propRange(c *inferCtx, n *Node) *symTensor {
	s, ok1 := c.knownFloats(n, 0)
	l, ok2 := c.knownFloats(n, 1)
	d, ok3 := c.knownFloats(n, 2)
	if !ok1 || !ok2 || !ok3 || len(s) != 1 || len(l) != 1 || len(d) != 1 || d[0] == 0 {
		return nil
	}
	span := math.Ceil((l[0] - s[0]) / d[0])
	if math.IsNaN(span) || span > maxKnownElems {
		return nil
	}
	cnt := int(max(span, 0))
	st := c.knownOf(n.Input(0))
	out := &symTensor{shape: []int{cnt}, float: st.float}
	for i := range cnt {
		v := s[0] + float64(i)*d[0]
		if st.float {
			out.floats = append(out.floats, v)
		} else {
			out.ints = append(out.ints, kv(int64(v)))
		}
	}
	return out
}
