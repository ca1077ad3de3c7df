package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/bench/loadgen"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/cuda"
)

// syncBuffer is an io.Writer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is `elasticroom serve` running in-process on a loopback port.
type testServer struct {
	url    string
	out    *syncBuffer
	cancel context.CancelFunc // what SIGTERM does
	done   chan error
}

// startServe runs `elasticroom serve args... --listen 127.0.0.1:0` and waits until ready.
func startServe(t *testing.T, args ...string) *testServer {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	app := newApp()
	s := &testServer{out: &syncBuffer{}, done: make(chan error, 1)}
	app.Writer, app.ErrWriter = s.out, s.out
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	full := append([]string{"elasticroom", "serve", "--listen", "127.0.0.1:0", "--addr-file", addrFile}, args...)
	go func() { s.done <- app.RunContext(ctx, permuteArgs(app, full)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("serve exited early: %v\n%s", err, s.out.String())
		default:
		}
		if b, err := os.ReadFile(addrFile); err == nil && strings.HasSuffix(string(b), "\n") {
			s.url = "http://" + strings.TrimSpace(string(b))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.url == "" {
		t.Fatalf("serve did not listen within a minute:\n%s", s.out.String())
	}
	if code, _ := s.get(t, "/v2/health/ready", ""); code != http.StatusOK {
		t.Fatalf("not ready: %d", code)
	}
	return s
}

func (s *testServer) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	return s.do(t, req, token)
}

func (s *testServer) do(t *testing.T, req *http.Request, token string) (int, string) {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// infer posts a JSON inference request of one FP32 input.
func (s *testServer) infer(t *testing.T, model, token, input string, x *tensor.Tensor) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": input, "datatype": "FP32", "shape": x.Shape, "data": x.Float32s()}}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v2/models/"+model+"/infer", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return s.do(t, req, token)
}

// metric reads one sample of /metrics.
func (s *testServer) metric(t *testing.T, line string) float64 {
	t.Helper()
	_, body := s.get(t, "/metrics", "")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), line+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in:\n%s", line, body)
	return 0
}

