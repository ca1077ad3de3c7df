package serve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestDecodeDatatypes(t *testing.T) {
	cases := []struct {
		dt, data string
		shape    []int
		want     any
	}{
		{"FP32", "[[1.5],[-2]]", []int{2, 1}, []float32{1.5, -2}},
		{"FP64", "[1e-300, 2]", []int{2}, []float64{1e-300, 2}},
		{"FP16", "[1, -2, 0.5, 65504]", []int{4}, []uint16{0x3c00, 0xc000, 0x3800, 0x7bff}},
		{"BF16", "[1, -2]", []int{2}, []uint16{0x3f80, 0xc000}},
		{"INT8", "[-128, 127]", []int{2}, []int8{-128, 127}},
		{"UINT8", "[0, 255]", []int{1, 2}, []uint8{0, 255}},
		{"INT16", "[-32768]", []int{1}, []int16{-32768}},
		{"INT32", "[[[2147483647]]]", []int{1, 1, 1}, []int32{2147483647}},
		{"INT64", "[-9223372036854775808]", []int{1}, []int64{math.MinInt64}},
		{"BOOL", "[true, false, 1, 0]", []int{4}, []bool{true, false, true, false}},
		{"FP32", "[]", []int{0, 3}, []float32{}},
		{"FP32", "[7]", []int{}, []float32{7}},
	}
	for _, tc := range cases {
		shape, _ := json2(tc.shape)
		body := `{"inputs":[{"name":"t","datatype":"` + tc.dt + `","shape":` + shape + `,"data":` + tc.data + `}]}`
		req, err := DecodeInferRequest([]byte(body), -1)
		if err != nil {
			t.Errorf("%s %s: %v", tc.dt, tc.data, err)
			continue
		}
		got := req.Inputs[0].Tensor
		if !reflect.DeepEqual(got.Data, tc.want) || !reflect.DeepEqual(got.Shape, tc.shape) {
			t.Errorf("%s %s: got %v %v, want %v %v", tc.dt, tc.data, got.Shape, got.Data, tc.shape, tc.want)
		}
	}
	bad := []struct{ dt, data, want string }{
		{"INT8", "[128]", "INT8"},
		{"UINT8", "[-1]", "UINT8"},
		{"INT32", "[2147483648]", "INT32"},
		{"FP32", "[1e39]", "FP32"},
		{"BOOL", "[2]", "BOOL"},
		{"FP32", "[true]", "FP32"},
		{"FP32", "[null]", "FP32"},
		{"FP32", "1", "array"},
		{"FP32", `{"a":1}`, "array"},
		{"UINT32", "[1]", "UINT32"},
	}
	for _, tc := range bad {
		body := `{"inputs":[{"name":"t","datatype":"` + tc.dt + `","shape":[1],"data":` + tc.data + `}]}`
		_, err := DecodeInferRequest([]byte(body), -1)
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"t"`) {
			t.Errorf("%s %s: error %v, want one naming %q and the input", tc.dt, tc.data, err, tc.want)
		}
	}
}

func json2(shape []int) (string, error) {
	q := make([]string, len(shape))
	for i, d := range shape {
		q[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(q, ",") + "]", nil
}

// A shape far larger than the body is refused before anything is allocated.
func TestDecodeHugeShape(t *testing.T) {
	for _, shape := range []string{"[1000000000000]", "[4294967296,4294967296]", "[9223372036854775807,2]", "[0,9223372036854775807]"} {
		body := `{"inputs":[{"name":"t","datatype":"FP64","shape":` + shape + `,"data":[1]}]}`
		if _, err := DecodeInferRequest([]byte(body), -1); err == nil || !errors.Is(err, ErrBadInput) {
			t.Errorf("shape %s: %v", shape, err)
		}
	}
}

// binaryBody builds a binary-extension request: the JSON header and the raw tensor bytes.
func binaryBody(header string, chunks ...[]byte) ([]byte, int) {
	b := []byte(header)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b, len(header)
}

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestDecodeBinary(t *testing.T) {
	hdr := `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},
		{"name":"b","datatype":"BOOL","shape":[3],"parameters":{"binary_data_size":3}},
		{"name":"j","datatype":"INT64","shape":[1],"data":[5]}],"outputs":[{"name":"o","parameters":{"binary_data":true}}],
		"parameters":{"binary_data_output":true}}`
	body, n := binaryBody(hdr, f32bytes(1.5, -3), []byte{1, 0, 7})
	req, err := DecodeInferRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Inputs[0].Tensor.Float32s(); !reflect.DeepEqual(got, []float32{1.5, -3}) {
		t.Errorf("x = %v", got)
	}
	if got := req.Inputs[1].Tensor.Bools(); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("b = %v", got)
	}
	if got := req.Inputs[2].Tensor.Int64s(); !reflect.DeepEqual(got, []int64{5}) {
		t.Errorf("j = %v", got)
	}
	if !req.BinaryOutput || len(req.Outputs) != 1 || !req.Outputs[0].Binary || !req.Outputs[0].BinarySet {
		t.Errorf("outputs %+v binary_data_output %v", req.Outputs, req.BinaryOutput)
	}
	bad := []struct {
		name string
		body []byte
		n    int
		want string
	}{
		{"size does not match shape", must(binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":4}}]}`, f32bytes(1))), 0, "needs 8 bytes"},
		{"too few bytes", must(binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}`, f32bytes(1))), 0, "remain"},
		{"bytes left over", must(binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}`, f32bytes(1, 2))), 0, "no input claims"},
		{"header length past the body", []byte(`{}`), 99, "Inference-Header-Content-Length"},
		{"both data and binary", must(binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"parameters":{"binary_data_size":4}}]}`, f32bytes(1))), 0, "both"},
		{"negative size", must(binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":-4}}]}`, f32bytes(1))), 0, "binary_data_size"},
	}
	for _, tc := range bad {
		n := tc.n
		if n == 0 {
			n = bytes.LastIndexByte(tc.body, '}') + 1
		}
		_, err := DecodeInferRequest(tc.body, n)
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func must(b []byte, _ int) []byte { return b }

func TestInferBinaryOverHTTP(t *testing.T) {
	_, _, ts := newTest(t, Config{})
	hdr := `{"id":"bin","inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}},
		{"name":"y","datatype":"INT64","shape":[2],"data":[3,4]}],
		"outputs":[{"name":"sum","parameters":{"binary_data":true}},{"name":"count"}]}`
	body, n := binaryBody(hdr, f32bytes(1, float32(math.Inf(1)), -0.5))
	a := do(t, ts.Client(), "POST", ts.URL+"/v2/models/add/infer", "", body, "Inference-Header-Content-Length", strconv.Itoa(n))
	if a.code != 200 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	jl, err := strconv.Atoi(a.header.Get("Inference-Header-Content-Length"))
	if err != nil || jl > len(a.body) {
		t.Fatalf("Inference-Header-Content-Length %q", a.header.Get("Inference-Header-Content-Length"))
	}
	r := decodeResponse(t, answer{200, nil, a.body[:jl]})
	if r.ID != "bin" || len(r.Outputs) != 2 {
		t.Fatalf("%s", a.body[:jl])
	}
	if size, _ := r.Outputs[0].Parameters["binary_data_size"].(float64); size != 12 || r.Outputs[0].Data != nil {
		t.Errorf("sum parameters %v data %s", r.Outputs[0].Parameters, r.Outputs[0].Data)
	}
	if want := f32bytes(2, float32(math.Inf(1)), 0.5); !bytes.Equal(a.body[jl:], want) {
		t.Errorf("binary sum %v, want %v", a.body[jl:], want)
	}
	if string(r.Outputs[1].Data) != "[7]" {
		t.Errorf("count %s", r.Outputs[1].Data)
	}
	// Malformed header value.
	a = do(t, ts.Client(), "POST", ts.URL+"/v2/models/add/infer", "", body, "Inference-Header-Content-Length", "x")
	if a.code != 400 {
		t.Errorf("bad header: %d", a.code)
	}
}

// JSON cannot carry NaN or infinity: they are written as null.
func TestEncodeNonFinite(t *testing.T) {
	out := map[string]*tensor.Tensor{"o": tensor.FromFloat32([]int{3}, []float32{float32(math.NaN()), float32(math.Inf(-1)), 0.1})}
	js, bin, err := encodeResponse("m", "", "", []outputSel{{name: "o"}}, out)
	want := `{"model_name":"m","model_version":"","outputs":[{"name":"o","datatype":"FP32","shape":[3],"data":[null,null,0.1]}]}`
	if err != nil || bin != nil || string(js) != want {
		t.Errorf("got %s %v %v\nwant %s", js, bin, err, want)
	}
}

func FuzzDecodeInferRequest(f *testing.F) {
	f.Add([]byte(addRequest), -1)
	f.Add([]byte(`{"inputs":[{"name":"t","datatype":"FP16","shape":[2,1],"data":[[1],[2]]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"t","datatype":"BOOL","shape":[0],"data":[]}],"outputs":[{"name":"o","parameters":{"binary_data":true}}]}`), -1)
	b, n := binaryBody(`{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}`, f32bytes(1, 2))
	f.Add(b, n)
	f.Add([]byte(`{"inputs":[{"name":"x","datatype":"INT8","shape":[3],"data":[1,[2,[3]]]}]}`), -1)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		req, err := DecodeInferRequest(body, headerLen)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		for _, in := range req.Inputs {
			if err := in.Tensor.Check(); err != nil {
				t.Fatalf("input %q: %v", in.Name, err)
			}
		}
	})
}

// No file path from a request can reach the filesystem: the package's code imports
// nothing that opens files.
func TestNoFilesystemImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{`"os"`: true, `"io/fs"`: true, `"path/filepath"`: true, `"os/exec"`: true, `"io/ioutil"`: true}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if forbidden[imp.Path.Value] || strings.Contains(imp.Path.Value, "runtime/sched") {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}

// Many inputs or outputs in one request cost linear time, not quadratic.
func TestManyNamesAreLinear(t *testing.T) {
	const n = 200000
	var b strings.Builder
	b.WriteString(`{"outputs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"sum"}`)
	}
	b.WriteString(`],"inputs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"i%d","datatype":"BOOL","shape":[1],"data":[true]}`, i)
	}
	b.WriteString(`]}`)
	start := time.Now()
	req, err := DecodeInferRequest([]byte(b.String()), -1)
	if err != nil {
		t.Fatal(err)
	}
	m := fakeModels[0]
	if _, err := checkInputs(&m, req); err == nil {
		t.Error("unknown inputs accepted")
	}
	sel, err := selectOutputs(&m, req)
	if err != nil || len(sel) != 1 {
		t.Errorf("outputs %v %v", sel, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d inputs and outputs took %v", n, d)
	}
}
