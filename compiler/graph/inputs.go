package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// RequiredInputs are the graph inputs a caller must feed: those without an initializer
// (an input that is also an initializer has a default).
func (g *Graph) RequiredInputs() []*Value {
	var out []*Value
	for _, v := range g.Inputs {
		if v != nil && !g.IsInitializer(v.Name) {
			out = append(out, v)
		}
	}
	return out
}

// CheckInputs checks tensors fed to the graph against its declared inputs: every required
// input is present, no unknown name is given, element types match, ranks match, known dims
// match, and each symbolic dim takes one size across all inputs. It reports every problem.
func (g *Graph) CheckInputs(inputs map[string]*tensor.Tensor) error {
	_, err := g.BindSymbols(inputs)
	return err
}

// BindSymbols checks inputs as CheckInputs does and returns the size each symbolic dim
// (dim_param) takes.
func (g *Graph) BindSymbols(inputs map[string]*tensor.Tensor) (map[string]int64, error) {
	given := make(map[string]givenInput, len(inputs))
	var errs []error
	for name, t := range inputs {
		if t == nil {
			continue // reported as missing (or unknown) below
		}
		if err := t.Check(); err != nil {
			errs = append(errs, fmt.Errorf("input %q: %w", name, err))
			given[name] = givenInput{bad: true}
			continue
		}
		given[name] = givenInput{dtype: t.DType, shape: t.Shape}
	}
	for name, t := range inputs {
		if t == nil {
			if _, ok := given[name]; !ok && !g.isInput(name) {
				given[name] = givenInput{bad: true}
			}
		}
	}
	bind, err := g.bindShapes(given)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bind, nil
}

func (g *Graph) isInput(name string) bool {
	for _, v := range g.Inputs {
		if v != nil && v.Name == name {
			return true
		}
	}
	return false
}

// givenInput is what a caller feeds for one input: its element type and shape (bad: already
// reported as malformed).
type givenInput struct {
	dtype tensor.DType
	shape []int
	bad   bool
}

