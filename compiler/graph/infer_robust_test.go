package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// TestInferNeverPanics feeds every inferable op random inputs (random ranks, dims, symbols,
// unknown ranks, small integer constants, odd attributes): inference may fail, never panic.
func TestInferNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randDim := func() Dim {
		switch rng.IntN(6) {
		case 0:
			return P([]string{"N", "T"}[rng.IntN(2)])
		case 1:
			return Unknown()
		}
		return D(int64(rng.IntN(5)))
	}
	randValue := func(name string) *Value {
		if rng.IntN(8) == 0 {
			return unranked(name, f32)
		}
		s := make(Shape, rng.IntN(5))
		for i := range s {
			s[i] = randDim()
		}
		dt := []tensor.DType{f32, i64, tensor.Bool}[rng.IntN(3)]
		return NewValue(name, dt, s)
	}
	randConst := func() *tensor.Tensor {
		if rng.IntN(4) == 0 {
			v := make([]float32, rng.IntN(5))
			for i := range v {
				v[i] = float32(rng.IntN(7)) - 2
			}
			return floats(v...)
		}
		v := make([]int64, rng.IntN(5))
		for i := range v {
			v[i] = int64(rng.IntN(9)) - 3
		}
		if rng.IntN(4) == 0 && len(v) > 0 {
			return scalarInt(v[0])
		}
		return ints(v...)
	}
	attrNames := []string{"axis", "axes", "perm", "kernel_shape", "strides", "pads", "dilations", "group",
		"keepdims", "to", "blocksize", "start", "end", "num_scan_inputs", "transA", "transB", "allowzero", "batch_dims"}
	for _, op := range InferableOps() {
		for k := range 60 {
			var ins []*Value
			inits := map[string]*tensor.Tensor{}
			var names []string
			for i := range rng.IntN(5) + 1 {
				name := fmt.Sprintf("in%d", i)
				names = append(names, name)
				if rng.IntN(2) == 0 {
					inits[name] = randConst()
				} else {
					ins = append(ins, randValue(name))
				}
			}
			n := nd(op, names, []string{"o0", "o1"})
			for range rng.IntN(4) {
				a := attrNames[rng.IntN(len(attrNames))]
				if rng.IntN(2) == 0 {
					n.SetAttr(a, aInt(int64(rng.IntN(7))-2))
				} else {
					n.SetAttr(a, aInts(int64(rng.IntN(5))-1, int64(rng.IntN(5))-1))
				}
			}
			if op == "If" || op == "Loop" || op == "Scan" {
				sub := New("sub")
				sub.Nodes = []*Node{nd("Identity", names[:1], []string{"s0"})}
				sub.Outputs = []*Value{{Name: "s0"}}
				for _, a := range []string{"then_branch", "else_branch", "body"} {
					n.SetAttr(a, &Attr{Type: AttrGraph, Graph: sub})
				}
			}
			g := build(ins, inits, n)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s case %d panicked: %v\ninputs %v inits %v attrs %v", op, k, r, ins, inits, n.Attrs)
					}
				}()
				_ = InferShapes(g)
			}()
		}
	}
}
