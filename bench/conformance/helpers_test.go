package conformance

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/elasticroom/elasticroom/bench/ortref"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// tolerance is the largest accepted relative error ||ours-ref|| / ||ref|| of a float output.
const tolerance = 1e-4

// requireRefs skips the test when onnxruntime-node or the real models are missing, or fails
// it when ELASTICROOM_REQUIRE_REFS=1. It returns the real models' directory ("" when the
// caller does not need it and only onnxruntime is checked).
func requireRefs(t *testing.T, needModels bool) string {
	t.Helper()
	err := ortref.Available()
	dir := ""
	if err == nil && needModels {
		dir, err = ortref.RealModelsDir()
	}
	if err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatalf("reference missing with ELASTICROOM_REQUIRE_REFS=1: %v", err)
		}
		t.Skipf("reference missing: %v (run scripts/fetch-models)", err)
	}
	return dir
}

// realModel returns the path of a real model, failing or skipping like requireRefs when it is
// missing.
func realModel(t *testing.T, name string) string {
	t.Helper()
	dir := requireRefs(t, true)
	p := filepath.Join(dir, name+".onnx")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatalf("real model missing: %v", err)
		}
		t.Skipf("real model missing: %v (run scripts/fetch-models)", err)
	}
	return p
}

// runOurs runs g on the CPU runtime.
func runOurs(t *testing.T, g *graph.Graph, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	out, err := cpu.Run(context.Background(), g, in, cpu.Options{})
	if err != nil {
		t.Fatalf("runtime/cpu: %v", err)
	}
	return out
}

// runRef runs the model file in onnxruntime.
func runRef(t *testing.T, path string, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	out, err := ortref.Run(context.Background(), path, in)
	if err != nil {
		t.Fatalf("onnxruntime: %v", err)
	}
	return out
}

