package ref

import (
	"math"
	"math/rand"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func relErr(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", name, len(got), len(want))
	}
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if e := math.Sqrt(num / math.Max(den, 1e-30)); e > tol {
		t.Fatalf("%s: relative error %g > %g", name, e, tol)
	}
}

// naiveConv2D is a direct loop written independently of im2col (2 spatial dims).
func naiveConv2D(x, w, b []float32, n, c, h, wd, m, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int) ([]float32, int, int) {
	oh := (h+pt+pb-dh*(kh-1)-1)/sh + 1
	ow := (wd+pl+pr-dw*(kw-1)-1)/sw + 1
	out := make([]float32, n*m*oh*ow)
	cg, mg := c/g, m/g
	for in := 0; in < n; in++ {
		for om := 0; om < m; om++ {
			gr := om / mg
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var s float64
					if b != nil {
						s = float64(b[om])
					}
					for ic := 0; ic < cg; ic++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy := y*sh - pt + ky*dh
								ix := xx*sw - pl + kx*dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += float64(x[((in*c+gr*cg+ic)*h+iy)*wd+ix]) * float64(w[((om*cg+ic)*kh+ky)*kw+kx])
							}
						}
					}
					out[((in*m+om)*oh+y)*ow+xx] = float32(s)
				}
			}
		}
	}
	return out, oh, ow
}

func TestConv2DAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	cases := []struct {
		name                                                     string
		n, c, h, w, m, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int
		bias                                                     bool
	}{
		{"3x3 pad1", 1, 3, 7, 9, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true},
		{"stride2 odd", 2, 4, 11, 8, 6, 1, 3, 3, 2, 2, 1, 1, 1, 0, 0, 1, false},
		{"pointwise", 1, 8, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true},
		{"pointwise stride", 1, 8, 5, 6, 3, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, true},
		{"groups", 1, 6, 6, 7, 4, 2, 3, 2, 1, 2, 1, 1, 1, 0, 1, 1, true},
		{"depthwise", 2, 5, 9, 10, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true},
		{"depthwise stride dil", 1, 4, 12, 13, 4, 4, 3, 5, 2, 3, 2, 1, 2, 2, 1, 3, false},
		{"depthwise mult2", 1, 3, 8, 8, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true},
		{"depthwise wide stride2", 1, 3, 9, 37, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true},
		{"depthwise wide stride3 pad2", 1, 2, 6, 41, 2, 2, 3, 5, 1, 3, 1, 1, 1, 2, 0, 2, false},
		{"depthwise wide 5x5", 2, 3, 12, 29, 3, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, true},
		{"dilated", 1, 3, 10, 10, 2, 1, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, true},
		{"5x5 asym pads", 1, 2, 8, 9, 3, 1, 5, 5, 1, 1, 1, 1, 2, 0, 0, 2, false},
		{"1xW", 1, 3, 1, 20, 2, 1, 1, 4, 1, 3, 1, 1, 0, 1, 0, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w)
			w := randSlice(r, tc.m*tc.c/tc.g*tc.kh*tc.kw)
			var b []float32
			if tc.bias {
				b = randSlice(r, tc.m)
			}
			want, oh, ow := naiveConv2D(x, w, b, tc.n, tc.c, tc.h, tc.w, tc.m, tc.g, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr)
			p := ConvParams{N: tc.n, C: tc.c, M: tc.m, Group: tc.g, In: []int{tc.h, tc.w}, Kernel: []int{tc.kh, tc.kw},
				Strides: []int{tc.sh, tc.sw}, Dilations: []int{tc.dh, tc.dw}, PadsBegin: []int{tc.pt, tc.pl}, PadsEnd: []int{tc.pb, tc.pr}}
			shape, err := ConvOutShape(p)
			if err != nil {
				t.Fatal(err)
			}
			if shape[2] != oh || shape[3] != ow {
				t.Fatalf("out shape %v, want %d x %d", shape, oh, ow)
			}
			got := make([]float32, len(want))
			if err := Conv(p, x, w, b, got); err != nil {
				t.Fatal(err)
			}
			relErr(t, tc.name, got, want, 1e-5)
		})
	}
}

