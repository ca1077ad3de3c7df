package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
	"github.com/elasticroom/elasticroom/models/zoo"
)

// runCLI runs the CLI in-process with args as a user types them and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(permuteArgs(app, append([]string{"elasticroom"}, args...)))
	return out.String(), err
}

func TestPermuteArgs(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"run", "m.onnx", "--device", "cpu", "--random-inputs"}, []string{"run", "--device", "cpu", "--random-inputs", "m.onnx"}},
		{[]string{"run", "m.onnx", "--input=x=a.npy", "-o", "out"}, []string{"run", "--input=x=a.npy", "-o", "out", "m.onnx"}},
		{[]string{"run", "--", "-weird.onnx"}, []string{"run", "--", "-weird.onnx"}},
		{[]string{"zoo", "export", "bert", "-o", "b.onnx", "--seq-len", "16"}, []string{"zoo", "export", "-o", "b.onnx", "--seq-len", "16", "bert"}},
		{[]string{"compile", "m.onnx", "--sm-budget=20", "-o", "m.erp"}, []string{"compile", "--sm-budget=20", "-o", "m.erp", "m.onnx"}},
		{[]string{"serve", "--model", "x"}, []string{"serve", "--model", "x"}}, // an unknown flag stays; the parser reports it
	}
	for _, c := range cases {
		got := permuteArgs(app, append([]string{"elasticroom"}, c.in...))[1:]
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("permuteArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOutputFileName(t *testing.T) {
	for in, want := range map[string]string{
		"logits":           "logits.npy",
		"softmax_0.tmp_0":  "softmax_0.tmp_0.npy",
		"onnx::Add_3":      "onnx__Add_3.npy",
		"a/b\\c d":         "a_b_c_d.npy",
		"../../etc/passwd": ".._.._etc_passwd.npy",
		"..":               "__.npy",
		"":                 "_.npy",
	} {
		if got := OutputFileName(in); got != want {
			t.Errorf("OutputFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// exportMLP writes the zoo MLP (batch 1) and a valid input for it.
func exportMLP(t *testing.T, dir string) (model, input string, x *tensor.Tensor) {
	t.Helper()
	g, err := zoo.Build("mlp", zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	model = filepath.Join(dir, "mlp.onnx")
	if err := onnx.Save(g, model); err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs("mlp", g, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	x = ins["input"]
	input = filepath.Join(dir, "x.npy")
	if err := tensor.SaveNPY(input, x); err != nil {
		t.Fatal(err)
	}
	return model, input, x
}

func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	model, input, _ := exportMLP(t, dir)
	out := filepath.Join(dir, "out")
	if msg, err := runCLI(t, "run", model, "--input", "input="+input, "--output-dir", out, "--device", "cpu"); err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	probs, err := tensor.LoadNPY(filepath.Join(out, "probs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(probs.Shape, []int{1, 10}) {
		t.Fatalf("probs shape %v, want [1 10]", probs.Shape)
	}
	// The MLP ends in a softmax: a valid probability vector, whatever the weights.
	sum := float32(0)
	for _, p := range probs.Float32s() {
		if p < 0 || p > 1 {
			t.Fatalf("probability %v out of [0,1]", p)
		}
		sum += p
	}
	if sum < 0.9999 || sum > 1.0001 {
		t.Fatalf("probabilities sum to %v", sum)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	model, input, x := exportMLP(t, dir)
	wrong := filepath.Join(dir, "wrong.npy")
	if err := tensor.SaveNPY(wrong, tensor.FromFloat32([]int{1, 783}, x.Float32s()[:783])); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.onnx")
	if err := os.WriteFile(truncated, raw[:len(raw)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	unknownOp := writeUnknownOpModel(t, dir)

	cases := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"no model", []string{"run"}, []string{"exactly one MODEL"}},
		{"missing file", []string{"run", filepath.Join(dir, "nope.onnx")}, []string{"nope.onnx", "no such file"}},
		{"truncated file", []string{"run", truncated, "--random-inputs"}, []string{"not a valid ONNX model"}},
		{"unknown op", []string{"run", unknownOp, "--random-inputs"}, []string{`node "fancy"`, "FancyOp", "opset 13", "unsupported operator"}},
		{"no inputs", []string{"run", model}, []string{"no inputs given", "input"}},
		{"wrong shape", []string{"run", model, "--input", "input=" + wrong}, []string{`"input"`, "784", "783"}},
		{"unknown input", []string{"run", model, "--input", "input=" + input, "--input", "bogus=" + input}, []string{`"bogus"`}},
		{"bad device", []string{"run", model, "--random-inputs", "--device", "tpu"}, []string{`"tpu"`, "unknown device"}},
		{"no cuda driver", []string{"run", model, "--random-inputs", "--device", "cuda"}, []string{"NVIDIA driver (libcuda.so.1) not found"}},
		{"bad input flag", []string{"run", model, "--input", "input"}, []string{"NAME=VALUE"}},
		{"unknown zoo model", []string{"run", "zoo:alexnet"}, []string{"alexnet", "known: bert"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runCLI(t, c.args...)
			if err == nil {
				t.Fatalf("run %q succeeded, want an error", c.args)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// writeUnknownOpModel writes a one-node opset-13 model whose op no importer knows.
func writeUnknownOpModel(t *testing.T, dir string) string {
	t.Helper()
	f32 := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
				{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}}}}}}}}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:   proto.String("g"),
			Node:   []*onnxpb.NodeProto{{Name: proto.String("fancy"), OpType: proto.String("FancyOp"), Input: []string{"x"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fancy.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestZooExportAndList(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "zoo", "list")
	if err != nil || !strings.Contains(out, "resnet50") || !strings.Contains(out, "bert") {
		t.Fatalf("zoo list: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "m.onnx")
	if out, err := runCLI(t, "zoo", "export", "mlp", "-o", path); err != nil {
		t.Fatalf("zoo export: %v\n%s", err, out)
	}
	g, _, err := onnx.Load(path)
	if err != nil {
		t.Fatalf("exported model does not load: %v", err)
	}
	if len(g.Outputs) != 1 || g.Outputs[0].Name != "probs" {
		t.Fatalf("exported outputs %v", g.Outputs)
	}
	if _, err := runCLI(t, "zoo", "export", "nosuch", "-o", path); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("export of an unknown model: %v", err)
	}
}
