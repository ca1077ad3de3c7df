package attention

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

// naive computes attention in float64 straight from the definition.
func naive(p Params, q, k, v, mask []float32) []float32 {
	B, H, Sq, Sk, D, Dv := p.Batch, p.Heads, p.SeqQ, p.SeqK, p.HeadDim, p.ValDim
	var mst []int
	if mask != nil {
		mst = eltwise.BroadcastStrides(p.Mask, []int{B, H, Sq, Sk})
	}
	out := make([]float32, B*H*Sq*Dv)
	s := make([]float64, Sk)
	for bh := 0; bh < B*H; bh++ {
		for i := 0; i < Sq; i++ {
			mx := math.Inf(-1)
			for j := 0; j < Sk; j++ {
				var d float64
				for c := 0; c < D; c++ {
					d += float64(q[(bh*Sq+i)*D+c]) * float64(k[(bh*Sk+j)*D+c])
				}
				d *= float64(p.scale())
				if mask != nil {
					d += float64(mask[bh/H*mst[0]+bh%H*mst[1]+i*mst[2]+j*mst[3]])
				}
				if p.Causal && j > i+Sk-Sq {
					d = math.Inf(-1)
				}
				s[j] = d
				mx = math.Max(mx, d)
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for c := 0; c < Dv; c++ {
				var a float64
				for j := 0; j < Sk; j++ {
					a += s[j] * float64(v[(bh*Sk+j)*Dv+c])
				}
				out[(bh*Sq+i)*Dv+c] = float32(a / sum)
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	cases := []Params{
		{Batch: 2, Heads: 2, SeqQ: 7, SeqK: 19, HeadDim: 8, ValDim: 8},
		{Batch: 1, Heads: 3, SeqQ: 5, SeqK: 5, HeadDim: 16, ValDim: 8, Mask: []int{1, 1, 1, 5}},
		{Batch: 2, Heads: 1, SeqQ: 9, SeqK: 11, HeadDim: 4, ValDim: 12, Mask: []int{2, 1, 9, 11}, Causal: true},
		{Batch: 1, Heads: 1, SeqQ: 1, SeqK: 33, HeadDim: 6, ValDim: 6, Scale: 0.3},
	}
	for ci, p := range cases {
		n := p.Batch * p.Heads
		q := kerneltest.Rand(n*p.SeqQ*p.HeadDim, 1, -1, 1)
		k := kerneltest.Rand(n*p.SeqK*p.HeadDim, 2, -1, 1)
		v := kerneltest.Rand(n*p.SeqK*p.ValDim, 3, -1, 1)
		var mask []float32
		bufs := kerneltest.Buffers{"q": q, "k": k, "v": v, "y": n * p.SeqQ * p.ValDim}
		if p.Mask != nil {
			mask = kerneltest.Rand(eltwise.Prod(p.Mask), 4, -3, 0)
			mask[1] = float32(math.Inf(-1))
			bufs["mask"] = mask
		}
		want := naive(p, q, k, v, mask)
		cfgs := Configs(p)
		cfgs = append(cfgs, kernels.Config{Threads: 8, ThreadN: 2, TileM: 4, TileN: 3})
		for i, cfg := range cfgs {
			if i%2 == 1 && i != len(cfgs)-1 {
				continue
			}
			in, err := Build(p, cfg, kir.Target{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := kerneltest.Run(in, bufs)
			if err != nil {
				t.Fatal(err)
			}
			if e := kerneltest.RelErr(kerneltest.F32(out["y"]), want); e > 1e-5 {
				t.Errorf("case %d cfg %v: rel err %g", ci, cfg, e)
			}
		}
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	p := Params{Batch: 2, Heads: 4, SeqQ: 20, SeqK: 12, HeadDim: 8, ValDim: 8}
	in, err := Build(p, kernels.Config{Threads: 16, ThreadN: 4, TileM: 4, TileN: 8}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"q": kerneltest.Rand(8*20*8, 1, -1, 1), "k": kerneltest.Rand(8*12*8, 2, -1, 1),
		"v": kerneltest.Rand(8*12*8, 3, -1, 1), "y": 8 * 20 * 8}
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
	p := Params{Batch: 1, Heads: 1, SeqQ: 4, SeqK: 4, HeadDim: 6, ValDim: 6}
	if _, err := Build(p, kernels.Config{Threads: 16, ThreadN: 4, TileM: 4, TileN: 4}, kir.Target{}); err == nil {
		t.Error("ThreadN 4 accepted for head dim 6")
	}
	p.Mask = []int{3, 4}
	if _, err := Build(p, kernels.Config{Threads: 8, ThreadN: 2, TileM: 4, TileN: 4}, kir.Target{}); err == nil {
		t.Error("bad mask accepted")
	}
}
