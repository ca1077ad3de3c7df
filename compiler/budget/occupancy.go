package budget

import (
	"errors"
	"fmt"
	"math"
)

// Limiter names, in the order Occupancy breaks ties: first the limits a kernel cannot lift by
// using fewer resources (threads, blocks), then registers, then shared memory.
const (
	LimitThreads   = "threads"
	LimitBlocks    = "blocks"
	LimitRegisters = "registers"
	LimitShared    = "shared"
)

// ErrNoFit is wrapped by Occupancy's error when not one block of the configuration fits an SM
// (too many registers for a block); the returned Occ still says which limit failed.
var ErrNoFit = errors.New("no block fits on an SM")

// Occ is the result of the occupancy calculator for one kernel configuration on one target.
type Occ struct {
	BlocksPerSM int     // resident blocks per SM: the minimum of the four limits below
	WarpsPerSM  int     // BlocksPerSM x warps per block
	Fraction    float64 // WarpsPerSM / Target.MaxWarpsPerSM
	Limiter     string  // LimitThreads | LimitBlocks | LimitRegisters | LimitShared

	ByThreads   int // blocks per SM the warp slots allow
	ByBlocks    int // the target's block slots
	ByRegisters int // blocks per SM the register file allows (math.MaxInt for 0 registers)
	ByShared    int // blocks per SM shared memory allows

	RegsPerBlock   int // registers allocated to one block (per-warp rounding included)
	SharedPerBlock int // shared bytes allocated to one block (reserved bytes and rounding included)
}

// Occupancy replicates the CUDA occupancy calculator (cudaOccMaxActiveBlocksPerMultiprocessor
// in cuda_occupancy.h, default carve-out preference, opt-in shared memory, no partitioned
// global caching) for compute capability 8.x/9.x targets:
//
//   - warps per block = ceil(threads / 32); threads limit = MaxWarpsPerSM / warps per block.
//   - registers are allocated per warp: regs x 32 rounded up to RegAllocUnit (256), i.e.
//     per thread in units of 8. The register file is split evenly among the SubPartitions (4)
//     and a warp lives in one sub-partition, so warps per SM = SubPartitions x
//     floor(RegsPerSM/SubPartitions / regs per warp); register limit = that / warps per block.
//     A block fits at all only if regs per warp x ceil(warps per block to a multiple of 4)
//     <= RegsPerBlock (the hardware's launch check).
//   - shared memory per block = sharedPerBlock + ReservedSharedPerBlock (1 KiB), rounded up to
//     SharedAllocUnit (128 B); shared limit = SharedPerSM / that.
//   - blocks limit = MaxBlocksPerSM.
//
// sharedPerBlock is the kernel's static plus dynamic shared memory in bytes; it may be up to
// Target.SharedPerBlockOptin (above StaticSharedPerBlock the kernel must use dynamic shared
// memory and opt in at launch). Bad arguments are errors; a configuration that fits no block
// returns the filled Occ and an error wrapping ErrNoFit.
func Occupancy(t Target, threadsPerBlock, regsPerThread, sharedPerBlock int) (Occ, error) {
	where := func() string {
		return fmt.Sprintf("occupancy on %s of %d threads x %d registers, %d bytes shared", t.Name, threadsPerBlock, regsPerThread, sharedPerBlock)
	}
	if t.WarpSize <= 0 || t.MaxWarpsPerSM <= 0 || t.SubPartitions <= 0 || t.RegAllocUnit <= 0 || t.SharedAllocUnit <= 0 {
		return Occ{}, fmt.Errorf("%s: target has no occupancy limits (use LookupTarget)", where())
	}
	if threadsPerBlock < 1 || threadsPerBlock > t.MaxThreadsPerBlock {
		return Occ{}, fmt.Errorf("%s: threads per block must be 1..%d", where(), t.MaxThreadsPerBlock)
	}
	if regsPerThread < 0 || regsPerThread > t.MaxRegsPerThread {
		return Occ{}, fmt.Errorf("%s: registers per thread must be 0..%d", where(), t.MaxRegsPerThread)
	}
	if sharedPerBlock < 0 || sharedPerBlock > t.SharedPerBlockOptin {
		return Occ{}, fmt.Errorf("%s: shared memory per block must be 0..%d bytes", where(), t.SharedPerBlockOptin)
	}

	warps := ceilDiv(threadsPerBlock, t.WarpSize)
	o := Occ{ByBlocks: t.MaxBlocksPerSM, ByThreads: t.MaxWarpsPerSM / warps}

	regsPerWarp := roundUp(regsPerThread*t.WarpSize, t.RegAllocUnit)
	o.RegsPerBlock = regsPerWarp * warps
	fits := true
	switch {
	case regsPerWarp == 0:
		o.ByRegisters = math.MaxInt
	case regsPerWarp*roundUp(warps, t.SubPartitions) > t.RegsPerBlock || o.RegsPerBlock > t.RegsPerBlock:
		o.ByRegisters, fits = 0, false
	default:
		warpsPerSub := (t.RegsPerSM / t.SubPartitions) / regsPerWarp
		o.ByRegisters = warpsPerSub * t.SubPartitions / warps
	}

	o.SharedPerBlock = roundUp(sharedPerBlock+t.ReservedSharedPerBlock, t.SharedAllocUnit)
	if o.SharedPerBlock == 0 {
		o.ByShared = math.MaxInt
	} else {
		o.ByShared = t.SharedPerSM / o.SharedPerBlock
	}

	o.BlocksPerSM, o.Limiter = o.ByThreads, LimitThreads
	for _, l := range []struct {
		n    int
		name string
	}{{o.ByBlocks, LimitBlocks}, {o.ByRegisters, LimitRegisters}, {o.ByShared, LimitShared}} {
		if l.n < o.BlocksPerSM {
			o.BlocksPerSM, o.Limiter = l.n, l.name
		}
	}
	o.WarpsPerSM = o.BlocksPerSM * warps
	o.Fraction = float64(o.WarpsPerSM) / float64(t.MaxWarpsPerSM)
	if !fits || o.BlocksPerSM == 0 {
		return o, fmt.Errorf("%s: %w (limited by %s: %d registers per block allocated, %d allowed)",
			where(), ErrNoFit, o.Limiter, regsPerWarp*roundUp(warps, t.SubPartitions), t.RegsPerBlock)
	}
	return o, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, unit int) int { return ceilDiv(a, unit) * unit }
