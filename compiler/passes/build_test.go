package passes_test

import (
	"math/rand/v2"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// gb builds small test graphs with seeded random weights.
type gb struct {
	g   *graph.Graph
	rng *rand.Rand
	in  map[string]*tensor.Tensor
	n   int
}

func newGB(name string) *gb {
	return &gb{g: graph.New(name), rng: rand.New(rand.NewPCG(3, 4)), in: map[string]*tensor.Tensor{}}
}

func (b *gb) randT(shape []int, lo, hi float64) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape)
	d := t.Float32s()
	for i := range d {
		d[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return t
}

// input adds a float32 graph input with random contents in [-2, 2].
func (b *gb) input(name string, shape ...int) string {
	b.g.Inputs = append(b.g.Inputs, graph.NewValue(name, tensor.Float32, graph.Dims(shape...)))
	b.in[name] = b.randT(shape, -2, 2)
	return name
}

// w adds a random float32 initializer in [lo, hi].
func (b *gb) w(name string, lo, hi float64, shape ...int) string {
	b.g.Initializers[name] = b.randT(shape, lo, hi)
	return name
}

// c adds a float32 constant.
func (b *gb) c(name string, shape []int, vals ...float32) string {
	b.g.Initializers[name] = tensor.FromFloat32(shape, vals)
	return name
}

func (b *gb) ints(name string, vals ...int64) string {
	b.g.Initializers[name] = tensor.FromInt64([]int{len(vals)}, vals)
	return name
}

// node adds a node with one output and returns the output name.
func (b *gb) node(op string, ins []string, attrs map[string]*graph.Attr) string {
	b.n++
	out := op + "_" + string(rune('a'+b.n%26)) + "_" + itoa(b.n)
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "n_" + out, Op: op, Inputs: ins, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *gb) output(names ...string) *gb {
	for _, n := range names {
		b.g.Outputs = append(b.g.Outputs, &graph.Value{Name: n, DType: tensor.Float32})
	}
	return b
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func aInts(v ...int64) *graph.Attr { return &graph.Attr{Type: graph.AttrInts, Ints: v} }
func aInt(v int64) *graph.Attr     { return &graph.Attr{Type: graph.AttrInt, Int: v} }
func aFloat(v float32) *graph.Attr { return &graph.Attr{Type: graph.AttrFloat, Float: v} }
func attrs(kv ...any) map[string]*graph.Attr {
	m := map[string]*graph.Attr{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(*graph.Attr)
	}
	return m
}

// expectOps runs the pipeline with numerics checked and asserts op counts of the result
// (ops absent from want are not checked; a count of 0 asserts absence).
func expectOps(t *testing.T, b *gb, want map[string]int) *graph.Graph {
	t.Helper()
	og, _ := checkSame(t, b.g, b.in, 1e-5)
	got := countOps(og)
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: %d nodes after the pipeline, want %d (ops: %v)", op, got[op], n, got)
		}
	}
	return og
}
