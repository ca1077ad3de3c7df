package ortref

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// requireORT skips the test when onnxruntime is not installed, or fails it when
// ELASTICROOM_REQUIRE_REFS=1 (as CI sets it).
func requireORT(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func valueInfo(name string, elem int32, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(elem), Shape: shape}}}}
}

// writeTestModel writes a model computing sum = a:0 + b (broadcast) and passing every other
// input through Identity, under output names that need sanitizing.
func writeTestModel(t *testing.T) string {
	const (
		f32, u8, i8, i32, i64, boolean, f64 = 1, 2, 3, 6, 7, 9, 11
	)
	g := &onnxpb.GraphProto{Name: proto.String("t")}
	g.Input = []*onnxpb.ValueInfoProto{valueInfo("a:0", f32, 2, 3), valueInfo("b", f32, 3)}
	g.Output = []*onnxpb.ValueInfoProto{valueInfo("sum/out", f32, 2, 3)}
	g.Node = []*onnxpb.NodeProto{{OpType: proto.String("Add"), Input: []string{"a:0", "b"}, Output: []string{"sum/out"}}}
	for _, x := range []struct {
		name string
		elem int32
		dims []int64
	}{{"c", i64, []int64{4}}, {"d", boolean, []int64{2}}, {"e", u8, []int64{3}}, {"f", i8, []int64{1, 2}},
		{"g", i32, []int64{2}}, {"h", f64, nil}, {"z", f32, []int64{0, 2}}} {
		out := "id " + x.name
		g.Input = append(g.Input, valueInfo(x.name, x.elem, x.dims...))
		g.Output = append(g.Output, valueInfo(out, x.elem, x.dims...))
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"), Input: []string{x.name}, Output: []string{out}})
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "t.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRun checks the .npy exchange with the script for every element type it supports and
// the mapping of sanitized file names back to output names, against hand-computed results.
func TestRun(t *testing.T) {
	requireORT(t)
	model := writeTestModel(t)
	in := map[string]*tensor.Tensor{
		"a:0": tensor.FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		"b":   tensor.FromFloat32([]int{3}, []float32{0.5, -1, 100}),
		"c":   tensor.FromInt64([]int{4}, []int64{-1 << 40, -1, 0, 7}),
		"d":   tensor.FromBool([]int{2}, []bool{true, false}),
		"e":   {DType: tensor.Uint8, Shape: []int{3}, Data: []uint8{0, 200, 255}},
		"f":   {DType: tensor.Int8, Shape: []int{1, 2}, Data: []int8{-128, 5}},
		"g":   {DType: tensor.Int32, Shape: []int{2}, Data: []int32{-70000, 3}},
		"h":   {DType: tensor.Float64, Shape: []int{}, Data: []float64{-2.25}},
		"z":   tensor.FromFloat32([]int{0, 2}, []float32{}),
	}
	out, err := Run(context.Background(), model, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*tensor.Tensor{"sum/out": tensor.FromFloat32([]int{2, 3}, []float32{1.5, 1, 103, 4.5, 4, 106})}
	for _, n := range []string{"c", "d", "e", "f", "g", "h", "z"} {
		want["id "+n] = in[n]
	}
	if len(out) != len(want) {
		t.Fatalf("got outputs %v, want %d", keys(out), len(want))
	}
	for name, w := range want {
		g := out[name]
		if g == nil {
			t.Fatalf("output %q missing (got %v)", name, keys(out))
		}
		if g.DType != w.DType || g.Len() != w.Len() || len(g.Shape) != len(w.Shape) || !reflect.DeepEqual(g.Data, w.Data) {
			t.Errorf("output %q = %v %v, want %v %v", name, g, g.Data, w, w.Data)
		}
	}

	ins, outs, err := List(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 9 || ins[0].Name != "a:0" || len(outs) != 8 || outs[0].Name != "sum/out" || outs[0].Type != "float32" {
		t.Errorf("List = %+v, %+v", ins, outs)
	}
}

func TestBenchAndErrors(t *testing.T) {
	requireORT(t)
	model := writeTestModel(t)
	in := map[string]*tensor.Tensor{
		"a:0": tensor.FromFloat32([]int{2, 3}, make([]float32, 6)),
		"b":   tensor.FromFloat32([]int{3}, make([]float32, 3)),
		"c":   tensor.FromInt64([]int{4}, make([]int64, 4)),
		"d":   tensor.FromBool([]int{2}, make([]bool, 2)),
		"e":   {DType: tensor.Uint8, Shape: []int{3}, Data: make([]uint8, 3)},
		"f":   {DType: tensor.Int8, Shape: []int{1, 2}, Data: make([]int8, 2)},
		"g":   {DType: tensor.Int32, Shape: []int{2}, Data: make([]int32, 2)},
		"h":   {DType: tensor.Float64, Shape: []int{}, Data: make([]float64, 1)},
		"z":   tensor.FromFloat32([]int{0, 2}, []float32{}),
	}
	tm, err := BenchRuns(context.Background(), model, in, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Runs) != 3 || tm.Median <= 0 || tm.Threads < 1 {
		t.Errorf("timing %+v", tm)
	}
	delete(in, "c")
	if _, err := Run(context.Background(), model, in); err == nil {
		t.Error("no error for a missing input")
	}
	if _, err := Run(context.Background(), filepath.Join(t.TempDir(), "none.onnx"), nil); err == nil {
		t.Error("no error for a missing model")
	}
}

func TestUnavailable(t *testing.T) {
	t.Setenv("ELASTICROOM_ORT_DIR", t.TempDir())
	err := Available()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v, want ErrUnavailable", err)
	}
	t.Setenv("ELASTICROOM_CACHE", t.TempDir())
	if _, err := RealModelsDir(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("RealModelsDir() = %v, want ErrUnavailable", err)
	}
}

func keys(m map[string]*tensor.Tensor) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
