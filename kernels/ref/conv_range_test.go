package ref

import (
	"math"
	"testing"
)

// TestConvRangeBitIdentical computes convolutions range by range (ConvSpans, several part
// counts) and wants Conv's bits; Conv itself is checked against naive loops elsewhere.
func TestConvRangeBitIdentical(t *testing.T) {
	r := newRand(11)
	type tc struct {
		name string
		p    ConvParams
	}
	p2 := func(n, c, m, g, h, w, k, s, pad int, act Activation) ConvParams {
		return ConvParams{N: n, C: c, M: m, Group: g, In: []int{h, w}, Kernel: []int{k, k}, Strides: []int{s, s},
			PadsBegin: []int{pad, pad}, PadsEnd: []int{pad, pad}, Act: act, Workers: 1}
	}
	relu := Activation{Op: Relu}
	cases := []tc{
		{"stem 3x3 s2", p2(1, 3, 32, 1, 64, 70, 3, 2, 1, Activation{Op: Clip, Alpha: 0, Beta: 6})},
		{"pointwise fast", p2(1, 32, 24, 1, 40, 41, 1, 1, 0, Activation{Op: Identity})},
		{"pointwise skinny", p2(1, 64, 3, 1, 30, 33, 1, 1, 0, Activation{Op: Sigmoid})},
		{"3x3 skinny hardswish", p2(1, 16, 4, 1, 20, 37, 3, 1, 1, Activation{Op: HardSwish})},
		{"grouped batch2 leaky", p2(2, 8, 12, 2, 25, 27, 3, 1, 1, Activation{Op: LeakyRelu, Alpha: 0.1})},
		{"deep K relu", p2(1, 64, 12, 1, 18, 18, 3, 1, 1, relu)},
		// K*outSp above the im2col bound: column blocks of 4194304/576 = 7281 positions
		{"column blocks", p2(1, 64, 7, 1, 92, 92, 3, 1, 1, relu)},
		{"tiny gonum", p2(1, 2, 2, 1, 5, 5, 3, 1, 1, relu)},
		{"depthwise", p2(1, 6, 6, 6, 20, 20, 3, 1, 1, relu)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.p
			os, err := ConvOutShape(p)
			if err != nil {
				t.Fatal(err)
			}
			outSp := os[2] * os[3]
			x := randSlice(r, p.N*p.C*p.In[0]*p.In[1])
			w := randSlice(r, p.M*(p.C/p.Group)*p.Kernel[0]*p.Kernel[1])
			b := randSlice(r, p.M)
			want := make([]float32, p.N*p.M*outSp)
			if err := Conv(p, x, w, b, want); err != nil {
				t.Fatal(err)
			}
			split := false
			for _, parts := range []int{1, 2, 3, 7, 1000} {
				sp, err := ConvSpans(p, parts)
				if err != nil {
					t.Fatal(err)
				}
				if len(sp) > parts || sp[0][0] != 0 || sp[len(sp)-1][1] != outSp {
					t.Fatalf("ConvSpans(%d) = %v for %d positions", parts, sp, outSp)
				}
				split = split || len(sp) > 1
				got := make([]float32, len(want))
				for i := range got {
					got[i] = float32(math.NaN())
				}
				for i, s := range sp {
					if i > 0 && s[0] != sp[i-1][1] {
						t.Fatalf("ranges %v leave a gap", sp)
					}
					if err := ConvRange(p, x, w, b, got, s[0], s[1]); err != nil {
						t.Fatal(err)
					}
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%d ranges %v: element %d is %v, Conv gives %v", len(sp), sp, i, got[i], want[i])
					}
				}
			}
			if wantSplit := c.name != "tiny gonum" && c.name != "depthwise"; split != wantSplit {
				t.Errorf("split into several ranges: %v, want %v", split, wantSplit)
			}
		})
	}
}

func TestConvRangeRejectsUnalignedRange(t *testing.T) {
	p := ConvParams{N: 1, C: 8, M: 8, Group: 1, In: []int{16, 16}, Kernel: []int{1, 1}, Workers: 1}
	x, w, out := make([]float32, 8*256), make([]float32, 64), make([]float32, 8*256)
	if err := ConvRange(p, x, w, nil, out, 0, 100); err == nil {
		t.Error("range ending at 100 (not a multiple of 64) accepted")
	}
	if err := ConvRange(p, x, w, nil, out, 0, 300); err == nil {
		t.Error("range past the output accepted")
	}
	if err := ConvRange(p, x, w, nil, out, 0, 128); err != nil {
		t.Errorf("aligned range: %v", err)
	}
}
