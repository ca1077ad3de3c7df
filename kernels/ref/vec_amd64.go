package ref

// AVX2 vector loops (vec_amd64.s); n must be a multiple of 8. Callers check haveFMA.

//go:noescape
func axpy8(n int, a float32, x, y *float32)

//go:noescape
func clamp8(n int, x, y *float32, b, lo, hi float32)

//go:noescape
func scaleShift8(n int, x, y *float32, a, b float32)

//go:noescape
func addVV8(n int, a, b, c *float32)

//go:noescape
func subVV8(n int, a, b, c *float32)

//go:noescape
func mulVV8(n int, a, b, c *float32)

//go:noescape
func divVV8(n int, a, b, c *float32)

//go:noescape
func addVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func subVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func mulVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func divVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func dwConv16(n, taps int, offs *int, w, src, dst *float32, b, lo, hi float32)

//go:noescape
func dot32(n int, x, y *float32) float32

//go:noescape
func leaky8(n int, x, y *float32, b, alpha float32)

//go:noescape
func hardSigmoid8(n int, x, y *float32, b, alpha, beta float32, swish int)
