package serve

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type fakeStats struct{ s []TenantStats }

func (f fakeStats) Snapshot() []TenantStats { return f.s }

func TestMetrics(t *testing.T) {
	stats := fakeStats{[]TenantStats{
		{Model: "add", Class: "realtime", QueueDepth: 3, UnitsHeld: 20, UnitsGuaranteed: 16, Preemptions: 0, Completed: 100, SLOMisses: 2, Goodput: 97.5},
		{Model: "secret", Tenant: "acme", Class: "besteffort", QueueDepth: 0, UnitsHeld: 112, Preemptions: 41, Completed: 7},
	}}
	_, _, ts := newTest(t, Config{Stats: stats})
	c := ts.Client()
	do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest))
	do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest))
	do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(`{`))
	do(t, c, "POST", ts.URL+"/v2/models/secret/infer", "", []byte(`{"inputs":[{"name":"a","datatype":"BOOL","shape":[1],"data":[true]}]}`))
	do(t, c, "POST", ts.URL+"/v2/models/no-such-model-1/infer", "", nil)
	do(t, c, "POST", ts.URL+"/v2/models/no-such-model-2/infer", "", nil)
	a := do(t, c, "GET", ts.URL+"/metrics", "", nil)
	if a.code != 200 {
		t.Fatalf("/metrics: %d", a.code)
	}
	text := string(a.body)
	for _, want := range []string{
		`elasticroom_requests_total{code="200",model="add",tenant="add"} 2`,
		`elasticroom_requests_total{code="400",model="add",tenant="add"} 1`,
		`elasticroom_requests_total{code="200",model="secret",tenant="acme"} 1`,
		`elasticroom_requests_total{code="404",model="_unknown",tenant="_unknown"} 2`,
		`elasticroom_request_failures_total{model="add",reason="bad_request",tenant="add"} 1`,
		`elasticroom_request_failures_total{model="_unknown",reason="not_found",tenant="_unknown"} 2`,
		`elasticroom_request_duration_seconds_count{model="add",tenant="add"} 3`,
		`elasticroom_request_duration_seconds_bucket{model="add",tenant="add",le="0.0001"}`,
		`elasticroom_request_duration_seconds_bucket{model="add",tenant="add",le="10"} 3`,
		`elasticroom_inflight_requests 0`,
		`elasticroom_queue_depth{class="realtime",model="add",tenant="add"} 3`,
		`elasticroom_units_held{class="besteffort",model="secret",tenant="acme"} 112`,
		`elasticroom_units_guaranteed{class="realtime",model="add",tenant="add"} 16`,
		`elasticroom_preemptions_total{class="besteffort",model="secret",tenant="acme"} 41`,
		`elasticroom_slo_misses_total{class="realtime",model="add",tenant="add"} 2`,
		`elasticroom_completed_total{class="realtime",model="add",tenant="add"} 100`,
		`elasticroom_goodput_requests_per_second{class="realtime",model="add",tenant="add"} 97.5`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "no-such-model") {
		t.Error("a model name from a request became a label value")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	_, _, ts := newTest(t, Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Tokens: map[string][]string{"add": {"hush-token"}}})
	c := ts.Client()
	do(t, c, "POST", ts.URL+"/v2/models/add/infer?q=1", "hush-token", []byte(addRequest))
	do(t, c, "POST", ts.URL+"/v2/models/add/infer", "wrong-token", []byte(addRequest))
	ts.Close() // the handler has returned for every request
	buf.mu.Lock()
	defer buf.mu.Unlock()
	out := buf.b.String()
	if strings.Contains(out, "hush-token") || strings.Contains(out, "wrong-token") || strings.Contains(out, "4.5") || strings.Contains(out, "q=1") {
		t.Errorf("the log holds a token, the body or the query:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log records, want 2:\n%s", len(lines), out)
	}
	for i, want := range []float64{200, 401} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["method"] != "POST" || rec["path"] != "/v2/models/add/infer" || rec["model"] != "add" || rec["status"] != want || rec["duration"] == nil {
			t.Errorf("record %d: %v", i, rec)
		}
	}
}
