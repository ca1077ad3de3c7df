// Package cuda is ElasticRoom's GPU device: runtime/device's Device over the CUDA driver API,
// reached through cgo by dlopen()ing libcuda.so.1 at run time (the prototypes are declared
// here: no cuda.h, no -lcuda, no CUDA toolkit to build), so one binary runs on machines with
// and without a GPU. It uses the device's primary context (made current on the calling thread
// by every call), streams with priorities, events for timing, cuModuleLoadDataEx with its JIT
// logs, and mapped pinned memory for the persistent protocol's control blocks (the host flips a
// running kernel's SM mask or yield word with an atomic store, no synchronisation). NVML
// (github.com/NVIDIA/go-nvml) serves discovery (`elasticroom devices`): nothing in NVML is
// called unless nvmlInit succeeded.
//
// Every failed driver call is an *Error naming the call and the CUresult; a missing driver
// is ErrNoDriver, a driver without GPU ErrNoDevice, a build without cgo ErrNoCgo. Importing
// the package registers the device as "cuda".
//
// cuda imports runtime/device, compiler/plan (the kernels it loads) and kernels/kir (parameter
// types, the control block layout); never runtime/exec, other devices or compiler passes.
package cuda
