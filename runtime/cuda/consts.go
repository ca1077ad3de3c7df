package cuda

import "fmt"

// Attribute is a CUdevice_attribute. The values are the driver ABI's (cuda.h, checked against
// CUDA 12.6's header); a wrong value silently reads another attribute, so the tests pin them.
type Attribute int

// Device attributes the package reads.
const (
	AttrMaxThreadsPerBlock         Attribute = 1
	AttrMaxSharedPerBlock          Attribute = 8
	AttrWarpSize                   Attribute = 10
	AttrClockRate                  Attribute = 13 // kHz
	AttrMultiprocessorCount        Attribute = 16
	AttrCanMapHostMemory           Attribute = 19
	AttrConcurrentKernels          Attribute = 31
	AttrPCIBusID                   Attribute = 33
	AttrPCIDeviceID                Attribute = 34
	AttrMemoryClockRate            Attribute = 36 // kHz
	AttrGlobalMemoryBusWidth       Attribute = 37 // bits
	AttrL2CacheSize                Attribute = 38 // bytes
	AttrMaxThreadsPerMultiproc     Attribute = 39
	AttrUnifiedAddressing          Attribute = 41
	AttrPCIDomainID                Attribute = 50
	AttrComputeCapabilityMajor     Attribute = 75
	AttrComputeCapabilityMinor     Attribute = 76
	AttrStreamPrioritiesSupported  Attribute = 78
	AttrMaxSharedPerMultiproc      Attribute = 81
	AttrMaxRegistersPerMultiproc   Attribute = 82
	AttrComputePreemptionSupported Attribute = 90
	AttrMaxSharedPerBlockOptin     Attribute = 97
)

var attrNames = map[Attribute]string{
	AttrMaxThreadsPerBlock: "MAX_THREADS_PER_BLOCK", AttrMaxSharedPerBlock: "MAX_SHARED_MEMORY_PER_BLOCK",
	AttrWarpSize: "WARP_SIZE", AttrClockRate: "CLOCK_RATE", AttrMultiprocessorCount: "MULTIPROCESSOR_COUNT",
	AttrCanMapHostMemory: "CAN_MAP_HOST_MEMORY", AttrConcurrentKernels: "CONCURRENT_KERNELS",
	AttrPCIBusID: "PCI_BUS_ID", AttrPCIDeviceID: "PCI_DEVICE_ID", AttrPCIDomainID: "PCI_DOMAIN_ID",
	AttrMemoryClockRate: "MEMORY_CLOCK_RATE", AttrGlobalMemoryBusWidth: "GLOBAL_MEMORY_BUS_WIDTH",
	AttrL2CacheSize: "L2_CACHE_SIZE", AttrMaxThreadsPerMultiproc: "MAX_THREADS_PER_MULTIPROCESSOR",
	AttrUnifiedAddressing: "UNIFIED_ADDRESSING", AttrComputeCapabilityMajor: "COMPUTE_CAPABILITY_MAJOR",
	AttrComputeCapabilityMinor: "COMPUTE_CAPABILITY_MINOR", AttrStreamPrioritiesSupported: "STREAM_PRIORITIES_SUPPORTED",
	AttrMaxSharedPerMultiproc: "MAX_SHARED_MEMORY_PER_MULTIPROCESSOR", AttrMaxRegistersPerMultiproc: "MAX_REGISTERS_PER_MULTIPROCESSOR",
	AttrComputePreemptionSupported: "COMPUTE_PREEMPTION_SUPPORTED", AttrMaxSharedPerBlockOptin: "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN",
}

func (a Attribute) String() string {
	if n, ok := attrNames[a]; ok {
		return "CU_DEVICE_ATTRIBUTE_" + n
	}
	return fmt.Sprintf("CU_DEVICE_ATTRIBUTE(%d)", int(a))
}

// FuncAttribute is a CUfunction_attribute (values of cuda.h, CUDA 12.6).
type FuncAttribute int

// Function attributes the package reads or sets.
const (
	FuncMaxThreadsPerBlock FuncAttribute = 0
	FuncSharedSizeBytes    FuncAttribute = 1 // static shared memory
	FuncConstSizeBytes     FuncAttribute = 2
	FuncLocalSizeBytes     FuncAttribute = 3 // local memory per thread (spills, stack)
	FuncNumRegs            FuncAttribute = 4
	FuncPTXVersion         FuncAttribute = 5
	FuncBinaryVersion      FuncAttribute = 6
	FuncMaxDynamicShared   FuncAttribute = 8 // settable: dynamic shared memory limit
)

var funcAttrNames = map[FuncAttribute]string{
	FuncMaxThreadsPerBlock: "MAX_THREADS_PER_BLOCK", FuncSharedSizeBytes: "SHARED_SIZE_BYTES",
	FuncConstSizeBytes: "CONST_SIZE_BYTES", FuncLocalSizeBytes: "LOCAL_SIZE_BYTES", FuncNumRegs: "NUM_REGS",
	FuncPTXVersion: "PTX_VERSION", FuncBinaryVersion: "BINARY_VERSION", FuncMaxDynamicShared: "MAX_DYNAMIC_SHARED_SIZE_BYTES",
}

func (a FuncAttribute) String() string {
	if n, ok := funcAttrNames[a]; ok {
		return "CU_FUNC_ATTRIBUTE_" + n
	}
	return fmt.Sprintf("CU_FUNC_ATTRIBUTE(%d)", int(a))
}
