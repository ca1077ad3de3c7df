package sweep

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/bench/isolation"
)

// checkReport checks a sweep report's form: the budgets asked, in order, every figure finite
// and positive, p50 <= p99, and throughput no higher than the requests over the time they took
// back to back (the loop's wall time is at least the sum of the latencies).
func checkReport(t *testing.T, rep *Report, budgets []int) {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["suite"] != "budget-sweep" || doc["model"] == "" || doc["device"] == "" {
		t.Errorf("header %v", doc)
	}
	pts, _ := doc["budgets"].([]any)
	if len(pts) != len(budgets) {
		t.Fatalf("%d budgets in the JSON, want %d", len(pts), len(budgets))
	}
	for i, p := range pts {
		m := p.(map[string]any)
		if m["budget"] != float64(budgets[i]) {
			t.Errorf("budget %d is %v, want %d", i, m["budget"], budgets[i])
		}
		for _, k := range []string{"p50_ms", "p99_ms", "throughput_rps", "requests"} {
			v, ok := m[k].(float64)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				t.Errorf("budget %d: %s = %v", budgets[i], k, m[k])
			}
		}
	}
	for _, p := range rep.Budgets {
		var sum time.Duration
		for _, l := range p.Latencies {
			sum += l
		}
		if p.P50MS > p.P99MS || len(p.Latencies) != p.Requests ||
			p.ThroughputRPS > float64(p.Requests)/sum.Seconds()*(1+1e-9) {
			t.Errorf("budget %d: p50 %g p99 %g, %d requests in %v, %g req/s", p.Budget, p.P50MS, p.P99MS, p.Requests, sum, p.ThroughputRPS)
		}
	}
}

func TestSweepCPU(t *testing.T) {
	var progress strings.Builder
	rep, err := Run(context.Background(), Options{Device: isolation.DeviceOptions{Kind: "cpu", Units: 2},
		Model: "zoo:mlp", Batch: 16, Duration: 200 * time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, []int{1, 2}) // the cpu default: 1..units
	if !strings.Contains(progress.String(), "budget   2 units") {
		t.Errorf("progress:\n%s", progress.String())
	}
	dir := t.TempDir()
	if err := WriteFiles(dir, rep); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "budget-sweep.md"))
	if err != nil || !strings.Contains(string(md), "| 1 |") || !strings.Contains(string(md), "| 2 |") {
		t.Errorf("markdown (%v):\n%s", err, md)
	}
	checkSVG(t, filepath.Join(dir, "budget-sweep.svg"))
}

// TestSweepEmu compiles a small model for two SM budgets of an 8-SM emulated GPU.
func TestSweepEmu(t *testing.T) {
	rep, err := Run(context.Background(), Options{Device: isolation.DeviceOptions{Kind: "emu", Units: 8},
		Model: "zoo:mlp", Budgets: []int{2, 8}, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, []int{2, 8})
}

func TestSweepErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Run(ctx, Options{Device: isolation.DeviceOptions{Kind: "cpu", Units: 2}, Model: "zoo:mlp", Budgets: []int{3}, Duration: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "budget 3") {
		t.Errorf("budget beyond the device: %v", err)
	}
	_, err = Run(ctx, Options{Device: isolation.DeviceOptions{Kind: "cpu"}, Model: "zoo:nosuch", Duration: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown model: %v", err)
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root, lines := "", 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				lines++
			}
		}
	}
	if root != "svg" || lines != 2 {
		t.Errorf("%s: root %q, %d polylines (want p50 and p99)", path, root, lines)
	}
}
