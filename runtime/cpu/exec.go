package cpu

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Options tunes a run.
type Options struct {
	Workers int // goroutines for the heavy ops; 0 = GOMAXPROCS
}

// ErrUnsupportedOp is wrapped by the error of a node whose op the executor does not know.
var ErrUnsupportedOp = errors.New("unsupported op")

// Run executes g on inputs (keyed by graph input name) and returns the graph outputs.
// Graph inputs that have an initializer may be omitted (the initializer is the default).
func Run(ctx context.Context, g *graph.Graph, inputs map[string]*tensor.Tensor, opt Options) (map[string]*tensor.Tensor, error) {
	if g == nil {
		return nil, errors.New("cpu: nil graph")
	}
	e, err := bindInputs(g, inputs)
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, opt: opt}
	if err := r.runGraph(g, e); err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for _, v := range g.Outputs {
		t, ok := e.get(v.Name)
		if !ok {
			return nil, fmt.Errorf("cpu: graph output %q was not computed", v.Name)
		}
		out[v.Name] = t
	}
	return out, nil
}

func checkInput(v *graph.Value, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("cpu: input %q is nil", v.Name)
	}
	if err := t.Check(); err != nil {
		return fmt.Errorf("cpu: input %q: %w", v.Name, err)
	}
	if v.DType != tensor.Undefined && t.DType != v.DType {
		return fmt.Errorf("cpu: input %q has element type %v, the graph declares %v", v.Name, t.DType, v.DType)
	}
	if v.RankKnown && len(t.Shape) != len(v.Shape) {
		return fmt.Errorf("cpu: input %q has shape %v (rank %d), the graph declares %v (rank %d)", v.Name, t.Shape, len(t.Shape), v.Shape, len(v.Shape))
	}
	return nil
}

// env is one graph's scope of named tensors; subgraphs see their parents' values.
type env struct {
	vals   map[string]*tensor.Tensor
	parent *env
}

func (e *env) get(name string) (*tensor.Tensor, bool) {
	for s := e; s != nil; s = s.parent {
		if t, ok := s.vals[name]; ok {
			return t, true
		}
	}
	return nil, false
}

// bindInputs checks inputs against g's declared inputs (a missing one may default to its
// initializer; unknown names are an error) and returns the environment holding them.
func bindInputs(g *graph.Graph, inputs map[string]*tensor.Tensor) (*env, error) {
	e := &env{vals: map[string]*tensor.Tensor{}}
	declared := map[string]bool{}
	for _, v := range g.Inputs {
		declared[v.Name] = true
		t, ok := inputs[v.Name]
		if !ok {
			if init, isInit := g.Initializers[v.Name]; isInit {
				e.vals[v.Name] = init
				continue
			}
			return nil, fmt.Errorf("cpu: graph input %q is missing", v.Name)
		}
		if err := checkInput(v, t); err != nil {
			return nil, err
		}
		e.vals[v.Name] = t
	}
	var extra []string
	for name := range inputs {
		if !declared[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("cpu: inputs %q are not inputs of graph %q", extra, g.Name)
	}
	return e, nil
}

type runner struct {
	ctx  context.Context
	opt  Options
	bufs buffers
}

// runGraph runs g's nodes in e (which already holds g's inputs). Initializers are added;
// values produced here are dropped after their last use unless they are graph outputs.
func (r *runner) runGraph(g *graph.Graph, e *env) error {
	return r.walkGraph(g, e, func(_ int, n *graph.Node, fu *fusion) error { return r.runNode(g, n, e, fu) })
}

// walkGraph is the graph walk shared by Run and the unit pool: it adds g's initializers to e,
// plans the fusions, calls run for every node that is not absorbed by a fusion (with the
// fusion it heads, or nil), and drops each value after its last use unless it is a graph
// output or an initializer.
func (r *runner) walkGraph(g *graph.Graph, e *env, run func(i int, n *graph.Node, fu *fusion) error) error {
	for name, t := range g.Initializers {
		if _, ok := e.vals[name]; !ok {
			e.vals[name] = t
		}
	}
	keep := map[string]bool{}
	for _, v := range g.Outputs {
		keep[v.Name] = true
	}
	last := lastUses(g)
	fused := planFusions(g)
	skip := map[int]bool{}
	for i, n := range g.Nodes {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("cpu: graph %q stopped before %v: %w", g.Name, n, err)
		}
		if !skip[i] {
			var fu *fusion
			if f, ok := fused[i]; ok {
				fu = &f
				for _, j := range f.skips {
					skip[j] = true
				}
			}
			if err := run(i, n, fu); err != nil {
				return err
			}
		}
		for _, name := range last[i] {
			if !keep[name] && !g.IsInitializer(name) {
				if t, ok := e.vals[name]; ok {
					r.bufs.drop(t)
					delete(e.vals, name)
				}
			}
		}
	}
	return nil
}

