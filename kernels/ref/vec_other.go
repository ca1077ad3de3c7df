//go:build !amd64

package ref

func axpy8(n int, a float32, x, y *float32)           { panic("unreachable") }
func clamp8(n int, x, y *float32, b, lo, hi float32)  { panic("unreachable") }
func scaleShift8(n int, x, y *float32, a, b float32)  { panic("unreachable") }
func addVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func subVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func mulVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func divVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func addVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }
func subVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }
func mulVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }
func divVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }

func dwConv16(n, taps int, offs *int, w, src, dst *float32, b, lo, hi float32) {
	panic("unreachable")
}

func dot32(n int, x, y *float32) float32 { panic("unreachable") }

func leaky8(n int, x, y *float32, b, alpha float32) { panic("unreachable") }

func hardSigmoid8(n int, x, y *float32, b, alpha, beta float32, swish int) {
	panic("unreachable")
}
