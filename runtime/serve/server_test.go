package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestHealthAndServerMetadata(t *testing.T) {
	fb, _, ts := newTest(t, Config{Version: "0.1.0"})
	c := ts.Client()
	if a := do(t, c, "GET", ts.URL+"/v2/health/live", "", nil); a.code != 200 {
		t.Errorf("live: %d", a.code)
	}
	if a := do(t, c, "GET", ts.URL+"/v2/health/ready", "", nil); a.code != 200 {
		t.Errorf("ready: %d", a.code)
	}
	fb.mu.Lock()
	fb.notReady["secret"] = true
	fb.mu.Unlock()
	if a := do(t, c, "GET", ts.URL+"/v2/health/ready", "", nil); a.code != 503 {
		t.Errorf("ready with a model not ready: %d, want 503", a.code)
	}
	a := do(t, c, "GET", ts.URL+"/v2", "", nil)
	want := `{"name":"elasticroom","version":"0.1.0","extensions":["binary_tensor_data"]}`
	if a.code != 200 || string(a.body) != want {
		t.Errorf("GET /v2: %d %s, want %s", a.code, a.body, want)
	}
	a = do(t, c, "POST", ts.URL+"/v2/health/live", "", nil)
	if a.code != 405 || a.header.Get("Allow") != "GET" {
		t.Errorf("POST live: %d Allow=%q", a.code, a.header.Get("Allow"))
	}
	a.errMsg(t)
	a = do(t, c, "GET", ts.URL+"/v3/whatever", "", nil)
	if a.code != 404 {
		t.Errorf("unknown endpoint: %d", a.code)
	}
	a.errMsg(t)
}

func TestModelMetadataAndReady(t *testing.T) {
	fb, _, ts := newTest(t, Config{})
	c := ts.Client()
	a := do(t, c, "GET", ts.URL+"/v2/models/add", "", nil)
	want := `{"name":"add","versions":["1","2"],"platform":"fake","inputs":[{"name":"x","datatype":"FP32","shape":[-1,3]},{"name":"y","datatype":"INT64","shape":[2]}],"outputs":[{"name":"sum","datatype":"FP32","shape":[-1,3]},{"name":"count","datatype":"INT64","shape":[1]}]}`
	if a.code != 200 || string(a.body) != want {
		t.Errorf("metadata: %d\n got %s\nwant %s", a.code, a.body, want)
	}
	a = do(t, c, "GET", ts.URL+"/v2/models/add/versions/1", "", nil)
	if a.code != 200 || !strings.Contains(string(a.body), `"versions":["1"]`) {
		t.Errorf("version metadata: %d %s", a.code, a.body)
	}
	for _, p := range []string{"/v2/models/add/versions/9", "/v2/models/nope", "/v2/models/nope/ready", "/v2/models/add/versions/9/ready", "/v2/models/add/bogus"} {
		if a := do(t, c, "GET", ts.URL+p, "", nil); a.code != 404 {
			t.Errorf("GET %s: %d, want 404", p, a.code)
		} else {
			a.errMsg(t)
		}
	}
	a = do(t, c, "GET", ts.URL+"/v2/models/add/ready", "", nil)
	if a.code != 200 || string(a.body) != `{"name":"add","ready":true}` {
		t.Errorf("ready: %d %s", a.code, a.body)
	}
	fb.mu.Lock()
	fb.notReady["add"] = true
	fb.mu.Unlock()
	a = do(t, c, "GET", ts.URL+"/v2/models/add/versions/2/ready", "", nil)
	if a.code != 503 || string(a.body) != `{"name":"add","ready":false}` {
		t.Errorf("not ready: %d %s", a.code, a.body)
	}
	if a := do(t, c, "DELETE", ts.URL+"/v2/models/add", "", nil); a.code != 405 {
		t.Errorf("DELETE metadata: %d, want 405", a.code)
	}
}

func decodeResponse(t *testing.T, a answer) wireResponse {
	t.Helper()
	if a.code != 200 {
		t.Fatalf("status %d: %s", a.code, a.body)
	}
	var r wireResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("response %s: %v", a.body, err)
	}
	return r
}

