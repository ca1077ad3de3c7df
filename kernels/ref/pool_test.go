package ref

import (
	"math"
	"math/rand"
	"testing"
)

// naivePool2D: direct window loops; ceil mode handled by the caller-given output size.
func naivePool2D(x []float32, nc, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow int, isMax, incPad bool) []float32 {
	out := make([]float32, nc*oh*ow)
	for p := 0; p < nc; p++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				m := math.Inf(-1)
				s, cnt, cntPad := 0.0, 0, 0
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						iy, ix := y*sh-pt+ky*dh, xx*sw-pl+kx*dw
						if iy >= -pt && iy < h+pb && ix >= -pl && ix < w+pr {
							cntPad++
						}
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := float64(x[(p*h+iy)*w+ix])
						m = math.Max(m, v)
						s += v
						cnt++
					}
				}
				o := &out[(p*oh+y)*ow+xx]
				switch {
				case isMax:
					*o = float32(m)
				case incPad:
					*o = float32(s / float64(cntPad))
				default:
					*o = float32(s / float64(cnt))
				}
			}
		}
	}
	return out
}

func TestPoolAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	cases := []struct {
		name                                         string
		h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int
		ceil                                         bool
		oh, ow                                       int
	}{
		{"3x3 s2 p1", 9, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, 5, 5},
		{"2x2 s2", 8, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, false, 4, 3},
		{"ceil", 7, 7, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true, 3, 3},
		{"ceil odd", 6, 8, 3, 2, 2, 3, 1, 1, 0, 0, 0, 0, true, 3, 3},
		{"ceil pad", 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, 4, 4},
		{"dilated", 10, 9, 2, 3, 1, 2, 2, 2, 1, 0, 0, 1, false, 9, 3},
		{"asym pads", 5, 5, 3, 2, 1, 1, 1, 1, 2, 0, 0, 1, false, 5, 5},
		// pair windows along the rows (the vector path): bulk of 8 plus tail, odd widths
		{"2x2 s2 wide", 6, 37, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, false, 3, 18},
		{"1x2 s(1,2)", 4, 40, 1, 2, 1, 2, 1, 1, 0, 0, 0, 0, false, 4, 20},
		{"2x2 s(1,2)", 5, 34, 2, 2, 1, 2, 1, 1, 0, 0, 0, 0, false, 4, 17},
	}
	for _, tc := range cases {
		for _, mode := range []string{"max", "avg", "avgpad"} {
			x := randSlice(r, 2*tc.h*tc.w)
			p := PoolParams{N: 1, C: 2, In: []int{tc.h, tc.w}, Kernel: []int{tc.kh, tc.kw}, Strides: []int{tc.sh, tc.sw},
				Dilations: []int{tc.dh, tc.dw}, PadsBegin: []int{tc.pt, tc.pl}, PadsEnd: []int{tc.pb, tc.pr}, CeilMode: tc.ceil,
				CountIncludePad: mode == "avgpad"}
			shape, err := PoolOutShape(p)
			if err != nil {
				t.Fatal(err)
			}
			if shape[2] != tc.oh || shape[3] != tc.ow {
				t.Fatalf("%s: shape %v, want %dx%d", tc.name, shape, tc.oh, tc.ow)
			}
			want := naivePool2D(x, 2, tc.h, tc.w, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, tc.pb, tc.pr, tc.oh, tc.ow, mode == "max", mode == "avgpad")
			got := make([]float32, len(want))
			if mode == "max" {
				err = MaxPool(p, x, got, nil)
			} else {
				err = AveragePool(p, x, got)
			}
			if err != nil {
				t.Fatal(err)
			}
			relErr(t, tc.name+" "+mode, got, want, 1e-6)
		}
	}
}

func TestMaxPoolIndicesAndGlobal(t *testing.T) {
	x := []float32{1, 5, 2, 0, 3, 4, 9, 8, 7, 6, 1, 2}
	p := PoolParams{N: 1, C: 1, In: []int{3, 4}, Kernel: []int{2, 2}, Strides: []int{1, 2}}
	out := make([]float32, 4)
	idx := make([]int64, 4)
	if err := MaxPool(p, x, out, idx); err != nil {
		t.Fatal(err)
	}
	if want := []float32{5, 9, 7, 9}; !equalF(out, want) {
		t.Fatalf("max %v, want %v", out, want)
	}
	if want := []int64{1, 6, 8, 6}; idx[0] != want[0] || idx[1] != want[1] || idx[2] != want[2] || idx[3] != want[3] {
		t.Fatalf("indices %v, want %v", idx, want)
	}
	g := make([]float32, 2)
	if err := GlobalPool(x, 2, 6, false, g); err != nil || g[0] != 2.5 || g[1] != 33.0/6 {
		t.Fatalf("global avg %v %v", g, err)
	}
	if err := GlobalPool(x, 2, 6, true, g); err != nil || g[0] != 5 || g[1] != 9 {
		t.Fatalf("global max %v %v", g, err)
	}
	// 1-D pool
	p1 := PoolParams{N: 1, C: 1, In: []int{5}, Kernel: []int{2}, Strides: []int{2}, CeilMode: true}
	o1 := make([]float32, 3)
	if err := AveragePool(p1, []float32{1, 2, 3, 4, 5}, o1); err != nil || !equalF(o1, []float32{1.5, 3.5, 5}) {
		t.Fatalf("1-D avg ceil: %v %v", o1, err)
	}
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}
