package onnx

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
)

// realDir is where scripts/fetch-models puts the six real models.
func realDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "models", "real")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatalf("real models are required (ELASTICROOM_REQUIRE_REFS=1) but %s is missing: run scripts/fetch-models", dir)
		}
		t.Skipf("real models not present (%s); run scripts/fetch-models", dir)
	}
	return dir
}

var realModels = []struct {
	file   string
	input  string
	shape  string
	hasIf  bool
	output int
}{
	{"ppocr_cls.onnx", "x", "[p2o.DynamicDimension.0,3,p2o.DynamicDimension.1,p2o.DynamicDimension.2]", false, 1},
	{"ppocrv4_det.onnx", "x", "[p2o.DynamicDimension.0,3,p2o.DynamicDimension.1,p2o.DynamicDimension.2]", false, 1},
	{"ppocrv4_rec.onnx", "x", "[p2o.DynamicDimension.0,3,48,p2o.DynamicDimension.1]", false, 1},
	{"oww_melspectrogram.onnx", "input", "[batch_size,samples]", false, 1},
	{"oww_embedding.onnx", "input_1", "[unk__314,76,32,1]", false, 1},
	{"oww_hey_jarvis.onnx", "x.1", "[1,16,96]", true, 1},
}

func TestRealModels(t *testing.T) {
	dir := realDir(t)
	for _, m := range realModels {
		t.Run(m.file, func(t *testing.T) {
			g, info, err := Load(filepath.Join(dir, m.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != 1 || g.Inputs[0].Name != m.input {
				t.Fatalf("inputs = %v, want one named %q", g.Inputs, m.input)
			}
			if g.Inputs[0].Shape.String() != m.shape {
				t.Errorf("input shape %v, want %s", g.Inputs[0].Shape, m.shape)
			}
			if len(g.Outputs) != m.output {
				t.Errorf("outputs = %v", g.Outputs)
			}
			counts := map[string]int{}
			var walk func(g *graph.Graph)
			walk = func(g *graph.Graph) {
				for _, n := range g.Nodes {
					counts[n.Op]++
					for _, a := range n.Attrs {
						if a.Type == graph.AttrGraph {
							walk(a.Graph)
						}
					}
				}
			}
			walk(g)
			if counts["Constant"] > 0 {
				t.Errorf("%d Constant nodes remain", counts["Constant"])
			}
			if m.hasIf != (counts["If"] > 0) {
				t.Errorf("If nodes: %d", counts["If"])
			}
			canonical := map[string]bool{}
			for _, op := range CanonicalOps() {
				canonical[op] = true
			}
			var ops []string
			for op, c := range counts {
				if !canonical[op] {
					t.Errorf("op %s is not canonical", op)
				}
				ops = append(ops, op+"="+itoa(c))
			}
			sort.Strings(ops)
			t.Logf("opset %v ir %d producer %q: %d initializers, inputs %v outputs %v; ops %s",
				info.Opsets, info.IRVersion, info.Producer, len(g.Initializers), g.Inputs, g.Outputs, strings.Join(ops, " "))
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