func TestInferJSON(t *testing.T) {
	_, _, ts := newTest(t, Config{})
	c := ts.Client()
	flat := `{"inputs":[{"name":"y","datatype":"INT64","shape":[2],"data":[-7,10]},
		{"name":"x","datatype":"FP32","shape":[1,3],"data":[0.25,1e3,-2]}]}`
	cases := []struct {
		name, path, body, version, id, sum, count string
		shape                                     []int
	}{
		{"nested", "/v2/models/add/infer", addRequest, "2", "r1", "[2,3,4,5.5,-4,7]", "[42]", []int{2, 3}},
		{"flat, version 1", "/v2/models/add/versions/1/infer", flat, "1", "", "[1.25,1001,-1]", "[3]", []int{1, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, c, "POST", ts.URL+tc.path, "", []byte(tc.body))
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			r := decodeResponse(t, a)
			if r.ModelName != "add" || r.ModelVersion != tc.version || r.ID != tc.id {
				t.Errorf("model_name %q model_version %q id %q", r.ModelName, r.ModelVersion, r.ID)
			}
			if len(r.Outputs) != 2 {
				t.Fatalf("%d outputs: %s", len(r.Outputs), a.body)
			}
			o := r.Outputs[0]
			if o.Name != "sum" || o.Datatype != "FP32" || !reflect.DeepEqual(o.Shape, tc.shape) || string(o.Data) != tc.sum {
				t.Errorf("sum: %s", a.body)
			}
			o = r.Outputs[1]
			if o.Name != "count" || o.Datatype != "INT64" || !reflect.DeepEqual(o.Shape, []int{1}) || string(o.Data) != tc.count {
				t.Errorf("count: %s", a.body)
			}
		})
	}
}

func TestInferOutputsSelection(t *testing.T) {
	_, _, ts := newTest(t, Config{})
	c := ts.Client()
	body := strings.Replace(addRequest, `"inputs"`, `"outputs":[{"name":"count"}],"inputs"`, 1)
	r := decodeResponse(t, do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(body)))
	if len(r.Outputs) != 1 || r.Outputs[0].Name != "count" || string(r.Outputs[0].Data) != "[42]" {
		t.Errorf("outputs selection: %+v", r.Outputs)
	}
	body = strings.Replace(addRequest, `"inputs"`, `"outputs":[{"name":"product"}],"inputs"`, 1)
	a := do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(body))
	if a.code != 400 || !strings.Contains(a.errMsg(t), `"product"`) {
		t.Errorf("unknown output: %d %s", a.code, a.body)
	}
}

