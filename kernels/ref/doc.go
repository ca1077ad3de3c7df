// Package ref holds ElasticRoom's reference operators: plain Go implementations of the ONNX
// operator semantics on slices and small parameter structs (ConvParams, PoolParams, ...).
// They are the numerical ground truth every other kernel is checked against, and the kernels
// the cpu device runs, so the heavy ones (GEMM, convolution, pooling, large elementwise ops)
// have AVX2/FMA paths (with the plain Go loops kept for other CPUs) and split their work
// over a small team of helper goroutines that stay warm between ops (parallel.go).
//
// ref sits on the ground floor: it imports only kernels/tensor, gonum and the standard
// library, never compiler/ or runtime/ packages, and never sees graph nodes.
package ref
