package conformance

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/bench/ortref"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/models/onnx"
)

// inferCase is a real model specialized to concrete input shapes, with the output shapes
// onnxruntime-node 1.30 produced for those inputs (measured once, written here).
type inferCase struct {
	model string
	input string
	shape []int
	want  map[string][]int
}

var inferCases = []inferCase{
	{"ppocr_cls", "x", []int{1, 3, 48, 192}, map[string][]int{"softmax_0.tmp_0": {1, 2}}},
	{"ppocr_cls", "x", []int{3, 3, 48, 192}, map[string][]int{"softmax_0.tmp_0": {3, 2}}},
	{"ppocrv4_rec", "x", []int{1, 3, 48, 320}, map[string][]int{"softmax_11.tmp_0": {1, 40, 6625}}},
	{"ppocrv4_rec", "x", []int{2, 3, 48, 160}, map[string][]int{"softmax_11.tmp_0": {2, 20, 6625}}},
	{"ppocrv4_det", "x", []int{1, 3, 128, 160}, map[string][]int{"sigmoid_0.tmp_0": {1, 1, 128, 160}}},
	{"ppocrv4_det", "x", []int{1, 3, 64, 96}, map[string][]int{"sigmoid_0.tmp_0": {1, 1, 64, 96}}},
	{"ppocrv4_det", "x", []int{2, 3, 96, 64}, map[string][]int{"sigmoid_0.tmp_0": {2, 1, 96, 64}}},
	{"oww_melspectrogram", "input", []int{1, 16000}, map[string][]int{"output": {1, 1, 97, 32}}},
	{"oww_melspectrogram", "input", []int{1, 1280}, map[string][]int{"output": {1, 1, 5, 32}}},
	{"oww_embedding", "input_1", []int{1, 76, 32, 1}, map[string][]int{"conv2d_19": {1, 1, 1, 96}}},
	{"oww_embedding", "input_1", []int{3, 76, 32, 1}, map[string][]int{"conv2d_19": {3, 1, 1, 96}}},
	{"oww_hey_jarvis", "x.1", []int{1, 16, 96}, map[string][]int{"53": {1, 1}}},
}

// TestInferShapesRealModels: shape inference succeeds on every real model as imported
// (symbolic inputs), and with the inputs set to concrete shapes every value gets a concrete
// shape and the outputs get exactly the shapes onnxruntime produces.
func TestInferShapesRealModels(t *testing.T) {
	dir, err := ortref.RealModelsDir()
	if err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatalf("real models missing with ELASTICROOM_REQUIRE_REFS=1: %v", err)
		}
		t.Skipf("real models missing: %v (run scripts/fetch-models)", err)
	}
	for _, tc := range inferCases {
		t.Run(tc.model+"/"+shapeLabel(tc.shape), func(t *testing.T) {
			g, _, err := onnx.Load(filepath.Join(dir, tc.model+".onnx"))
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if err := graph.InferShapes(g); err != nil {
				t.Fatalf("symbolic InferShapes: %v", err)
			}
			for i, in := range g.Inputs {
				if in.Name == tc.input {
					c := *in
					c.Shape, c.RankKnown = graph.Dims(tc.shape...), true
					g.Inputs[i] = &c
				}
			}
			if err := graph.InferShapes(g); err != nil {
				t.Fatalf("InferShapes with %s %v: %v", tc.input, tc.shape, err)
			}
			for _, o := range g.Outputs {
				want, ok := tc.want[o.Name]
				if !ok {
					t.Errorf("unexpected output %q", o.Name)
					continue
				}
				got, ok := o.Shape.Concrete()
				if !o.RankKnown || !ok || !slices.Equal(got, want) {
					t.Errorf("output %q: inferred %v, onnxruntime %v", o.Name, o, want)
				}
			}
			for name, v := range g.Values {
				if _, ok := v.Shape.Concrete(); !v.RankKnown || !ok {
					t.Errorf("value %q is not concrete: %v", name, v)
				}
			}
			// The same through SpecializeShapes, leaving the symbolic graph alone.
			g2, _, err := onnx.Load(filepath.Join(dir, tc.model+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := graph.SpecializeShapes(g2, map[string][]int{tc.input: tc.shape})
			if err != nil {
				t.Fatalf("SpecializeShapes: %v", err)
			}
			for _, o := range s.Outputs {
				if got, ok := o.Shape.Concrete(); !ok || !slices.Equal(got, tc.want[o.Name]) {
					t.Errorf("SpecializeShapes output %q: %v, onnxruntime %v", o.Name, o, tc.want[o.Name])
				}
			}
		})
	}
}

func shapeLabel(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}

// TestImportedOpsAreInferable: every op an imported graph may contain has shape inference.
func TestImportedOpsAreInferable(t *testing.T) {
	inferable := graph.InferableOps()
	for _, op := range onnx.CanonicalOps() {
		if _, ok := slices.BinarySearch(inferable, op); !ok {
			t.Errorf("op %s is imported but has no shape inference", op)
		}
	}
}
