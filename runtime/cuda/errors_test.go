package cuda

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The values below are copied by hand from CUDA 12.6's cuda.h (CUresult, CUdevice_attribute,
// CUfunction_attribute, CUjit_option, flags), independently of the tables they check.
func TestResultNamesMatchCudaH(t *testing.T) {
	want := map[int]string{
		0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY", 3: "CUDA_ERROR_NOT_INITIALIZED",
		4: "CUDA_ERROR_DEINITIALIZED", 34: "CUDA_ERROR_STUB_LIBRARY", 100: "CUDA_ERROR_NO_DEVICE",
		101: "CUDA_ERROR_INVALID_DEVICE", 200: "CUDA_ERROR_INVALID_IMAGE", 201: "CUDA_ERROR_INVALID_CONTEXT",
		209: "CUDA_ERROR_NO_BINARY_FOR_GPU", 218: "CUDA_ERROR_INVALID_PTX", 221: "CUDA_ERROR_JIT_COMPILER_NOT_FOUND",
		222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", 300: "CUDA_ERROR_INVALID_SOURCE", 400: "CUDA_ERROR_INVALID_HANDLE",
		500: "CUDA_ERROR_NOT_FOUND", 600: "CUDA_ERROR_NOT_READY", 700: "CUDA_ERROR_ILLEGAL_ADDRESS",
		701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", 702: "CUDA_ERROR_LAUNCH_TIMEOUT", 709: "CUDA_ERROR_CONTEXT_IS_DESTROYED",
		710: "CUDA_ERROR_ASSERT", 715: "CUDA_ERROR_ILLEGAL_INSTRUCTION", 716: "CUDA_ERROR_MISALIGNED_ADDRESS",
		719: "CUDA_ERROR_LAUNCH_FAILED", 720: "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", 800: "CUDA_ERROR_NOT_PERMITTED",
		801: "CUDA_ERROR_NOT_SUPPORTED", 803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", 909: "CUDA_ERROR_TIMEOUT",
		912: "CUDA_ERROR_INVALID_CLUSTER_SIZE", 915: "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION", 999: "CUDA_ERROR_UNKNOWN",
	}
	for code, name := range want {
		if got := Result(code).Name(); got != name {
			t.Errorf("Result(%d).Name() = %q, cuda.h says %q", code, got, name)
		}
	}
	if got := Result(4242).Name(); got != "CUDA_ERROR_4242" {
		t.Errorf("unknown code: %q", got)
	}
	// No two codes share a name.
	seen := map[string]Result{}
	for c, n := range resultNames {
		if o, dup := seen[n]; dup {
			t.Errorf("%s is both %d and %d", n, o, c)
		}
		seen[n] = c
	}
}

func TestAttributeValuesMatchCudaH(t *testing.T) {
	for a, want := range map[Attribute]int{
		AttrMaxThreadsPerBlock: 1, AttrMaxSharedPerBlock: 8, AttrWarpSize: 10, AttrClockRate: 13,
		AttrMultiprocessorCount: 16, AttrCanMapHostMemory: 19, AttrConcurrentKernels: 31, AttrPCIBusID: 33,
		AttrPCIDeviceID: 34, AttrMemoryClockRate: 36, AttrGlobalMemoryBusWidth: 37, AttrL2CacheSize: 38,
		AttrMaxThreadsPerMultiproc: 39, AttrUnifiedAddressing: 41, AttrPCIDomainID: 50,
		AttrComputeCapabilityMajor: 75, AttrComputeCapabilityMinor: 76, AttrStreamPrioritiesSupported: 78,
		AttrMaxSharedPerMultiproc: 81, AttrMaxRegistersPerMultiproc: 82, AttrComputePreemptionSupported: 90,
		AttrMaxSharedPerBlockOptin: 97,
	} {
		if int(a) != want {
			t.Errorf("%s = %d, cuda.h says %d", a, int(a), want)
		}
		if strings.Contains(a.String(), "(") {
			t.Errorf("attribute %d has no name", int(a))
		}
	}
	for a, want := range map[FuncAttribute]int{
		FuncMaxThreadsPerBlock: 0, FuncSharedSizeBytes: 1, FuncConstSizeBytes: 2, FuncLocalSizeBytes: 3,
		FuncNumRegs: 4, FuncPTXVersion: 5, FuncBinaryVersion: 6, FuncMaxDynamicShared: 8,
	} {
		if int(a) != want {
			t.Errorf("%s = %d, cuda.h says %d", a, int(a), want)
		}
	}
	if AttrMultiprocessorCount.String() != "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT" || FuncNumRegs.String() != "CU_FUNC_ATTRIBUTE_NUM_REGS" {
		t.Errorf("names: %s, %s", AttrMultiprocessorCount, FuncNumRegs)
	}
}

func TestCConstantsMatchCudaH(t *testing.T) {
	got := cConstants()
	if !cgoEnabled {
		t.Skip("built without cgo: no C side")
	}
	want := map[string]int{
		"CU_JIT_INFO_LOG_BUFFER": 3, "CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES": 4, "CU_JIT_ERROR_LOG_BUFFER": 5,
		"CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES": 6, "CU_JIT_LOG_VERBOSE": 12, "CU_MEMHOSTALLOC_PORTABLE": 1,
		"CU_MEMHOSTALLOC_DEVICEMAP": 2, "CU_STREAM_NON_BLOCKING": 1, "CU_EVENT_DEFAULT": 0, "CUDA_ERROR_INVALID_VALUE": 1,
	}
	if len(got) != len(want) {
		t.Errorf("C side has %d constants, the test knows %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %d (present %v), cuda.h says %d", k, g, ok, v)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Call: "cuModuleLoadDataEx", Code: 218, Name: "CUDA_ERROR_INVALID_PTX",
		Message: "a PTX JIT compilation failed", Log: "ptxas application ptx input, line 3; error   : syntax error\n"}
	want := "cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX (218): a PTX JIT compilation failed; jit log: ptxas application ptx input, line 3; error   : syntax error"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	// Without a name from the driver the table names it.
	e2 := &Error{Call: "cuInit", Code: 100}
	if e2.Error() != "cuInit: CUDA_ERROR_NO_DEVICE (100)" {
		t.Errorf("got %q", e2.Error())
	}
	wrapped := fmt.Errorf("cuda: libcuda.so.1: %w", e2)
	if !errors.Is(wrapped, ErrNoDevice) {
		t.Error("CUDA_ERROR_NO_DEVICE is not ErrNoDevice")
	}
	if errors.Is(fmt.Errorf("x: %w", e), ErrNoDevice) {
		t.Error("CUDA_ERROR_INVALID_PTX is ErrNoDevice")
	}
	var ce *Error
	if !errors.As(wrapped, &ce) || ce.Code != ErrorNoDevice {
		t.Error("errors.As lost the code")
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 13000: "13.0", 11080: "11.8", 0: "unknown"} {
		if got := versionString(v); got != want {
			t.Errorf("versionString(%d) = %q, want %q", v, got, want)
		}
	}
}
