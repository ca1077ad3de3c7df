package epilogue

import (
	"errors"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Every supported activation, applied by a one-thread-per-element kernel on emu, matches
// kernels/ref over inputs from -20 to 20 (small magnitudes included): within 2e-6 absolute or
// relative per element.
func TestApplyMatchesRef(t *testing.T) {
	var xs []float32
	for x := -20.0; x <= 20; x += 0.173 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, 1e-3, -1e-3, 0.05, -0.06, 0.124, -0.126, 0.49, -0.51, 29, 31, -15.9, -16.1)
	d, err := emu.NewDevice(emu.Config{SMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	acts := []ref.Activation{{Op: ref.Relu}, {Op: ref.LeakyRelu, Alpha: 0.01}, {Op: ref.Clip, Alpha: -1, Beta: 6},
		{Op: ref.Sigmoid}, {Op: ref.HardSigmoid, Alpha: 0.2, Beta: 0.5}, {Op: ref.HardSwish}, {Op: ref.Tanh},
		{Op: ref.Erf}, {Op: ref.Gelu}, {Op: ref.GeluTanh}, {Op: ref.Elu, Alpha: 1.3}, {Op: ref.Selu, Alpha: 1.67, Beta: 1.05},
		{Op: ref.Softplus}, {Op: ref.Softsign}, {Op: ref.Mish}, {Op: ref.ThresholdedRelu, Alpha: 1}}
	for _, act := range acts {
		if err := Check(act); err != nil {
			t.Fatal(err)
		}
		b := kir.NewKernel("act", kir.Target{})
		px, py, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamU32("n")
		i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
		b.If(b.Lt(i, n), func() { b.Store(py, i, Apply(b, act, b.LoadF32(px, i))) })
		k, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		pin, _ := d.AllocF32(xs)
		pout, _ := d.AllocF32(make([]float32, len(xs)))
		if err := d.Launch(k, [3]int{(len(xs) + 63) / 64}, [3]int{64}, 0, pin, pout, uint32(len(xs))); err != nil {
			t.Fatal(err)
		}
		got, _ := d.ReadF32(pout, len(xs))
		want := make([]float32, len(xs))
		if err := ref.Unary(ref.UnaryParams{Op: act.Op, Alpha: act.Alpha, Beta: act.Beta}, xs, want); err != nil {
			t.Fatal(err)
		}
		for j := range xs {
			diff := math.Abs(float64(got[j]) - float64(want[j]))
			if diff > 2e-6 && diff > 2e-6*math.Abs(float64(want[j])) {
				t.Errorf("%s(%v) = %v, ref %v", Name(act), xs[j], got[j], want[j])
			}
		}
	}
}

func TestCheckRejects(t *testing.T) {
	for _, op := range []ref.UnaryOp{ref.Sin, ref.Exp, ref.Round, ref.Shrink} {
		if err := Check(ref.Activation{Op: op}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("op %d: %v", op, err)
		}
	}
}
