package passes_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
)

// TestCompiledPlanRoundTrip saves a compiled real model (fused nodes with body subgraphs,
// an If with outer-scope reads) as a plan, loads it back and runs both graphs.
func TestCompiledPlanRoundTrip(t *testing.T) {
	for _, m := range realModels {
		if m.name != "oww_hey_jarvis" && m.name != "ppocr_cls" {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			g0, _, err := onnx.Load(realModel(t, m.name))
			if err != nil {
				t.Fatal(err)
			}
			g, err := graph.SpecializeShapes(g0, map[string][]int{m.input: m.shape})
			if err != nil {
				t.Fatal(err)
			}
			og, _, err := passes.Run(context.Background(), g, opts())
			if err != nil {
				t.Fatal(err)
			}
			mp, err := passes.PlanMemory(og)
			if err != nil {
				t.Fatal(err)
			}
			p := &plan.Plan{Model: m.name, Graph: og, Memory: *mp}
			var buf bytes.Buffer
			if err := plan.Encode(&buf, p); err != nil {
				t.Fatal(err)
			}
			q, err := plan.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := passes.Format(og), passes.Format(q.Graph); a != b {
				t.Errorf("graph text differs after the round trip")
			}
			x := newGB("in").randT(m.shape, -1, 1)
			in := map[string]*tensor.Tensor{m.input: x}
			want, got := runCPU(t, og, in), runCPU(t, q.Graph, in)
			for name, w := range want {
				if e := relErr(got[name], w); e != 0 {
					t.Errorf("output %q differs after the round trip (rel err %g)", name, e)
				}
			}
		})
	}
}
