//go:build !amd64

package ref

func maxVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func minVV8(n int, a, b, c *float32)                  { panic("unreachable") }
func maxVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }
func minVS8(n int, a *float32, s float32, c *float32) { panic("unreachable") }
func maxPairs8(n int, x, y, dst *float32)             { panic("unreachable") }
