// Package kir is ElasticRoom's kernel IR: a small, structured SIMT IR in which every GPU kernel
// of the project is written, rendered to PTX by kernels/ptx and interpreted by kernels/emu.
//
// A Kernel is a list of instructions (Inst) over typed virtual registers (Value). Registers are
// mutable (an instruction writes its Dst; Builder.Set re-assigns a register), which keeps loops
// simple: a loop-carried accumulator is one register assigned in the loop body. Control flow is
// structured: If/Else, For (start, end, step), While (condition block + body), Break, Continue and
// Return nest as Inst bodies; there are no labels or branches, the renderer and the emulator lay
// them out. Every other op is one row of the op table (ops.go): its name, operand and result
// type rules and the types it may be instantiated at (Inst.T), so that
//
//   - the verifier checks every instruction against the table (Verify),
//   - the emulator has one case per row (kernels/emu tests fail when a row has none),
//   - the PTX renderer maps (Op, T, modifiers) to one PTX template per row.
//
// Semantics follow PTX ISA 7.8: 32-bit integer ops wrap, Mul/Mad on integers keep the low half
// (mul.lo), MulWide widens, shifts clamp, float ops round to nearest even except the approximate
// transcendental ops (Rsqrt Ex2 Lg2 Sin Cos Tanh, ".approx" in PTX), float comparisons are ordered
// (false when either side is NaN), float Min/Max return the non-NaN operand. Global addresses are
// u64, shared addresses u32 (offsets into the block's shared window). kernels/emu is the
// executable definition of these semantics.
//
// Kernels are written with a Builder, which reads like CUDA:
//
//	b := kir.NewKernel("relu", kir.Target{Arch: "sm_90"})
//	x, y, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamU32("n")
//	i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
//	b.If(b.Lt(i, n), func() {
//		v := b.LoadF32(x, i)
//		b.Store(y, i, b.Max(v, b.ConstF32(0)))
//	})
//	k, err := b.Build() // runs Verify
//
// kir is the ground floor of the kernel stack: it imports only the standard library, never
// kernels/emu, kernels/ptx, compiler/ or runtime/ packages.
package kir