func TestConvColumnBlocks(t *testing.T) {
	// force the column-blocked path with a big K*outSp
	r := rand.New(rand.NewSource(2))
	n, c, h, w, m := 1, 64, 40, 40, 4
	x := randSlice(r, n*c*h*w)
	wt := randSlice(r, m*c*9)
	want, _, _ := naiveConv2D(x, wt, nil, n, c, h, w, m, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
	p := ConvParams{N: n, C: c, M: m, Group: 1, In: []int{h, w}, Kernel: []int{3, 3}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}}
	got := make([]float32, len(want))
	if err := Conv(p, x, wt, nil, got); err != nil {
		t.Fatal(err)
	}
	relErr(t, "blocked", got, want, 1e-5)
}

func TestConv1DAnd3D(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	// 1-D equals 2-D with H=1
	x := randSlice(r, 2*3*17)
	w := randSlice(r, 4*3*5)
	want, _, ow := naiveConv2D(x, w, nil, 2, 3, 1, 17, 4, 1, 1, 5, 1, 2, 1, 2, 0, 3, 0, 1)
	p := ConvParams{N: 2, C: 3, M: 4, Group: 1, In: []int{17}, Kernel: []int{5}, Strides: []int{2}, Dilations: []int{2}, PadsBegin: []int{3}, PadsEnd: []int{1}}
	got := make([]float32, 2*4*ow)
	if err := Conv(p, x, w, nil, got); err != nil {
		t.Fatal(err)
	}
	relErr(t, "conv1d", got, want, 1e-5)
	// 3-D with depth kernel 1 equals a stack of 2-D convs
	d := 3
	x3 := randSlice(r, 1*2*d*6*6)
	w3 := randSlice(r, 3*2*1*3*3)
	p3 := ConvParams{N: 1, C: 2, M: 3, Group: 1, In: []int{d, 6, 6}, Kernel: []int{1, 3, 3}, PadsBegin: []int{0, 1, 1}, PadsEnd: []int{0, 1, 1}}
	got3 := make([]float32, 3*d*36)
	if err := Conv(p3, x3, w3, nil, got3); err != nil {
		t.Fatal(err)
	}
	for z := 0; z < d; z++ {
		x2 := make([]float32, 2*36)
		for ch := 0; ch < 2; ch++ {
			copy(x2[ch*36:(ch+1)*36], x3[(ch*d+z)*36:(ch*d+z+1)*36])
		}
		want2, _, _ := naiveConv2D(x2, w3, nil, 1, 2, 6, 6, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
		for m := 0; m < 3; m++ {
			relErr(t, "conv3d slice", got3[(m*d+z)*36:(m*d+z+1)*36], want2[m*36:(m+1)*36], 1e-5)
		}
	}
}

func TestConvErrors(t *testing.T) {
	p := ConvParams{N: 1, C: 3, M: 4, Group: 2, In: []int{5, 5}, Kernel: []int{3, 3}}
	if err := Conv(p, make([]float32, 75), make([]float32, 4*3*9), nil, make([]float32, 4*9)); err == nil {
		t.Fatal("group 2 on 3 channels: no error")
	}
	p.Group = 1
	if err := Conv(p, make([]float32, 74), make([]float32, 4*3*9), nil, make([]float32, 4*9)); err == nil {
		t.Fatal("short input: no error")
	}
	p.Kernel = []int{7, 7}
	if _, err := ConvOutShape(p); err == nil {
		t.Fatal("kernel larger than input: no error")
	}
}

func TestAutoPads(t *testing.T) {
	for _, tc := range []struct {
		mode              string
		in, k, s, d, b, e int
	}{
		{"SAME_UPPER", 5, 3, 1, 1, 1, 1},
		{"SAME_UPPER", 6, 3, 2, 1, 0, 1},
		{"SAME_LOWER", 6, 3, 2, 1, 1, 0},
		{"SAME_UPPER", 7, 4, 1, 1, 1, 2},
		{"SAME_LOWER", 7, 4, 1, 1, 2, 1},
		{"SAME_UPPER", 7, 3, 1, 2, 2, 2},
		{"VALID", 7, 3, 1, 1, 0, 0},
	} {
		b, e, ok, err := AutoPads(tc.mode, tc.in, tc.k, tc.s, tc.d)
		if err != nil || !ok || b != tc.b || e != tc.e {
			t.Errorf("%+v: got %d %d %v %v", tc, b, e, ok, err)
		}
	}
	if _, _, _, err := AutoPads("BOGUS", 1, 1, 1, 1); err == nil {
		t.Error("bogus auto_pad: no error")
	}
}

// naiveConvTranspose2D scatters every input element through the kernel.
func naiveConvTranspose2D(x, w, b []float32, n, c, h, wd, m, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw int) ([]float32, int, int) {
	oh := sh*(h-1) + oph + (kh-1)*dh + 1 - pt - pb
	ow := sw*(wd-1) + opw + (kw-1)*dw + 1 - pl - pr
	out := make([]float32, n*m*oh*ow)
	cg, mg := c/g, m/g
	for in := 0; in < n; in++ {
		for ic := 0; ic < c; ic++ {
			gr := ic / cg
			for y := 0; y < h; y++ {
				for xx := 0; xx < wd; xx++ {
					v := x[((in*c+ic)*h+y)*wd+xx]
					for om := 0; om < mg; om++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								oy := y*sh - pt + ky*dh
								ox := xx*sw - pl + kx*dw
								if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
									continue
								}
								out[((in*m+gr*mg+om)*oh+oy)*ow+ox] += v * w[((ic*mg+om)*kh+ky)*kw+kx]
							}
						}
					}
				}
			}
		}
		for om := 0; om < m && b != nil; om++ {
			for i := 0; i < oh*ow; i++ {
				out[(in*m+om)*oh*ow+i] += b[om]
			}
		}
	}
	return out, oh, ow
}

func TestConvTransposeAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	cases := []struct {
		name                                                               string
		n, c, h, w, m, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw int
	}{
		{"k2s2", 1, 4, 5, 6, 3, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0},
		{"k3s2 pad outpad", 2, 3, 4, 5, 2, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{"groups dil", 1, 4, 5, 5, 6, 2, 3, 2, 1, 2, 2, 1, 1, 0, 2, 1, 0, 1},
		{"k4s1", 1, 2, 3, 7, 2, 1, 4, 4, 1, 1, 1, 1, 0, 2, 1, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w)
			w := randSlice(r, tc.c*tc.m/tc.g*tc.kh*tc.kw)
			b := randSlice(r, tc.m)
			want, oh, ow := naiveConvTranspose2D(x, w, b, tc.n, tc.c, tc.h, tc.w, tc.m, tc.g, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr, tc.oph, tc.opw)
			p := ConvTransposeParams{N: tc.n, C: tc.c, M: tc.m, Group: tc.g, In: []int{tc.h, tc.w}, Kernel: []int{tc.kh, tc.kw},
				Strides: []int{tc.sh, tc.sw}, Dilations: []int{tc.dh, tc.dw}, PadsBegin: []int{tc.pt, tc.pl}, PadsEnd: []int{tc.pb, tc.pr},
				OutputPadding: []int{tc.oph, tc.opw}}
			shape, err := ConvTransposeOutShape(p)
			if err != nil {
				t.Fatal(err)
			}
			if shape[2] != oh || shape[3] != ow {
				t.Fatalf("shape %v, want %dx%d", shape, oh, ow)
			}
			got := make([]float32, len(want))
			if err := ConvTranspose(p, x, w, b, got); err != nil {
				t.Fatal(err)
			}
			relErr(t, tc.name, got, want, 1e-5)
		})
	}
}

func TestConvFusedActivation(t *testing.T) {
	x := []float32{1, -2, 3, -4}
	w := []float32{1}
	p := ConvParams{N: 1, C: 1, M: 1, Group: 1, In: []int{2, 2}, Kernel: []int{1, 1}, Act: Activation{Op: Relu}}
	got := make([]float32, 4)
	if err := Conv(p, x, w, []float32{0.5}, got); err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, 0, 3.5, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func BenchmarkConv2D(b *testing.B) {
	// a ResNet-ish 3x3 layer: 64 -> 64 channels at 56x56
	r := rand.New(rand.NewSource(5))
	p := ConvParams{N: 1, C: 64, M: 64, Group: 1, In: []int{56, 56}, Kernel: []int{3, 3}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}}
	x := randSlice(r, 64*56*56)
	w := randSlice(r, 64*64*9)
	out := make([]float32, 64*56*56)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Conv(p, x, w, nil, out); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 64 * 64 * 9 * 56 * 56
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkDepthwiseConv(b *testing.B) {
	r := rand.New(rand.NewSource(6))
	p := ConvParams{N: 1, C: 144, M: 144, Group: 144, In: []int{56, 56}, Kernel: []int{3, 3}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}}
	x := randSlice(r, 144*56*56)
	w := randSlice(r, 144*9)
	out := make([]float32, 144*56*56)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Conv(p, x, w, nil, out); err != nil {
			b.Fatal(err)
		}
	}
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
