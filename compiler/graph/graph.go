// Package graph is ElasticRoom's graph IR: typed values with (possibly symbolic) shapes,
// nodes in ONNX's operator vocabulary, subgraphs for control flow, and Verify.
//
// The IR's operators are ONNX operators in their newest form ("canonical form", opset 21 of
// the default domain): importers upgrade older forms (Clip's min/max attributes, Unsqueeze's
// axes attribute, Softmax before opset 13, ...) so that passes and executors see one form
// per operator. The package imports only kernels/tensor; models/ and compiler/ build on it.
package graph

import (
	"fmt"
	"strings"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// CanonicalOpset is the opset of the default ONNX domain whose operator forms the IR uses.
const CanonicalOpset = 21

// Dim is one dimension: a known size, a named symbolic size (Param), or unknown (neither).
type Dim struct {
	Size  int64  // >= 0 when known
	Param string // symbolic name, e.g. "batch"; used when Size < 0
}

// Known reports whether the dim has a fixed size.
func (d Dim) Known() bool { return d.Size >= 0 }

func (d Dim) String() string {
	switch {
	case d.Size >= 0:
		return fmt.Sprint(d.Size)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// D returns a known dim; P a symbolic one; Unknown an unknown one.
func D(n int64) Dim     { return Dim{Size: n} }
func P(name string) Dim { return Dim{Size: -1, Param: name} }
func Unknown() Dim      { return Dim{Size: -1} }
func Dims(ns ...int) Shape {
	s := make(Shape, len(ns))
	for i, n := range ns {
		s[i] = D(int64(n))
	}
	return s
}

// Shape is a list of dims; a nil Shape with Value.Rank unknown means the rank is unknown.
type Shape []Dim

// Concrete returns the sizes when every dim is known.
func (s Shape) Concrete() ([]int, bool) {
	out := make([]int, len(s))
	for i, d := range s {
		if !d.Known() {
			return nil, false
		}
		out[i] = int(d.Size)
	}
	return out, true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Value describes a named tensor: element type and shape. RankKnown is false when even the
// number of dims is not known (Shape is then nil).
type Value struct {
	Name      string
	DType     tensor.DType
	Shape     Shape
	RankKnown bool
}

// NewValue is a Value of known rank.
func NewValue(name string, dt tensor.DType, shape Shape) *Value {
	return &Value{Name: name, DType: dt, Shape: shape, RankKnown: true}
}

func (v *Value) String() string {
	if !v.RankKnown {
		return fmt.Sprintf("%s: %v[?]", v.Name, v.DType)
	}
	return fmt.Sprintf("%s: %v%v", v.Name, v.DType, v.Shape)
}

// AttrType is the kind of an attribute value.
type AttrType uint8

// Attribute kinds, as in ONNX.
const (
	AttrUndefined AttrType = iota
	AttrFloat
	AttrInt
	AttrString
	AttrTensor
	AttrGraph
	AttrFloats
	AttrInts
	AttrStrings
)

var attrTypeNames = [...]string{"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints", "strings"}

func (a AttrType) String() string {
	if int(a) < len(attrTypeNames) {
		return attrTypeNames[a]
	}
	return fmt.Sprintf("attr(%d)", uint8(a))
}

// Attr is one attribute value; the field named by Type holds it.
type Attr struct {
	Type    AttrType
	Float   float32
	Int     int64
	String  string
	Tensor  *tensor.Tensor
	Graph   *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
}

// Node is one operator application. Inputs may contain "" for an omitted optional input.
type Node struct {
	Name    string
	Op      string // ONNX op type in canonical form, e.g. "Conv"
	Domain  string // "" for the default ONNX domain
	Inputs  []string
	Outputs []string
	Attrs   map[string]*Attr
}

func (n *Node) String() string { return fmt.Sprintf("node %q (%s)", n.Name, n.Op) }

// AttrInt returns the int attribute name, or def when absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrInt {
		return a.Int
	}
	return def
}

// AttrFloat returns the float attribute name, or def when absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrFloat {
		return a.Float
	}
	return def
}

// AttrString returns the string attribute name, or def when absent.
func (n *Node) AttrString(name, def string) string {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrString {
		return a.String
	}
	return def
}

// AttrInts returns the ints attribute name, or def when absent.
func (n *Node) AttrInts(name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrInts {
		return a.Ints
	}
	return def
}

// AttrFloats returns the floats attribute name, or def when absent.
func (n *Node) AttrFloats(name string, def []float32) []float32 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrFloats {
		return a.Floats
	}
	return def
}

// AttrTensor returns the tensor attribute name, or nil when absent.
func (n *Node) AttrTensor(name string) *tensor.Tensor {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrTensor {
		return a.Tensor
	}
	return nil
}

// AttrGraph returns the graph attribute name, or nil when absent.
func (n *Node) AttrGraph(name string) *Graph {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrGraph {
		return a.Graph
	}
	return nil
}

// SetAttr sets an attribute, creating the map if needed.
func (n *Node) SetAttr(name string, a *Attr) {
	if n.Attrs == nil {
		n.Attrs = map[string]*Attr{}
	}
	n.Attrs[name] = a
}

// Input returns input i, or "" when absent or omitted.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// Graph is a model's computation (or a control-flow subgraph). Nodes are in topological
// order. Initializers are the constant tensors (weights), keyed by value name. Values holds
// what is known of every other named value (inputs, outputs, intermediates). A subgraph may
// read values of its enclosing graphs by name.
type Graph struct {
	Name         string
	Inputs       []*Value
	Outputs      []*Value
	Nodes        []*Node
	Initializers map[string]*tensor.Tensor
	Values       map[string]*Value
}

// New returns an empty graph.
func New(name string) *Graph {
	return &Graph{Name: name, Initializers: map[string]*tensor.Tensor{}, Values: map[string]*Value{}}
}

// Value returns what is known of a named value: an input, an output, an initializer or an
// intermediate with inferred type. ok is false when nothing is recorded.
func (g *Graph) Value(name string) (*Value, bool) {
	if v, ok := g.Values[name]; ok {
		return v, true
	}
	for _, v := range g.Inputs {
		if v.Name == name {
			return v, true
		}
	}
	for _, v := range g.Outputs {
		if v.Name == name {
			return v, true
		}
	}
	if t, ok := g.Initializers[name]; ok {
		return NewValue(name, t.DType, Dims(t.Shape...)), true
	}
	return nil, false
}

// IsInitializer reports whether name is a constant of this graph.
func (g *Graph) IsInitializer(name string) bool { _, ok := g.Initializers[name]; return ok }
