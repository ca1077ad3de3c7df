//go:build !amd64

package ref

const haveFMA = false

func sgemmKernel6x16(k int, a, b, c *float32, ldc int, flags int, bias *float32, lo, hi, alpha float32) {
	panic("unreachable")
}

func packWin16(k int, offs, taps *int, masks, src, dst *float32) { panic("unreachable") }
