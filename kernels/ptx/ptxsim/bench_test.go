package ptxsim

import (
	"testing"
)

// benchKernels: an integer loop, and a gemm-like inner loop (shared v4 loads feeding fma).
var benchKernels = map[string]string{
	"alu": `
	mov.u32 %r10, 0;
	mov.u32 %r11, 0;
$L__top:
	mad.lo.u32 %r11, %r10, 3, %r11;
	xor.b32 %r11, %r11, %r1;
	shr.u32 %r12, %r11, 3;
	add.u32 %r11, %r11, %r12;
	add.u32 %r10, %r10, 1;
	setp.lt.u32 %p1, %r10, 4096;
	@%p1 bra $L__top;
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	st.global.u32 [%rd10], %r11;
`,
	"fma": `
	mov.u32 %r10, 0;
	mov.f32 %f10, 0f00000000;
	mov.f32 %f11, 0f00000000;
	mov.u32 %r13, s;
	cvt.rn.f32.u32 %f9, %r1;
	mul.rn.f32 %f9, %f9, 0f3DCCCCCD;
	shl.b32 %r15, %r1, 2;
	add.u32 %r15, %r15, %r13;
	st.shared.f32 [%r15], %f9;
	bar.sync 0;
	and.b32 %r14, %r1, 15;
	shl.b32 %r14, %r14, 4;
	add.u32 %r13, %r13, %r14;
$L__top:
	ld.shared.v4.f32 {%f1, %f2, %f3, %f4}, [%r13];
	ld.shared.v4.f32 {%f5, %f6, %f7, %f8}, [%r13+256];
	fma.rn.f32 %f10, %f1, %f5, %f10;
	fma.rn.f32 %f11, %f2, %f6, %f11;
	fma.rn.f32 %f10, %f3, %f7, %f10;
	fma.rn.f32 %f11, %f4, %f8, %f11;
	add.u32 %r10, %r10, 1;
	setp.lt.u32 %p1, %r10, 1024;
	@%p1 bra $L__top;
	add.f32 %f10, %f10, %f11;
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	ld.global.f32 %f12, [%rd10];
	add.f32 %f10, %f10, %f12;
	st.global.f32 [%rd10], %f10;
`,
}

func benchKernel(b *testing.B, name string) {
	k := mustKernel(&testing.T{}, module(benchKernels[name], "\t.shared .align 16 .b8 s[1024];"))
	const threads = 256
	a := NewArena()
	out, _ := a.Alloc(4 * threads)
	var instrs int64
	b.ResetTimer()
	for range b.N {
		st, err := Run(b.Context(), k, a, Config{SMs: 1}, Launch{Block: [3]int{threads}, Params: []uint64{out, out}})
		if err != nil {
			b.Fatal(err)
		}
		instrs += st.Instructions
	}
	b.ReportMetric(float64(instrs)/b.Elapsed().Seconds()/1e6, "Minstr/s")
}

func BenchmarkALULoop(b *testing.B) { benchKernel(b, "alu") }
func BenchmarkFMALoop(b *testing.B) { benchKernel(b, "fma") }
