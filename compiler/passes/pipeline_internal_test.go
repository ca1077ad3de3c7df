package passes

import (
	"context"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// TestPipelineTable fails when the declared pipeline breaks one of its ordering constraints.
func TestPipelineTable(t *testing.T) {
	if err := checkPipeline(pipeline, constraints); err != nil {
		t.Fatal(err)
	}
	// The checker itself catches a swapped pair.
	swapped := append([]pass(nil), pipeline...)
	var i, j int
	for k, p := range swapped {
		switch p.name {
		case "bn-fold":
			i = k
		case "fuse-conv":
			j = k
		}
	}
	swapped[i], swapped[j] = swapped[j], swapped[i]
	err := checkPipeline(swapped, constraints)
	if err == nil || !strings.Contains(err.Error(), "fusion needs BN folded into conv weights") {
		t.Errorf("swapped table: %v", err)
	}
	if err := checkPipeline(pipeline, append(constraints, constraint{"x", "dce", "?"})); err == nil {
		t.Error("a constraint naming an unknown pass passed")
	}
}

func TestPanicNamesPass(t *testing.T) {
	saved := pipeline
	defer func() { pipeline = saved }()
	pipeline = append([]pass(nil), saved...)
	for i := range pipeline {
		if pipeline[i].name == "fuse-gelu" {
			pipeline[i].fn = func(*state) (int, error) { var m map[string]int; m["x"] = 1; return 0, nil }
		}
	}
	g := graph.New("p")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2))}
	g.Nodes = []*graph.Node{{Name: "r", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}
	g.Outputs = []*graph.Value{{Name: "y"}}
	_, _, err := Run(context.Background(), g, Options{Verify: true})
	if err == nil || !strings.Contains(err.Error(), `pass "fuse-gelu" panicked`) {
		t.Errorf("error %v, want it to name the panicking pass", err)
	}
}

func TestVerifyCatchesBrokenPass(t *testing.T) {
	saved := pipeline
	defer func() { pipeline = saved }()
	pipeline = append([]pass(nil), saved...)
	for i := range pipeline {
		if pipeline[i].name == "fuse-gelu" {
			pipeline[i].fn = func(s *state) (int, error) { s.g.Nodes[0].Inputs[0] = "ghost"; return 1, nil }
		}
	}
	g := graph.New("v")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2))}
	g.Nodes = []*graph.Node{{Name: "r", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}
	g.Outputs = []*graph.Value{{Name: "y"}}
	_, _, err := Run(context.Background(), g, Options{Verify: true})
	if err == nil || !strings.Contains(err.Error(), `invalid after pass "fuse-gelu"`) || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("error %v", err)
	}
}
