package ref

// Channel-blocked depthwise kernels (depthwise8_amd64.s). Callers check haveFMA.

//go:noescape
func transpose8(nb int, src *float32, rs, rb int, dst *float32, ds, db int)

//go:noescape
func dwRows8(rows, rowStep, n, taps int, offs *int, w, src *float32, step int, dst, bias *float32, flags int, lo, hi float32)

//go:noescape
func dw3x3s1Rows8(rows, rowStep, n int, w, src *float32, pitch int, dst, bias *float32, flags int, lo, hi float32)

//go:noescape
func dw3x3s2Rows8(rows, rowStep, n int, w, src *float32, pitch int, dst, bias *float32, flags int, lo, hi float32)