func mlpInput(t *testing.T, seed uint64) (*tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	g, err := zoo.Build("mlp", zoo.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := zoo.RandomInputs("mlp", g, 1, seed)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cpu.Run(context.Background(), g, ins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ins["input"], out["probs"]
}

// TestServe runs the real stack (zoo models compiled at start, the cpu unit pool, the
// scheduler, the HTTP server) on a loopback port and checks it as a client does.
func TestServe(t *testing.T) {
	s := startServe(t, "--device", "cpu", "--units", "2",
		"--tenant", "name=rt,model=zoo:mlp,class=realtime,sms=1,slo=200ms,token=rt-token",
		"--tenant", "name=be,model=zoo:mobilenetv2,class=besteffort,token=be-token")
	if out := s.out.String(); !strings.Contains(out, "tenant rt (realtime): compiled zoo:mlp") || !strings.Contains(out, "msg=serving") {
		t.Errorf("no compile summary or serving record:\n%s", out)
	}

	t.Run("endpoints", func(t *testing.T) {
		for _, c := range []struct {
			path, token string
			code        int
			body        string
		}{
			{"/v2", "", 200, `"name":"elasticroom"`},
			{"/v2/health/live", "", 200, ""},
			{"/v2/health/ready", "", 200, ""},
			{"/v2/models/rt", "rt-token", 200, `"inputs":[{"name":"input","datatype":"FP32","shape":[1,784]}]`},
			{"/v2/models/be", "be-token", 200, `"shape":[1,3,224,224]`},
			{"/v2/models/rt/ready", "rt-token", 200, `"ready":true`},
			{"/v2/models/nope", "", 404, "unknown model"},
			{"/v3", "", 404, "no such endpoint"},
			{"/metrics", "", 200, `elasticroom_units_guaranteed{class="realtime",model="rt",tenant="rt"} 1`},
		} {
			code, body := s.get(t, c.path, c.token)
			if code != c.code || !strings.Contains(body, c.body) {
				t.Errorf("GET %s: %d %s, want %d with %q", c.path, code, body, c.code, c.body)
			}
		}
	})

	t.Run("auth", func(t *testing.T) {
		x, _ := mlpInput(t, 1)
		for _, c := range []struct {
			token string
			code  int
		}{{"", 401}, {"wrong", 401}, {"be-token", 403}, {"rt-token", 200}} {
			if code, body := s.infer(t, "rt", c.token, "input", x); code != c.code {
				t.Errorf("rt with token %q: %d %s, want %d", c.token, code, body, c.code)
			}
		}
		if code, _ := s.get(t, "/v2/models/be", "rt-token"); code != 403 {
			t.Errorf("be metadata with rt's token: %d, want 403", code)
		}
	})

	t.Run("infer equals cpu.Run", func(t *testing.T) {
		for seed := uint64(1); seed <= 3; seed++ {
			x, want := mlpInput(t, seed)
			code, body := s.infer(t, "rt", "rt-token", "input", x)
			if code != 200 {
				t.Fatalf("infer: %d %s", code, body)
			}
			got := outputData(t, body, "probs")
			if len(got) != want.Len() {
				t.Fatalf("probs has %d values, want %d", len(got), want.Len())
			}
			for i, w := range want.Float32s() {
				if d := math.Abs(got[i] - float64(w)); d > 1e-6 {
					t.Fatalf("seed %d: probs[%d] = %g, cpu.Run gives %g", seed, i, got[i], w)
				}
			}
		}
	})

	t.Run("bad request beside good ones", func(t *testing.T) {
		x, want := mlpInput(t, 4)
		bad := tensor.FromFloat32([]int{1, 783}, make([]float32, 783))
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					code, body := s.infer(t, "rt", "rt-token", "input", bad)
					if code != 400 || !strings.Contains(body, `input \"input\"`) || !strings.Contains(body, "783") {
						t.Errorf("wrong shape: %d %s, want 400 naming the input", code, body)
					}
					return
				}
				code, body := s.infer(t, "rt", "rt-token", "input", x)
				if code != 200 {
					t.Errorf("good request beside bad ones: %d %s", code, body)
					return
				}
				if got := outputData(t, body, "probs"); math.Abs(got[0]-float64(want.Float32s()[0])) > 1e-6 {
					t.Errorf("good request beside bad ones: probs[0] = %g, want %g", got[0], want.Float32s()[0])
				}
			}()
		}
		wg.Wait()
	})

	t.Run("load", func(t *testing.T) {
		// The latency bound is loose (a noisy 2-core machine runs the server, the client and
		// the test, with other packages' tests beside them) and gets a second attempt; the
		// real figure is the benchmark's. Every attempt checks that each request got exactly
		// one answer.
		var a, b time.Duration
		for attempt := 1; attempt <= 2; attempt++ {
			a, b = serveLoad(t, s)
			if b <= max(10*a, 50*time.Millisecond) {
				return
			}
			t.Logf("attempt %d: rt p99 %v beside a saturating best-effort tenant, alone %v", attempt, b, a)
		}
		t.Errorf("rt p99 %v beside a saturating best-effort tenant, alone %v: over max(10x, 50ms)", b, a)
	})

	t.Run("graceful drain", func(t *testing.T) {
		x := tensor.FromFloat32([]int{1, 3, 224, 224}, make([]float32, 3*224*224))
		const n = 6
		codes := make(chan int, n)
		for range n {
			go func() {
				code, body := s.infer(t, "be", "be-token", "input", x)
				if code != 200 {
					t.Logf("in-flight request: %d %s", code, body)
				}
				codes <- code
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.metric(t, "elasticroom_inflight_requests") < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		s.cancel() // what SIGTERM does
		// New requests are refused from now on: 503 while draining, then no listener.
		xr, _ := mlpInput(t, 1)
		body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "input", "datatype": "FP32", "shape": xr.Shape, "data": xr.Float32s()}}})
		for time.Now().Before(deadline) {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/v2/models/rt/infer", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer rt-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				break
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		for range n {
			if code := <-codes; code != 200 {
				t.Errorf("a request in flight at SIGTERM got %d, want 200", code)
			}
		}
		if err := <-s.done; err != nil {
			t.Errorf("serve after drain: %v", err)
		}
		s.done <- nil // for the cleanup
		if out := s.out.String(); !strings.Contains(out, "draining") || !strings.Contains(out, "drained and stopped") {
			t.Errorf("no drain records:\n%s", out)
		}
	})
}

