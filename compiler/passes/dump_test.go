package passes_test

import (
	"context"
	"os"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/models/onnx"
)

func TestDumpModel(t *testing.T) {
	name := os.Getenv("DUMP_MODEL")
	if name == "" {
		t.Skip("set DUMP_MODEL")
	}
	for _, m := range realModels {
		if m.name != name {
			continue
		}
		g0, _, err := onnx.Load(realModel(t, m.name))
		if err != nil {
			t.Fatal(err)
		}
		g, err := graph.SpecializeShapes(g0, map[string][]int{m.input: m.shape})
		if err != nil {
			t.Fatal(err)
		}
		o := opts()
		o.DumpAfter = os.Getenv("DUMP_AFTER")
		o.DumpTo = os.Stdout
		if _, _, err := passes.Run(context.Background(), g, o); err != nil {
			t.Fatal(err)
		}
	}
}
