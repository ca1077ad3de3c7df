// Package ptxsim executes PTX text on the CPU. It exists so that tests can check what the PTX
// that kernels/ptx renders means (not only that ptxas accepts it), and so that the CUDA driver
// path can be exercised end to end on machines without a GPU.
//
// It is an implementation of PTX semantics written from the PTX ISA, independent of the IR
// the PTX comes from: it reads PTX text only and imports neither kernels/kir, kernels/emu nor
// kernels/ptx, so that a renderer bug is not mirrored by the simulator. Where kir and the ISA
// disagree the simulator follows the ISA (see "Differences from kernels/emu" below).
//
// # What is modelled
//
// The dialect kernels/ptx emits, and a little more: .version, .target, .address_size 64,
// comments, module-scope .extern .shared arrays (the dynamic shared memory), .visible .entry
// with 4- and 8-byte scalar .params, .maxntid/.reqntid, .maxnreg, .reg declarations (.pred,
// 32- and 64-bit integer and bit types, .f32; %r<N> ranges), function-scope .shared arrays,
// labels, guards (@%p, @!%p) on any instruction, and the instructions mov (registers,
// immediates, special registers, shared symbols with offsets, bitcasts), ld.param,
// cvta.to.global, cvt (integer widening and narrowing with .sat, float->int with .rni/.rzi/
// .rmi/.rpi always saturating, int->float with .rn/.rz/.rm/.rp, f32 rounding to integers and
// .sat), selp, add, sub, mul.lo/.hi/.wide, mad.lo/.wide, fma.rn, div, rem, min, max (.NaN),
// neg, abs, rcp, sqrt, rsqrt, ex2, lg2, sin, cos, tanh, and, or, xor, not, shl, shr, setp
// (every comparison, ordered and unordered), ld and st (.global and .shared, .volatile,
// .v2/.v4, 8- to 64-bit types, cache operators ignored), atom and red (add, inc, dec, min,
// max, and, or, xor, exch, cas; global and shared), bar.sync / barrier.sync with optional
// thread counts, membar and fence, shfl.sync (up, down, bfly, idx, with the clamp and segment
// mask operand and the optional predicate), bra, ret, exit and trap. Anything else is a Parse
// error naming the line, as are type mismatches between registers and instructions (PTX's
// operand type-checking rules, relaxed for ld, st and cvt as the ISA allows).
//
// Instructions are decoded once into a compact form (register slot indices, resolved branch
// targets, immediates in constant slots, shared symbols as addresses) and executed by a
// switch over a per-thread []uint64 register file (32-bit values zero-extended, f32 as bits,
// predicates 0/1). Simple instructions run at roughly 100 to 300 million per second per core.
//
// # Execution model
//
// Run starts SMs x BlocksPerSM goroutines ("slots"); slot i runs on SM i mod SMs (its %smid)
// and runs block i first, then blocks nobody has started, so blocks on different SMs (and in
// different slots of one SM) run concurrently: persistent kernels that spin on volatile loads
// of words the host changes while they run work as on hardware. Within a block the threads
// run one at a time, each for a time slice or until it waits at a barrier or shuffle or
// exits. A barrier completes when every non-exited thread of the block (or its thread count)
// has arrived at it; bar.sync is .aligned, so threads arriving at different bar.sync
// instructions is an error. A shfl.sync completes when every non-exited lane of the warp
// waits at it (lanes at different shuffles are an error; only the full membermask is
// modelled); reading a lane that has exited or does not exist gives 0x7fbadbad, since PTX
// leaves it undefined. A block whose threads all wait on something that cannot come is a
// deadlock error; threads that spin are not (the context ends them).
//
// Global memory is a Memory (Arena is one); accesses must be aligned to their size (a vector
// to its whole size) and inside one allocation. Atomics and .volatile accesses of 4 and 8
// bytes use sync/atomic on the aliased bytes, so the host may write control words while a
// launch runs; plain loads and stores are plain. Shared memory is per block, zeroed at block
// start, addressed from 0: the function-scope arrays in declaration order at their
// alignment, then the dynamic array at the module's .extern alignment. Out-of-bounds and
// misaligned accesses, integer division by zero, a param the launch did not pass and trap
// are errors naming the kernel, block, thread and PTX line.
//
// Floating point: f32 add, sub, mul, div and rcp round to nearest even (Go's float32
// arithmetic), fma.rn is rounded once (exactly, not float64-then-f32), sqrt.rn is exact, and
// the .approx functions (rsqrt, ex2, lg2, sin, cos, tanh, and div.approx/full, rcp.approx) are
// computed in float64 and rounded to f32: closer than hardware, whose approximations differ
// by a few ulp (tanh.approx by more). Subnormals are kept (.ftz is not modelled); NaN results
// of arithmetic are the canonical NaN 0x7fffffff; min and max return the non-NaN operand and
// order -0 below +0. Float-to-integer cvt maps NaN to 0, or to 1<<63 for 64-bit destinations.
//
// # What is not modelled
//
// Timing, caches and occupancy beyond the configured slots; memory ordering beyond
// sequential consistency (membar and fence do nothing; a racy kernel may behave differently
// on hardware); SIMT execution details: threads of a warp do not run in lockstep, so
// divergence and reconvergence are not reproduced and warp-synchronous code that relies on
// lockstep without shfl.sync or barriers is not checked; other state spaces (local, const,
// generic addressing), f16/f64, texture and tensor-core instructions, calls; resource limits
// other than 1024 threads per block, .maxntid and 227 KiB of shared memory per block.
//
// # Differences from kernels/emu
//
// Both must agree on the kernels of kernels/ptx's tests; they differ where kir defines what
// PTX does not or defines otherwise: emu rounds fma twice (off by an ulp on rare inputs),
// gives 0 for NaN converted to a 64-bit integer, defines integer division by zero, takes a
// shfl up/down/bfly lane operand of 32 or more as out of range (PTX uses its low 5 bits), and
// returns a lane's own value for a shuffle from an exited lane.
package ptxsim
