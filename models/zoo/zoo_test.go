package zoo

import (
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// smallBERT is the bert variant unit tests build: 2 layers, 16 tokens.
var smallBERT = Options{Layers: 2, SeqLen: 16}

func mustBuild(t *testing.T, name string, opt Options) *graph.Graph {
	t.Helper()
	g, err := Build(name, opt)
	if err != nil {
		t.Fatalf("Build(%q, %+v): %v", name, opt, err)
	}
	if err := g.Verify(); err != nil {
		t.Fatalf("%s: Verify: %v", name, err)
	}
	return g
}

func TestListIsSortedAndComplete(t *testing.T) {
	var names []string
	for _, m := range List() {
		names = append(names, m.Name)
		if m.Description == "" || len(m.Inputs) == 0 || len(m.Outputs) == 0 || m.Params <= 0 {
			t.Errorf("%s: incomplete description %+v", m.Name, m)
		}
	}
	want := []string{"bert", "mlp", "mobilenetv2", "resnet18", "resnet50", "vgg16"}
	if !slices.Equal(names, want) {
		t.Fatalf("List() names = %v, want %v", names, want)
	}
	if !sort.StringsAreSorted(Names()) {
		t.Errorf("Names() not sorted: %v", Names())
	}
	// List returns copies: changing them changes nothing here.
	l := List()
	l[0].Inputs[0].Shape[0] = 99
	if List()[0].Inputs[0].Shape[0] == 99 {
		t.Errorf("List() shares its input shapes with the registry")
	}
}

func TestUnknownNameListsKnownNames(t *testing.T) {
	_, err := Build("resnet19", Options{})
	if err == nil {
		t.Fatal("Build(resnet19) succeeded")
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
	if _, err := RandomInputs("nope", graph.New("x"), 1, 0); err == nil {
		t.Error("RandomInputs(nope) succeeded")
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"resnet18", Options{Batch: -1}},
		{"bert", Options{SeqLen: 513, Layers: 1}},
		{"bert", Options{SeqLen: -4, Layers: 1}},
		{"bert", Options{Layers: -1}},
	} {
		if _, err := Build(c.name, c.opt); err == nil {
			t.Errorf("Build(%q, %+v) succeeded", c.name, c.opt)
		}
	}
}

// TestOps checks each model uses the operators of its specification, in canonical form.
func TestOps(t *testing.T) {
	want := map[string][]string{
		"mlp":         {"Gemm", "Relu", "Softmax"},
		"resnet18":    {"Add", "BatchNormalization", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MaxPool", "Relu"},
		"mobilenetv2": {"Add", "BatchNormalization", "Clip", "Conv", "Flatten", "Gemm", "GlobalAveragePool"},
		"bert": {"Add", "Cast", "Div", "Erf", "Gather", "LayerNormalization", "MatMul", "Mul", "Reshape",
			"Softmax", "Sub", "Transpose", "Unsqueeze"},
	}
	for name, ops := range want {
		opt := Options{}
		if name == "bert" {
			opt = smallBERT
		}
		g := mustBuild(t, name, opt)
		seen := map[string]bool{}
		for _, n := range g.Nodes {
			seen[n.Op] = true
			switch n.Op {
			case "Clip":
				if len(n.Inputs) != 3 || len(n.Attrs) != 0 {
					t.Errorf("%s: %v is not in canonical form (min/max as inputs): %v %v", name, n, n.Inputs, n.Attrs)
				}
			case "Unsqueeze":
				if len(n.Inputs) != 2 || n.Attrs["axes"] != nil {
					t.Errorf("%s: %v is not in canonical form (axes as input)", name, n)
				}
			case "Conv":
				if n.Inputs[1] != n.Name+".weight" {
					t.Errorf("%s: %v reads weight %q", name, n, n.Inputs[1])
				}
			}
		}
		var got []string
		for op := range seen {
			got = append(got, op)
		}
		sort.Strings(got)
		if !slices.Equal(got, ops) {
			t.Errorf("%s uses ops %v, want %v", name, got, ops)
		}
	}
}

func TestMobileNetV2Structure(t *testing.T) {
	g := mustBuild(t, "mobilenetv2", Options{Batch: 1})
	var depthwise, adds int
	for _, n := range g.Nodes {
		if n.Op == "Conv" && n.AttrInt("group", 1) > 1 {
			depthwise++
			w := g.Initializers[n.Inputs[1]]
			if w.Shape[1] != 1 || int64(w.Shape[0]) != n.AttrInt("group", 1) {
				t.Errorf("%v: depthwise weight %v with group %d", n, w.Shape, n.AttrInt("group", 1))
			}
		}
		if n.Op == "Add" {
			adds++
		}
	}
	// 17 inverted residual blocks, one depthwise conv each; residuals where stride 1 and
	// channels kept: 24:1, 32:2, 64:3, 96:2, 160:2 = 10.
	if depthwise != 17 || adds != 10 {
		t.Errorf("depthwise convs %d (want 17), residual adds %d (want 10)", depthwise, adds)
	}
	if v, _ := g.Value("features.18.2"); v == nil || v.Shape.String() != "[1,1280,7,7]" {
		t.Errorf("features.18.2 = %v, want [1,1280,7,7]", v)
	}
}

func TestInputsMatchSpec(t *testing.T) {
	for _, m := range List() {
		if m.Name == "vgg16" || m.Name == "resnet50" || m.Name == "bert" {
			continue // built in TestFullZoo
		}
		for _, batch := range []int{0, 1} {
			g := mustBuild(t, m.Name, Options{Batch: batch})
			checkIO(t, m, g, batch)
		}
	}
	g := mustBuild(t, "bert", Options{Layers: 1, Batch: 1})
	checkIO(t, List()[0], g, 1)
}

func checkIO(t *testing.T, m Model, g *graph.Graph, batch int) {
	t.Helper()
	if len(g.Inputs) != len(m.Inputs) {
		t.Fatalf("%s: %d inputs, spec lists %d", m.Name, len(g.Inputs), len(m.Inputs))
	}
	for i, in := range m.Inputs {
		v := g.Inputs[i]
		want := graph.Dims(in.Shape...)
		if batch == 0 {
			want[0] = graph.P(BatchDim)
		}
		if v.Name != in.Name || v.DType != in.DType || v.Shape.String() != want.String() {
			t.Errorf("%s: input %v, spec %+v (batch %d)", m.Name, v, in, batch)
		}
	}
	for i, name := range m.Outputs {
		if i >= len(g.Outputs) || g.Outputs[i].Name != name || g.Outputs[i].Shape[0] != g.Inputs[0].Shape[0] {
			t.Errorf("%s: outputs %v, spec %v", m.Name, g.Outputs, m.Outputs)
		}
		if _, ok := g.Values[name]; ok {
			t.Errorf("%s: output %q also listed as an intermediate", m.Name, name)
		}
	}
}

func TestNodeNamesReadableAndUnique(t *testing.T) {
	g := mustBuild(t, "resnet18", Options{})
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Name == "" || seen[n.Name] {
			t.Errorf("node name %q empty or repeated", n.Name)
		}
		seen[n.Name] = true
		for _, out := range n.Outputs {
			if _, ok := g.Value(out); !ok {
				t.Errorf("%v: output %q has no recorded type", n, out)
			}
		}
	}
	for _, want := range []string{"conv1", "bn1", "maxpool", "layer1.0.conv1", "layer2.0.downsample.0", "layer4.1.bn2", "fc"} {
		if !seen[want] {
			t.Errorf("no node %q", want)
		}
	}
	for _, w := range []string{"layer3.0.downsample.1.running_var", "fc.weight", "layer1.1.conv2.weight"} {
		if _, ok := g.Initializers[w]; !ok {
			t.Errorf("no initializer %q", w)
		}
	}
}

func bitsEqual(a, b *tensor.Tensor) bool {
	if !slices.Equal(a.Shape, b.Shape) || a.DType != b.DType {
		return false
	}
	switch x := a.Data.(type) {
	case []float32:
		y := b.Float32s()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	case []int64:
		return slices.Equal(x, b.Int64s())
	}
	return false
}

func TestDeterministicWeights(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Options
	}{{"mobilenetv2", Options{Seed: 7}}, {"mlp", Options{Seed: 7}}} {
		a := mustBuild(t, c.name, c.opt)
		prev := runtime.GOMAXPROCS(1) // the weights must not depend on the parallelism
		b := mustBuild(t, c.name, c.opt)
		runtime.GOMAXPROCS(prev)
		other := c.opt
		other.Seed = 8
		d := mustBuild(t, c.name, other)
		if len(a.Initializers) != len(b.Initializers) || len(a.Initializers) != len(d.Initializers) {
			t.Fatalf("%s: initializer counts differ", c.name)
		}
		for name, ta := range a.Initializers {
			if !bitsEqual(ta, b.Initializers[name]) {
				t.Errorf("%s: %s differs between two builds with the same seed", c.name, name)
			}
			isWeight := strings.HasSuffix(name, ".weight") || strings.HasSuffix(name, ".bias") ||
				strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var")
			if isWeight && bitsEqual(ta, d.Initializers[name]) {
				t.Errorf("%s: %s is the same under seeds 7 and 8", c.name, name)
			}
			if !isWeight && !bitsEqual(ta, d.Initializers[name]) {
				t.Errorf("%s: constant %s depends on the seed", c.name, name)
			}
		}
	}
}