func TestInferBadRequests(t *testing.T) {
	_, _, ts := newTest(t, Config{})
	c := ts.Client()
	y := `{"name":"y","datatype":"INT64","shape":[2],"data":[1,2]}`
	x := `{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}`
	req := func(inputs ...string) string { return `{"inputs":[` + strings.Join(inputs, ",") + `]}` }
	cases := []struct {
		name, body string
		code       int
		want       []string // substrings of the error message
	}{
		{"malformed JSON", `{"inputs":[`, 400, []string{"malformed JSON"}},
		{"not an object", `[1,2]`, 400, []string{"malformed JSON"}},
		{"unknown input", req(x, y, `{"name":"z","datatype":"FP32","shape":[1],"data":[1]}`), 400, []string{`unknown input "z"`, `"x"`, `"y"`}},
		{"missing input", req(x), 400, []string{`missing input "y"`, "[2]"}},
		{"wrong datatype", req(`{"name":"x","datatype":"FP64","shape":[1,3],"data":[1,2,3]}`, y), 400, []string{`input "x"`, "FP64", "FP32"}},
		{"unsupported datatype", req(`{"name":"x","datatype":"BYTES","shape":[1],"data":["a"]}`, y), 400, []string{`input "x"`, "BYTES"}},
		{"wrong rank", req(`{"name":"x","datatype":"FP32","shape":[3],"data":[1,2,3]}`, y), 400, []string{`input "x"`, "[-1 3]"}},
		{"wrong fixed dim", req(`{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}`, y), 400, []string{`input "x"`, "[1 4]", "[-1 3]"}},
		{"short data", req(`{"name":"x","datatype":"FP32","shape":[2,3],"data":[1,2,3]}`, y), 400, []string{`input "x"`, "6 elements", "holds 3"}},
		{"long data", req(x, `{"name":"y","datatype":"INT64","shape":[2],"data":[1,2,3]}`), 400, []string{`input "y"`, "2 elements"}},
		{"string data", req(`{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,"2",3]}`, y), 400, []string{`input "x"`, "numbers"}},
		{"float for int", req(x, `{"name":"y","datatype":"INT64","shape":[2],"data":[1.5,2]}`), 400, []string{`input "y"`, "element 0", "INT64"}},
		{"no data", req(`{"name":"x","datatype":"FP32","shape":[1,3]}`, y), 400, []string{`input "x"`, "no data"}},
		{"duplicate input", req(x, x, y), 400, []string{`input "x"`, "twice"}},
		{"negative dim", req(`{"name":"x","datatype":"FP32","shape":[-1,3],"data":[1,2,3]}`, y), 400, []string{`input "x"`, "negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(tc.body))
			if a.code != tc.code {
				t.Fatalf("status %d, want %d: %s", a.code, tc.code, a.body)
			}
			msg := a.errMsg(t)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	// A bad request leaves the server serving the next one.
	r := decodeResponse(t, do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest)))
	if string(r.Outputs[1].Data) != "[42]" {
		t.Errorf("after bad requests: %+v", r)
	}
	for _, p := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/v2/models/nope/infer", 404},
		{"POST", "/v2/models/add/versions/7/infer", 404},
		{"GET", "/v2/models/add/infer", 405},
		{"PUT", "/v2/models/add/infer", 405},
		{"POST", "/v2/models/..%2F..%2Fetc%2Fpasswd/infer", 404},
	} {
		a := do(t, c, p.method, ts.URL+p.path, "", []byte(addRequest))
		if a.code != p.code {
			t.Errorf("%s %s: %d, want %d (%s)", p.method, p.path, a.code, p.code, a.body)
		}
		a.errMsg(t)
	}
}

func TestBackendErrors(t *testing.T) {
	fb, _, ts := newTest(t, Config{})
	c := ts.Client()
	cases := []struct {
		err      error
		out      map[string]*tensor.Tensor
		code     int
		want     string
		notWant  string
		retryHdr bool
	}{
		{err: fmt.Errorf("input %q: batch too large: %w", "x", ErrBadInput), code: 400, want: "batch too large"},
		{err: fmt.Errorf("tenant queue full: %w", ErrOverloaded), code: 429, want: "queue full", retryHdr: true},
		{err: fmt.Errorf("recompiling: %w", ErrNotReady), code: 503, want: "recompiling"},
		{err: fmt.Errorf("gone: %w", ErrUnknownModel), code: 404, want: "gone"},
		{err: fmt.Errorf("wait: %w", context.DeadlineExceeded), code: 504, want: "wait"},
		{err: errors.New("cuLaunchKernel failed at /opt/secret/path"), code: 500, want: "internal error", notWant: "/opt/secret"},
		{out: map[string]*tensor.Tensor{"sum": tensor.FromFloat32([]int{2, 3}, make([]float32, 6))}, code: 500, want: "internal error"},
		{out: map[string]*tensor.Tensor{"sum": tensor.FromFloat32([]int{2, 3}, nil), "count": tensor.FromInt64([]int{1}, []int64{1})}, code: 500, want: "internal error"},
	}
	for i, tc := range cases {
		fb.mu.Lock()
		fb.infer = func(context.Context, string, map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
			return tc.out, tc.err
		}
		fb.mu.Unlock()
		a := do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest))
		msg := a.errMsg(t)
		if a.code != tc.code || !strings.Contains(msg, tc.want) || (tc.notWant != "" && strings.Contains(msg, tc.notWant)) {
			t.Errorf("case %d: %d %q, want %d containing %q", i, a.code, msg, tc.code, tc.want)
		}
		if tc.retryHdr && a.header.Get("Retry-After") == "" {
			t.Errorf("case %d: no Retry-After", i)
		}
	}
}

