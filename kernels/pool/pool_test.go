package pool

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func TestPool(t *testing.T) {
	cases := []ref.PoolParams{
		{N: 2, C: 3, In: []int{7, 9}, Kernel: []int{3, 3}, Strides: []int{2, 2}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}},
		{N: 1, C: 2, In: []int{8, 5}, Kernel: []int{2, 3}, Strides: []int{2, 1}, PadsBegin: []int{0, 1}, PadsEnd: []int{0, 1}, CeilMode: true},
		{N: 1, C: 2, In: []int{9, 9}, Kernel: []int{3, 2}, Strides: []int{3, 2}, Dilations: []int{2, 2}, PadsBegin: []int{2, 0}, PadsEnd: []int{1, 1}, CeilMode: true},
		{N: 1, C: 3, In: []int{6, 7}, Kernel: []int{3, 3}, Strides: []int{1, 1}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}, CountIncludePad: true},
		{N: 1, C: 2, In: []int{7, 8}, Kernel: []int{3, 3}, Strides: []int{2, 2}, PadsBegin: []int{1, 1}, PadsEnd: []int{2, 1}, CeilMode: true, CountIncludePad: true},
		{N: 2, C: 2, In: []int{17}, Kernel: []int{4}, Strides: []int{3}, PadsBegin: []int{2}, PadsEnd: []int{1}},
	}
	cfgs := []kernels.Config{{Threads: 64, ThreadM: 1, TileM: 64}, {Threads: 32, ThreadM: 3, TileM: 96}}
	for ci, pp := range cases {
		x := kerneltest.Rand(pp.N*pp.C*prod(pp.In), uint64(ci+1), -3, 3)
		oshape, err := ref.PoolOutShape(pp)
		if err != nil {
			t.Fatal(err)
		}
		n := prod(oshape)
		for _, isMax := range []bool{true, false} {
			want := make([]float32, n)
			if isMax {
				err = ref.MaxPool(pp, x, want, nil)
			} else {
				err = ref.AveragePool(pp, x, want)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, cfg := range cfgs {
				in, err := Build(Params{PoolParams: pp, Max: isMax}, cfg, kir.Target{})
				if err != nil {
					t.Fatal(err)
				}
				out, err := kerneltest.Run(in, kerneltest.Buffers{"x": x, "y": n})
				if err != nil {
					t.Fatal(err)
				}
				if e := kerneltest.RelErr(kerneltest.F32(out["y"]), want); e > 1e-6 {
					t.Errorf("case %d max %v cfg %v: rel err %g", ci, isMax, cfg, e)
				}
			}
		}
	}
}

func TestGlobalPool(t *testing.T) {
	nc, sp := 6, 49
	x := kerneltest.Rand(nc*sp, 3, -2, 2)
	for _, isMax := range []bool{false, true} {
		want := make([]float32, nc)
		if err := ref.GlobalPool(x, nc, sp, isMax, want); err != nil {
			t.Fatal(err)
		}
		p := GlobalParams{NC: nc, Spatial: sp, Max: isMax}
		for _, cfg := range GlobalConfigs(p)[:3] {
			in, err := BuildGlobal(p, cfg, kir.Target{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := kerneltest.Run(in, kerneltest.Buffers{"x": x, "y": nc})
			if err != nil {
				t.Fatal(err)
			}
			if e := kerneltest.RelErr(kerneltest.F32(out["y"]), want); e > 1e-6 {
				t.Errorf("max %v cfg %v: rel err %g", isMax, cfg, e)
			}
		}
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	pp := ref.PoolParams{N: 2, C: 8, In: []int{12, 12}, Kernel: []int{3, 3}, Strides: []int{1, 1}, PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}}
	in, err := Build(Params{PoolParams: pp}, kernels.Config{Threads: 32, ThreadM: 1, TileM: 32}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"x": kerneltest.Rand(2*8*144, 1, -1, 1), "y": 2 * 8 * 144}
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
	cfg := kernels.Config{Threads: 32, ThreadM: 1, TileM: 32}
	for i, pp := range []ref.PoolParams{
		{N: 1, C: 1, In: []int{3, 3, 3}, Kernel: []int{1, 1, 1}},
		{N: 1, C: 1, In: []int{3, 3}, Kernel: []int{5, 5}},
	} {
		if _, err := Build(Params{PoolParams: pp}, cfg, kir.Target{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
