package zoo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// wellKnownParams are the published parameter counts: torchvision's models (sum of
// p.numel() over parameters()) and Hugging Face's bert-base-uncased BertModel less its pooler
// (109,482,240 - 590,592). They check the layer configurations independently of the builders.
var wellKnownParams = map[string]int64{
	"resnet18":    11_689_512,
	"resnet50":    25_557_032,
	"mobilenetv2": 3_504_872,
	"vgg16":       138_357_544,
	"bert":        108_891_648,
	"mlp":         784*512 + 512 + 512*256 + 256 + 256*10 + 10,
}

// TestFullZoo builds every model once in its default configuration, checks its parameter
// count and runs it on random inputs through runtime/cpu (see evaluate): every op produces the shape
// the graph records, nothing overflows, no layer is dead, and the output has O(1) spread
// that depends on the input. The two largest forwards are skipped with -short.
func TestFullZoo(t *testing.T) {
	for _, m := range List() {
		t.Run(m.Name, func(t *testing.T) {
			g := mustBuild(t, m.Name, Options{})
			if got, want := ParamCount(g), wellKnownParams[m.Name]; got != want || m.Params != want {
				t.Errorf("%d parameters built, %d listed, want %d", got, m.Params, want)
			}
			checkIO(t, m, g, 0)
			if testing.Short() && (m.Name == "vgg16" || m.Name == "resnet50") {
				return
			}
			opt, batch := Options{}, 2
			switch m.Name {
			case "vgg16":
				batch = 1
			case "bert": // full depth, short sequences
				opt.SeqLen = 16
				g = mustBuild(t, m.Name, opt)
			}
			forward(t, m.Name, g, batch)
		})
	}
}

// forward runs g on random inputs and checks the activations are O(1) and input-dependent.
func forward(t *testing.T, name string, g *graph.Graph, batch int) {
	t.Helper()
	ins, err := RandomInputs(name, g, batch, 1)
	if err != nil {
		t.Fatal(err)
	}
	env, stats, err := evaluate(g, ins, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.nonFinite > 0 {
			t.Errorf("%s (%s): %d non-finite values", s.name, s.op, s.nonFinite)
		}
		if (s.op == "Relu" || s.op == "Clip") && s.zeroFrac > 0.9 {
			t.Errorf("%s (%s): %.0f%% zeros", s.name, s.op, 100*s.zeroFrac)
		}
		// The additive attention mask is -10000 by design; everything else stays O(1).
		if !strings.Contains(s.name, "mask") && (s.rms > 20 || s.maxAbs > 200) {
			t.Errorf("%s (%s): rms %.3g, max |x| %.3g", s.name, s.op, s.rms, s.maxAbs)
		}
	}
	final := g.Outputs[0].Name
	if name == "mlp" {
		final = "fc3" // the logits under the softmax
		probs := env["probs"].Float32s()
		for r := range batch {
			var sum float64
			for _, p := range probs[r*10 : (r+1)*10] {
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("probabilities of row %d sum to %v", r, sum)
			}
		}
	}
	out := env[final]
	x := out.Float32s()
	var mean, sd float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (float64(v) - mean) * (float64(v) - mean)
	}
	sd = math.Sqrt(sd / float64(len(x)))
	if sd < 0.3 || sd > 5 {
		t.Errorf("%s %v: standard deviation %.3g, want O(1)", final, out.Shape, sd)
	}
	if batch >= 2 { // the samples' outputs must differ: the input matters
		n := len(x) / batch
		var diff, norm float64
		for i := range n {
			diff += math.Pow(float64(x[i]-x[n+i]), 2)
			norm += float64(x[i]) * float64(x[i])
		}
		r := math.Sqrt(diff / norm)
		if r < 0.1 {
			t.Errorf("%s: samples 0 and 1 differ by only %.3g (relative)", final, r)
		}
		t.Logf("%s: %s sd %.3f, samples differ by %.2f (relative)", name, final, sd, r)
		return
	}
	t.Logf("%s: %s sd %.3f", name, final, sd)
}

func TestForwardSmall(t *testing.T) {
	for _, c := range []struct {
		name  string
		opt   Options
		batch int
	}{{"mlp", Options{}, 4}, {"bert", smallBERT, 3}} {
		forward(t, c.name, mustBuild(t, c.name, c.opt), c.batch)
	}
}

// evalStats is what a run records of every float node output.
type evalStats struct {
	name      string
	op        string
	rms       float64 // sqrt(E[x^2])
	zeroFrac  float64 // fraction of exact zeros
	maxAbs    float64
	nonFinite int
}

// evaluate runs g on inputs with runtime/cpu (a test-only import: the zoo itself never imports
// the runtime), keeping every node output as a graph output. That also turns off the
// executor's conv/BatchNormalization/activation fusions, so every node's own output is seen.
// It checks every node output against the shape and type the graph records (the symbolic
// batch dim resolved to batch) and returns all node outputs and per-node statistics of the
// float ones, in node order.
func evaluate(g *graph.Graph, inputs map[string]*tensor.Tensor, batch int) (map[string]*tensor.Tensor, []evalStats, error) {
	all := *g
	all.Outputs = nil
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			v, ok := g.Value(o)
			if !ok {
				return nil, nil, fmt.Errorf("%v: output %q has no recorded value", n, o)
			}
			all.Outputs = append(all.Outputs, v)
		}
	}
	env, err := cpu.Run(context.Background(), &all, inputs, cpu.Options{})
	if err != nil {
		return nil, nil, err
	}
	var stats []evalStats
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			v, _ := g.Value(o)
			out := env[o]
			want := make([]int, len(v.Shape))
			for i, d := range v.Shape {
				want[i] = int(d.Size)
				if !d.Known() {
					want[i] = batch
				}
			}
			if out == nil || !slices.Equal(want, out.Shape) || v.DType != out.DType {
				return nil, nil, fmt.Errorf("%v: computed %v, graph records %v", n, out, v)
			}
			if d := out.Float32s(); d != nil {
				stats = append(stats, statsOf(n, d))
			}
		}
	}
	return env, stats, nil
}

func statsOf(n *graph.Node, d []float32) evalStats {
	st := evalStats{name: n.Name, op: n.Op}
	for _, x := range d {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			st.nonFinite++
			continue
		}
		st.rms += f * f
		st.maxAbs = max(st.maxAbs, math.Abs(f))
		if x == 0 {
			st.zeroFrac++
		}
	}
	st.rms = math.Sqrt(st.rms / float64(len(d)))
	st.zeroFrac /= float64(len(d))
	return st
}

// evaluate fails when a recorded shape is not the shape the op computes.
func TestEvaluateCatchesWrongRecordedShape(t *testing.T) {
	g := mustBuild(t, "mlp", Options{})
	ins, err := RandomInputs("mlp", g, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := evaluate(g, ins, 2); err != nil {
		t.Fatal(err)
	}
	v, ok := g.Values["fc2"]
	if !ok {
		t.Fatal("no recorded value fc2")
	}
	v.Shape = graph.Shape{v.Shape[0], graph.D(255)}
	if _, _, err := evaluate(g, ins, 2); err == nil || !strings.Contains(err.Error(), "fc2") {
		t.Errorf("a wrong recorded shape for fc2 gave %v", err)
	}
}
