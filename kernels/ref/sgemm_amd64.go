package ref

// The AVX2/FMA micro-kernel (sgemm_amd64.s) and CPU feature detection.

//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, flags int, bias *float32, lo, hi, alpha float32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// haveFMA reports AVX2 + FMA with the OS saving the YMM state.
var haveFMA = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c1&fma == 0 || c1&osxsave == 0 || c1&avx == 0 {
		return false
	}
	if xa, _ := xgetbv(); xa&6 != 6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0 // AVX2
}()

//go:noescape
func packWin16(k int, offs, taps *int, masks, src, dst *float32)
