package ref

import (
	"math/rand"
	"testing"
)

// BenchmarkDepthwise times MobileNetV2-like 3x3 depthwise layers.
func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name    string
		c, h, s int
	}{{"c96_112_s2", 96, 112, 2}, {"c144_56_s1", 144, 56, 1}, {"c384_14_s1", 384, 14, 1}, {"c960_7_s1", 960, 7, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			p := ConvParams{N: 1, C: tc.c, M: tc.c, Group: tc.c, In: []int{tc.h, tc.h}, Kernel: []int{3, 3},
				Strides: []int{tc.s, tc.s}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}, Act: Activation{Op: Clip, Alpha: 0, Beta: 6}}
			x := randSlice(r, tc.c*tc.h*tc.h)
			w := randSlice(r, tc.c*9)
			bias := randSlice(r, tc.c)
			os, _ := ConvOutShape(p)
			out := make([]float32, prod(os))
			for b.Loop() {
				if err := Conv(p, x, w, bias, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