func TestAuth(t *testing.T) {
	_, _, ts := newTest(t, Config{Tokens: map[string][]string{"secret": {"s-one", "s-two"}, "add": {"a-one"}}})
	c := ts.Client()
	sec := `{"inputs":[{"name":"a","datatype":"BOOL","shape":[3],"data":[true,false,true]}]}`
	cases := []struct {
		name, method, path, token, body string
		code                            int
	}{
		{"no token", "POST", "/v2/models/secret/infer", "", sec, 401},
		{"wrong token", "POST", "/v2/models/secret/infer", "nobody", sec, 401},
		{"other model's token", "POST", "/v2/models/secret/infer", "a-one", sec, 403},
		{"second token", "POST", "/v2/models/secret/infer", "s-two", sec, 200},
		{"first token", "POST", "/v2/models/secret/infer", "s-one", sec, 200},
		{"add with its token", "POST", "/v2/models/add/infer", "a-one", addRequest, 200},
		{"add with secret's token", "POST", "/v2/models/add/infer", "s-one", addRequest, 403},
		{"metadata without token", "GET", "/v2/models/secret", "", "", 401},
		{"metadata with token", "GET", "/v2/models/secret", "s-one", "", 200},
		{"metadata other token", "GET", "/v2/models/secret", "a-one", "", 403},
		{"ready without token", "GET", "/v2/models/secret/ready", "", "", 401},
		{"health without token", "GET", "/v2/health/ready", "", "", 200},
		{"server metadata without token", "GET", "/v2", "", "", 200},
		{"metrics without token", "GET", "/metrics", "", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, c, tc.method, ts.URL+tc.path, tc.token, []byte(tc.body))
			if a.code != tc.code {
				t.Fatalf("%d, want %d: %s", a.code, tc.code, a.body)
			}
			if a.code >= 400 {
				msg := a.errMsg(t)
				if tc.token != "" && strings.Contains(msg, tc.token) {
					t.Errorf("error %q repeats the token", msg)
				}
			}
			if a.code == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	a := do(t, c, "POST", ts.URL+"/v2/models/secret/infer", "", []byte(sec), "Authorization", "Basic cy1vbmU6")
	if a.code != 401 {
		t.Errorf("Basic auth: %d", a.code)
	}
	r := decodeResponse(t, do(t, c, "POST", ts.URL+"/v2/models/secret/infer", "s-one", []byte(sec)))
	if string(r.Outputs[0].Data) != "[false,true,false]" || r.Outputs[0].Datatype != "BOOL" {
		t.Errorf("secret: %+v", r.Outputs)
	}
}

func TestAuthOpenModel(t *testing.T) {
	_, _, ts := newTest(t, Config{Tokens: map[string][]string{"secret": {"s-one"}}})
	if a := do(t, ts.Client(), "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest)); a.code != 200 {
		t.Errorf("a model without tokens: %d %s", a.code, a.body)
	}
	if _, err := New(&fakeBackend{}, Config{Tokens: map[string][]string{"m": {""}}}); err == nil {
		t.Error("an empty token was accepted")
	}
}

type slowReader struct {
	n, left int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left, r.n)
	for i := range p[:n] {
		p[i] = ' '
	}
	r.left -= n
	return n, nil
}

func TestBodyLimit(t *testing.T) {
	_, _, ts := newTest(t, Config{MaxBodyBytes: 1 << 10})
	c := ts.Client()
	big := []byte(`{"inputs":[` + strings.Repeat(" ", 2<<10) + `]}`)
	a := do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", big)
	if a.code != 413 {
		t.Errorf("big body: %d", a.code)
	}
	a.errMsg(t)
	// Chunked: no Content-Length, the limit is found while reading.
	req, _ := http.NewRequest("POST", ts.URL+"/v2/models/add/infer", &slowReader{n: 100, left: 4 << 10})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked big body: %d", resp.StatusCode)
	}
	if a := do(t, c, "POST", ts.URL+"/v2/models/add/infer", "", []byte(addRequest)); a.code != 200 {
		t.Errorf("small body after big ones: %d %s", a.code, a.body)
	}
}
