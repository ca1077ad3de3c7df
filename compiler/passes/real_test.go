package passes_test

import (
	"math/rand/v2"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
)

var realModels = []struct {
	name  string
	input string
	shape []int
}{
	{"ppocr_cls", "x", []int{1, 3, 48, 192}},
	{"ppocrv4_rec", "x", []int{1, 3, 48, 320}},
	{"oww_embedding", "input_1", []int{1, 76, 32, 1}},
	{"oww_hey_jarvis", "x.1", []int{1, 16, 96}},
	{"oww_melspectrogram", "input", []int{1, 16000}},
	{"ppocrv4_det", "x", []int{1, 3, 96, 128}},
}

// TestRealModels runs each real model before and after the pipeline on the cpu executor.
func TestRealModels(t *testing.T) {
	for _, m := range realModels {
		t.Run(m.name, func(t *testing.T) {
			g0, _, err := onnx.Load(realModel(t, m.name))
			if err != nil {
				t.Fatal(err)
			}
			g, err := graph.SpecializeShapes(g0, map[string][]int{m.input: m.shape})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			x := tensor.MustNew(tensor.Float32, m.shape)
			for i := range x.Float32s() {
				x.Float32s()[i] = float32(rng.NormFloat64())
			}
			if m.name == "oww_melspectrogram" {
				for i := range x.Float32s() {
					x.Float32s()[i] *= 1000
				}
			}
			og, rep := checkSame(t, g, map[string]*tensor.Tensor{m.input: x}, 1e-5)
			mp, err := passes.PlanMemory(og)
			if err != nil {
				t.Fatal(err)
			}
			sum := checkPlan(t, og, mp)
			t.Logf("%s: %s; arena %d KiB (buffers %d KiB)", m.name, rep.Summary(), mp.ArenaBytes>>10, sum>>10)
		})
	}
}
