package models

import (
	"reflect"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/zoo"
)

func TestConcreteShape(t *testing.T) {
	v := graph.NewValue("x", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3), graph.P("h"), graph.Unknown()})
	got, err := ConcreteShape(v, map[string]int{"h": 48}, 2)
	if err == nil {
		t.Fatalf("open unnamed dim resolved to %v, want an error", got)
	}
	if !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "dim 3") {
		t.Errorf("error %q should name the input and the open dim", err)
	}
	v.Shape[3] = graph.P("w")
	got, err = ConcreteShape(v, map[string]int{"h": 48, "w": 320}, 2)
	if err != nil || !reflect.DeepEqual(got, []int{2, 3, 48, 320}) {
		t.Fatalf("ConcreteShape = %v, %v; want [2 3 48 320]", got, err)
	}
	if _, err := ConcreteShape(&graph.Value{Name: "y"}, nil, 1); err == nil {
		t.Fatal("a value of unknown rank resolved")
	}
}

func TestRandomInputsDeterministic(t *testing.T) {
	g := graph.New("g")
	g.Inputs = []*graph.Value{
		graph.NewValue("f", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(4)}),
		graph.NewValue("i", tensor.Int64, graph.Dims(3)),
	}
	a, err := RandomInputs(g, nil, 2, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomInputs(g, nil, 2, 9)
	c, _ := RandomInputs(g, nil, 2, 10)
	if !reflect.DeepEqual(a["f"].Shape, []int{2, 4}) || !reflect.DeepEqual(a, b) || reflect.DeepEqual(a["f"], c["f"]) {
		t.Fatalf("random inputs: shape %v, same seed equal %v, other seed differs %v", a["f"].Shape, reflect.DeepEqual(a, b), !reflect.DeepEqual(a["f"], c["f"]))
	}
	for _, x := range a["i"].Int64s() {
		if x < 0 || x >= 10 {
			t.Fatalf("int input %d outside [0,10)", x)
		}
	}
}

func TestParseAssignments(t *testing.T) {
	m, order, err := ParseAssignments("input", []string{"b=2.npy", "a=1.npy"})
	if err != nil || m["a"] != "1.npy" || !reflect.DeepEqual(order, []string{"a", "b"}) {
		t.Fatalf("ParseAssignments = %v %v %v", m, order, err)
	}
	for _, bad := range [][]string{{"a"}, {"=x"}, {"a="}, {"a=1", "a=2"}} {
		if _, _, err := ParseAssignments("input", bad); err == nil {
			t.Errorf("ParseAssignments(%q) accepted", bad)
		}
	}
}

func TestOpen(t *testing.T) {
	g, src, err := Open("zoo:mlp", zoo.Options{Batch: 1})
	if err != nil || src.Zoo != "mlp" || len(g.Nodes) == 0 {
		t.Fatalf("Open(zoo:mlp) = %v, %+v, %v", g, src, err)
	}
	if _, src, err := Open("mlp", zoo.Options{Batch: 1}); err != nil || src.Zoo != "mlp" {
		t.Fatalf("a bare zoo name: %+v, %v", src, err)
	}
	if _, _, err := Open("no/such/model.onnx", zoo.Options{}); err == nil || !strings.Contains(err.Error(), "zoo:NAME") {
		t.Fatalf("missing file: %v", err)
	}
}
