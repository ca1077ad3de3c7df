package ref

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestVecHelpers checks the vector loops against scalar loops on every length up to 70
// (bulk plus tail) and unaligned starts.
func TestVecHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 140; n++ {
		for _, off := range []int{0, 3} {
			x, y := randVec(r, n+off)[off:], randVec(r, n+off)[off:]
			got := append([]float32{}, y...)
			axpy(0.75, x, got)
			for i := range y {
				if want := y[i] + 0.75*x[i]; math.Abs(float64(got[i]-want)) > 1e-6 {
					t.Fatalf("axpy n=%d i=%d: %v want %v", n, i, got[i], want)
				}
			}
			got = append([]float32{}, x...)
			clampAdd(got, 0.5, 0, 1)
			for i := range x {
				want := x[i] + 0.5
				if want < 0 {
					want = 0
				} else if want > 1 {
					want = 1
				}
				if got[i] != want {
					t.Fatalf("clampAdd n=%d i=%d: %v want %v", n, i, got[i], want)
				}
			}
			var wantDot float64
			for i := range x {
				wantDot += float64(x[i]) * float64(y[i])
			}
			if d := dot(x, y); math.Abs(float64(d)-wantDot) > 1e-4 {
				t.Fatalf("dot n=%d: %v want %v", n, d, wantDot)
			}
			got = make([]float32, n)
			scaleShift(x, got, 2, -1)
			for i := range x {
				if want := x[i]*2 - 1; math.Abs(float64(got[i]-want)) > 1e-6 {
					t.Fatalf("scaleShift n=%d i=%d: %v want %v", n, i, got[i], want)
				}
			}
			for _, op := range []BinaryOp{Add, Sub, Mul, Div} {
				want := make([]float32, n)
				for i := range want {
					switch op {
					case Add:
						want[i] = x[i] + y[i]
					case Sub:
						want[i] = x[i] - y[i]
					case Mul:
						want[i] = x[i] * y[i]
					case Div:
						want[i] = x[i] / y[i]
					}
				}
				got := make([]float32, n)
				if !vecVV(op, x, y, got) || !exactF(got, want) {
					t.Fatalf("vecVV %v n=%d: %v want %v", op, n, got, want)
				}
				s := float32(1.5)
				for i := range want {
					switch op {
					case Add:
						want[i] = x[i] + s
					case Sub:
						want[i] = x[i] - s
					case Mul:
						want[i] = x[i] * s
					case Div:
						want[i] = x[i] / s
					}
				}
				if !vecVS(op, x, s, got) || !exactF(got, want) {
					t.Fatalf("vecVS %v n=%d: %v want %v", op, n, got, want)
				}
			}
		}
	}
	nan := []float32{float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7}
	clampAdd(nan, 0, 0, 6)
	if !math.IsNaN(float64(nan[0])) {
		t.Fatalf("clampAdd lost a NaN: %v", nan)
	}
}

func exactF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBiasActTo checks the vectorised activations against unaryRange (the scalar reference)
// applied to x+b.
func TestBiasActTo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	acts := []Activation{{Op: Identity}, {Op: Relu}, {Op: Clip, Alpha: -0.5, Beta: 0.7}, {Op: LeakyRelu, Alpha: 0.1},
		{Op: HardSigmoid, Alpha: 0.2, Beta: 0.5}, {Op: HardSwish}}
	for _, act := range acts {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 100} {
			x := randVec(r, n)
			for i := range x {
				x[i] *= 4
			}
			want := make([]float32, n)
			for i := range x {
				want[i] = x[i] + 0.25
			}
			unaryRange(UnaryParams{Op: act.Op, Alpha: act.Alpha, Beta: act.Beta}, want, want)
			got := make([]float32, n)
			if !biasActTo(act, x, got, 0.25) {
				if haveFMA {
					t.Fatalf("%v: no vector path", act.Op)
				}
				continue
			}
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-6 {
					t.Fatalf("%v n=%d i=%d: %v want %v", act.Op, n, i, got[i], want[i])
				}
			}
		}
	}
}