// lastUses lists, per node index, the locally produced values whose last reader (or, for
// values nobody reads, whose producer) is that node.
func lastUses(g *graph.Graph) [][]string {
	produced := map[string]int{}
	lastUse := map[string]int{}
	for i, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			lastUse[in] = i
		}
		for _, o := range n.Outputs {
			if o != "" {
				produced[o] = i
			}
		}
	}
	out := make([][]string, len(g.Nodes))
	for name, p := range produced {
		i := p
		if u, ok := lastUse[name]; ok && u > p {
			i = u
		}
		out[i] = append(out[i], name)
	}
	return out
}

// nodeReads is the names a node reads: its inputs and the outer values its subgraphs read.
func nodeReads(n *graph.Node) []string {
	reads := append([]string{}, n.Inputs...)
	for _, a := range n.Attrs {
		if a != nil && a.Type == graph.AttrGraph && a.Graph != nil {
			reads = append(reads, freeVars(a.Graph)...)
		}
	}
	return reads
}

// freeVars is the names a subgraph reads that it does not define itself.
func freeVars(g *graph.Graph) []string {
	defined := map[string]bool{}
	for _, v := range g.Inputs {
		defined[v.Name] = true
	}
	for name := range g.Initializers {
		defined[name] = true
	}
	var free []string
	for _, n := range g.Nodes {
		for _, in := range nodeReads(n) {
			if in != "" && !defined[in] {
				free = append(free, in)
			}
		}
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	for _, v := range g.Outputs {
		if !defined[v.Name] {
			free = append(free, v.Name)
		}
	}
	return free
}

// runNode runs n in e. With a fusion fu, n's weights take the folded BatchNormalization,
// its activation epilogue is fu.act and its result is stored under the output of the last
// absorbed node instead (see planFusions).
func (r *runner) runNode(g *graph.Graph, n *graph.Node, e *env, fu *fusion) error {
	key, ok := opKey(n)
	if !ok {
		return fmt.Errorf("%v: domain %q: %w", n, n.Domain, ErrUnsupportedOp)
	}
	f, ok := opTable[key]
	if !ok {
		return fmt.Errorf("%v: %w", n, ErrUnsupportedOp)
	}
	c := &opCtx{node: n, r: r, env: e, g: g, in: make([]*tensor.Tensor, len(n.Inputs)), out: make([]*tensor.Tensor, len(n.Outputs))}
	outNames := n.Outputs
	if fu != nil {
		c.act = fu.act
		outNames = g.Nodes[fu.last].Outputs[:1]
	}
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		t, ok := e.get(name)
		if !ok {
			return fmt.Errorf("%v: input %d (%q) has no value", n, i, name)
		}
		c.in[i] = t
	}
	if fu != nil && fu.bn != nil {
		if err := foldInto(c, fu.bn); err != nil {
			return fmt.Errorf("%v: folding %v: %w", n, fu.bn, err)
		}
	}
	if err := f(c); err != nil {
		return fmt.Errorf("%v: %w", n, err)
	}
	for i, name := range outNames {
		if name == "" {
			continue
		}
		t := c.out[i]
		if t == nil {
			return fmt.Errorf("%v: output %d (%q) was not produced", n, i, name)
		}
		e.vals[name] = t
		r.bufs.hold(t)
	}
	return nil
}

// foldInto replaces the conv's weight and bias inputs by those with bn folded in.
func foldInto(c *opCtx, bn *graph.Node) error {
	ps := make([]*tensor.Tensor, 4)
	for i := range ps {
		t, ok := c.env.get(bn.Inputs[i+1])
		if !ok {
			return fmt.Errorf("input %q has no value", bn.Inputs[i+1])
		}
		ps[i] = t
	}
	w := c.opt(1)
	if w == nil || w.DType != tensor.Float32 || len(w.Shape) < 1 || w.Shape[0] == 0 {
		return fmt.Errorf("conv weight is not a float32 tensor")
	}
	for i, t := range ps {
		if t.DType != tensor.Float32 || t.Len() != w.Shape[0] {
			return fmt.Errorf("parameter %d has %v, want float32[%d]", i+1, t, w.Shape[0])
		}
	}
	b := c.opt(2)
	if b != nil && (b.DType != tensor.Float32 || b.Len() != w.Shape[0]) {
		return fmt.Errorf("conv bias has %v, want float32[%d]", b, w.Shape[0])
	}
	nw, nb := foldBN(c.node, bn, w, b, ps[0], ps[1], ps[2], ps[3])
	c.in[1] = nw
	if len(c.in) < 3 {
		c.in = append(c.in, nil)
	}
	c.in[2] = nb
	c.folded = true
	return nil
}