// serveLoad drives rt alone (Poisson), then rt beside a closed-loop best-effort tenant, and
// returns rt's p99 alone and shared after checking that every request sent got one 200
// answer and that the scheduler completed each exactly once.
func serveLoad(t *testing.T, s *testServer) (alone, shared time.Duration) {
	rt := loadgen.Target{Model: "rt", Rate: 40, SLO: 200 * time.Millisecond, Token: "rt-token", Seed: 1}
	be := loadgen.Target{Model: "be", Concurrency: 2, Token: "be-token", Seed: 2}
	const rtLine, beLine = `elasticroom_completed_total{class="realtime",model="rt",tenant="rt"}`, `elasticroom_completed_total{class="besteffort",model="be",tenant="be"}`
	rtBefore, beBefore := s.metric(t, rtLine), s.metric(t, beLine)
	ra, err := loadgen.Run(context.Background(), loadgen.Options{URL: s.url, Duration: 1500 * time.Millisecond}, rt)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := loadgen.Run(context.Background(), loadgen.Options{URL: s.url, Duration: 2500 * time.Millisecond}, rt, be)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	loadgen.WriteTable(&table, []string{"alone", "shared"}, []*loadgen.Result{ra, rs})
	t.Logf("\n%s", table.String())
	ok := map[string]int{}
	for _, res := range []*loadgen.Result{ra, rs} {
		for _, st := range res.Targets {
			if st.Answered != st.Sent || st.OK != st.Sent || st.Dropped != 0 {
				t.Errorf("%s %s: sent %d answered %d ok %d dropped %d statuses %v", st.Model, st.Load, st.Sent, st.Answered, st.OK, st.Dropped, st.Status)
			}
			ok[st.Model] += st.OK
		}
	}
	// The scheduler completed each of them once: no request lost, none run twice.
	rtDone, beDone := s.metric(t, rtLine)-rtBefore, s.metric(t, beLine)-beBefore
	if int(rtDone) != ok["rt"] || int(beDone) != ok["be"] {
		t.Errorf("scheduler completed rt %v be %v; the client got rt %d be %d answers", rtDone, beDone, ok["rt"], ok["be"])
	}
	if rs.Targets[1].OK < 10 {
		t.Errorf("best effort completed only %d requests: not saturating", rs.Targets[1].OK)
	}
	return ra.Targets[0].P99, rs.Targets[0].P99
}

