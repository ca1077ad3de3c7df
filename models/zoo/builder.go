package zoo

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// builder appends nodes to a graph, draws seeded weights and records the type, shape and
// estimated statistics of every value (see stats.go).
type builder struct {
	g      *graph.Graph
	seed   uint64 // Options.Seed
	stream uint64 // per-model second word of the PCG seeds
	batch  graph.Dim
	st     map[string]moments // estimated statistics per value
	err    error              // first construction error (Build returns it)
}

func newBuilder(name string, opt Options, stream uint64) *builder {
	b := &builder{
		g:      graph.New(name),
		seed:   opt.Seed,
		stream: stream,
		batch:  graph.P(BatchDim),
		st:     map[string]moments{},
	}
	if opt.Batch > 0 {
		b.batch = graph.D(int64(opt.Batch))
	}
	return b
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// input declares a graph input.
func (b *builder) input(name string, dt tensor.DType, shape graph.Shape) string {
	b.g.Inputs = append(b.g.Inputs, graph.NewValue(name, dt, shape))
	b.st[name] = scalarMoments(0, 1)
	return name
}

// output declares value name as a graph output called as, renaming the value (which nothing
// may read yet) and removing it from the intermediates.
func (b *builder) output(name, as string) {
	v, ok := b.g.Values[name]
	if !ok {
		b.fail("output %q was never produced", name)
		return
	}
	for _, n := range b.g.Nodes {
		for _, in := range n.Inputs {
			if in == name && as != name {
				b.fail("output %q is read by %v; it cannot be renamed %q", name, n, as)
			}
		}
		for i, out := range n.Outputs {
			if out == name {
				n.Outputs[i] = as
			}
		}
	}
	delete(b.g.Values, name)
	v.Name = as
	b.g.Outputs = append(b.g.Outputs, v)
}

// shape returns what is recorded of a value's shape.
func (b *builder) shape(name string) graph.Shape {
	v, ok := b.g.Value(name)
	if !ok {
		b.fail("value %q is not defined", name)
		return nil
	}
	return v.Shape
}

// dim returns dim i of a value's shape, which must be known.
func (b *builder) dim(name string, i int) int {
	s := b.shape(name)
	if i < 0 {
		i += len(s)
	}
	if i < 0 || i >= len(s) || !s[i].Known() {
		b.fail("value %q (shape %v): dim %d is not known", name, s, i)
		return 1
	}
	return int(s[i].Size)
}

// node appends a one-output node; the output value has the node's name.
func (b *builder) node(op, name string, inputs []string, dt tensor.DType, shape graph.Shape, attrs map[string]*graph.Attr) string {
	if _, dup := b.g.Value(name); dup {
		b.fail("value %q is defined twice", name)
	}
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{name}, Attrs: attrs})
	b.g.Values[name] = graph.NewValue(name, dt, shape)
	return name
}

// init adds an initializer.
func (b *builder) init(name string, t *tensor.Tensor) string {
	if _, dup := b.g.Initializers[name]; dup {
		b.fail("initializer %q is defined twice", name)
	}
	b.g.Initializers[name] = t
	return name
}

// normal adds a float32 initializer drawn from N(mean, std^2).
func (b *builder) normal(name string, shape []int, mean, std float64) string {
	t := tensor.MustNew(tensor.Float32, shape)
	b.fill(name, t.Float32s(), func(r *rand.Rand) float32 { return float32(mean + std*r.NormFloat64()) })
	return b.init(name, t)
}

// uniform adds a float32 initializer drawn from U[lo, hi).
func (b *builder) uniform(name string, shape []int, lo, hi float64) string {
	t := tensor.MustNew(tensor.Float32, shape)
	b.fill(name, t.Float32s(), func(r *rand.Rand) float32 { return float32(lo + (hi-lo)*r.Float64()) })
	return b.init(name, t)
}

// fillChunk is the number of elements drawn from one random stream.
const fillChunk = 1 << 18

// fill draws d element by element from gen. Every chunk of fillChunk elements of every
// initializer has its own stream, derived from the seed, the model and the initializer's
// name: the weights do not depend on the order of construction or on how many goroutines
// draw them, and large tensors are drawn in parallel.
func (b *builder) fill(name string, d []float32, gen func(r *rand.Rand) float32) {
	base := b.stream ^ seedStream(b.g.Name+"/"+name)
	draw := func(c int) {
		r := rand.New(rand.NewPCG(b.seed, base+uint64(c)*0x9e3779b97f4a7c15))
		for i := c * fillChunk; i < min(len(d), (c+1)*fillChunk); i++ {
			d[i] = gen(r)
		}
	}
	chunks := (len(d) + fillChunk - 1) / fillChunk
	if chunks <= 1 {
		draw(0)
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	for range min(chunks, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for c := range next {
				draw(c)
			}
		})
	}
	wg.Wait()
}

// scalar adds a float32 scalar constant.
func (b *builder) scalar(name string, v float32) string {
	if _, ok := b.g.Initializers[name]; ok {
		return name // shared constants (e.g. clip bounds) are made once
	}
	return b.init(name, tensor.FromFloat32(nil, []float32{v}))
}

// ints adds an int64 1-D constant.
func (b *builder) ints(name string, v ...int64) string {
	if _, ok := b.g.Initializers[name]; ok {
		return name
	}
	return b.init(name, tensor.FromInt64([]int{len(v)}, append([]int64(nil), v...)))
}

func aInt(v int64) *graph.Attr     { return &graph.Attr{Type: graph.AttrInt, Int: v} }
func aFloat(v float32) *graph.Attr { return &graph.Attr{Type: graph.AttrFloat, Float: v} }
func aInts(v ...int64) *graph.Attr { return &graph.Attr{Type: graph.AttrInts, Ints: v} }

// producer returns the node that computes value name, or nil.
func (b *builder) producer(name string) *graph.Node {
	for i := len(b.g.Nodes) - 1; i >= 0; i-- {
		if slices.Contains(b.g.Nodes[i].Outputs, name) {
			return b.g.Nodes[i]
		}
	}
	return nil
}

func (b *builder) dtype(name string) tensor.DType {
	v, ok := b.g.Value(name)
	if !ok {
		b.fail("value %q is not defined", name)
		return tensor.Float32
	}
	return v.DType
}
