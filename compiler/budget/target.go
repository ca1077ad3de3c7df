// Package budget describes what a compiled plan may use and what the hardware offers: the
// Target (a GPU model: architecture, SM count, per-SM limits, peak figures), the Budget (SMs,
// registers per thread, shared memory per block, longest tile), the occupancy calculator that
// checks a kernel configuration against a target's per-SM limits, and the cost model that
// estimates a kernel's time so compiler/lower can pick a tile configuration.
//
// Everything here is plain data and arithmetic over the standard library. It must never
// import runtime/ or another compiler package (compiler/lower and compiler/plan build on it,
// not the other way round), and it has no reason to import kernels/.
package budget

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// KiB is 1024 bytes.
const KiB = 1024

// Target is one GPU model as the compiler sees it. The per-SM limits are those of NVIDIA's
// occupancy calculator (cuda_occupancy.h of CUDA 12.x, and the "Technical Specifications per
// Compute Capability" table of the CUDA C++ Programming Guide) for compute capability 8.0 and
// 9.0; the peak figures are the vendor datasheets' (see /work/shared/PAPERS.md).
type Target struct {
	Name  string // canonical name, e.g. "h100"; what LookupTarget answers for its aliases
	GPU   string // marketing name, e.g. "NVIDIA H100 SXM5 80GB"
	Arch  string // ptxas --gpu-name, e.g. "sm_90"
	Major int    // compute capability major, e.g. 9
	Minor int    // compute capability minor, e.g. 0
	SMs   int    // streaming multiprocessors on the device

	WarpSize           int // threads per warp
	MaxThreadsPerBlock int // launch limit on threads per block
	MaxThreadsPerSM    int // resident threads per SM
	MaxWarpsPerSM      int // resident warps per SM (MaxThreadsPerSM / WarpSize)
	MaxBlocksPerSM     int // resident blocks per SM

	RegsPerSM        int // 32-bit registers in one SM's register file
	RegsPerBlock     int // registers one block may hold
	RegAllocUnit     int // registers are given to a warp in units of this many (per warp)
	SubPartitions    int // SM sub-partitions (warp schedulers); registers are split evenly
	MaxRegsPerThread int // largest .maxnreg / registers per thread ptxas accepts
	MinRegLimit      int // ptxas raises a smaller .maxnreg (or --maxrregcount) to this

	SharedPerSM            int // bytes of shared memory per SM at the largest carve-out
	SharedPerBlockOptin    int // largest shared memory per block (dynamic, after opt-in)
	StaticSharedPerBlock   int // largest static .shared per block (also the limit without opt-in)
	ReservedSharedPerBlock int // bytes the driver reserves in every block (sm_80 and later)
	SharedAllocUnit        int // shared memory is given to a block in units of this many bytes

	FP32TFLOPS    float64       // peak dense fp32 (FMA = 2 FLOPs), TFLOP/s
	TensorTFLOPS  float64       // peak dense bf16/fp16 tensor-core, TFLOP/s
	MemoryGBs     float64       // peak DRAM bandwidth, GB/s (1e9 bytes per second)
	BoostClockMHz float64       // boost clock the peak figures assume
	FP32Lanes     int           // fp32 lanes per SM (FP32TFLOPS = SMs*FP32Lanes*2*clock)
	LaunchLatency time.Duration // host-to-start latency of one kernel launch (cost model)
}

// Occupancy limits shared by sm_80 and sm_90 (cuda_occupancy.h: register allocation unit 256
// per warp, 4 sub-partitions, shared memory unit 128 B, 1 KiB reserved per block; 32 blocks,
// 64 warps, 2048 threads per SM; 64K registers per SM and per block).
func ampereHopperLimits(t Target) Target {
	t.WarpSize = 32
	t.MaxThreadsPerBlock = 1024
	t.MaxThreadsPerSM = 2048
	t.MaxWarpsPerSM = 64
	t.MaxBlocksPerSM = 32
	t.RegsPerSM = 65536
	t.RegsPerBlock = 65536
	t.RegAllocUnit = 256
	t.SubPartitions = 4
	t.MaxRegsPerThread = 255
	t.MinRegLimit = 24 // measured: ptxas 11.8 warns "adjusting ... to lower bound of 24"
	t.StaticSharedPerBlock = 48 * KiB
	t.ReservedSharedPerBlock = 1 * KiB
	t.SharedAllocUnit = 128
	t.LaunchLatency = 4 * time.Microsecond
	return t
}

func a100(name, gpu string, gbs float64) Target {
	return ampereHopperLimits(Target{
		Name: name, GPU: gpu, Arch: "sm_80", Major: 8, Minor: 0, SMs: 108,
		SharedPerSM: 164 * KiB, SharedPerBlockOptin: 163 * KiB,
		FP32TFLOPS: 19.5, TensorTFLOPS: 312, MemoryGBs: gbs, BoostClockMHz: 1410, FP32Lanes: 64,
	})
}

func hopper(name, gpu string, gbs float64) Target {
	return ampereHopperLimits(Target{
		Name: name, GPU: gpu, Arch: "sm_90", Major: 9, Minor: 0, SMs: 132,
		SharedPerSM: 228 * KiB, SharedPerBlockOptin: 227 * KiB,
		FP32TFLOPS: 67, TensorTFLOPS: 989, MemoryGBs: gbs, BoostClockMHz: 1980, FP32Lanes: 128,
	})
}

// targets is the registry; aliases maps every accepted spelling to a canonical name.
var (
	targets = map[string]Target{
		"a100":      a100("a100", "NVIDIA A100 SXM4 40GB", 1555),
		"a100-80gb": a100("a100-80gb", "NVIDIA A100 SXM4 80GB", 2039),
		"h100":      hopper("h100", "NVIDIA H100 SXM5 80GB", 3350),
		"h200":      hopper("h200", "NVIDIA H200 SXM 141GB", 4800),
	}
	aliases = map[string]string{
		"sm_80": "a100", "sm80": "a100", "8.0": "a100", "a100-40gb": "a100",
		"sm_90": "h100", "sm90": "h100", "9.0": "h100", "h100-sxm": "h100",
	}
)

// LookupTarget returns the target named name: a canonical name ("a100", "a100-80gb",
// "h100", "h200"), an architecture ("sm_80" is the A100 40GB, "sm_90" the H100 SXM) or a
// compute capability ("8.0", "9.0"); case does not matter. An unknown name is an error that
// lists the known targets.
func LookupTarget(name string) (Target, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if canon, ok := aliases[key]; ok {
		key = canon
	}
	if t, ok := targets[key]; ok {
		return t, nil
	}
	return Target{}, fmt.Errorf("unknown target %q (known: %s)", name, knownTargets())
}

// Targets returns every registered target, sorted by name.
func Targets() []Target {
	out := make([]Target, 0, len(targets))
	for _, t := range targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func knownTargets() string {
	var parts []string
	for _, t := range Targets() {
		parts = append(parts, fmt.Sprintf("%s (%s)", t.Name, t.Arch))
	}
	var al []string
	for a, c := range aliases {
		if strings.HasPrefix(a, "sm_") {
			al = append(al, a+"="+c)
		}
	}
	sort.Strings(al)
	return strings.Join(parts, ", ") + "; aliases " + strings.Join(al, ", ")
}

func (t Target) String() string {
	return fmt.Sprintf("%s (%s, %s, %d SMs)", t.Name, t.GPU, t.Arch, t.SMs)
}
