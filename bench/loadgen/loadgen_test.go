package loadgen

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/serve"
)

const meta = `{"name":"m","platform":"x","inputs":[{"name":"input","datatype":"FP32","shape":[-1,3]},{"name":"ids","datatype":"INT64","shape":[1,2]}],"outputs":[]}`

// fakeServer answers metadata for model "m" and infers after delay; it checks every body
// with the server's own decoder and counts requests and the most in flight at once.
type fakeServer struct {
	delay    time.Duration
	token    string
	status   func(n int64) int // status of the n-th inference (1-based); nil: 200
	n        atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64
	bad      atomic.Int64
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"error":"token"}`, http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/v2/models/m":
		io.WriteString(w, meta)
	case "/v2/models/m/infer":
		in := f.inflight.Add(1)
		defer f.inflight.Add(-1)
		for {
			m := f.maxIn.Load()
			if in <= m || f.maxIn.CompareAndSwap(m, in) {
				break
			}
		}
		n := f.n.Add(1)
		body, _ := io.ReadAll(r.Body)
		hl, _ := strconv.Atoi(r.Header.Get("Inference-Header-Content-Length"))
		if req, err := serve.DecodeInferRequest(body, hl); err != nil || len(req.Inputs) != 2 {
			f.bad.Add(1)
		}
		time.Sleep(f.delay)
		code := http.StatusOK
		if f.status != nil {
			code = f.status(n)
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"model_name":"m","outputs":[]}`)
	default:
		http.Error(w, `{"error":"unknown model"}`, http.StatusNotFound)
	}
}

func TestInferBodyDecodes(t *testing.T) {
	var md Metadata
	if err := json.Unmarshal([]byte(meta), &md); err != nil {
		t.Fatal(err)
	}
	body, hl, err := InferBody(&md, 7)
	if err != nil {
		t.Fatal(err)
	}
	req, err := serve.DecodeInferRequest(body, hl)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Inputs) != 2 || !req.BinaryOutput {
		t.Fatalf("decoded %+v", req)
	}
	x, ids := req.Inputs[0], req.Inputs[1]
	if x.Name != "input" || x.Tensor.DType != tensor.Float32 || !reflect.DeepEqual(x.Tensor.Shape, []int{1, 3}) {
		t.Errorf("input: %s %v", x.Name, x.Tensor)
	}
	if ids.Name != "ids" || ids.Tensor.DType != tensor.Int64 || !reflect.DeepEqual(ids.Tensor.Shape, []int{1, 2}) {
		t.Errorf("ids: %s %v", ids.Name, ids.Tensor)
	}
	for _, v := range ids.Tensor.Data.([]int64) {
		if v != 0 && v != 1 {
			t.Errorf("id %d, want 0 or 1", v)
		}
	}
	again, _, _ := InferBody(&md, 7)
	other, _, _ := InferBody(&md, 8)
	if string(again) != string(body) || string(other) == string(body) {
		t.Error("bodies are not a function of the seed")
	}
	md.Inputs[0].Datatype = "BYTES"
	if _, _, err := InferBody(&md, 1); err == nil || !strings.Contains(err.Error(), `input "input": datatype BYTES`) {
		t.Errorf("BYTES input: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 10; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 5 * time.Millisecond, 0.9: 9 * time.Millisecond, 0.91: 10 * time.Millisecond,
		0.99: 10 * time.Millisecond, 0.999: 10 * time.Millisecond, 0.1: time.Millisecond, 0.01: time.Millisecond} {
		if got := Percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty percentile")
	}
}

