package graph

import (
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Helpers shared by the inference tests: build tiny graphs by hand and check the inferred
// shapes against hand-computed strings like "[N,8,?,32]" ("[?...]" for an unknown rank).

var (
	f32 = tensor.Float32
	i64 = tensor.Int64
)

// in declares an input; dims are ints (known), strings (symbols) or "?" (unknown).
func in(name string, dt tensor.DType, dims ...any) *Value {
	s := Shape{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			s = append(s, D(int64(d)))
		case string:
			if d == "?" {
				s = append(s, Unknown())
			} else {
				s = append(s, P(d))
			}
		}
	}
	return NewValue(name, dt, s)
}

// unranked declares an input of unknown rank.
func unranked(name string, dt tensor.DType) *Value { return &Value{Name: name, DType: dt} }

func ints(v ...int64) *tensor.Tensor { return tensor.FromInt64([]int{len(v)}, v) }

func scalarInt(v int64) *tensor.Tensor { return tensor.FromInt64([]int{}, []int64{v}) }

func floats(v ...float32) *tensor.Tensor { return tensor.FromFloat32([]int{len(v)}, v) }

func zeros(shape ...int) *tensor.Tensor { return tensor.MustNew(tensor.Float32, shape) }

func aInt(v int64) *Attr     { return &Attr{Type: AttrInt, Int: v} }
func aInts(v ...int64) *Attr { return &Attr{Type: AttrInts, Ints: v} }
func aStr(v string) *Attr    { return &Attr{Type: AttrString, String: v} }
func aFloat(v float32) *Attr { return &Attr{Type: AttrFloat, Float: v} }

// nd builds a node: op, inputs, outputs and attrs as alternating name, *Attr.
func nd(op string, ins, outs []string, attrs ...any) *Node {
	n := &Node{Name: op + "_" + strings.Join(outs, "_"), Op: op, Inputs: ins, Outputs: outs}
	for i := 0; i+1 < len(attrs); i += 2 {
		n.SetAttr(attrs[i].(string), attrs[i+1].(*Attr))
	}
	return n
}

// build is a graph of the given inputs, initializers and nodes, whose outputs are the
// outputs of the last node.
func build(ins []*Value, inits map[string]*tensor.Tensor, nodes ...*Node) *Graph {
	g := New("test")
	g.Inputs = ins
	for k, v := range inits {
		g.Initializers[k] = v
	}
	g.Nodes = nodes
	for _, o := range nodes[len(nodes)-1].Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, &Value{Name: o})
		}
	}
	return g
}

// opCase is one table row: one node over declared inputs and initializers, with the
// expected shape of each output (hand-computed), or a substring of the expected error.
type opCase struct {
	name  string
	ins   []*Value
	inits map[string]*tensor.Tensor
	node  *Node
	want  []string       // shapes of the outputs, in order
	dt    []tensor.DType // element types of the outputs (optional)
	err   string
}

func runCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := build(tc.ins, tc.inits, tc.node)
			if err := g.Verify(); err != nil {
				t.Fatalf("test graph does not verify: %v", err)
			}
			err := InferShapes(g)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got none; outputs %v", tc.err, g.Outputs)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error containing %q, got %v", tc.err, err)
				}
				if !strings.Contains(err.Error(), tc.node.Op) {
					t.Errorf("error %q does not name the op %s", err, tc.node.Op)
				}
				return
			}
			if err != nil {
				t.Fatalf("InferShapes: %v", err)
			}
			for i, want := range tc.want {
				v, ok := g.Values[tc.node.Outputs[i]]
				if !ok {
					t.Fatalf("output %q has no value", tc.node.Outputs[i])
				}
				if got := shapeStr(v); got != want {
					t.Errorf("output %d: shape %s, want %s", i, got, want)
				}
				if i < len(tc.dt) && v.DType != tc.dt[i] {
					t.Errorf("output %d: dtype %v, want %v", i, v.DType, tc.dt[i])
				}
			}
		})
	}
}

func names(s ...string) []string { return s }
