package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// The JSON form of a graph. Tensors (initializers, tensor attributes) are not in the JSON:
// they are written to the blob section and referred to by index.

type jGraph struct {
	Name         string         `json:"name"`
	Inputs       []jValue       `json:"inputs"`
	Outputs      []jValue       `json:"outputs"`
	Nodes        []jNode        `json:"nodes"`
	Initializers map[string]int `json:"initializers"` // value name -> tensor index
	Values       []jValue       `json:"values"`
}

type jValue struct {
	Name      string `json:"name"`
	DType     string `json:"dtype"`
	Shape     []jDim `json:"shape"`
	RankKnown bool   `json:"rank_known"`
}

type jDim struct {
	Size  int64  `json:"s"`
	Param string `json:"p,omitempty"`
}

type jNode struct {
	Name    string           `json:"name"`
	Op      string           `json:"op"`
	Domain  string           `json:"domain,omitempty"`
	Inputs  []string         `json:"inputs"`
	Outputs []string         `json:"outputs"`
	Attrs   map[string]jAttr `json:"attrs,omitempty"`
}

type jAttr struct {
	Type    string   `json:"type"`
	Float   *jFloat  `json:"f,omitempty"`
	Int     int64    `json:"i,omitempty"`
	String  string   `json:"s,omitempty"`
	Tensor  *int     `json:"t,omitempty"`
	Graph   *jGraph  `json:"g,omitempty"`
	Floats  []jFloat `json:"floats,omitempty"`
	Ints    []int64  `json:"ints,omitempty"`
	Strings []string `json:"strings,omitempty"`
	Empty   bool     `json:"empty,omitempty"` // a list attribute with no elements (not nil)
}

// jFloat is a float32 that survives JSON exactly, NaN and infinities included.
type jFloat float32

func (f jFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 32)), nil
}

func (f *jFloat) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := strconv.ParseFloat(s, 32)
	if err != nil && !(s == "NaN" || s == "+Inf" || s == "-Inf") {
		return fmt.Errorf("bad float %q", s)
	}
	*f = jFloat(v)
	return nil
}

// tensorTable collects the tensors of a plan in the order they are written.
type tensorTable struct {
	names   []string
	tensors []*tensor.Tensor
}

func (tt *tensorTable) add(name string, t *tensor.Tensor) int {
	tt.names = append(tt.names, name)
	tt.tensors = append(tt.tensors, t)
	return len(tt.tensors) - 1
}

func toJValue(v *graph.Value) jValue {
	j := jValue{Name: v.Name, DType: v.DType.String(), RankKnown: v.RankKnown}
	if v.Shape != nil {
		j.Shape = make([]jDim, len(v.Shape))
		for i, d := range v.Shape {
			j.Shape[i] = jDim{Size: d.Size, Param: d.Param}
		}
	}
	return j
}

func fromJValue(j jValue) (*graph.Value, error) {
	dt := tensor.Undefined
	if j.DType != "undefined" && j.DType != "" {
		var err error
		if dt, err = tensor.ParseDType(j.DType); err != nil {
			return nil, fmt.Errorf("value %q: %w", j.Name, err)
		}
	}
	v := &graph.Value{Name: j.Name, DType: dt, RankKnown: j.RankKnown}
	if j.Shape != nil {
		v.Shape = make(graph.Shape, len(j.Shape))
		for i, d := range j.Shape {
			v.Shape[i] = graph.Dim{Size: d.Size, Param: d.Param}
		}
	}
	return v, nil
}

func toJGraph(g *graph.Graph, tt *tensorTable, path string) (*jGraph, error) {
	j := &jGraph{Name: g.Name, Initializers: map[string]int{}}
	for _, v := range g.Inputs {
		if v == nil {
			return nil, fmt.Errorf("graph %q: nil input", g.Name)
		}
		j.Inputs = append(j.Inputs, toJValue(v))
	}
	for _, v := range g.Outputs {
		if v == nil {
			return nil, fmt.Errorf("graph %q: nil output", g.Name)
		}
		j.Outputs = append(j.Outputs, toJValue(v))
	}
	names := make([]string, 0, len(g.Initializers))
	for k := range g.Initializers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if g.Initializers[k] == nil {
			return nil, fmt.Errorf("graph %q: initializer %q has no tensor", g.Name, k)
		}
		j.Initializers[k] = tt.add(path+k, g.Initializers[k])
	}
	vnames := make([]string, 0, len(g.Values))
	for k := range g.Values {
		vnames = append(vnames, k)
	}
	sort.Strings(vnames)
	for _, k := range vnames {
		v := *g.Values[k]
		v.Name = k
		j.Values = append(j.Values, toJValue(&v))
	}
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("graph %q: node #%d is nil", g.Name, i)
		}
		jn := jNode{Name: n.Name, Op: n.Op, Domain: n.Domain, Inputs: n.Inputs, Outputs: n.Outputs}
		if len(n.Attrs) > 0 {
			jn.Attrs = map[string]jAttr{}
		}
		for k, a := range n.Attrs {
			ja, err := toJAttr(a, tt, path+n.Name+"/"+k+"/")
			if err != nil {
				return nil, fmt.Errorf("graph %q: %v attribute %q: %w", g.Name, n, k, err)
			}
			jn.Attrs[k] = ja
		}
		j.Nodes = append(j.Nodes, jn)
	}
	return j, nil
}