// TestSummarize checks the figures on hand-made records.
func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	recs := []Record{
		{Target: 0, Latency: 5 * ms, Status: 200}, {Target: 0, Latency: 15 * ms, Status: 200},
		{Target: 0, Latency: 25 * ms, Status: 200}, {Target: 0, Latency: 3 * ms, Status: 429},
		{Target: 0, Latency: 1 * ms, Status: 0, Err: "refused"}, {Target: 1, Latency: 100 * ms, Status: 200},
	}
	st := summarize(0, Target{Model: "m", Rate: 10, SLO: 20 * ms}, recs, 2, 2*time.Second)
	if st.Sent != 5 || st.Answered != 4 || st.OK != 3 || st.Errors != 1 || st.Dropped != 2 || st.Status[429] != 1 {
		t.Errorf("counts %+v", st)
	}
	if st.P50 != 15*ms || st.P99 != 25*ms || st.Max != 25*ms || st.Mean != 15*ms {
		t.Errorf("latency p50 %v p99 %v max %v mean %v", st.P50, st.P99, st.Max, st.Mean)
	}
	// late: the 25 ms answer; failed: the 429 and the transport error.
	if st.Late != 1 || st.SLOMisses != 3 {
		t.Errorf("late %d misses %d, want 1 and 3", st.Late, st.SLOMisses)
	}
	if st.Goodput != 1 || st.Throughput != 1.5 {
		t.Errorf("goodput %v throughput %v, want 1 and 1.5 per second", st.Goodput, st.Throughput)
	}
	var out strings.Builder
	if err := WriteTable(&out, []string{"x"}, []*Result{{Targets: []Stats{st}}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"poisson 10/s", "429:1 err:1 drop:2", "15.00ms", "20.00ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestOpenLoopPoisson drives a loopback server at 200 requests/s for 1 s: about 200
// requests (Poisson: sd 14), exponential gaps (mean 5 ms, coefficient of variation near 1),
// and every request answered once.
func TestOpenLoopPoisson(t *testing.T) {
	f := &fakeServer{delay: time.Millisecond, token: "tk"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: time.Second}, Target{Model: "m", Rate: 200, SLO: time.Second, Token: "tk", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Targets[0]
	if st.Sent < 140 || st.Sent > 260 {
		t.Errorf("sent %d in 1 s at 200/s", st.Sent)
	}
	if st.OK != st.Sent || int64(st.Sent) != f.n.Load() || f.bad.Load() != 0 {
		t.Errorf("sent %d, ok %d, server saw %d (%d malformed)", st.Sent, st.OK, f.n.Load(), f.bad.Load())
	}
	starts := make([]float64, 0, len(res.Records))
	for _, r := range res.Records {
		starts = append(starts, r.Start.Seconds())
	}
	sort.Float64s(starts)
	var gaps []float64
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i]-starts[i-1])
	}
	mean, sd := meanSD(gaps)
	if mean < 0.0035 || mean > 0.0065 || sd/mean < 0.7 || sd/mean > 1.3 {
		t.Errorf("gaps mean %.4f s, cv %.2f: want about 0.005 s and 1", mean, sd/mean)
	}
	if st.SLOMisses != 0 || st.P50 <= 0 || st.P50 > st.P99 {
		t.Errorf("figures %+v", st)
	}
}

func meanSD(x []float64) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)-1))
}

