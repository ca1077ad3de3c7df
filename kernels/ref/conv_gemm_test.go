package ref

import (
	"fmt"
	"math"
	"testing"
)

// refAct is a scalar reference of the fused activations (with their Bounded step).
func refAct(a Activation, v float64) float64 {
	switch a.Op {
	case Relu:
		v = math.Max(v, 0)
	case Clip:
		v = math.Min(math.Max(v, float64(a.Alpha)), float64(a.Beta))
	case LeakyRelu:
		if v < 0 {
			v *= float64(a.Alpha)
		}
	case HardSwish:
		v *= math.Min(math.Max(v/6+0.5, 0), 1)
	case Sigmoid:
		v = 1 / (1 + math.Exp(-v))
	}
	if a.Bounded {
		v = math.Min(math.Max(v, float64(a.Lo)), float64(a.Hi))
	}
	return v
}

// TestConvGemmEpilogues runs the blocked-GEMM convolutions (several K blocks, row and column
// tails, narrow outputs split over rows, groups, batches) with every kind of epilogue against
// naive loops, and with weights packed once by PackConv against packing per call, bit for bit.
func TestConvGemmEpilogues(t *testing.T) {
	r := newRand(21)
	inf := float32(math.Inf(1))
	acts := []Activation{
		{Op: Identity},
		{Op: Relu},
		{Op: Clip, Alpha: -0.5, Beta: 0.5},
		{Op: LeakyRelu, Alpha: 0.2, Bounded: true, Lo: -0.4, Hi: inf},
		{Op: LeakyRelu, Alpha: 1.5}, // not in the kernel: applied afterwards
		{Op: HardSwish},
		{Op: Sigmoid, Bounded: true, Lo: 0.3, Hi: 0.6},
	}
	shapes := []struct {
		name                string
		n, c, m, g, h, w, k int
		pad                 int
	}{
		{"pointwise tails", 1, 40, 50, 1, 9, 11, 1, 0},
		{"pointwise narrow tall", 1, 64, 300, 1, 7, 7, 1, 0},
		{"3x3 deep K", 1, 40, 13, 1, 10, 12, 3, 1},
		{"grouped batch2", 2, 12, 18, 2, 9, 9, 3, 1},
	}
	for _, s := range shapes {
		for ai, act := range acts {
			t.Run(fmt.Sprintf("%s/act%d", s.name, ai), func(t *testing.T) {
				p := ConvParams{N: s.n, C: s.c, M: s.m, Group: s.g, In: []int{s.h, s.w}, Kernel: []int{s.k, s.k},
					PadsBegin: []int{s.pad, s.pad}, PadsEnd: []int{s.pad, s.pad}, Act: act}
				x := randSlice(r, s.n*s.c*s.h*s.w)
				w := randSlice(r, s.m*s.c/s.g*s.k*s.k)
				var b []float32
				if ai%2 == 0 {
					b = randSlice(r, s.m)
				}
				want, _, _ := naiveConv2D(x, w, b, s.n, s.c, s.h, s.w, s.m, s.g, s.k, s.k, 1, 1, 1, 1, s.pad, s.pad, s.pad, s.pad)
				for i, v := range want {
					want[i] = float32(refAct(act, float64(v)))
				}
				got := make([]float32, len(want))
				if err := Conv(p, x, w, b, got); err != nil {
					t.Fatal(err)
				}
				relErr(t, "conv", got, want, 1e-5)
				pc, err := PackConv(p, w)
				if err != nil {
					t.Fatal(err)
				}
				if haveFMA && pc == nil {
					t.Fatal("PackConv packed nothing for a blocked-GEMM convolution")
				}
				p.Packed = pc
				got2 := make([]float32, len(want))
				if err := Conv(p, x, w, b, got2); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(got2[i]) {
						t.Fatalf("packed weights: element %d is %v, packing per call gives %v", i, got2[i], got[i])
					}
				}
			})
		}
	}
}

// TestPackConvMismatch checks that packed weights of another shape are ignored, and that
// depthwise convolutions have nothing to pack.
func TestPackConvMismatch(t *testing.T) {
	r := newRand(22)
	p := ConvParams{N: 1, C: 16, M: 24, Group: 1, In: []int{12, 12}, Kernel: []int{1, 1}}
	w := randSlice(r, 24*16)
	x := randSlice(r, 16*144)
	q := p
	q.M = 30
	other, err := PackConv(q, randSlice(r, 30*16))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 24*144)
	if err := Conv(p, x, w, nil, want); err != nil {
		t.Fatal(err)
	}
	p.Packed = other
	got := make([]float32, 24*144)
	if err := Conv(p, x, w, nil, got); err != nil {
		t.Fatal(err)
	}
	relErr(t, "mismatched packing ignored", got, want, 0)
	dw := ConvParams{N: 1, C: 8, M: 8, Group: 8, In: []int{10, 10}, Kernel: []int{3, 3}}
	if pc, err := PackConv(dw, randSlice(r, 72)); pc != nil || err != nil {
		t.Fatalf("depthwise PackConv = %v, %v", pc, err)
	}
	if _, err := PackConv(p, w[:10]); err == nil {
		t.Fatal("PackConv accepted a short weight")
	}
}

