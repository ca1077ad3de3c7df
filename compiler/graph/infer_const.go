package graph

import (
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// maxKnownElems bounds the tensors whose elements inference follows: shape vectors, axes,
// scales and the like are small; weights are not worth converting.
const maxKnownElems = 4096

// sv is one integer element of a tensor whose elements inference follows: a known value
// (possibly negative, like the -1 of a reshape target), a symbolic size, or unknown.
type sv struct {
	v     int64
	known bool
	sym   string
}

func kv(v int64) sv { return sv{v: v, known: true} }

// svOfDim is a dim as an element value.
func svOfDim(d Dim) sv {
	if d.Known() {
		return kv(d.Size)
	}
	return sv{sym: d.Param}
}

// dim is the element as a size; a negative known value is Unknown.
func (s sv) dim() Dim {
	switch {
	case s.known && s.v >= 0:
		return D(s.v)
	case !s.known && s.sym != "":
		return P(s.sym)
	}
	return Unknown()
}

// same reports whether a and b are provably equal.
func (s sv) same(o sv) bool {
	if s.known || o.known {
		return s.known && o.known && s.v == o.v
	}
	return s.sym != "" && s.sym == o.sym
}

// symTensor is a small tensor whose elements inference knows: integer (and bool) elements as
// svs, so a shape vector can hold symbols and unknowns; float elements only when every one
// is known.
type symTensor struct {
	shape  []int
	float  bool
	ints   []sv      // when !float
	floats []float64 // when float
}

func (t *symTensor) len() int { return tensor.NumElements(t.shape) }

// allInts returns the elements when they are all known integers.
func (t *symTensor) allInts() ([]int64, bool) {
	if t == nil || t.float {
		return nil, false
	}
	out := make([]int64, len(t.ints))
	for i, d := range t.ints {
		if !d.known {
			return nil, false
		}
		out[i] = d.v
	}
	return out, true
}

// asFloats returns the elements as floats when they are all known.
func (t *symTensor) asFloats() ([]float64, bool) {
	if t == nil {
		return nil, false
	}
	if t.float {
		return t.floats, true
	}
	ints, ok := t.allInts()
	if !ok {
		return nil, false
	}
	out := make([]float64, len(ints))
	for i, v := range ints {
		out[i] = float64(v)
	}
	return out, true
}

// intsKnown builds an integer symTensor of the given shape.
func intsKnown(shape []int, vals ...int64) *symTensor {
	t := &symTensor{shape: shape, ints: make([]sv, len(vals))}
	for i, v := range vals {
		t.ints[i] = kv(v)
	}
	return t
}

// symFromTensor converts a small host tensor; nil when too big or of an unhandled type.
func symFromTensor(t *tensor.Tensor) *symTensor {
	if t == nil || t.Check() != nil || t.Len() > maxKnownElems {
		return nil
	}
	shape := append([]int{}, t.Shape...)
	var ints []int64
	switch v := t.Data.(type) {
	case []float32:
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		return &symTensor{shape: shape, float: true, floats: f}
	case []float64:
		return &symTensor{shape: shape, float: true, floats: append([]float64{}, v...)}
	case []int64:
		ints = v
	case []int32:
		for _, x := range v {
			ints = append(ints, int64(x))
		}
	case []int16:
		for _, x := range v {
			ints = append(ints, int64(x))
		}
	case []int8:
		for _, x := range v {
			ints = append(ints, int64(x))
		}
	case []uint8:
		for _, x := range v {
			ints = append(ints, int64(x))
		}
	case []bool:
		for _, x := range v {
			ints = append(ints, b2i(x))
		}
	default:
		return nil
	}
	return intsKnown(shape, ints...)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// knownOf returns what is known of the elements of a value, or nil.
func (c *inferCtx) knownOf(name string) *symTensor {
	if name == "" {
		return nil
	}
	for s := c; s != nil; s = s.parent {
		if t, ok := s.known[name]; ok {
			return t
		}
		if _, ok := s.vals[name]; ok {
			return nil // a node output of this scope whose elements are not known
		}
		if t, ok := s.g.Initializers[name]; ok {
			st := symFromTensor(t)
			s.known[name] = st
			return st
		}
	}
	return nil
}

// knownInts returns input i's elements when all are known integers.
func (c *inferCtx) knownInts(n *Node, i int) ([]int64, bool) {
	return c.knownOf(n.Input(i)).allInts()
}

// knownElems returns input i's elements (known, symbolic or unknown) when input i is an
// integer vector or scalar whose length is known.
func (c *inferCtx) knownElems(n *Node, i int) ([]sv, bool) {
	t := c.knownOf(n.Input(i))
	if t == nil || t.float || len(t.shape) > 1 {
		return nil, false
	}
	return t.ints, true
}

// knownFloats returns input i's elements as floats when all are known.
func (c *inferCtx) knownFloats(n *Node, i int) ([]float64, bool) {
	return c.knownOf(n.Input(i)).asFloats()
}

// bcastIndex maps every flat index of out to the flat index of an input of shape in that
// broadcasts to out (right-aligned).
func bcastIndex(out, in []int) []int {
	total := tensor.NumElements(out)
	idx := make([]int, total)
	off := len(out) - len(in)
	strides := make([]int, len(out))
	st := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			strides[off+i] = st
		}
		st *= in[i]
	}
	coord := make([]int, len(out))
	for k := range total {
		f := 0
		for j, c := range coord {
			f += c * strides[j]
		}
		idx[k] = f
		for j := len(out) - 1; j >= 0; j-- {
			coord[j]++
			if coord[j] < out[j] {
				break
			}
			coord[j] = 0
		}
	}
	return idx
}

