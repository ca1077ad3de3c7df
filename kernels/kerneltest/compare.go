package kerneltest

import (
	"math"
	"math/rand/v2"
)

// F32 converts u32 words to float32 values.
func F32(w []uint32) []float32 {
	out := make([]float32, len(w))
	for i, x := range w {
		out[i] = math.Float32frombits(x)
	}
	return out
}

// I64 converts pairs of little-endian u32 words to int64 values.
func I64(w []uint32) []int64 {
	out := make([]int64, len(w)/2)
	for i := range out {
		out[i] = int64(uint64(w[2*i]) | uint64(w[2*i+1])<<32)
	}
	return out
}

// RelErr is ||got-want|| / ||want|| (2-norms, in float64); NaN or Inf in got where want is
// finite, or a length mismatch, gives +Inf. Positions where want is NaN must be NaN in got.
func RelErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) {
			if !math.IsNaN(g) {
				return math.Inf(1)
			}
			continue
		}
		if math.IsInf(w, 0) {
			if g != w {
				return math.Inf(1)
			}
			continue
		}
		d := g - w
		num += d * d
		den += w * w
	}
	if math.IsNaN(num) || math.IsInf(num, 0) {
		return math.Inf(1)
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// MaxAbsErr is max |got-want| (Inf for a length mismatch or NaN where want is not NaN).
func MaxAbsErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		d := math.Abs(g - w)
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

// Rand fills n float32 values in [lo, hi) from a simple deterministic generator.
func Rand(n int, seed uint64, lo, hi float32) []float32 {
	out := make([]float32, n)
	s := seed*6364136223846793005 + 1442695040888963407
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		u := float32(s>>40) / float32(1<<24)
		out[i] = lo + (hi-lo)*u
	}
	return out
}

// Normal draws n float32 values from r's standard normal distribution.
func Normal(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}
