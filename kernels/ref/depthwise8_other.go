//go:build !amd64

package ref

func transpose8(nb int, src *float32, rs, rb int, dst *float32, ds, db int) { panic("unreachable") }

func dwRows8(rows, rowStep, n, taps int, offs *int, w, src *float32, step int, dst, bias *float32, flags int, lo, hi float32) {
	panic("unreachable")
}

func dw3x3s1Rows8(rows, rowStep, n int, w, src *float32, pitch int, dst, bias *float32, flags int, lo, hi float32) {
	panic("unreachable")
}

func dw3x3s2Rows8(rows, rowStep, n int, w, src *float32, pitch int, dst, bias *float32, flags int, lo, hi float32) {
	panic("unreachable")
}
