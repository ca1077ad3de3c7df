package graph

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// outShape infers g and returns the printed shape of value name.
func outShape(t *testing.T, g *Graph, name string) string {
	t.Helper()
	if err := g.Verify(); err != nil {
		t.Fatalf("test graph does not verify: %v", err)
	}
	if err := InferShapes(g); err != nil {
		t.Fatalf("InferShapes: %v", err)
	}
	v, ok := g.Value(name)
	if !ok {
		t.Fatalf("no value %q", name)
	}
	return shapeStr(v)
}

// The PyTorch pattern x.view(x.size(0), -1, 4): Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape, with a symbolic batch.
func TestPropagateShapeGatherConcatReshape(t *testing.T) {
	g := build([]*Value{in("x", f32, "batch", 6, 8)},
		map[string]*tensor.Tensor{"zero": scalarInt(0), "ax0": ints(0), "rest": ints(-1, 4)},
		nd("Shape", names("x"), names("s")),
		nd("Gather", names("s", "zero"), names("b"), "axis", aInt(0)),
		nd("Unsqueeze", names("b", "ax0"), names("b1")),
		nd("Concat", names("b1", "rest"), names("target"), "axis", aInt(0)),
		nd("Reshape", names("x", "target"), names("y")),
	)
	if got := outShape(t, g, "y"); got != "[batch,12,4]" {
		t.Errorf("y: %s, want [batch,12,4]", got)
	}
	if got := shapeStr(g.Values["b"]); got != "[]" {
		t.Errorf("gathered scalar: %s, want []", got)
	}

	// The same with concrete dims gives a concrete shape.
	g2, err := SpecializeShapes(g, map[string][]int{"x": {2, 6, 8}})
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(g2.Outputs[0]); got != "[2,12,4]" {
		t.Errorf("specialized y: %s, want [2,12,4]", got)
	}
	if got := shapeStr(g.Outputs[0]); got != "[batch,12,4]" {
		t.Errorf("Specialize changed the original graph: %s", got)
	}
}

// The PP-OCR (paddle2onnx) pattern: Shape -> Cast(int32) -> Slice -> Cast(int64) -> Concat
// with constants -> Reshape; and Shape -> Slice [0:2] -> Concat.
func TestPropagatePaddleReshape(t *testing.T) {
	g := build([]*Value{in("x", f32, "N", 120, 1, 40)},
		map[string]*tensor.Tensor{
			"st": ints(3), "en": ints(4), "ax": ints(0), "st0": ints(0), "en2": ints(2),
			"c0": ints(0), "c8": ints(8), "c15": ints(15), "cm1": ints(-1),
		},
		nd("Shape", names("x"), names("s")),
		nd("Cast", names("s"), names("s32"), "to", aInt(6)),
		nd("Slice", names("s32", "st", "en", "ax"), names("w32")),
		nd("Cast", names("w32"), names("w"), "to", aInt(7)),
		nd("Slice", names("s", "st0", "en2", "ax"), names("nc")),
		nd("Concat", names("nc", "cm1"), names("t1"), "axis", aInt(0)),
		nd("Reshape", names("x", "t1"), names("flat")),                      // [N,120,40]
		nd("Transpose", names("flat"), names("tr"), "perm", aInts(0, 2, 1)), // [N,40,120]
		nd("Concat", names("c0", "w", "c8", "c15"), names("t2"), "axis", aInt(0)),
		nd("Reshape", names("tr", "t2"), names("y")), // [N,40,8,15]
	)
	if got := outShape(t, g, "flat"); got != "[N,120,40]" {
		t.Errorf("flat: %s, want [N,120,40]", got)
	}
	if got := outShape(t, g, "y"); got != "[N,40,8,15]" {
		t.Errorf("y: %s, want [N,40,8,15]", got)
	}
}

// Shape arithmetic: the upsampling pattern Shape -> Gather -> Mul 2 -> Concat -> Resize(sizes),
// and ConstantOfShape / Expand targets from Shape.
func TestPropagateArithmetic(t *testing.T) {
	g := build([]*Value{in("x", f32, "N", 4, 10, 12)},
		map[string]*tensor.Tensor{"hw": ints(2, 3), "two": ints(2), "ax": ints(0), "st": ints(0), "en": ints(2)},
		nd("Shape", names("x"), names("s")),
		nd("Gather", names("s", "hw"), names("sp"), "axis", aInt(0)),
		nd("Mul", names("sp", "two"), names("sp2")),
		nd("Slice", names("s", "st", "en", "ax"), names("nc")),
		nd("Concat", names("nc", "sp2"), names("sizes"), "axis", aInt(0)),
		nd("Resize", names("x", "", "", "sizes"), names("up")),
		nd("ConstantOfShape", names("sizes"), names("z")),
		nd("Expand", names("x", "s"), names("e")),
		nd("Sub", names("sp2", "sp"), names("d")),
		nd("Div", names("d", "two"), names("half")),
		nd("Reshape", names("x", "s"), names("same")),
	)
	if got := outShape(t, g, "up"); got != "[N,4,20,24]" {
		t.Errorf("resize by sizes: %s, want [N,4,20,24]", got)
	}
	if got := shapeStr(g.Values["z"]); got != "[N,4,20,24]" {
		t.Errorf("ConstantOfShape: %s, want [N,4,20,24]", got)
	}
	if got := shapeStr(g.Values["e"]); got != "[N,4,10,12]" {
		t.Errorf("Expand: %s", got)
	}
	if got := shapeStr(g.Values["same"]); got != "[N,4,10,12]" {
		t.Errorf("Reshape to own shape: %s", got)
	}
}

