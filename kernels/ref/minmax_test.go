package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refMinMax is the scalar Max/Min of the Max and Min ops: NaN in either operand gives NaN.
func refMinMax(op BinaryOp, x, y float32) float32 {
	if x != x || y != y {
		return float32(math.NaN())
	}
	if op == Max {
		return max(x, y)
	}
	return min(x, y)
}

func sameF(a, b float32) bool { return a == b || (a != a && b != b) }

// TestMaxMinVector checks the vector Max/Min (vector-vector, vector-scalar, scalar-vector
// through BinaryInto) against the scalar definition on every length up to 70, with NaNs in
// either operand.
func TestMaxMinVector(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nan := float32(math.NaN())
	for n := 1; n <= 70; n++ {
		x, y := randVec(r, n), randVec(r, n)
		x[r.IntN(n)] = nan
		y[r.IntN(n)] = nan
		for _, op := range []BinaryOp{Max, Min} {
			got, _, err := Binary(op, x, []int{n}, y, []int{n})
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if want := refMinMax(op, x[i], y[i]); !sameF(got[i], want) {
					t.Fatalf("%v n=%d i=%d: %v want %v", op, n, i, got[i], want)
				}
			}
			s := float32(-0.4)
			for _, swap := range []bool{false, true} {
				a, as, b, bs := x, []int{1, n}, []float32{s}, []int{1, 1}
				if swap {
					a, as, b, bs = b, bs, a, as
				}
				got, shape, err := Binary(op, a, as, b, bs)
				if err != nil || len(shape) != 2 || shape[1] != n {
					t.Fatalf("%v scalar: shape %v, %v", op, shape, err)
				}
				for i := range got {
					if want := refMinMax(op, x[i], s); !sameF(got[i], want) {
						t.Fatalf("%v scalar n=%d i=%d swap=%v: %v want %v", op, n, i, swap, got[i], want)
					}
				}
			}
			got, _, _ = Binary(op, x, []int{n}, []float32{nan}, []int{1})
			for i := range got {
				if got[i] == got[i] {
					t.Fatalf("%v with a NaN scalar gave %v at %d", op, got[i], i)
				}
			}
		}
	}
}

// TestBoundedActivation checks an activation followed by a Max/Min with constants
// (Activation.Bounded) on the vector and the plain paths.
func TestBoundedActivation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	inf := float32(math.Inf(1))
	for _, a := range []Activation{
		{Op: LeakyRelu, Alpha: 0.2, Bounded: true, Lo: -0.4, Hi: inf},
		{Op: Identity, Bounded: true, Lo: -inf, Hi: 0.3},
		{Op: Relu, Bounded: true, Lo: 0.5, Hi: 2},
		{Op: Clip, Alpha: -1, Beta: 1, Bounded: true, Lo: -2, Hi: 0.25},
		{Op: Clip, Alpha: -1, Beta: 1, Bounded: true, Lo: 3, Hi: 4},
		{Op: HardSwish, Bounded: true, Lo: -0.1, Hi: 0.5},
		{Op: Tanh, Bounded: true, Lo: -0.5, Hi: inf},
	} {
		x := randVec(r, 37)
		got := append([]float32{}, x...)
		a.apply(got)
		want := append([]float32{}, x...)
		if a.Op != Identity {
			unaryRange(UnaryParams{Op: a.Op, Alpha: a.Alpha, Beta: a.Beta}, want, want)
		}
		for i := range want {
			want[i] = min(max(want[i], a.Lo), a.Hi)
		}
		relErr(t, fmt.Sprintf("bounded %+v", a), got, want, 1e-6)
	}
}

// TestMaxPoolPairsNaN checks that the pair max pool keeps a NaN from any of its four inputs.
func TestMaxPoolPairsNaN(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const ow = 19
	for pos := 0; pos < 4*ow; pos++ {
		src := randVec(r, 2*2*ow)
		src[(pos/(2*ow))*2*ow+pos%(2*ow)] = float32(math.NaN())
		dst := make([]float32, ow)
		maxPoolPairs(src, dst, 2*ow, 1, ow, 2, 2)
		for j, v := range dst {
			want := max(src[2*j], src[2*j+1], src[2*ow+2*j], src[2*ow+2*j+1])
			if !sameF(v, want) {
				t.Fatalf("NaN at %d: output %d is %v, want %v", pos, j, v, want)
			}
		}
	}
}