func toJAttr(a *graph.Attr, tt *tensorTable, path string) (jAttr, error) {
	if a == nil {
		return jAttr{}, fmt.Errorf("nil attribute")
	}
	j := jAttr{Type: a.Type.String()}
	switch a.Type {
	case graph.AttrFloat:
		f := jFloat(a.Float)
		j.Float = &f
	case graph.AttrInt:
		j.Int = a.Int
	case graph.AttrString:
		j.String = a.String
	case graph.AttrTensor:
		if a.Tensor == nil {
			return j, fmt.Errorf("tensor attribute holds no tensor")
		}
		i := tt.add(path, a.Tensor)
		j.Tensor = &i
	case graph.AttrGraph:
		if a.Graph == nil {
			return j, fmt.Errorf("graph attribute holds no graph")
		}
		g, err := toJGraph(a.Graph, tt, path)
		if err != nil {
			return j, err
		}
		j.Graph = g
	case graph.AttrFloats:
		for _, f := range a.Floats {
			j.Floats = append(j.Floats, jFloat(f))
		}
		j.Empty = a.Floats != nil && len(a.Floats) == 0
	case graph.AttrInts:
		j.Ints, j.Empty = a.Ints, a.Ints != nil && len(a.Ints) == 0
	case graph.AttrStrings:
		j.Strings, j.Empty = a.Strings, a.Strings != nil && len(a.Strings) == 0
	default:
		return j, fmt.Errorf("attribute of kind %v cannot be saved", a.Type)
	}
	return j, nil
}

var attrKinds = map[string]graph.AttrType{"float": graph.AttrFloat, "int": graph.AttrInt, "string": graph.AttrString,
	"tensor": graph.AttrTensor, "graph": graph.AttrGraph, "floats": graph.AttrFloats, "ints": graph.AttrInts, "strings": graph.AttrStrings}

// fromJGraph rebuilds a graph; tensors are the decoded blob, depth bounds subgraph nesting.
func fromJGraph(j *jGraph, tensors []*tensor.Tensor, depth int) (*graph.Graph, error) {
	if j == nil {
		return nil, fmt.Errorf("missing graph")
	}
	if depth > 64 {
		return nil, fmt.Errorf("graph %q: subgraphs nested more than 64 deep", j.Name)
	}
	g := graph.New(j.Name)
	for _, jv := range j.Inputs {
		v, err := fromJValue(jv)
		if err != nil {
			return nil, fmt.Errorf("graph %q input: %w", j.Name, err)
		}
		g.Inputs = append(g.Inputs, v)
	}
	for _, jv := range j.Outputs {
		v, err := fromJValue(jv)
		if err != nil {
			return nil, fmt.Errorf("graph %q output: %w", j.Name, err)
		}
		g.Outputs = append(g.Outputs, v)
	}
	for _, jv := range j.Values {
		v, err := fromJValue(jv)
		if err != nil {
			return nil, fmt.Errorf("graph %q: %w", j.Name, err)
		}
		g.Values[v.Name] = v
	}
	for name, i := range j.Initializers {
		if i < 0 || i >= len(tensors) {
			return nil, fmt.Errorf("graph %q: initializer %q refers to tensor %d of %d", j.Name, name, i, len(tensors))
		}
		g.Initializers[name] = tensors[i]
	}
	for _, jn := range j.Nodes {
		n := &graph.Node{Name: jn.Name, Op: jn.Op, Domain: jn.Domain, Inputs: jn.Inputs, Outputs: jn.Outputs}
		if jn.Attrs != nil {
			n.Attrs = map[string]*graph.Attr{}
		}
		for k, ja := range jn.Attrs {
			a, err := fromJAttr(ja, tensors, depth)
			if err != nil {
				return nil, fmt.Errorf("graph %q: %v attribute %q: %w", j.Name, n, k, err)
			}
			n.Attrs[k] = a
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

func fromJAttr(j jAttr, tensors []*tensor.Tensor, depth int) (*graph.Attr, error) {
	kind, ok := attrKinds[j.Type]
	if !ok {
		return nil, fmt.Errorf("unknown attribute kind %q", j.Type)
	}
	a := &graph.Attr{Type: kind}
	switch kind {
	case graph.AttrFloat:
		if j.Float == nil {
			return nil, fmt.Errorf("float attribute without a value")
		}
		a.Float = float32(*j.Float)
	case graph.AttrInt:
		a.Int = j.Int
	case graph.AttrString:
		a.String = j.String
	case graph.AttrTensor:
		if j.Tensor == nil || *j.Tensor < 0 || *j.Tensor >= len(tensors) {
			return nil, fmt.Errorf("tensor attribute refers to no tensor of %d", len(tensors))
		}
		a.Tensor = tensors[*j.Tensor]
	case graph.AttrGraph:
		g, err := fromJGraph(j.Graph, tensors, depth+1)
		if err != nil {
			return nil, err
		}
		a.Graph = g
	case graph.AttrFloats:
		if j.Floats != nil || j.Empty {
			a.Floats = make([]float32, len(j.Floats))
		}
		for i, f := range j.Floats {
			a.Floats[i] = float32(f)
		}
	case graph.AttrInts:
		a.Ints = j.Ints
		if a.Ints == nil && j.Empty {
			a.Ints = []int64{}
		}
	case graph.AttrStrings:
		a.Strings = j.Strings
		if a.Strings == nil && j.Empty {
			a.Strings = []string{}
		}
	}
	return a, nil
}