// TestClosedLoop keeps exactly Concurrency requests outstanding, stops at MaxRequests and
// records statuses.
func TestClosedLoop(t *testing.T) {
	f := &fakeServer{delay: 5 * time.Millisecond, status: func(n int64) int {
		if n%4 == 0 {
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	start := time.Now()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 5 * time.Second}, Target{Model: "m", Concurrency: 3, MaxRequests: 60})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Targets[0]
	if st.Sent != 60 || f.n.Load() != 60 || st.Status[429] != 15 || st.OK != 45 {
		t.Errorf("sent %d (server %d), statuses %v", st.Sent, f.n.Load(), st.Status)
	}
	if f.maxIn.Load() != 3 {
		t.Errorf("at most %d in flight, want 3", f.maxIn.Load())
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("MaxRequests did not end the run early: %v", time.Since(start))
	}
}

// TestOpenLoopBounds: past MaxInFlight arrivals are dropped, and the run ends at its
// duration plus the requests in flight.
func TestOpenLoopBounds(t *testing.T) {
	f := &fakeServer{delay: 100 * time.Millisecond}
	srv := httptest.NewServer(f)
	defer srv.Close()
	start := time.Now()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 300 * time.Millisecond},
		Target{Model: "m", Rate: 500, MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Targets[0]
	if f.maxIn.Load() > 2 || st.Dropped == 0 || st.Sent > 10 {
		t.Errorf("max in flight %d, dropped %d, sent %d", f.maxIn.Load(), st.Dropped, st.Sent)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("run took %v", el)
	}
}

func TestRunErrors(t *testing.T) {
	f := &fakeServer{token: "tk"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ok := Options{URL: srv.URL, Duration: time.Second}
	cases := []struct {
		opt  Options
		tg   Target
		want string
	}{
		{ok, Target{Model: "other", Rate: 1, Token: "tk"}, `model "other" metadata: 404`},
		{ok, Target{Model: "m", Rate: 1}, `model "m" metadata: 401`},
		{ok, Target{Model: "m", Token: "tk"}, "give a rate"},
		{ok, Target{Model: "m", Rate: 1, Concurrency: 1, Token: "tk"}, "not both"},
		{Options{URL: "ftp://x", Duration: time.Second}, Target{Model: "m", Rate: 1}, "want http://host:port"},
		{Options{URL: srv.URL}, Target{Model: "m", Rate: 1}, "duration 0s"},
	}
	for _, c := range cases {
		if _, err := Run(context.Background(), c.opt, c.tg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.tg, err, c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	got, err := ParseTarget("model=rt,rate=12.5,slo=20ms,token=x,seed=9,max=100,max-in-flight=8")
	want := Target{Model: "rt", Rate: 12.5, SLO: 20 * time.Millisecond, Token: "x", Seed: 9, MaxRequests: 100, MaxInFlight: 8}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v", got, err)
	}
	if got, err := ParseTarget("model=be,concurrency=4"); err != nil || got.Concurrency != 4 {
		t.Errorf("closed loop: %+v, %v", got, err)
	}
	for in, msg := range map[string]string{
		"rate=1":                       "no model",
		"model=m":                      "give rate=R",
		"model=m,rate=1,concurrency=2": "not both",
		"model=m,rate=-1":              `rate="-1"`,
		"model=m,concurrency=0":        `concurrency="0"`,
		"model=m,rate=1,slo=x":         `slo="x"`,
		"model=m,rate=1,colour=red":    `unknown key "colour"`,
		"model":                        "want key=value",
	} {
		if _, err := ParseTarget(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseTarget(%q) = %v, want %q", in, err, msg)
		}
	}
}

// TestConcurrentTargets runs two targets at once; each request is recorded exactly once.
func TestConcurrentTargets(t *testing.T) {
	f := &fakeServer{delay: 2 * time.Millisecond}
	srv := httptest.NewServer(f)
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 400 * time.Millisecond},
		Target{Model: "m", Rate: 100}, Target{Model: "m", Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, st := range res.Targets {
		total += st.Sent
		if st.OK != st.Sent || st.Sent == 0 {
			t.Errorf("%s: sent %d ok %d", st.Load, st.Sent, st.OK)
		}
	}
	if int64(total) != f.n.Load() || len(res.Records) != total {
		t.Errorf("records %d, sent %d, server saw %d", len(res.Records), total, f.n.Load())
	}
}

// TestClosedLoopBacksOff: a closed loop refused by the server waits Backoff between tries
// instead of spinning.
func TestClosedLoopBacksOff(t *testing.T) {
	f := &fakeServer{status: func(int64) int { return http.StatusServiceUnavailable }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 300 * time.Millisecond}, Target{Model: "m", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Targets[0]
	if st.Status[503] != st.Sent || st.Sent > int(300*time.Millisecond/Backoff)+2 {
		t.Errorf("sent %d in 300 ms with a %v backoff, statuses %v", st.Sent, Backoff, st.Status)
	}
}
