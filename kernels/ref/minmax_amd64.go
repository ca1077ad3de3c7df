package ref

// AVX Max/Min loops (minmax_amd64.s); n must be a multiple of 8. Callers check haveFMA.

//go:noescape
func maxVV8(n int, a, b, c *float32)

//go:noescape
func minVV8(n int, a, b, c *float32)

//go:noescape
func maxVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func minVS8(n int, a *float32, s float32, c *float32)

//go:noescape
func maxPairs8(n int, x, y, dst *float32)
