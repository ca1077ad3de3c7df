package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompileAndInspect(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mlp.erp")
	ptxDir := filepath.Join(dir, "ptx")
	// Flags after the model: compile no longer skips flag parsing.
	msg, err := runCLI(t, "compile", "zoo:mlp", "--sm-budget=20", "--max-regs=64", "-o", out, "--emit-ptx", ptxDir)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, msg)
	}
	for _, want := range []string{"compiled zoo:mlp for h100 (sm_90)", "kernels, 0 host steps", "estimated latency", "compile time", "wrote " + out} {
		if !strings.Contains(msg, want) {
			t.Errorf("compile output lacks %q:\n%s", want, msg)
		}
	}
	ptx, err := filepath.Glob(filepath.Join(ptxDir, "*.ptx"))
	if err != nil || len(ptx) == 0 {
		t.Fatalf("--emit-ptx wrote nothing: %v", err)
	}
	text, _ := os.ReadFile(ptx[0])
	if !strings.Contains(string(text), ".maxnreg") || !strings.Contains(string(text), ".entry k0") {
		t.Errorf("emitted PTX lacks .maxnreg or the entry:\n%.400s", text)
	}

	msg, err = runCLI(t, "inspect", out)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	for _, want := range []string{"plan zoo:mlp", "target  h100 (sm_90, 132 SMs)", "sms=20 max-regs=64", "register limit 64",
		"k000_gemm_", "elasticroom.FusedGemm", "launch sequence:", "arena"} {
		if !strings.Contains(msg, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, msg)
		}
	}
	msg, err = runCLI(t, "inspect", "--json", out)
	if err != nil {
		t.Fatalf("inspect --json: %v", err)
	}
	var v struct {
		Model   string `json:"model"`
		Kernels []struct {
			Name      string `json:"name"`
			Registers int    `json:"registers"`
			Tiles     int    `json:"tiles"`
		} `json:"kernels"`
		Launches []struct{ Kernel, Host string } `json:"launches"`
	}
	if err := json.Unmarshal([]byte(msg), &v); err != nil {
		t.Fatalf("inspect --json is not JSON: %v\n%s", err, msg)
	}
	if v.Model != "zoo:mlp" || len(v.Kernels) == 0 || len(v.Launches) < len(v.Kernels) {
		t.Fatalf("inspect --json: %+v", v)
	}
	for _, k := range v.Kernels {
		if k.Registers > 64 || k.Registers < 24 || k.Tiles < 1 {
			t.Errorf("kernel %s: %d registers, %d tiles", k.Name, k.Registers, k.Tiles)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.erp")
	bad := filepath.Join(dir, "bad.erp")
	if err := os.WriteFile(bad, []byte("ERPLAN\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"compile", "zoo:mlp", "--sm-budget=20", "--max-regs=8", "-o", out}, "MaxRegs = 8"},
		{[]string{"compile", "zoo:mlp", "--sm-budget=500", "-o", out}, "SMs = 500, want 1..132"},
		{[]string{"compile", "zoo:mlp", "--sm-budget=0", "-o", out}, "SMs = 0"},
		{[]string{"compile", "zoo:mlp", "--sm-budget=20", "--target=sm_70", "-o", out}, `unknown target "sm_70"`},
		{[]string{"compile", "zoo:mlp", "--sm-budget=20", "--max-tile-us=0.01", "-o", out}, "--max-tile-us"},
		{[]string{"compile", filepath.Join(dir, "missing.onnx"), "--sm-budget=20", "-o", out}, "missing.onnx"},
		{[]string{"compile", "zoo:mlp", "-o", out}, "sm-budget"},
		{[]string{"inspect", bad}, "malformed plan file"},
		{[]string{"inspect", filepath.Join(dir, "none.erp")}, "none.erp"},
	}
	for _, c := range cases {
		_, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
