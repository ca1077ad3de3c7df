// Package cpu runs a compiler/graph Graph on host tensors with the kernels/ref operators:
// the engine's embedded executor where no GPU exists, and the reference run of a whole model.
//
// One op table maps ONNX op types (canonical, opset-21 forms) to small functions, one file
// per op family, that turn a node's attributes and runtime inputs into kernels/ref parameter
// structs. Intermediate tensors are dropped after their last consumer has run. A Conv takes
// in the BatchNormalization, activation and Max/Min with constants that follow it alone
// (fuse.go), and its constant weights are packed for the GEMM kernel once (packcache.go).
//
// Run uses every core for each op. Pool is the same executor as a device with units (one
// worker goroutine each) that honours the persistent-kernel protocol of the GPU path: each node
// is split into tiles (conv over batch and output-channel blocks, GEMM over row or column
// blocks, elementwise over chunks, pooling over planes) sized to about Pool.TileTime; a worker
// takes tiles only while its unit is in the run's Mask; a claimed tile is always finished; the
// mask may change while a node runs and an empty mask parks the run. Tiled results are
// bit-identical to Run's. The scheduler (runtime/sched) moves units between tenants this way.
//
// cpu imports kernels/ref, kernels/tensor and compiler/graph (data types only); it must never
// import models/, other runtime/ packages, or the rest of compiler/.
package cpu
