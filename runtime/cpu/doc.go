// Package cpu runs a compiler/graph Graph on host tensors with the kernels/ref operators:
// the engine's embedded executor where no GPU exists, and the reference run of a whole model.
//
// One op table maps ONNX op types (canonical, opset-21 forms) to small functions, one file
// per op family, that turn a node's attributes and runtime inputs into kernels/ref parameter
// structs. Intermediate tensors are dropped after their last consumer has run.
//
// cpu imports kernels/ref, kernels/tensor and compiler/graph (data types only); it must never
// import models/, other runtime/ packages, or the rest of compiler/.
package cpu
