package cpubench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/bench/ortref"
)

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	if got := median([]time.Duration{5 * ms, 1 * ms, 3 * ms}); got != 3*ms {
		t.Errorf("median = %v, want 3ms", got)
	}
	if got := median([]time.Duration{4 * ms, 1 * ms, 2 * ms, 8 * ms}); got != 3*ms {
		t.Errorf("median = %v, want 3ms", got)
	}
}

func TestTable(t *testing.T) {
	rep := &Report{CPU: "Test CPU", NumCPU: 2, GOMAXPROCS: 2, ORTThreads: 2, Runs: 5, Results: []Result{
		{Model: "a", Input: "x=1x3", OursMS: 3, ORTMS: 1.5, Ratio: 2},
		{Model: "b", Input: "y=2", Error: "runtime/cpu: boom"},
	}}
	var buf bytes.Buffer
	writeTable(&buf, rep)
	out := buf.String()
	for _, want := range []string{"Test CPU, 2 CPUs", "3.00", "1.50", "2.00", "b: runtime/cpu: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

// TestRunMLP runs the whole benchmark on the smallest zoo model.
func TestRunMLP(t *testing.T) {
	if err := ortref.Available(); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var buf bytes.Buffer
	rep, err := Run(context.Background(), Options{NoReal: true, Zoo: []string{"mlp"}, Runs: 2}, &buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(rep.Results) != 1 || rep.Results[0].Error != "" || rep.Results[0].OursMS <= 0 || rep.Results[0].ORTMS <= 0 ||
		len(rep.Results[0].OursRuns) != 2 || len(rep.Results[0].ORTRuns) != 2 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(buf.String(), "zoo:mlp") {
		t.Errorf("output lacks the model:\n%s", buf.String())
	}
	if _, err := Run(context.Background(), Options{Real: []string{"nope"}}, &buf); err == nil {
		t.Error("unknown real model accepted")
	}
}
