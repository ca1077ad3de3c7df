package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validXML fails t unless path parses as XML with an <svg> root.
func validXML(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q", path, root)
	}
}

func TestBenchIsolationCLI(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "iso.json")
	out, err := runCLI(t, "bench", "isolation", "--device", "cpu", "--units", "2", "--duration", "200ms",
		"--policies", "elasticroom,timeshare", "--rt-model", "zoo:mlp", "--rt-batch", "2", "--be-model", "zoo:mlp",
		"--be-batch", "64", "--rt-rate", "100", "--slo", "40ms", "--json", js, "--out", filepath.Join(dir, "rep"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"elasticroom  ", "together", "| timeshare |", "ElasticRoom against its goals"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Suite    string `json:"suite"`
		Units    int    `json:"units"`
		Policies []struct {
			Policy string             `json:"policy"`
			RT     map[string]float64 `json:"rt"`
			BE     map[string]float64 `json:"be"`
		} `json:"policies"`
	}
	// model is a string: decode numbers only after dropping it
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("--json is not JSON: %v\n%s", err, b)
	}
	for _, p := range raw["policies"].([]any) {
		for _, part := range []string{"rt", "be"} {
			delete(p.(map[string]any)[part].(map[string]any), "model")
		}
	}
	b, _ = json.Marshal(raw)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if rep.Suite != "isolation" || rep.Units != 2 || len(rep.Policies) != 2 ||
		rep.Policies[0].Policy != "elasticroom" || rep.Policies[1].Policy != "timeshare" {
		t.Fatalf("report %s", b)
	}
	for _, p := range rep.Policies {
		for _, k := range []string{"p50_ms", "p99_ms", "p999_ms", "alone_p99_ms", "p99_overhead", "slo_ms", "goodput_rps", "slo_miss_rate"} {
			if v, ok := p.RT[k]; !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s rt.%s missing or not finite", p.Policy, k)
			}
		}
		for _, k := range []string{"throughput_rps", "alone_throughput_rps", "throughput_norm"} {
			if _, ok := p.BE[k]; !ok {
				t.Errorf("%s be.%s missing", p.Policy, k)
			}
		}
		if !(p.RT["p50_ms"] <= p.RT["p99_ms"] && p.RT["p99_ms"] <= p.RT["p999_ms"]) || p.RT["slo_ms"] != 40 {
			t.Errorf("%s rt %v", p.Policy, p.RT)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rep", "isolation.md")); err != nil {
		t.Error(err)
	}
	validXML(t, filepath.Join(dir, "rep", "isolation.svg"))

	if _, err := runCLI(t, "bench", "isolation", "--device", "cpu", "--policies", "fifo"); err == nil || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("unknown policy: %v", err)
	}
}

func TestBenchSweepCLI(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "sweep.json")
	out, err := runCLI(t, "bench", "budget-sweep", "--device", "cpu", "--units", "2", "--model", "zoo:mlp",
		"--budgets", "1,2", "--duration", "100ms", "--json", js, "--out", dir, "-q")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep struct {
		Suite   string `json:"suite"`
		Budgets []struct {
			Budget int     `json:"budget"`
			P50    float64 `json:"p50_ms"`
			P99    float64 `json:"p99_ms"`
			RPS    float64 `json:"throughput_rps"`
		} `json:"budgets"`
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Suite != "budget-sweep" || len(rep.Budgets) != 2 || rep.Budgets[1].Budget != 2 ||
		rep.Budgets[0].P50 > rep.Budgets[0].P99 || rep.Budgets[0].RPS <= 0 {
		t.Errorf("report %s", b)
	}
	if !strings.Contains(out, "| 2 |") || strings.Contains(out, "budget   1:") {
		t.Errorf("output (quiet):\n%s", out)
	}
	validXML(t, filepath.Join(dir, "budget-sweep.svg"))
}