// bcastConcrete broadcasts concrete shapes; ok is false when they do not broadcast.
func bcastConcrete(shapes ...[]int) ([]int, bool) {
	s := make(Shape, 0)
	for _, sh := range shapes {
		var err error
		if s, err = broadcastShapes(s, Dims(sh...)); err != nil {
			return nil, false
		}
	}
	return s.Concrete()
}

// symElementwise applies fi (integers as dims) or ff (floats) elementwise with broadcasting.
// Float results of fcmp-style ops come back as integers when asInt is true.
func symElementwise(ts []*symTensor, fi func([]sv) sv, ff func([]float64) float64, asInt bool) *symTensor {
	shapes := make([][]int, len(ts))
	anyFloat := false
	for i, t := range ts {
		if t == nil {
			return nil
		}
		shapes[i] = t.shape
		anyFloat = anyFloat || t.float
	}
	out, ok := bcastConcrete(shapes...)
	if !ok || tensor.NumElements(out) > maxKnownElems {
		return nil
	}
	maps := make([][]int, len(ts))
	for i, t := range ts {
		maps[i] = bcastIndex(out, t.shape)
	}
	total := tensor.NumElements(out)
	if !anyFloat {
		if fi == nil {
			return nil
		}
		res := &symTensor{shape: out, ints: make([]sv, total)}
		args := make([]sv, len(ts))
		for k := range total {
			for i, t := range ts {
				args[i] = t.ints[maps[i][k]]
			}
			res.ints[k] = fi(args)
		}
		return res
	}
	if ff == nil {
		return nil
	}
	fs := make([][]float64, len(ts))
	for i, t := range ts {
		f, ok := t.asFloats()
		if !ok {
			return nil
		}
		fs[i] = f
	}
	res := &symTensor{shape: out, float: !asInt}
	args := make([]float64, len(ts))
	for k := range total {
		for i := range ts {
			args[i] = fs[i][maps[i][k]]
		}
		v := ff(args)
		if asInt {
			res.ints = append(res.ints, kv(int64(v)))
		} else {
			res.floats = append(res.floats, v)
		}
	}
	return res
}

// intBinary lifts an integer operation to elements: known operands compute; rules for
// symbols (x+0, x*1, x-x, ...) come from sym; anything else is unknown.
func intBinary(f func(a, b int64) (int64, bool), sym func(a, b sv) (sv, bool)) func([]sv) sv {
	return func(args []sv) sv {
		a, b := args[0], args[1]
		if a.known && b.known {
			if v, ok := f(a.v, b.v); ok {
				return kv(v)
			}
			return sv{}
		}
		if sym != nil {
			if d, ok := sym(a, b); ok {
				return d
			}
		}
		return sv{}
	}
}

// floatBinary lifts a float operation.
func floatBinary(f func(a, b float64) float64) func([]float64) float64 {
	return func(args []float64) float64 { return f(args[0], args[1]) }
}

func pyMod(a, b int64) int64 {
	m := a % b
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}

func fcmp(f func(a, b float64) bool) func([]float64) float64 {
	return func(args []float64) float64 {
		if f(args[0], args[1]) {
			return 1
		}
		return 0
	}
}
