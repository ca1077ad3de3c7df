// Package gemm is the GEMM kernel template: batched, broadcasting, optionally transposed
// Y = Act(Alpha*op(A)*op(B) + Beta*C) in f32 (ONNX Gemm and MatMul, with a fused bias and
// activation), built as a kir kernel inside the SM-aware persistent protocol.
//
// One work tile is one (batch, TileM x TileN) block of Y, tiles numbered row-major (batch, then
// tile row, then tile column). The tile's product is the Mainloop, which kernels/conv reuses for
// implicit-GEMM convolution: two shared-memory stages of A and B per TileK slice (the next
// slice is fetched into registers while the current one is multiplied: one barrier per slice),
// ThreadM x ThreadN outputs per thread in registers, vector global loads where the operand's
// contiguous dimension and leading dimension allow, zero-filled edges for any M, N, K.
//
// gemm imports kernels, kernels/kir, kernels/kir/protocol, kernels/epilogue and kernels/ref
// (parameter types only); never compiler/ or runtime/ packages.
package gemm