// bindShapes checks given inputs against the declared ones and binds the symbolic dims.
func (g *Graph) bindShapes(given map[string]givenInput) (map[string]int64, error) {
	var errs []error
	var extra []string
	for name := range given {
		if !g.isInput(name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		errs = append(errs, fmt.Errorf("input %q is not an input of the model; its inputs are %s", name, g.inputList()))
	}
	bind := map[string]int64{}
	boundBy := map[string]string{}
	for _, v := range g.Inputs {
		if v == nil {
			continue
		}
		t, ok := given[v.Name]
		if !ok {
			if !g.IsInitializer(v.Name) {
				errs = append(errs, fmt.Errorf("input %q (%s) is missing", v.Name, declString(v)))
			}
			continue
		}
		if t.bad {
			continue
		}
		if v.DType != tensor.Undefined && t.dtype != tensor.Undefined && t.dtype != v.DType {
			errs = append(errs, fmt.Errorf("input %q: expected element type %v, got %v", v.Name, v.DType, t.dtype))
		}
		if !v.RankKnown {
			continue
		}
		if len(t.shape) != len(v.Shape) {
			errs = append(errs, fmt.Errorf("input %q: expected shape %s (rank %d), got %v (rank %d)",
				v.Name, v.Shape, len(v.Shape), t.shape, len(t.shape)))
			continue
		}
		for i, d := range v.Shape {
			got := int64(t.shape[i])
			switch {
			case got < 0:
				errs = append(errs, fmt.Errorf("input %q: shape %v has a negative dim", v.Name, t.shape))
			case d.Known() && d.Size != got:
				errs = append(errs, fmt.Errorf("input %q: expected shape %s, got %v (dim %d is %d, not %d)",
					v.Name, v.Shape, t.shape, i, got, d.Size))
			case !d.Known() && d.Param != "":
				if b, ok := bind[d.Param]; ok && b != got {
					errs = append(errs, fmt.Errorf("input %q: expected shape %s, got %v: dim %d (%s) is %d here but %d in %s",
						v.Name, v.Shape, t.shape, i, d.Param, got, b, boundBy[d.Param]))
				} else if !ok {
					bind[d.Param] = got
					boundBy[d.Param] = fmt.Sprintf("input %q", v.Name)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bind, nil
}

func declString(v *Value) string {
	if !v.RankKnown {
		return fmt.Sprintf("%v of any shape", v.DType)
	}
	return fmt.Sprintf("%v%s", v.DType, v.Shape)
}

func (g *Graph) inputList() string {
	var parts []string
	for _, v := range g.RequiredInputs() {
		parts = append(parts, fmt.Sprintf("%q %s", v.Name, declString(v)))
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

// Specialize returns a copy of g whose input dims named in bindings take those sizes, with
// every shape inferred again (so dims that were Unknown under symbols become known). g is
// not changed; the copy shares g's nodes (except those holding subgraphs) and initializers.
func Specialize(g *Graph, bindings map[string]int64) (*Graph, error) {
	for p, s := range bindings {
		if s < 0 {
			return nil, fmt.Errorf("specialize: symbol %q bound to negative size %d", p, s)
		}
	}
	c := cloneForInference(g)
	for i, v := range c.Inputs {
		if v == nil || !v.RankKnown {
			continue
		}
		nv := *v
		nv.Shape = append(Shape{}, v.Shape...)
		for j, d := range nv.Shape {
			if s, ok := bindings[d.Param]; ok && !d.Known() && d.Param != "" {
				nv.Shape[j] = D(s)
			}
		}
		c.Inputs[i] = &nv
	}
	if err := InferShapes(c); err != nil {
		return nil, fmt.Errorf("specialize %v: %w", bindings, err)
	}
	return c, nil
}

// SpecializeShapes returns a copy of g whose inputs take the given concrete shapes (which
// must fit the declared ones: rank, known dims, one size per symbol), with every shape
// inferred again. Inputs not named keep their declared shapes.
func SpecializeShapes(g *Graph, shapes map[string][]int) (*Graph, error) {
	given := map[string]givenInput{}
	for name, s := range shapes {
		given[name] = givenInput{shape: s}
	}
	for _, v := range g.Inputs { // unnamed inputs are not "missing" here
		if v == nil {
			continue
		}
		if _, ok := shapes[v.Name]; !ok {
			given[v.Name] = givenInput{bad: true}
		}
	}
	if _, err := g.bindShapes(given); err != nil {
		return nil, fmt.Errorf("specialize: %w", err)
	}
	c := cloneForInference(g)
	for i, v := range c.Inputs {
		if v == nil {
			continue
		}
		if s, ok := shapes[v.Name]; ok {
			nv := *v
			nv.Shape, nv.RankKnown = Dims(s...), true
			c.Inputs[i] = &nv
		}
	}
	if err := InferShapes(c); err != nil {
		return nil, fmt.Errorf("specialize %v: %w", shapes, err)
	}
	return c, nil
}

// cloneForInference copies what InferShapes writes (inputs, outputs, values, and subgraphs,
// recursively) so that inferring the copy leaves g as it was.
func cloneForInference(g *Graph) *Graph {
	c := *g
	c.Inputs = append([]*Value{}, g.Inputs...)
	c.Outputs = append([]*Value{}, g.Outputs...)
	c.Values = make(map[string]*Value, len(g.Values))
	for k, v := range g.Values {
		c.Values[k] = v
	}
	c.Nodes = make([]*Node, len(g.Nodes))
	for i, n := range g.Nodes {
		c.Nodes[i] = n
		if n == nil {
			continue
		}
		hasGraph := false
		for _, a := range n.Attrs {
			if a != nil && a.Type == AttrGraph && a.Graph != nil {
				hasGraph = true
			}
		}
		if !hasGraph {
			continue
		}
		nn := *n
		nn.Attrs = make(map[string]*Attr, len(n.Attrs))
		for k, a := range n.Attrs {
			if a != nil && a.Type == AttrGraph && a.Graph != nil {
				na := *a
				na.Graph = cloneForInference(a.Graph)
				a = &na
			}
			nn.Attrs[k] = a
		}
		c.Nodes[i] = &nn
	}
	return &c
}