// compareAll checks every reference output against ours and returns the largest relative
// error. Errors name the output.
func compareAll(t *testing.T, ours, ref map[string]*tensor.Tensor) float64 {
	t.Helper()
	names := make([]string, 0, len(ref))
	for n := range ref {
		names = append(names, n)
	}
	sort.Strings(names)
	worst := 0.0
	for _, n := range names {
		got, ok := ours[n]
		if !ok {
			t.Errorf("output %q: missing from runtime/cpu's results", n)
			continue
		}
		e, err := relErr(got, ref[n])
		if err != nil {
			t.Errorf("output %q: %v", n, err)
			continue
		}
		t.Logf("output %q %v: relative error %.3g", n, ref[n].Shape, e)
		if !(e <= tolerance) {
			t.Errorf("output %q: relative error %.3g > %g", n, e, tolerance)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

// relErr is ||got-want|| / ||want|| over float outputs (0 for an exact match; got's norm when
// want is all zeros), and 0 or an error for integer and bool outputs, which must be exact.
func relErr(got, want *tensor.Tensor) (float64, error) {
	if got.DType != want.DType {
		return 0, fmt.Errorf("element type %v, want %v", got.DType, want.DType)
	}
	if !sameShape(got.Shape, want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if err := got.Check(); err != nil {
		return 0, err
	}
	g, gok := asFloat64(got)
	w, wok := asFloat64(want)
	if !gok || !wok {
		return 0, fmt.Errorf("element type %v cannot be compared", got.DType)
	}
	if !got.DType.IsFloat() {
		for i := range g {
			if g[i] != w[i] {
				return 0, fmt.Errorf("element %d = %v, want %v (integer outputs must match exactly)", i, g[i], w[i])
			}
		}
		return 0, nil
	}
	var num, den float64
	for i := range g {
		if math.IsNaN(g[i]) != math.IsNaN(w[i]) {
			return 0, fmt.Errorf("element %d = %v, want %v", i, g[i], w[i])
		}
		if math.IsNaN(w[i]) || math.IsInf(w[i], 0) {
			if g[i] != w[i] && !math.IsNaN(w[i]) {
				return 0, fmt.Errorf("element %d = %v, want %v", i, g[i], w[i])
			}
			continue
		}
		d := g[i] - w[i]
		num += d * d
		den += w[i] * w[i]
	}
	if num == 0 {
		return 0, nil
	}
	if den == 0 {
		return math.Sqrt(num), nil
	}
	return math.Sqrt(num / den), nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func asFloat64(t *tensor.Tensor) ([]float64, bool) {
	var out []float64
	switch v := t.Data.(type) {
	case []float32:
		out = make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
	case []float64:
		out = v
	case []int64:
		out = make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
	case []int32:
		out = make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
	case []bool:
		out = make([]float64, len(v))
		for i, x := range v {
			if x {
				out[i] = 1
			}
		}
	default:
		return nil, false
	}
	return out, true
}

// TestRelErr checks the comparison itself on hand-computed cases.
func TestRelErr(t *testing.T) {
	a := tensor.FromFloat32([]int{2}, []float32{3, 4})
	b := tensor.FromFloat32([]int{2}, []float32{3, 4.5})
	if e, err := relErr(b, a); err != nil || math.Abs(e-0.1) > 1e-9 {
		t.Errorf("relErr = %v, %v; want 0.1", e, err)
	}
	if _, err := relErr(tensor.FromFloat32([]int{1, 2}, []float32{3, 4}), a); err == nil {
		t.Error("shape mismatch not reported")
	}
	if _, err := relErr(tensor.FromInt64([]int{2}, []int64{1, 2}), tensor.FromInt64([]int{2}, []int64{1, 3})); err == nil {
		t.Error("integer mismatch not reported")
	}
	nan := float32(math.NaN())
	if _, err := relErr(tensor.FromFloat32([]int{2}, []float32{nan, 4}), a); err == nil {
		t.Error("NaN not reported")
	}
}

// normal is a [shape] float32 tensor ~ N(mean, std).
func normal(rng *rand.Rand, mean, std float64, shape ...int) *tensor.Tensor {
	x := tensor.MustNew(tensor.Float32, shape)
	for i, d := 0, x.Float32s(); i < len(d); i++ {
		d[i] = float32(mean + std*rng.NormFloat64())
	}
	return x
}

// textImage is a [1,3,h,w] image of dark glyph-like blocks in text lines on a light
// background, normalized like PaddleOCR's preprocessing, so that the OCR models see
// something to detect (on pure noise the detector's output is almost all zeros).
func textImage(rng *rand.Rand, h, w int) *tensor.Tensor {
	gray := make([]float64, h*w)
	for i := range gray {
		gray[i] = 0.9 + 0.05*rng.Float64()
	}
	for y0 := 8; y0+24 <= h; y0 += 40 {
		for x0 := 8; x0+10 < w-8; x0 += 12 + rng.IntN(4) {
			for range 3 {
				bx, by := x0+rng.IntN(8), y0+rng.IntN(16)
				bw, bh := 2+rng.IntN(6), 2+rng.IntN(8)
				for y := by; y < min(by+bh, h); y++ {
					for x := bx; x < min(bx+bw, w); x++ {
						gray[y*w+x] = 0.1 * rng.Float64()
					}
				}
			}
		}
	}
	x := tensor.MustNew(tensor.Float32, []int{1, 3, h, w})
	mean, std := [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}
	d := x.Float32s()
	for c := range 3 {
		for i, g := range gray {
			d[c*h*w+i] = float32((g - mean[c]) / std[c])
		}
	}
	return x
}

// audio is [1,n] samples at 16 kHz in int16 scale, as openWakeWord feeds its melspectrogram
// model: two tones and noise.
func audio(rng *rand.Rand, n int) *tensor.Tensor {
	x := tensor.MustNew(tensor.Float32, []int{1, n})
	for i, d := 0, x.Float32s(); i < n; i++ {
		s := float64(i) / 16000
		d[i] = float32(3000*math.Sin(2*math.Pi*440*s) + 1000*math.Sin(2*math.Pi*1234*s) + 300*rng.NormFloat64())
	}
	return x
}