// outputData reads an output's data from a JSON inference response.
func outputData(t *testing.T, body, name string) []float64 {
	t.Helper()
	var resp struct {
		Outputs []struct {
			Name string    `json:"name"`
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	for _, o := range resp.Outputs {
		if o.Name == name {
			return o.Data
		}
	}
	t.Fatalf("no output %q in %s", name, body)
	return nil
}

func TestServeRefusals(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tenants.yaml")
	os.WriteFile(cfg, []byte("tenants:\n  - name: rt\n    model: zoo:mlp\n    class: realtime\n    sms: 1\n    colour: red\n"), 0o644)
	good := "name=rt,model=zoo:mlp,class=realtime,sms=1"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no tenants"},
		{[]string{"--tenant", "model=zoo:mlp,class=rt,sms=1"}, `--tenant "model=zoo:mlp,class=rt,sms=1": no name`},
		{[]string{"--tenant", "name=a,model=zoo:mlp,class=rt,sms=1,slo=soon"}, `slo="soon"`},
		{[]string{"--tenant", "name=a,model=zoo:mlp,class=gold"}, "unknown priority class"},
		{[]string{"--tenant", good, "--tenant", good}, `--tenant 2: tenant "rt" is defined twice (first at --tenant 1)`},
		{[]string{"--tenant", good, "--device", "tpu"}, `--device "tpu": unknown device`},
		{[]string{"--tenant", good, "--policy", "fifo"}, `--policy: unknown policy "fifo"`},
		{[]string{"--tenant", good, "--listen", "8000"}, `--listen "8000": want host:port`},
		{[]string{"--tenant", good, "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tenant", good, "--max-body-mb", "0"}, "--max-body-mb 0"},
		{[]string{"--tenant", good, "--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"--tenant", good, "stray"}, "serve takes no arguments"},
		{[]string{"--config", cfg}, `tenants.yaml:6: tenant 1: unknown key "colour"`},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "config: open"},
		{[]string{"--tenant", good, "--device", "cpu", "--units", "2", "--listen", "127.0.0.1:0",
			"--tenant", "name=rt2,model=zoo:nosuch,class=realtime,sms=2"},
			`admission on cpu (2 units, policy elasticroom): tenant "rt2" asks 2 units; realtime tenants hold 1 of 2`},
		{[]string{"--tenant", "name=m,model=zoo:nosuch,class=be", "--device", "cpu", "--listen", "127.0.0.1:0"}, `tenant "m": model "zoo:nosuch"`},
	} {
		out, err := runCLI(t, append([]string{"serve"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %q: %v, want an error containing %q\n%s", c.args, err, c.want, out)
		}
	}
}

// TestServeConfigFile starts from a tenants.yaml (its listen and device settings used) and
// checks that --help teaches the format.
func TestServeConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tenants.yaml")
	os.WriteFile(cfg, []byte(`# two tenants
device: cpu
units: 2
tenants:
  - name: small     # realtime
    model: zoo:mlp
    class: realtime
    sms: 1
    slo: 50ms
  - name: "big"
    model: zoo:mlp
    class: besteffort
    batch: 2
`), 0o644)
	s := startServe(t, "--config", cfg)
	x, want := mlpInput(t, 9)
	for _, m := range []string{"small", "big"} {
		code, body := s.infer(t, m, "", "input", x)
		if code != 200 {
			t.Fatalf("%s: %d %s", m, code, body)
		}
		if got := outputData(t, body, "probs"); math.Abs(got[3]-float64(want.Float32s()[3])) > 1e-6 {
			t.Errorf("%s: probs[3] = %g, want %g", m, got[3], want.Float32s()[3])
		}
	}
	if !strings.Contains(s.out.String(), "device=cpu units=2") {
		t.Errorf("config settings not used:\n%s", s.out.String())
	}
	out, err := runCLI(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "--tenant name=rt,model=zoo:mlp,class=realtime,sms=1,slo=20ms", "tenants:", "SIGTERM"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// TestServeEmu serves through the plan path a GPU takes (compiled kernels run by
// runtime/exec instances, units are SMs) on the kernel emulator: answers match cpu.Run.
func TestServeEmu(t *testing.T) {
	if testing.Short() {
		t.Skip("the emulator is slow")
	}
	s := startServe(t, "--device", "emu", "--units", "8",
		"--tenant", "name=rt,model=zoo:mlp,class=realtime,sms=2,slo=5s",
		"--tenant", "name=be,model=zoo:mlp,class=besteffort")
	if out := s.out.String(); !strings.Contains(out, "(2 of 8 SMs)") || !strings.Contains(out, "device=emu units=8") {
		t.Errorf("compile summary or serving record:\n%s", out)
	}
	checkMLPTenants(t, s, "emu")
}

// TestServeCUDASim serves on the cuda device over the simulated GPU (runtime/cuda's driver
// interpreting the emitted PTX): the whole GPU serving path, answers matching cpu.Run.
func TestServeCUDASim(t *testing.T) {
	if testing.Short() {
		t.Skip("the simulated GPU is slow")
	}
	t.Setenv(cuda.LibraryEnv, "sim:6")
	s := startServe(t, "--device", "cuda",
		"--tenant", "name=rt,model=zoo:mlp,class=realtime,sms=2,slo=5s",
		"--tenant", "name=be,model=zoo:mlp,class=besteffort")
	if out := s.out.String(); !strings.Contains(out, "(2 of 6 SMs)") || !strings.Contains(out, "device=cuda units=6") {
		t.Errorf("compile summary or serving record:\n%s", out)
	}
	checkMLPTenants(t, s, "cuda (simulated)")
}

// checkMLPTenants sends one request to each of the mlp tenants rt and be and compares the
// answers with cpu.Run's.
func checkMLPTenants(t *testing.T, s *testServer, dev string) {
	t.Helper()
	x, want := mlpInput(t, 5)
	for _, m := range []string{"rt", "be"} {
		code, body := s.infer(t, m, "", "input", x)
		if code != 200 {
			t.Fatalf("%s: %d %s", m, code, body)
		}
		got := outputData(t, body, "probs")
		var num, den float64
		for i, w := range want.Float32s() {
			num += (got[i] - float64(w)) * (got[i] - float64(w))
			den += float64(w) * float64(w)
		}
		if rel := math.Sqrt(num / den); rel > 1e-4 {
			t.Errorf("%s on %s: relative error %.3g against cpu.Run", m, dev, rel)
		}
	}
}
