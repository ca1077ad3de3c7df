package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// TestRunEmu runs the zoo MLP on the emulator (compiled on the fly, and from a saved .erp
// plan) and on the cpu device from the same plan, and compares every result with the cpu run
// of the original model.
func TestRunEmu(t *testing.T) {
	dir := t.TempDir()
	g, err := zoo.Build("mlp", zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	target, err := budget.LookupTarget("sm_90")
	if err != nil {
		t.Fatal(err)
	}
	p, err := compiler.Compile(t.Context(), g, compiler.Options{Target: target, Budget: budget.Budget{SMs: 20}, Eval: cpu.EvalNode})
	if err != nil {
		t.Fatal(err)
	}
	erp := filepath.Join(dir, "mlp.erp")
	if err := plan.Save(erp, p); err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs("mlp", g, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x.npy")
	if err := tensor.SaveNPY(x, ins["input"]); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) *tensor.Tensor {
		t.Helper()
		out := filepath.Join(dir, name)
		msg, err := runCLI(t, append(args, "--input", "input="+x, "--output-dir", out)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, msg)
		}
		y, err := tensor.LoadNPY(filepath.Join(out, "probs.npy"))
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	want := run("ref", "run", "zoo:mlp", "--device", "cpu")
	for _, c := range [][]string{
		{"run", "zoo:mlp", "--device", "emu"},
		{"run", erp, "--device", "emu"},
		{"run", erp, "--device", "cpu"},
	} {
		got := run(strings.Join(c[1:], "_")[len(c[1])/2:], c...)
		var num, den float64
		for i, w := range want.Float32s() {
			d := float64(got.Float32s()[i] - w)
			num, den = num+d*d, den+float64(w)*float64(w)
		}
		if e := math.Sqrt(num / den); e > 1e-5 {
			t.Errorf("%q: relative error %g against the cpu run of the model", c, e)
		}
	}
	x2 := filepath.Join(dir, "x2.npy")
	if err := tensor.SaveNPY(x2, tensor.FromFloat32([]int{2, 784}, make([]float32, 2*784))); err != nil {
		t.Fatal(err)
	}
	msg, err := runCLI(t, "run", erp, "--device", "emu", "--input", "input="+x2)
	if err == nil || !strings.Contains(err.Error(), `"input"`) {
		t.Errorf("a batch the plan was not compiled for: %v\n%s", err, msg)
	}
}
