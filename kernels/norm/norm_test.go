package norm

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

var cfgs = []kernels.Config{
	{Threads: 64, TileN: 1, TileM: 64},
	{Threads: 64, TileN: 8, TileM: 3},
	{Threads: 96, TileN: 32, TileM: 5},
	{Threads: 128, TileN: 128, TileM: 2},
}

func run(t *testing.T, in *kernels.Instance, bufs kerneltest.Buffers) []float32 {
	t.Helper()
	out, err := kerneltest.Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	return kerneltest.F32(out["y"])
}

func TestLayerNorm(t *testing.T) {
	for _, c := range [][2]int{{6, 37}, {3, 1}, {2, 300}, {11, 16}} {
		outer, inner := c[0], c[1]
		x := kerneltest.Rand(outer*inner, 1, -3, 5)
		scale, bias := kerneltest.Rand(inner, 2, 0.5, 1.5), kerneltest.Rand(inner, 3, -1, 1)
		for _, noBias := range []bool{false, true} {
			want := make([]float32, len(x))
			bb := bias
			if noBias {
				bb = nil
			}
			if err := ref.LayerNorm(x, outer, inner, scale, bb, 1e-5, want, nil, nil); err != nil {
				t.Fatal(err)
			}
			for _, cfg := range cfgs {
				in, err := Build(Params{Kind: Layer, Outer: outer, Inner: inner, Eps: 1e-5, NoBias: noBias}, cfg, kir.Target{})
				if err != nil {
					t.Fatal(err)
				}
				bufs := kerneltest.Buffers{"x": x, "scale": scale, "y": len(x)}
				if !noBias {
					bufs["bias"] = bias
				}
				if e := kerneltest.RelErr(run(t, in, bufs), want); e > 1e-5 {
					t.Errorf("layernorm %v nobias %v cfg %v: rel err %g", c, noBias, cfg, e)
				}
			}
		}
	}
}

func TestInstanceAndGroupNorm(t *testing.T) {
	n, c, sp := 2, 6, 15
	x := kerneltest.Rand(n*c*sp, 4, -2, 3)
	scale, bias := kerneltest.Rand(c, 5, 0.5, 1.5), kerneltest.Rand(c, 6, -1, 1)
	want := make([]float32, len(x))
	if err := ref.InstanceNorm(x, n, c, sp, scale, bias, 1e-5, want); err != nil {
		t.Fatal(err)
	}
	wantG := make([]float32, len(x))
	if err := ref.GroupNorm(x, n, c, sp, 3, scale, bias, 1e-5, wantG); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range cfgs {
		for _, k := range []struct {
			p    Params
			want []float32
		}{
			{Params{Kind: Instance, N: n, C: c, Spatial: sp, Eps: 1e-5}, want},
			{Params{Kind: Group, N: n, C: c, Spatial: sp, Groups: 3, Eps: 1e-5}, wantG},
		} {
			in, err := Build(k.p, cfg, kir.Target{})
			if err != nil {
				t.Fatal(err)
			}
			got := run(t, in, kerneltest.Buffers{"x": x, "scale": scale, "bias": bias, "y": len(x)})
			if e := kerneltest.RelErr(got, k.want); e > 1e-5 {
				t.Errorf("kind %d cfg %v: rel err %g", k.p.Kind, cfg, e)
			}
		}
	}
}

func TestBatchNorm(t *testing.T) {
	p := BatchParams{N: 2, C: 5, Spatial: 13, Eps: 1e-3}
	x := kerneltest.Rand(p.N*p.C*p.Spatial, 7, -2, 2)
	scale, bias := kerneltest.Rand(p.C, 8, 0.5, 1.5), kerneltest.Rand(p.C, 9, -1, 1)
	mean, variance := kerneltest.Rand(p.C, 10, -0.5, 0.5), kerneltest.Rand(p.C, 11, 0.1, 2)
	want := make([]float32, len(x))
	if err := ref.BatchNorm(x, p.N, p.C, p.Spatial, scale, bias, mean, variance, p.Eps, want); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range BatchConfigs(p)[:2] {
		in, err := BuildBatch(p, cfg, kir.Target{})
		if err != nil {
			t.Fatal(err)
		}
		got := run(t, in, kerneltest.Buffers{"x": x, "scale": scale, "bias": bias, "mean": mean, "var": variance, "y": len(x)})
		if e := kerneltest.RelErr(got, want); e > 1e-6 {
			t.Errorf("cfg %v: rel err %g", cfg, e)
		}
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	in, err := Build(Params{Kind: Layer, Outer: 90, Inner: 20, Eps: 1e-5}, kernels.Config{Threads: 64, TileN: 16, TileM: 2}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"x": kerneltest.Rand(1800, 1, -1, 1), "scale": kerneltest.Rand(20, 2, 0, 1),
		"bias": kerneltest.Rand(20, 3, 0, 1), "y": 1800}
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
	for i, p := range []Params{{Kind: Group, N: 1, C: 5, Spatial: 3, Groups: 2}, {Kind: Layer}, {Kind: 9, Outer: 1, Inner: 1}} {
		if _, err := Build(p, cfg, kir.Target{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
