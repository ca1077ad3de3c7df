package conformance

import (
	"path/filepath"
	"testing"

	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
)

// zooOptions keeps the zoo conformance run fast: BERT with a short sequence and two layers
// (every layer is the same code path).
func zooOptions(name string) zoo.Options {
	opt := zoo.Options{Batch: 1, Seed: 1}
	if name == "bert" {
		opt.SeqLen, opt.Layers = 16, 2
	}
	return opt
}

// TestZooModels exports each zoo model to ONNX and checks runtime/cpu on the built graph
// against onnxruntime on the exported file.
func TestZooModels(t *testing.T) {
	requireRefs(t, false)
	for _, m := range zoo.List() {
		t.Run(m.Name, func(t *testing.T) {
			if testing.Short() && (m.Name == "vgg16" || m.Name == "resnet50") {
				t.Skip("large model skipped in -short mode")
			}
			g, err := zoo.Build(m.Name, zooOptions(m.Name))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), m.Name+".onnx")
			if err := onnx.Save(g, path); err != nil {
				t.Fatalf("export: %v", err)
			}
			in, err := zoo.RandomInputs(m.Name, g, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref := runRef(t, path, in)
			ours := runOurs(t, g, in)
			if len(ref) != len(m.Outputs) {
				t.Errorf("onnxruntime gave %d outputs, the zoo declares %v", len(ref), m.Outputs)
			}
			worst := compareAll(t, ours, ref)
			t.Logf("%s: worst relative error %.3g", m.Name, worst)
		})
	}
}
