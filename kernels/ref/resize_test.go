package ref

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestResizeNearest(t *testing.T) {
	x := []float32{1, 2, 3, 4} // [1,1,2,2]
	p := ResizeParams{Mode: "nearest", CoordMode: "asymmetric", NearestMode: "floor", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 1, 4, 4}}
	got, err := Resize(x, []int{1, 1, 2, 2}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	if !equalF(got, want) {
		t.Fatalf("nearest x2: %v", got)
	}
	// downsample 1-D, half_pixel + round_prefer_floor: in 5 -> out 2 (scale 0.4):
	// x = (j+0.5)/0.4-0.5 -> 0.75, 3.25 -> 1, 3
	p = ResizeParams{Mode: "nearest", Scales: []float32{0.4}, OutShape: []int{2}}
	got, _ = Resize([]float32{10, 11, 12, 13, 14}, []int{5}, p)
	if !equalF(got, []float32{11, 13}) {
		t.Fatalf("nearest down: %v", got)
	}
	// round_prefer_ceil vs floor on exact halves: asymmetric scale 2/3? use x=0.5 via in 2 -> out 4 half_pixel:
	// x = (j+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25
	for _, tc := range []struct {
		mode string
		want []float32
	}{{"round_prefer_floor", []float32{0, 0, 1, 1}}, {"ceil", []float32{0, 1, 1, 1}}, {"floor", []float32{0, 0, 0, 1}}} {
		p = ResizeParams{Mode: "nearest", NearestMode: tc.mode, Scales: []float32{2}, OutShape: []int{4}}
		got, _ = Resize([]float32{0, 1}, []int{2}, p)
		if !equalF(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.mode, got, tc.want)
		}
	}
	// tf_half_pixel_for_nn with ties: x = (j+0.5)/1.5 over in 2 -> out 3: 0.333, 1, 1.667
	p = ResizeParams{Mode: "nearest", CoordMode: "tf_half_pixel_for_nn", Scales: []float32{1.5}, OutShape: []int{3}}
	got, _ = Resize([]float32{5, 6}, []int{2}, p)
	if !equalF(got, []float32{5, 6, 6}) {
		t.Fatalf("tf_half_pixel_for_nn %v", got)
	}
	// integers through the generic path
	gi, err := ResizeNearest([]int64{7, 8}, []int{2}, ResizeParams{Scales: []float32{2}, OutShape: []int{4}, CoordMode: "asymmetric", NearestMode: "floor"})
	if err != nil || gi[1] != 7 || gi[2] != 8 {
		t.Fatalf("int nearest %v %v", gi, err)
	}
}

// naiveBilinear: direct 2-D formula with ORT's clamping.
func naiveBilinear(x []float32, h, w, oh, ow int, coord func(o, in, out int, scale float32) float32, sh, sw float32) []float32 {
	out := make([]float32, oh*ow)
	for y := 0; y < oh; y++ {
		fy := coord(y, h, oh, sh)
		fy = float32(math.Max(0, math.Min(float64(fy), float64(h-1))))
		y0 := int(fy)
		y1 := min(y0+1, h-1)
		ly := fy - float32(y0)
		for xx := 0; xx < ow; xx++ {
			fx := coord(xx, w, ow, sw)
			fx = float32(math.Max(0, math.Min(float64(fx), float64(w-1))))
			x0 := int(fx)
			x1 := min(x0+1, w-1)
			lx := fx - float32(x0)
			v := (1-ly)*((1-lx)*x[y0*w+x0]+lx*x[y0*w+x1]) + ly*((1-lx)*x[y1*w+x0]+lx*x[y1*w+x1])
			out[y*ow+xx] = v
		}
	}
	return out
}

func TestResizeLinear(t *testing.T) {
	x := randSlice(newRand(11), 5*7)
	for _, tc := range []struct {
		mode   string
		f      func(o, in, out int, s float32) float32
		oh, ow int
	}{
		{"half_pixel", func(o, in, out int, s float32) float32 { return (float32(o)+0.5)/s - 0.5 }, 9, 4},
		{"asymmetric", func(o, in, out int, s float32) float32 { return float32(o) / s }, 10, 14},
		{"align_corners", func(o, in, out int, s float32) float32 {
			return float32(o) * float32(in-1) / float32(out-1)
		}, 8, 3},
		{"pytorch_half_pixel", func(o, in, out int, s float32) float32 { return (float32(o)+0.5)/s - 0.5 }, 3, 11},
	} {
		sh, sw := float32(tc.oh)/5, float32(tc.ow)/7
		want := naiveBilinear(x, 5, 7, tc.oh, tc.ow, tc.f, sh, sw)
		p := ResizeParams{Mode: "linear", CoordMode: tc.mode, Scales: []float32{1, 1, sh, sw}, OutShape: []int{1, 1, tc.oh, tc.ow}}
		got, err := Resize(x, []int{1, 1, 5, 7}, p)
		if err != nil {
			t.Fatal(err)
		}
		relErr(t, "linear "+tc.mode, got, want, 1e-6)
	}
	if _, err := Resize(x, []int{1, 1, 5, 7}, ResizeParams{Mode: "linear", CoordMode: "bogus", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 1, 10, 14}}); err == nil {
		t.Fatal("bogus mode: no error")
	}
}

