package cpu_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// realModels are the downloaded models with the input shape the benchmark uses.
var realModels = []struct {
	name  string
	shape []int
}{
	{"ppocr_cls", []int{1, 3, 48, 192}},
	{"ppocrv4_det", []int{1, 3, 320, 320}},
	{"ppocrv4_rec", []int{1, 3, 48, 320}},
	{"oww_melspectrogram", []int{1, 16000}},
	{"oww_embedding", []int{1, 76, 32, 1}},
	{"oww_hey_jarvis", []int{1, 16, 96}},
}

func benchRun(b *testing.B, g *graph.Graph, ins map[string]*tensor.Tensor) {
	ctx := context.Background()
	if _, err := cpu.Run(ctx, g, ins, cpu.Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := cpu.Run(ctx, g, ins, cpu.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRealModel runs the real ONNX models in .cache/models/real (skipped when absent).
func BenchmarkRealModel(b *testing.B) {
	dir := filepath.Join("..", "..", ".cache", "models", "real")
	for _, m := range realModels {
		b.Run(m.name, func(b *testing.B) {
			path := filepath.Join(dir, m.name+".onnx")
			if _, err := os.Stat(path); err != nil {
				b.Skipf("%s not downloaded", path)
			}
			g, _, err := onnx.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			dims := map[string]int{}
			for _, v := range g.Inputs {
				for i, d := range v.Shape {
					if d.Param != "" && i < len(m.shape) {
						dims[d.Param] = m.shape[i]
					}
				}
			}
			ins, err := models.RandomInputs(g, dims, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			benchRun(b, g, ins)
		})
	}
}

// BenchmarkZoo runs built-in zoo models at batch 1.
func BenchmarkZoo(b *testing.B) {
	for _, name := range []string{"mlp", "mobilenetv2", "resnet18", "resnet50"} {
		b.Run(name, func(b *testing.B) {
			g, err := zoo.Build(name, zoo.Options{Batch: 1})
			if err != nil {
				b.Fatal(err)
			}
			ins, err := zoo.RandomInputs(name, g, 1, 1)
			if err != nil {
				b.Fatal(err)
			}
			benchRun(b, g, ins)
		})
	}
}
