// Package conv holds the convolution kernel templates (ONNX Conv, 1-D and 2-D, NCHW, with
// groups, strides, explicit pads, dilations and a fused bias + activation), built as kir
// kernels inside the SM-aware persistent protocol:
//
//   - implicit GEMM (any group count): per image and group, Y[m, p] = W[m, r] * X_col[r, p] with
//     r over (input channel of the group, kernel row, kernel column) and p over output pixels,
//     run by kernels/gemm's Mainloop; the im2col patch is gathered on the fly into shared memory
//     (no im2col buffer), and 1x1 stride-1 unpadded convolutions read X as a plain matrix with
//     vector loads. One work tile = (image, group, TileM output channels, TileN output pixels).
//   - direct depthwise (Group == C == M, MobileNet style): one work tile = (image, channel,
//     TileM x TileN output block); the input patch is staged in shared memory with its zero
//     padding and every thread computes ThreadM output rows of one column. Selected by a config
//     with TileK == 0.
//
// Unsupported: 3-D convolution, and geometries whose extents do not fit u32 index arithmetic;
// Build says so and the compiler falls back.
//
// conv imports kernels, kernels/kir, kernels/kir/protocol, kernels/gemm, kernels/epilogue and
// kernels/ref (parameter types only); never compiler/ or runtime/ packages.
package conv
