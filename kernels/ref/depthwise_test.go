package ref

import (
	"fmt"
	"math"
	"testing"
)

// TestDepthwiseBlocked checks depthwise convolutions with 8 channels or more (the
// channel-blocked kernel plus the plane-by-plane loop for the remainder) against naive
// loops, and the two kernels against each other bit for bit.
func TestDepthwiseBlocked(t *testing.T) {
	r := newRand(31)
	cases := []struct {
		n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int
		act                                                Activation
	}{
		{1, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, Activation{Op: Clip, Alpha: 0, Beta: 6}},
		{2, 13, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, Activation{Op: Relu}},
		{1, 8, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, Activation{Op: Identity}},
		{1, 24, 9, 30, 5, 3, 1, 2, 1, 2, 2, 0, 1, 3, Activation{Op: HardSwish}},
		{1, 9, 1, 37, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2, Activation{Op: LeakyRelu, Alpha: 0.1, Bounded: true, Lo: -0.05, Hi: 0.5}},
		{1, 32, 12, 12, 3, 3, 2, 2, 2, 2, 0, 0, 2, 2, Activation{Op: Sigmoid}},
		{1, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, Activation{Op: Clip, Alpha: -0.5, Beta: 0.5}},
		{2, 11, 32, 31, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, Activation{Op: Identity}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w)
			w := randSlice(r, tc.c*tc.kh*tc.kw)
			var b []float32
			if i%2 == 0 {
				b = randSlice(r, tc.c)
			}
			want, _, _ := naiveConv2D(x, w, b, tc.n, tc.c, tc.h, tc.w, tc.c, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr)
			for j, v := range want {
				want[j] = float32(refAct(tc.act, float64(v)))
			}
			p := ConvParams{N: tc.n, C: tc.c, M: tc.c, Group: tc.c, In: []int{tc.h, tc.w}, Kernel: []int{tc.kh, tc.kw},
				Strides: []int{tc.sh, tc.sw}, Dilations: []int{tc.dh, tc.dw}, PadsBegin: []int{tc.pt, tc.pl},
				PadsEnd: []int{tc.pb, tc.pr}, Act: tc.act}
			got := make([]float32, len(want))
			if err := Conv(p, x, w, b, got); err != nil {
				t.Fatal(err)
			}
			relErr(t, "depthwise", got, want, 1e-5)
			g, err := widen(p.In, p.Kernel, p.Strides, p.Dilations, p.PadsBegin, p.PadsEnd)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.outDims(false); err != nil {
				t.Fatal(err)
			}
			planes := make([]float32, len(want))
			depthwisePlanes(p, &g, x, w, b, planes, 0)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(planes[j]) {
					t.Fatalf("element %d: %v, plane by plane %v", j, got[j], planes[j])
				}
			}
		})
	}
}
