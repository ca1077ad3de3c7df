package conformance

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// realCase is one real model run on one set of inputs.
type realCase struct {
	model  string
	label  string
	inputs func() map[string]*tensor.Tensor
}

// realCases lists the real models with concrete inputs chosen so that outputs are not
// degenerate (see textImage and audio). The embedding model's input is what openWakeWord
// feeds it: melspectrogram frames scaled by x/10+2, about N(8, 1).
func realCases() []realCase {
	rng := func(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }
	return []realCase{
		{"ppocr_cls", "1x3x48x192", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(1), 48, 192)}
		}},
		{"ppocrv4_det", "1x3x128x160", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(2), 128, 160)}
		}},
		{"ppocrv4_det", "1x3x64x96", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(3), 64, 96)}
		}},
		{"ppocrv4_rec", "1x3x48x320", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(4), 48, 320)}
		}},
		{"oww_melspectrogram", "1x16000", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"input": audio(rng(5), 16000)}
		}},
		{"oww_embedding", "1x76x32x1", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"input_1": normal(rng(6), 8, 1, 1, 76, 32, 1)}
		}},
		{"oww_hey_jarvis", "1x16x96", func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x.1": normal(rng(8), 0, 1, 1, 16, 96)}
		}},
	}
}

func TestRealModels(t *testing.T) {
	for _, c := range realCases() {
		t.Run(c.model+"/"+c.label, func(t *testing.T) {
			path := realModel(t, c.model)
			g, _, err := onnx.Load(path)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			in := c.inputs()
			ref := runRef(t, path, in)
			ours := runOurs(t, g, in)
			worst := compareAll(t, ours, ref)
			t.Logf("%s %s: worst relative error %.3g", c.model, c.label, worst)
		})
	}
}

// TestHeyJarvisBranches runs the wake-word classifier on inputs that take each branch of its
// If node (then: score p1 >= 0.5 so a verifier network runs; else: p1 is passed through). The
// model is rewritten to also output p1 ("p1.1"), which shows which branch ran.
func TestHeyJarvisBranches(t *testing.T) {
	path := realModel(t, "oww_hey_jarvis")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Graph.Output = append(m.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("p1.1"), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1),
			Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}},
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}}}}}})
	if b, err = proto.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	aug := filepath.Join(t.TempDir(), "hey_jarvis_p1.onnx")
	if err := os.WriteFile(aug, b, 0o644); err != nil {
		t.Fatal(err)
	}
	orig, _, err := onnx.Load(path)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	withP1, _, err := onnx.Load(aug)
	if err != nil {
		t.Fatalf("import of the rewritten model: %v", err)
	}
	// Seeds and offsets found by searching with onnxruntime: the first input scores low, the
	// others high; the last gives a verifier score far from p1.
	inputs := []struct {
		seed uint64
		mean float64
	}{{0, 0}, {3, 0}, {2, -2}}
	var then, els int
	for _, x := range inputs {
		in := map[string]*tensor.Tensor{"x.1": normal(rand.New(rand.NewPCG(x.seed, 1)), x.mean, 1, 1, 16, 96)}
		compareAll(t, runOurs(t, orig, in), runRef(t, path, in))
		ref := runRef(t, aug, in)
		compareAll(t, runOurs(t, withP1, in), ref)
		p1, out := ref["p1.1"].Float32s()[0], ref["53"].Float32s()[0]
		if p1 >= 0.5 {
			then++
		} else {
			els++
		}
		t.Logf("input seed %d mean %g: p1 %.4g, output %.4g", x.seed, x.mean, p1, out)
	}
	if then == 0 || els == 0 {
		t.Errorf("inputs took the then branch %d times and the else branch %d times; want both", then, els)
	}
}
