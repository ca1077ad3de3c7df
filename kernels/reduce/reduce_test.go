package reduce

import (
	"fmt"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func run(t *testing.T, p Params, cfg kernels.Config, x []float32, outWords int) []uint32 {
	t.Helper()
	in, err := Build(p, cfg, kir.Target{Arch: "sm_90"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := kerneltest.Run(in, kerneltest.Buffers{"x": x, "y": outWords})
	if err != nil {
		t.Fatal(err)
	}
	return out["y"]
}

var cfgs = []kernels.Config{
	{Threads: 64, TileN: 1, TileM: 64},
	{Threads: 64, TileN: 8, TileM: 5},
	{Threads: 96, TileN: 32, TileM: 7},
	{Threads: 128, TileN: 128, TileM: 2},
}

func TestReduceOps(t *testing.T) {
	shapes := []struct {
		shape []int
		axes  []int
	}{
		{[]int{3, 5, 37}, []int{2}},       // innermost
		{[]int{3, 37, 5}, []int{1}},       // middle
		{[]int{4, 3, 6, 5}, []int{0, 2}},  // non-contiguous set
		{[]int{2, 1, 9, 11}, []int{2, 3}}, // global-pool-like, size-1 dim
		{[]int{7, 13}, nil},               // all axes
		{[]int{5, 3, 1}, []int{2}},        // size-1 reduced axis
		{[]int{2, 300}, []int{1}},         // long rows
	}
	ops := []ref.ReduceOp{ref.ReduceSum, ref.ReduceMean, ref.ReduceMax, ref.ReduceMin, ref.ReduceProd,
		ref.ReduceL1, ref.ReduceL2, ref.ReduceSumSquare, ref.ReduceLogSum, ref.ReduceLogSumExp}
	for si, s := range shapes {
		x := kerneltest.Rand(eltwise.Prod(s.shape), uint64(si+1), -2, 2)
		for oi, op := range ops {
			xin := x
			if op == ref.ReduceLogSum || op == ref.ReduceProd {
				xin = kerneltest.Rand(len(x), uint64(si+1), 0.5, 1.5)
			}
			want, err := ref.Reduce(op, xin, s.shape, s.axes)
			if err != nil {
				t.Fatal(err)
			}
			cfg := cfgs[(si+oi)%len(cfgs)]
			got := kerneltest.F32(run(t, Params{Op: op, Shape: s.shape, Axes: s.axes}, cfg, xin, len(want)))
			if e := kerneltest.RelErr(got, want); e > 1e-5 {
				t.Errorf("op %d shape %v axes %v cfg %v: rel err %g\n got %v\nwant %v", op, s.shape, s.axes, cfg, e, got, want)
			}
		}
	}
}

func TestAllConfigs(t *testing.T) {
	shape, axes := []int{5, 67, 3}, []int{1}
	x := kerneltest.Rand(eltwise.Prod(shape), 9, -1, 1)
	want, _ := ref.Reduce(ref.ReduceMean, x, shape, axes)
	p := Params{Op: ref.ReduceMean, Shape: shape, Axes: axes}
	for _, cfg := range append(Configs(p), cfgs...) {
		got := kerneltest.F32(run(t, p, cfg, x, len(want)))
		if e := kerneltest.RelErr(got, want); e > 1e-5 {
			t.Errorf("cfg %v: rel err %g", cfg, e)
		}
	}
}

func TestArg(t *testing.T) {
	shape := []int{4, 29, 3}
	x := kerneltest.Rand(eltwise.Prod(shape), 3, -2, 2)
	for i := range x { // ties
		x[i] = float32(math.Round(float64(x[i] * 2)))
	}
	for _, axis := range []int{0, 1, 2} {
		for _, isMax := range []bool{true, false} {
			for _, last := range []bool{false, true} {
				want, err := ref.ArgReduce(x, shape, axis, isMax, last)
				if err != nil {
					t.Fatal(err)
				}
				p := Params{Shape: shape, Axes: []int{axis}, Arg: true, ArgMax: isMax, SelectLast: last}
				cfg := cfgs[(axis*4+len(fmt.Sprint(isMax, last)))%len(cfgs)]
				got := kerneltest.I64(run(t, p, cfg, x, 2*len(want)))
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("axis %d max %v last %v cfg %v: [%d] = %d, want %d", axis, isMax, last, cfg, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	shape := []int{120, 40}
	p := Params{Op: ref.ReduceSum, Shape: shape, Axes: []int{1}}
	in, err := Build(p, kernels.Config{Threads: 64, TileN: 32, TileM: 2}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"x": kerneltest.Rand(4800, 1, -1, 1), "y": 120}
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
	for i, p := range []Params{
		{Shape: []int{3, 4}, Axes: []int{2}},
		{Shape: []int{3, 4}, Axes: []int{1, 1}},
		{Shape: []int{3, 4}, Axes: []int{0, 1}, Arg: true},
		{Shape: []int{3, 0}, Axes: []int{1}, Op: ref.ReduceMax},
	} {
		if _, err := Build(p, cfg, kir.Target{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if _, err := Build(Params{Shape: []int{3, 4}, Axes: []int{1}}, kernels.Config{Threads: 64, TileN: 48, TileM: 1}, kir.Target{}); err == nil {
		t.Error("group of 48 accepted")
	}
}
