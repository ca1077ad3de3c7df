package softmax

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

var cfgs = []kernels.Config{
	{Threads: 64, TileN: 1, TileM: 64},
	{Threads: 64, TileN: 4, TileM: 5},
	{Threads: 96, TileN: 32, TileM: 7},
	{Threads: 128, TileN: 128, TileM: 2},
}

func TestSoftmax(t *testing.T) {
	cases := []struct {
		shape []int
		axis  int
	}{
		{[]int{3, 5, 37}, 2},
		{[]int{3, 37, 5}, 1},
		{[]int{9, 2, 3}, 0},
		{[]int{4, 1}, 1},
		{[]int{2, 300}, 1},
		{[]int{2, 2, 3, 11}, 3},
	}
	for ci, c := range cases {
		n := eltwise.Prod(c.shape)
		x := kerneltest.Rand(n, uint64(ci+1), -8, 8)
		if ci == 0 {
			x[5] = float32(math.Inf(-1)) // a masked position
		}
		for _, log := range []bool{false, true} {
			want := make([]float32, n)
			if err := ref.Softmax(x, c.shape, c.axis, log, want); err != nil {
				t.Fatal(err)
			}
			p := Params{Shape: c.shape, Axis: c.axis, Log: log}
			for i, cfg := range append(cfgs, Configs(p)...) {
				if i%2 == 1 && i > 3 { // keep the run short: every other generated config
					continue
				}
				in, err := Build(p, cfg, kir.Target{Arch: "sm_90"})
				if err != nil {
					t.Fatal(err)
				}
				out, err := kerneltest.Run(in, kerneltest.Buffers{"x": x, "y": n})
				if err != nil {
					t.Fatal(err)
				}
				if e := kerneltest.RelErr(kerneltest.F32(out["y"]), want); e > 1e-5 {
					t.Errorf("shape %v axis %d log %v cfg %v: rel err %g", c.shape, c.axis, log, cfg, e)
				}
			}
		}
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	p := Params{Shape: []int{100, 33}, Axis: 1}
	in, err := Build(p, kernels.Config{Threads: 64, TileN: 16, TileM: 2}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"x": kerneltest.Rand(3300, 2, -4, 4), "y": 3300}
	whole, err := kerneltest.Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	parts, first, err := kerneltest.RunPreempted(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first launch ran %d of %d tiles", first, in.Tiles)
	for i := range whole["y"] {
		if whole["y"][i] != parts["y"][i] {
			t.Fatalf("y[%d] differs after preemption", i)
		}
	}
}

func TestErrors(t *testing.T) {
	cfg := kernels.Config{Threads: 64, TileN: 1, TileM: 64}
	for i, p := range []Params{{Shape: []int{3, 4}, Axis: 2}, {Shape: []int{3, 0}, Axis: 1}, {Shape: []int{3}, Axis: -1}} {
		if _, err := Build(p, cfg, kir.Target{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