func TestKnownElementsThroughOps(t *testing.T) {
	// Inspect the propagated elements directly: (2*w - w)/2 for w = 12 is 6, and symbols
	// survive identity arithmetic.
	g := build([]*Value{in("x", f32, "N", 12)},
		map[string]*tensor.Tensor{"one": scalarInt(1), "i0": scalarInt(0), "i1": scalarInt(1), "two": scalarInt(2), "zero": scalarInt(0), "m1": ints(-1)},
		nd("Shape", names("x"), names("s")),
		nd("Gather", names("s", "i0"), names("n"), "axis", aInt(0)),
		nd("Gather", names("s", "i1"), names("w"), "axis", aInt(0)),
		nd("Mul", names("n", "one"), names("n1")),
		nd("Add", names("n1", "zero"), names("n2")),
		nd("Mul", names("w", "two"), names("w2")),
		nd("Sub", names("w2", "w"), names("w3")),
		nd("Div", names("w3", "two"), names("w4")),
		nd("Equal", names("n2", "n"), names("eq")),
		nd("Where", names("eq", "w4", "m1"), names("pick")),
		nd("Cast", names("pick"), names("pf"), "to", aInt(1)),
		nd("Cast", names("pf"), names("pi"), "to", aInt(7)),
	)
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	// Re-run the propagation on the inferred graph to read its table.
	c := &inferCtx{g: g, vals: map[string]*Value{}, known: map[string]*symTensor{}}
	for _, n := range g.Nodes {
		if err := c.inferNode(n); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, want sv) {
		t.Helper()
		k := c.known[name]
		if k == nil || len(k.ints) != 1 || k.ints[0] != want {
			t.Errorf("%s: known %+v, want %+v", name, k, want)
		}
	}
	check("n2", sv{sym: "N"})
	check("w4", kv(6))
	check("eq", kv(1))
	check("pi", kv(6))
}

func TestInferIf(t *testing.T) {
	// then: Relu(x) [N,4]; else: Reshape(x, [-1]) [?] -- shapes differ in rank; a second
	// output agrees: both read the outer value "w" [3].
	then := New("then")
	then.Nodes = []*Node{nd("Relu", names("x"), names("t0")), nd("Identity", names("w"), names("t1"))}
	then.Outputs = []*Value{{Name: "t0"}, {Name: "t1"}}
	els := New("else")
	els.Initializers["flat"] = ints(-1)
	els.Nodes = []*Node{nd("Reshape", names("x", "flat"), names("e0")), nd("Neg", names("w"), names("e1"))}
	els.Outputs = []*Value{{Name: "e0"}, {Name: "e1"}}
	g := build([]*Value{in("x", f32, "N", 4), in("c", tensor.Bool)},
		map[string]*tensor.Tensor{"w": floats(1, 2, 3)},
		nd("If", names("c"), names("o0", "o1"),
			"then_branch", &Attr{Type: AttrGraph, Graph: then}, "else_branch", &Attr{Type: AttrGraph, Graph: els}))
	if got := outShape(t, g, "o0"); got != "[?...]" {
		t.Errorf("o0: %s, want unknown rank", got)
	}
	if got := shapeStr(g.Values["o1"]); got != "[3]" {
		t.Errorf("o1: %s, want [3]", got)
	}
	if got := shapeStr(then.Values["t0"]); got != "[N,4]" {
		t.Errorf("then branch t0: %s, want [N,4]", got)
	}
	if got := shapeStr(els.Values["e0"]); got != "[?]" {
		t.Errorf("else branch e0: %s, want [?]", got)
	}

	// Same ranks, one dim disagreeing.
	els.Nodes[0] = nd("Concat", names("x", "x"), names("e0"), "axis", aInt(1))
	if got := outShape(t, g, "o0"); got != "[N,?]" {
		t.Errorf("o0: %s, want [N,?]", got)
	}

	// A provable error inside a branch names the branch and the node.
	els.Nodes[0] = nd("Concat", names("x", "w"), names("e0"), "axis", aInt(0))
	err := InferShapes(g)
	if err == nil || !strings.Contains(err.Error(), "else_branch") || !strings.Contains(err.Error(), "Concat") {
		t.Errorf("want an error naming else_branch and Concat, got %v", err)
	}
}

func TestInferUnknownOp(t *testing.T) {
	g := build([]*Value{in("x", f32, 2)}, nil, nd("FancyOp", names("x"), names("y")))
	err := InferShapes(g)
	if !errors.Is(err, ErrNoInference) || !strings.Contains(err.Error(), "FancyOp") {
		t.Errorf("want ErrNoInference naming FancyOp, got %v", err)
	}
}

func TestInferableOps(t *testing.T) {
	ops := InferableOps()
	if !slices.IsSorted(ops) {
		t.Error("InferableOps is not sorted")
	}
	// The ops the issue and the real models need.
	for _, op := range strings.Fields(`Add AveragePool BatchNormalization Cast Clip Concat Constant Conv
		ConvTranspose Div Flatten Gemm GlobalAveragePool GreaterOrEqual HardSigmoid If LeakyRelu Log
		MatMul Max MaxPool Mul Pow ReduceMax ReduceMean Relu Reshape Resize Shape Sigmoid Slice
		Softmax Sqrt Squeeze Sub Transpose Unsqueeze HardSwish Tanh Min ReduceSum Split Gather Erf
		LayerNormalization Exp Neg Abs Identity Where Equal Less Greater Not And Or Expand
		ConstantOfShape Range Gelu Dropout Pad ReduceL2 ReduceSumSquare ArgMax Sum Mean Tile`) {
		if _, ok := slices.BinarySearch(ops, op); !ok {
			t.Errorf("op %s is not inferable", op)
		}
	}
}
