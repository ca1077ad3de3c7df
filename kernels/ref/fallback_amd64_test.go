//go:build amd64

package ref

import "testing"

// TestPureGoFallbacks reruns the kernel tests with the AVX2/FMA paths switched off, as on a
// CPU without them or another architecture (where sgemm_other.go and the other *_other.go
// files make haveFMA a false constant), so that the plain Go loops stay correct.
func TestPureGoFallbacks(t *testing.T) {
	if !haveFMA {
		t.Skip("no AVX2/FMA: every test already runs the plain paths")
	}
	haveFMA = false
	defer func() { haveFMA = true }()
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"Conv2DAgainstNaive", TestConv2DAgainstNaive},
		{"ConvColumnBlocks", TestConvColumnBlocks},
		{"Conv1DAnd3D", TestConv1DAnd3D},
		{"ConvGemmEpilogues", TestConvGemmEpilogues},
		{"PackConvMismatch", TestPackConvMismatch},
		{"ConvWindow", TestConvWindow},
		{"DepthwiseBlocked", TestDepthwiseBlocked},
		{"ConvTransposeAgainstNaive", TestConvTransposeAgainstNaive},
		{"ConvFusedActivation", TestConvFusedActivation},
		{"Gemm", TestGemm},
		{"MatMulBroadcast", TestMatMulBroadcast},
		{"BinaryBroadcast", TestBinaryBroadcast},
		{"MaxMinVector", TestMaxMinVector},
		{"BoundedActivation", TestBoundedActivation},
		{"Unary", TestUnary},
		{"PoolAgainstNaive", TestPoolAgainstNaive},
		{"MaxPoolPairsNaN", TestMaxPoolPairsNaN},
		{"VecHelpers", TestVecHelpers},
		{"BiasActTo", TestBiasActTo},
	} {
		t.Run(tc.name, tc.f)
	}
}
