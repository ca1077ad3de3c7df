package zoo

import (
	"slices"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// The test evaluator is checked on small hand-computed cases before it judges the zoo.
func TestEvaluatorHandCases(t *testing.T) {
	node := func(op string, attrs map[string]*graph.Attr) *graph.Node {
		return &graph.Node{Name: op, Op: op, Attrs: attrs}
	}
	check := func(what string, got *tensor.Tensor, err error, shape []int, want []float32) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(got.Shape, shape) || !slices.Equal(got.Float32s(), want) {
			t.Errorf("%s = %v %v, want %v %v", what, got.Shape, got.Float32s(), shape, want)
		}
	}
	// 3x3 input 1..9, 2x2 kernel of ones, pad 1, stride 2: sums of the corners' windows.
	x := tensor.FromFloat32([]int{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	ones := tensor.FromFloat32([]int{1, 1, 2, 2}, []float32{1, 1, 1, 1})
	conv := node("Conv", map[string]*graph.Attr{"kernel_shape": aInts(2, 2), "strides": aInts(2, 2), "pads": aInts(1, 1, 1, 1)})
	got, err := evalConv(conv, []*tensor.Tensor{x, ones, tensor.FromFloat32([]int{1}, []float32{10})})
	check("conv", got, err, []int{1, 1, 2, 2}, []float32{11, 15, 21, 38})
	// Depthwise: channel 0 times 1, channel 1 times -2 (1x1 kernels, group 2).
	x2 := tensor.FromFloat32([]int{1, 2, 1, 2}, []float32{1, 2, 3, 4})
	dw := node("Conv", map[string]*graph.Attr{"kernel_shape": aInts(1, 1), "group": aInt(2)})
	got, err = evalConv(dw, []*tensor.Tensor{x2, tensor.FromFloat32([]int{2, 1, 1, 1}, []float32{1, -2})})
	check("depthwise conv", got, err, []int{1, 2, 1, 2}, []float32{1, 2, -6, -8})
	mp := node("MaxPool", map[string]*graph.Attr{"kernel_shape": aInts(2, 2), "strides": aInts(1, 1)})
	got, err = evalMaxPool(mp, x)
	check("maxpool", got, err, []int{1, 1, 2, 2}, []float32{5, 6, 8, 9})
	got, err = evalTranspose(tensor.FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}), []int64{1, 0})
	check("transpose", got, err, []int{3, 2}, []float32{1, 4, 2, 5, 3, 6})
	got, err = broadcast(tensor.FromFloat32([]int{2, 1}, []float32{10, 20}), tensor.FromFloat32([]int{3}, []float32{1, 2, 3}),
		func(a, b float32) float32 { return a + b })
	check("broadcast add", got, err, []int{2, 3}, []float32{11, 12, 13, 21, 22, 23})
	gemm := node("Gemm", map[string]*graph.Attr{"transB": aInt(1)})
	got, err = evalGemm(gemm, []*tensor.Tensor{tensor.FromFloat32([]int{1, 2}, []float32{1, 2}),
		tensor.FromFloat32([]int{2, 2}, []float32{1, 0, 3, 4}), tensor.FromFloat32([]int{2}, []float32{5, 6})})
	check("gemm", got, err, []int{1, 2}, []float32{6, 17})
	got, err = evalMatMul(tensor.FromFloat32([]int{2, 1, 2}, []float32{1, 2, 3, 4}), tensor.FromFloat32([]int{2, 2, 1}, []float32{1, 1, 2, 0}))
	check("batched matmul", got, err, []int{2, 1, 1}, []float32{3, 6})
}
