// Package peers holds the GPU measurements that need a real device and the peers they are
// compared with: torch_zoo.py (PyTorch eager on the same exported ONNX weights) and, behind
// the gpu build tag, Go tests that run every zoo and real model on the cuda device against
// the cpu device, time each kernel against the cost model's estimate and time models under SM
// budgets. scripts/gpu-build compiles those tests into gpu-build/ for the device machine
// (docs/gpu.md); without a GPU they skip.
//
// peers may import runtime, compiler and models; nothing imports it.
package peers
