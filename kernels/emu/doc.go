// Package emu interprets kernels/kir kernels on virtual SMs. It is the executable specification
// of the IR: every backend (PTX on a GPU, the cpu device) must agree with it.
//
// Execution model. A Device has SMs virtual SMs with per-SM limits (resident blocks, threads,
// shared memory, registers). Launch computes how many blocks of the launch fit on one SM at once
// (the occupancy) and starts SMs x that many worker goroutines, one per resident-block slot;
// worker (sm, slot) first runs block slot*SMs+sm (the first wave is spread round-robin over the
// SMs, as the hardware does) and then takes the next unstarted block as it frees up. %smid is
// the worker's SM. Blocks of different SMs and of one SM run concurrently.
//
// Inside a block the threads run one at a time, each until it reaches a barrier, a warp shuffle,
// its exit, or the end of its time slice ("barrier-phased" execution). When every live thread of
// a warp waits at the same shuffle the values are exchanged; when every live thread of the block
// waits at a barrier, it is released. Exited threads do not hold barriers. A block whose threads
// wait on each other in any other way is a deadlock and an error. Time slices make spin loops on
// volatile loads (flags written by the host or other blocks) progress. Results are deterministic
// for kernels whose blocks do not race each other.
//
// Kernels are compiled once per Device into a flat array of steps over a register file of
// uint64 slots per thread (32-bit values zero-extended, f32 as its bits, predicates 0/1);
// structured control flow becomes jumps. Each step is a closure specialised to its op, type and
// register slots (the hottest ALU ops without any further call: fast.go). Register files are
// reused by later blocks and launches without being cleared: the verifier guarantees that every
// register is written before it is read.
//
// Memory. Global memory is a set of allocations addressed by u64 pointers (allocation i spans
// [(i+1)<<32, (i+1)<<32 + size)); pointer 0 and addresses outside an allocation are errors, as
// are misaligned accesses. Words are 32-bit; atomics use sync/atomic, so they are atomic across
// concurrently running blocks, and volatile loads and stores are atomic loads and stores, so the
// host may flip control words (Store32) while a launch runs. Shared memory is per block.
// Approximate PTX ops (ex2, lg2, sin, cos, tanh, rsqrt) are computed in float64 and rounded to
// f32, closer to the exact value than the hardware's.
//
// emu imports kernels/kir and the standard library only; never compiler/ or runtime/ packages.
package emu