func TestBatchNormStatistics(t *testing.T) {
	g := mustBuild(t, "resnet18", Options{Seed: 3})
	var bns int
	for _, n := range g.Nodes {
		if n.Op != "BatchNormalization" {
			continue
		}
		bns++
		in := func(i int) []float32 { return g.Initializers[n.Inputs[i]].Float32s() }
		for i, v := range in(4) {
			if v <= 0 || v > 10 || in(1)[i] < 0.75 || in(1)[i] >= 1.25 || math.Abs(float64(in(2)[i])) > 1 || math.Abs(float64(in(3)[i])) > 10 {
				t.Fatalf("%v channel %d: scale %v bias %v mean %v var %v", n, i, in(1)[i], in(2)[i], in(3)[i], v)
			}
		}
	}
	if bns != 20 { // 1 + 8 blocks x 2 + 3 downsamples
		t.Errorf("%d BatchNormalization nodes, want 20", bns)
	}
}

func TestRandomInputs(t *testing.T) {
	g := mustBuild(t, "bert", Options{Layers: 1, SeqLen: 32})
	ins, err := RandomInputs("bert", g, 5, 11)
	if err != nil {
		t.Fatal(err)
	}
	ids, mask := ins["input_ids"], ins["attention_mask"]
	if !slices.Equal(ids.Shape, []int{5, 32}) || !slices.Equal(mask.Shape, []int{5, 32}) {
		t.Fatalf("shapes %v %v", ids.Shape, mask.Shape)
	}
	distinct := map[int64]bool{}
	for _, id := range ids.Int64s() {
		if id < 0 || id >= 30522 {
			t.Fatalf("token id %d out of the vocabulary", id)
		}
		distinct[id] = true
	}
	if len(distinct) < 100 {
		t.Errorf("only %d distinct token ids in 160", len(distinct))
	}
	for r := range 5 {
		row := mask.Int64s()[r*32 : (r+1)*32]
		ones := 0
		for _, v := range row {
			if v != 0 && v != 1 {
				t.Fatalf("mask value %d", v)
			}
			ones += int(v)
		}
		if ones == 0 {
			t.Errorf("mask row %d attends to nothing", r)
		}
	}
	again, _ := RandomInputs("bert", g, 5, 11)
	if !bitsEqual(again["input_ids"], ids) || !bitsEqual(again["attention_mask"], mask) {
		t.Error("RandomInputs is not deterministic")
	}

	img := mustBuild(t, "mobilenetv2", Options{Batch: 2})
	x, err := RandomInputs("mobilenetv2", img, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := x["input"].Float32s()
	var s, s2 float64
	for _, v := range d {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	mean, sd := s/float64(len(d)), math.Sqrt(s2/float64(len(d)))
	if !slices.Equal(x["input"].Shape, []int{2, 3, 224, 224}) || math.Abs(mean) > 0.01 || math.Abs(sd-1) > 0.01 {
		t.Errorf("image input %v: mean %.3f sd %.3f, want ~N(0,1)", x["input"].Shape, mean, sd)
	}
	if _, err := RandomInputs("mobilenetv2", img, 3, 1); err == nil {
		t.Error("batch 3 for a graph built with batch 2 succeeded")
	}
}

func TestParamCountIgnoresBuffers(t *testing.T) {
	g := graph.New("x")
	g.Initializers["a.weight"] = tensor.MustNew(tensor.Float32, []int{3, 4})
	g.Initializers["a.bias"] = tensor.MustNew(tensor.Float32, []int{3})
	g.Initializers["bn.running_var"] = tensor.MustNew(tensor.Float32, []int{3})
	g.Initializers["const.six"] = tensor.MustNew(tensor.Float32, nil)
	if n := ParamCount(g); n != 15 {
		t.Errorf("ParamCount = %d, want 15", n)
	}
}
