package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// fakeBackend serves two models:
//
//	"add":    x FP32 [-1,3], y INT64 [2]  ->  sum FP32 = x+1 (shape of x), count INT64 [1] = y0+y1
//	"secret": a BOOL [-1]                ->  not BOOL (shape of a)
//
// infer, when set, replaces the computation (to block, fail or shed load).
type fakeBackend struct {
	mu       sync.Mutex
	notReady map[string]bool
	infer    func(ctx context.Context, model string, in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
	calls    int
}

var fakeModels = []ModelInfo{
	{Name: "add", Platform: "fake", Versions: []string{"1", "2"},
		Inputs:  []TensorInfo{{"x", tensor.Float32, []int{-1, 3}}, {"y", tensor.Int64, []int{2}}},
		Outputs: []TensorInfo{{"sum", tensor.Float32, []int{-1, 3}}, {"count", tensor.Int64, []int{1}}}},
	{Name: "secret", Tenant: "acme", Platform: "fake",
		Inputs:  []TensorInfo{{"a", tensor.Bool, []int{-1}}},
		Outputs: []TensorInfo{{"not", tensor.Bool, []int{-1}}}},
}

func (f *fakeBackend) Models() []ModelInfo { return fakeModels }

func (f *fakeBackend) Ready(model string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.notReady[model]
}

func (f *fakeBackend) Infer(ctx context.Context, model string, in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	f.mu.Lock()
	f.calls++
	fn := f.infer
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, model, in)
	}
	return compute(model, in)
}

func compute(model string, in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	switch model {
	case "add":
		x := in["x"]
		sum := make([]float32, x.Len())
		for i, v := range x.Float32s() {
			sum[i] = v + 1
		}
		y := in["y"].Int64s()
		return map[string]*tensor.Tensor{
			"sum":   tensor.FromFloat32(x.Shape, sum),
			"count": tensor.FromInt64([]int{1}, []int64{y[0] + y[1]}),
		}, nil
	case "secret":
		a := in["a"].Bools()
		out := make([]bool, len(a))
		for i, v := range a {
			out[i] = !v
		}
		return map[string]*tensor.Tensor{"not": tensor.FromBool([]int{len(a)}, out)}, nil
	}
	return nil, fmt.Errorf("model %q: %w", model, ErrUnknownModel)
}

// quietLogger drops every record.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTest(t testing.TB, cfg Config) (*fakeBackend, *Server, *httptest.Server) {
	t.Helper()
	fb := &fakeBackend{notReady: map[string]bool{}}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(fb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return fb, s, ts
}

type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) errMsg(t testing.TB) string {
	t.Helper()
	var e ErrorResponse
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" {
		t.Fatalf("status %d: body %q is not {\"error\": ...}", a.code, a.body)
	}
	return e.Error
}

func do(t testing.TB, c *http.Client, method, url, token string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// wireResponse is the inference response as a client reads it.
type wireResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string          `json:"name"`
		Datatype   string          `json:"datatype"`
		Shape      []int           `json:"shape"`
		Data       json.RawMessage `json:"data"`
		Parameters map[string]any  `json:"parameters"`
	} `json:"outputs"`
}

const addRequest = `{"id":"r1","inputs":[
 {"name":"x","datatype":"FP32","shape":[2,3],"data":[[1,2,3],[4.5,-5,6]]},
 {"name":"y","datatype":"INT64","shape":[2],"data":[40,2]}]}`