// TestConvWindow checks the convolutions whose patch rows are packed as shifted windows of
// the input or its stride phases (no im2col): kernels one wide or tall, dilations,
// asymmetric and oversized padding, strides, against naive loops; and their ranges against
// Conv bit for bit.
func TestConvWindow(t *testing.T) {
	r := newRand(23)
	cases := []struct {
		c, m, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int
	}{
		{24, 24, 74, 32, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1},
		{24, 24, 74, 32, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},
		{1, 24, 76, 32, 3, 3, 1, 1, 1, 1, 0, 1, 0, 1},
		{16, 10, 9, 7, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
		{8, 13, 6, 5, 3, 3, 1, 1, 1, 1, 3, 1, 4, 1},
		{12, 18, 4, 2, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0},
		{7, 9, 1, 40, 1, 5, 1, 1, 1, 1, 0, 3, 0, 1},
		{5, 8, 10, 9, 1, 3, 1, 1, 1, 1, 0, 3, 0, 2}, // output wider than the input
		// strided: phase planes
		{3, 32, 24, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{3, 8, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{6, 12, 15, 16, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2},
		{4, 10, 13, 12, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
		{4, 10, 12, 13, 2, 2, 2, 2, 2, 1, 0, 0, 1, 1},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			x := randSlice(r, tc.c*tc.h*tc.w)
			w := randSlice(r, tc.m*tc.c*tc.kh*tc.kw)
			b := randSlice(r, tc.m)
			want, _, _ := naiveConv2D(x, w, b, 1, tc.c, tc.h, tc.w, tc.m, 1, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr)
			p := ConvParams{N: 1, C: tc.c, M: tc.m, Group: 1, In: []int{tc.h, tc.w}, Kernel: []int{tc.kh, tc.kw},
				Strides: []int{tc.sh, tc.sw}, Dilations: []int{tc.dh, tc.dw}, PadsBegin: []int{tc.pt, tc.pl}, PadsEnd: []int{tc.pb, tc.pr}}
			l, err := convLayoutOf(p)
			if err != nil {
				t.Fatal(err)
			}
			if haveFMA && l.fastAll() && windowOf(&l) == nil {
				t.Fatalf("no window packing for %+v", tc)
			}
			got := make([]float32, len(want))
			if err := Conv(p, x, w, b, got); err != nil {
				t.Fatal(err)
			}
			relErr(t, "window conv", got, want, 1e-5)
			sp, err := ConvSpans(p, 5)
			if err != nil {
				t.Fatal(err)
			}
			parts := make([]float32, len(want))
			for _, s := range sp {
				if err := ConvRange(p, x, w, b, parts, s[0], s[1]); err != nil {
					t.Fatal(err)
				}
			}
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(parts[j]) {
					t.Fatalf("ranges %v: element %d is %v, Conv gives %v", sp, j, parts[j], got[j])
				}
			}
		})
	}
}

// TestWindowPackerGarbage checks that the window packer gives im2col's patch matrix for a
// range of output positions when only what the range reads was copied into a buffer full of
// NaNs (what the masks do not zero must never be read).
func TestWindowPackerGarbage(t *testing.T) {
	if !haveFMA {
		t.Skip("the window packer needs AVX2")
	}
	r := newRand(24)
	for _, p := range []ConvParams{
		{N: 1, C: 3, M: 8, Group: 1, In: []int{9, 40}, Kernel: []int{3, 3}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}},
		{N: 1, C: 2, M: 8, Group: 1, In: []int{11, 21}, Kernel: []int{3, 3}, Strides: []int{2, 2}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}},
		{N: 1, C: 4, M: 8, Group: 1, In: []int{12, 6}, Kernel: []int{3, 1}},
	} {
		l, err := convLayoutOf(p)
		if err != nil {
			t.Fatal(err)
		}
		w := windowOf(&l)
		if w == nil {
			t.Fatalf("no window geometry for %+v", p)
		}
		x := randSlice(r, p.C*l.inSp)
		for _, rg := range [][2]int{{0, l.outSp}, {16, 48}, {l.outSp - 21, l.outSp}} {
			a, b := rg[0], rg[1]
			buf := make([]float32, w.len)
			for i := range buf {
				buf[i] = float32(math.NaN())
			}
			w.fill(x, buf, a, b)
			n := b - a
			got := make([]float32, l.K*(n+nr-1)/nr*nr)
			w.packer(buf, a, b)(0, l.K, 0, n, got)
			col := make([]float32, l.K*n)
			im2col(&l.g, x, l.cg, col, a, b, 1)
			for row := 0; row < l.K; row++ {
				for j := 0; j < n; j++ {
					g := got[(j/nr)*l.K*nr+row*nr+j%nr]
					if math.Float32bits(g) != math.Float32bits(col[row*n+j]) {
						t.Fatalf("%v range [%d,%d): patch row %d position %d is %v, im2col %v", p.Kernel, a, b, row, a+j, g, col[row*n+j])
					}
				}
			}
		}
	}
}
