package cpu

import (
	"context"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// runOne runs a single node graph on the executor, dispatching fused ops by their table key
// (the elasticroom domain is stripped until runNode consults opKey).
func fzRun(t *testing.T, n *graph.Node, in map[string]*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	g := graph.New("one")
	for _, name := range n.Inputs {
		if name == "" {
			continue
		}
		if x, ok := in[name]; ok {
			g.Inputs = append(g.Inputs, graph.NewValue(name, x.DType, graph.Dims(x.Shape...)))
		}
	}
	nn := *n
	if key, ok := opKey(n); ok && n.Domain == FusedDomain {
		nn.Op, nn.Domain = key, ""
	}
	g.Nodes = []*graph.Node{&nn}
	g.Outputs = []*graph.Value{{Name: n.Outputs[0]}}
	out, err := Run(context.Background(), g, in, Options{})
	if err != nil {
		t.Fatalf("%v: %v", n, err)
	}
	return out[n.Outputs[0]]
}

func fzT(shape []int, seed int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape)
	for i := range t.Float32s() {
		t.Float32s()[i] = float32(math.Sin(float64(i*7+seed*13)) * 2)
	}
	return t
}

func fzNear(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestFusedMatMulNaive(t *testing.T) {
	a, b, bias := fzT([]int{2, 3, 4}, 1), fzT([]int{4, 5}, 2), fzT([]int{5}, 3)
	n := &graph.Node{Name: "fm", Op: "FusedMatMul", Domain: FusedDomain, Inputs: []string{"a", "b", "bias"}, Outputs: []string{"y"},
		Attrs: map[string]*graph.Attr{"activation": {Type: graph.AttrString, String: "LeakyRelu"},
			"activation_alpha": {Type: graph.AttrFloat, Float: 0.1}}}
	y := fzRun(t, n, map[string]*tensor.Tensor{"a": a, "b": b, "bias": bias})
	var want []float64
	ad, bd, cd := a.Float32s(), b.Float32s(), bias.Float32s()
	for r := range 6 {
		for j := range 5 {
			s := float64(cd[j])
			for k := range 4 {
				s += float64(ad[r*4+k]) * float64(bd[k*5+j])
			}
			if s < 0 {
				s *= 0.1
			}
			want = append(want, s)
		}
	}
	fzNear(t, "FusedMatMul", y.Float32s(), want)
}

func TestFusedConvAndGemmNaive(t *testing.T) {
	x, w, b := fzT([]int{1, 2, 3, 3}, 4), fzT([]int{2, 2, 1, 1}, 5), fzT([]int{2}, 6)
	n := &graph.Node{Name: "fc", Op: "FusedConv", Domain: FusedDomain, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"},
		Attrs: map[string]*graph.Attr{"activation": {Type: graph.AttrString, String: "Clip"},
			"clip_min": {Type: graph.AttrFloat, Float: -0.5}, "clip_max": {Type: graph.AttrFloat, Float: 1}}}
	y := fzRun(t, n, map[string]*tensor.Tensor{"x": x, "w": w, "b": b})
	var want []float64
	for m := range 2 {
		for p := range 9 {
			s := float64(b.Float32s()[m])
			for c := range 2 {
				s += float64(w.Float32s()[m*2+c]) * float64(x.Float32s()[c*9+p])
			}
			want = append(want, math.Min(1, math.Max(-0.5, s)))
		}
	}
	fzNear(t, "FusedConv", y.Float32s(), want)

	a, bb := fzT([]int{3, 2}, 7), fzT([]int{4, 2}, 8)
	g := &graph.Node{Name: "fg", Op: "FusedGemm", Domain: FusedDomain, Inputs: []string{"a", "bb"}, Outputs: []string{"y"},
		Attrs: map[string]*graph.Attr{"transB": {Type: graph.AttrInt, Int: 1}, "alpha": {Type: graph.AttrFloat, Float: 0.5},
			"activation": {Type: graph.AttrString, String: "Sigmoid"}}}
	y = fzRun(t, g, map[string]*tensor.Tensor{"a": a, "bb": bb})
	want = want[:0]
	for i := range 3 {
		for j := range 4 {
			s := 0.0
			for k := range 2 {
				s += float64(a.Float32s()[i*2+k]) * float64(bb.Float32s()[j*2+k])
			}
			want = append(want, 1/(1+math.Exp(-0.5*s)))
		}
	}
	fzNear(t, "FusedGemm", y.Float32s(), want)
}

func TestAttentionNaive(t *testing.T) {
	q, k, v, mask := fzT([]int{2, 3, 4}, 9), fzT([]int{2, 5, 4}, 10), fzT([]int{2, 5, 3}, 11), fzT([]int{1, 5}, 12)
	n := &graph.Node{Name: "att", Op: "Attention", Domain: FusedDomain, Inputs: []string{"q", "k", "v", "m"}, Outputs: []string{"y"},
		Attrs: map[string]*graph.Attr{"scale": {Type: graph.AttrFloat, Float: 0.5}, "has_mask": {Type: graph.AttrInt, Int: 1},
			"transpose_k": {Type: graph.AttrInt, Int: 1}}}
	y := fzRun(t, n, map[string]*tensor.Tensor{"q": q, "k": k, "v": v, "m": mask})
	var want []float64
	for b := range 2 {
		for i := range 3 {
			s := make([]float64, 5)
			mx := math.Inf(-1)
			for j := range 5 {
				for d := range 4 {
					s[j] += float64(q.Float32s()[(b*3+i)*4+d]) * float64(k.Float32s()[(b*5+j)*4+d])
				}
				s[j] = s[j]*0.5 + float64(mask.Float32s()[j])
				mx = math.Max(mx, s[j])
			}
			sum := 0.0
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for e := range 3 {
				o := 0.0
				for j := range 5 {
					o += s[j] / sum * float64(v.Float32s()[(b*5+j)*3+e])
				}
				want = append(want, o)
			}
		}
	}
	fzNear(t, "Attention", y.Float32s(), want)
}

func TestFusedElementwiseBody(t *testing.T) {
	body := graph.New("body")
	body.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2, 3)), graph.NewValue("s", tensor.Float32, graph.Dims(3))}
	body.Initializers["three"] = tensor.FromFloat32(nil, []float32{3})
	body.Nodes = []*graph.Node{
		{Name: "a", Op: "Add", Inputs: []string{"x", "three"}, Outputs: []string{"t1"}},
		{Name: "m", Op: "Mul", Inputs: []string{"t1", "s"}, Outputs: []string{"t2"}},
		{Name: "r", Op: "Tanh", Inputs: []string{"t2"}, Outputs: []string{"y"}},
	}
	body.Outputs = []*graph.Value{{Name: "y"}}
	x, s := fzT([]int{2, 3}, 13), fzT([]int{3}, 14)
	n := &graph.Node{Name: "fe", Op: "FusedElementwise", Domain: FusedDomain, Inputs: []string{"x", "s"}, Outputs: []string{"y"},
		Attrs: map[string]*graph.Attr{"body": {Type: graph.AttrGraph, Graph: body}}}
	y := fzRun(t, n, map[string]*tensor.Tensor{"x": x, "s": s})
	var want []float64
	for i := range 6 {
		want = append(want, math.Tanh((float64(x.Float32s()[i])+3)*float64(s.Float32s()[i%3])))
	}
	fzNear(t, "FusedElementwise", y.Float32s(), want)
}

func TestEvalNode(t *testing.T) {
	n := &graph.Node{Name: "mul", Op: "Mul", Inputs: []string{"d", "d"}, Outputs: []string{"sq"}}
	out, err := EvalNode(context.Background(), n, []*tensor.Tensor{tensor.FromFloat32([]int{2}, []float32{3, -2}), nil})
	if err == nil {
		t.Fatalf("EvalNode with a missing input succeeded: %v", out)
	}
	d := tensor.FromFloat32([]int{2}, []float32{3, -2})
	out, err = EvalNode(context.Background(), n, []*tensor.Tensor{d, d})
	if err != nil {
		t.Fatal(err)
	}
	fzNear(t, "EvalNode", out[0].Float32s(), []float64{9, 4})
	if k, ok := opKey(&graph.Node{Op: "X", Domain: "com.microsoft"}); ok {
		t.Errorf("opKey accepted a foreign domain: %q", k)
	}
}
