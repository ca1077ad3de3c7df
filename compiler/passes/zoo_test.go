package passes_test

import (
	"context"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/models/zoo"
)

var zooOpts = zoo.Options{Batch: 1, SeqLen: 16, Layers: 2}

// zooRunnable are the zoo models small enough to run twice on the cpu in a unit test.
var zooRunnable = map[string]bool{"mlp": true, "bert": true, "mobilenetv2": true, "resnet18": true}

// TestZoo compiles every zoo model; the smaller ones are also run before and after.
func TestZoo(t *testing.T) {
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			g, err := zoo.Build(name, zooOpts)
			if err != nil {
				t.Fatal(err)
			}
			if !zooRunnable[name] || testing.Short() {
				og, rep, err := passes.Run(context.Background(), g, opts())
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s", name, rep.Summary())
				checkZooFusions(t, name, og)
				return
			}
			in, err := zoo.RandomInputs(name, g, 1, 7)
			if err != nil {
				t.Fatal(err)
			}
			og, rep := checkSame(t, g, in, 1e-5)
			t.Logf("%s: %s", name, rep.Summary())
			checkZooFusions(t, name, og)
		})
	}
}

func checkZooFusions(t *testing.T, name string, g *graph.Graph) {
	ops := countOps(g)
	want := map[string][]string{
		"bert":        {"elasticroom.Attention", "Gelu", "elasticroom.FusedMatMul"},
		"resnet18":    {"elasticroom.FusedConv"},
		"resnet50":    {"elasticroom.FusedConv"},
		"mobilenetv2": {"elasticroom.FusedConv"},
		"vgg16":       {"elasticroom.FusedConv"},
		"mlp":         {},
	}[name]
	for _, op := range want {
		if ops[op] == 0 {
			t.Errorf("%s: no %s after the pipeline (ops %v)", name, op, ops)
		}
	}
	if ops["BatchNormalization"] > 0 {
		t.Errorf("%s: %d BatchNormalization nodes left", name, ops["BatchNormalization"])
	}
}

// TestZooCompileTime keeps the pipeline well under a second on every zoo model.
func TestZooCompileTime(t *testing.T) {
	for _, name := range zoo.Names() {
		g, err := zoo.Build(name, zooOpts)
		if err != nil {
			t.Fatal(err)
		}
		o := opts()
		o.Verify = false
		t0 := time.Now()
		if _, _, err := passes.Run(context.Background(), g, o); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Errorf("%s: the pipeline took %v", name, d)
		}
	}
}

func BenchmarkPipeline(b *testing.B) {
	for _, name := range zoo.Names() {
		g, err := zoo.Build(name, zooOpts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			o := opts()
			o.Verify = false
			for b.Loop() {
				if _, _, err := passes.Run(context.Background(), g, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