func TestResizeCubic(t *testing.T) {
	// upsampling a linear ramp with cubic (a=-0.75, weights sum to 1) reproduces the ramp
	// away from the borders; check interior points of asymmetric x2.
	x := []float32{0, 1, 2, 3, 4, 5, 6, 7}
	p := ResizeParams{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75, Scales: []float32{2}, OutShape: []int{16}}
	got, err := Resize(x, []int{8}, p)
	if err != nil {
		t.Fatal(err)
	}
	for j := 2; j < 12; j++ {
		if math.Abs(float64(got[j])-float64(j)/2) > 1e-5 {
			t.Fatalf("cubic ramp at %d: %v, want %v", j, got[j], float64(j)/2)
		}
	}
	// hand value: t=0.5 weights with a=-0.75 are [-0.09375, 0.59375, 0.59375, -0.09375]
	y := []float32{1, 0, 0, 0}
	p = ResizeParams{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75, Scales: []float32{2}, OutShape: []int{8}}
	got, _ = Resize(y, []int{4}, p)
	// out[3]: x=1.5 -> taps 0..3 with weights above -> -0.09375*1
	if math.Abs(float64(got[3])+0.09375) > 1e-6 {
		t.Fatalf("cubic hand value %v", got[3])
	}
}

func TestCastHalf(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {5.9604645e-08, 0x0001},
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00} /* tie to even */, {1.00146484375, 0x3c02}, /* tie to even up */
		{float32(math.Inf(-1)), 0xfc00}, {0, 0},
	} {
		if got := F32ToF16(tc.f); got != tc.h {
			t.Errorf("F32ToF16(%v) = %#x, want %#x", tc.f, got, tc.h)
		}
		if tc.h != 0x7c00 && F16ToF32(tc.h) != tc.f && tc.f != 1.00048828125 && tc.f != 1.00146484375 {
			t.Errorf("F16ToF32(%#x) = %v, want %v", tc.h, F16ToF32(tc.h), tc.f)
		}
	}
	if v := F16ToF32(0x0001); v != 5.9604645e-08 {
		t.Errorf("subnormal %v", v)
	}
	if F16ToF32(F32ToF16(float32(math.NaN()))) == F16ToF32(F32ToF16(float32(math.NaN()))) {
		t.Error("NaN did not stay NaN")
	}
	if F32ToBF16(1) != 0x3f80 || F32ToBF16(1.00390625) != 0x3f80 || F32ToBF16(1.01171875) != 0x3f82 || BF16ToF32(0x3f80) != 1 {
		t.Errorf("bfloat16: %#x %#x %#x", F32ToBF16(1), F32ToBF16(1.00390625), F32ToBF16(1.01171875))
	}
	src := tensor.FromFloat32([]int{4}, []float32{-1.7, 0, 2.9, 300})
	for _, tc := range []struct {
		to   tensor.DType
		want any
	}{
		{tensor.Int64, []int64{-1, 0, 2, 300}},
		{tensor.Int32, []int32{-1, 0, 2, 300}},
		{tensor.Bool, []bool{true, false, true, true}},
		{tensor.Float64, []float64{float64(float32(-1.7)), 0, float64(float32(2.9)), 300}},
	} {
		c, err := Cast(src, tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if c.DType != tc.to || !sameAny(c.Data, tc.want) {
			t.Errorf("cast to %v: %v", tc.to, c.Data)
		}
	}
	h, _ := Cast(src, tensor.Float16)
	back, _ := Cast(h, tensor.Float32)
	relErr(t, "f16 round trip", back.Float32s(), []float32{-1.7, 0, 2.9, 300}, 1e-3)
	b, _ := Cast(tensor.FromBool([]int{2}, []bool{true, false}), tensor.Float32)
	if !equalF(b.Float32s(), []float32{1, 0}) {
		t.Errorf("bool to float %v", b.Data)
	}
}

func sameAny(a, b any) bool {
	switch x := a.(type) {
	case []int64:
		y := b.([]int64)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case []int32:
		y := b.([]int32)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case []bool:
		y := b.([]bool)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case []float64:
		y := b.([]float64)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	}
	return true
}
