package zoo

import (
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
)

// TestRecordedShapesMatchInference checks the shapes the builder records for intermediate
// values against the compiler's independent shape inference, symbolic batch included.
func TestRecordedShapesMatchInference(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Options
	}{{"mlp", Options{}}, {"resnet18", Options{}}, {"mobilenetv2", Options{Batch: 3}}, {"bert", smallBERT}} {
		g := mustBuild(t, c.name, c.opt)
		recorded := g.Values
		var outputs []string
		for _, v := range g.Outputs {
			outputs = append(outputs, v.String())
		}
		g.Values = map[string]*graph.Value{}
		if err := graph.InferShapes(g); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for name, v := range recorded {
			if w, ok := g.Values[name]; !ok || w.String() != v.String() {
				t.Errorf("%s: %s recorded as %v, inferred as %v", c.name, name, v, w)
			}
		}
		for i, v := range g.Outputs {
			if v.String() != outputs[i] {
				t.Errorf("%s: output recorded as %s, inferred as %v", c.name, outputs[i], v)
			}
		}
	}
}
