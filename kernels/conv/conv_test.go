package conv

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

var (
	cfg64  = kernels.Config{Threads: 256, TileM: 64, TileN: 64, TileK: 8, ThreadM: 4, ThreadN: 4, Vec: 4}
	cfg32  = kernels.Config{Threads: 64, TileM: 32, TileN: 32, TileK: 16, ThreadM: 4, ThreadN: 4, Vec: 4}
	cfgV1  = kernels.Config{Threads: 64, TileM: 16, TileN: 32, TileK: 8, ThreadM: 2, ThreadN: 4, Vec: 1}
	cfgOdd = kernels.Config{Threads: 64, TileM: 24, TileN: 16, TileK: 6, ThreadM: 3, ThreadN: 2, Vec: 2}
	dw128  = kernels.Config{Threads: 128, TileM: 8, TileN: 32, ThreadM: 2, Vec: 1}
	dw64   = kernels.Config{Threads: 64, TileM: 8, TileN: 8, ThreadM: 1, Vec: 1}
	dwOdd  = kernels.Config{Threads: 60, TileM: 9, TileN: 20, ThreadM: 3, Vec: 1}
)

// cp builds 2-D ConvParams: k kernel, s stride, pb/pe pads (begin/end, both axes), d dilation.
func cp(n, c, m, group, h, w, k, s, pb, pe, d int) ref.ConvParams {
	return ref.ConvParams{N: n, C: c, M: m, Group: group, In: []int{h, w}, Kernel: []int{k, k},
		Strides: []int{s, s}, Dilations: []int{d, d}, PadsBegin: []int{pb, pb}, PadsEnd: []int{pe, pe}, Workers: 1}
}

func checkConv(t *testing.T, p Params, cfg kernels.Config, r *rand.Rand) {
	t.Helper()
	in, err := Build(p, cfg, kir.Target{Arch: "sm_80"})
	if err != nil {
		t.Fatal(err)
	}
	oshape, err := ref.ConvOutShape(p.ConvParams)
	if err != nil {
		t.Fatal(err)
	}
	ksz := 1
	for _, k := range p.Kernel {
		ksz *= k
	}
	insz := p.N * p.C
	for _, v := range p.In {
		insz *= v
	}
	x, w := kerneltest.Normal(r, insz), kerneltest.Normal(r, p.M*p.C/p.Group*ksz)
	n := 1
	for _, v := range oshape {
		n *= v
	}
	bufs := kerneltest.Buffers{"x": x, "w": w, "y": n}
	var bias []float32
	if p.Bias {
		bias = kerneltest.Normal(r, p.M)
		bufs["bias"] = bias
	}
	want := make([]float32, n)
	if err := ref.Conv(p.ConvParams, x, w, bias, want); err != nil {
		t.Fatal(err)
	}
	got := kerneltest.RunF32(t, in, bufs, "y")
	if e := kerneltest.RelErr(got, want); e > 1e-5 {
		t.Fatalf("%s: relative error %.3g", in.Name, e)
	}
}

func TestImplicitGemmConv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	relu := ref.Activation{Op: ref.Relu}
	oneD := ref.ConvParams{N: 2, C: 4, M: 6, Group: 1, In: []int{20}, Kernel: []int{5}, Strides: []int{2},
		Dilations: []int{2}, PadsBegin: []int{3}, PadsEnd: []int{1}}
	asym := cp(1, 3, 8, 1, 13, 10, 3, 2, 0, 0, 1)
	asym.PadsBegin, asym.PadsEnd = []int{1, 0}, []int{0, 2}
	cases := []struct {
		name string
		p    Params
	}{
		{"3x3_pad1_batch2", Params{ConvParams: cp(2, 5, 7, 1, 9, 11, 3, 1, 1, 1, 1)}},
		{"groups2_bias_relu", Params{ConvParams: withAct(cp(1, 8, 6, 2, 8, 8, 3, 1, 1, 1, 1), relu), Bias: true}},
		{"stride2_asym_pads", Params{ConvParams: asym, Bias: true}},
		{"dilation2", Params{ConvParams: cp(1, 4, 4, 1, 10, 10, 3, 1, 2, 2, 2)}},
		{"1x1_pointwise_vec", Params{ConvParams: withAct(cp(2, 16, 12, 1, 6, 8, 1, 1, 0, 0, 1), ref.Activation{Op: ref.HardSwish}), Bias: true}},
		{"1x1_odd_pixels", Params{ConvParams: cp(1, 5, 9, 1, 5, 7, 1, 1, 0, 0, 1)}},
		{"1x1_stride2", Params{ConvParams: cp(1, 8, 8, 1, 7, 7, 1, 2, 0, 0, 1)}},
		{"7x7s2_stem", Params{ConvParams: withAct(cp(1, 3, 8, 1, 16, 16, 7, 2, 3, 3, 1), ref.Activation{Op: ref.Clip, Alpha: 0, Beta: 6}), Bias: true}},
		{"1d", Params{ConvParams: oneD, Bias: true}},
		{"depthwise_as_gemm", Params{ConvParams: cp(1, 6, 6, 6, 9, 9, 3, 2, 1, 1, 1), Bias: true}},
		{"channel_multiplier", Params{ConvParams: cp(1, 4, 8, 4, 7, 7, 3, 1, 1, 1, 1)}},
	}
	for _, cfg := range []kernels.Config{cfg32, cfgV1, cfgOdd} {
		for _, c := range cases {
			t.Run(c.name+"_"+cfg.String(), func(t *testing.T) { checkConv(t, c.p, cfg, r) })
		}
	}
	t.Run("big_tile", func(t *testing.T) {
		checkConv(t, Params{ConvParams: cp(1, 8, 70, 1, 9, 9, 3, 1, 1, 1, 1), Bias: true}, cfg64, r)
	})
}

func withAct(p ref.ConvParams, a ref.Activation) ref.ConvParams {
	p.Act = a
	return p
}

func TestDepthwiseConv(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	relu6 := ref.Activation{Op: ref.Clip, Alpha: 0, Beta: 6}
	oneD := ref.ConvParams{N: 1, C: 5, M: 5, Group: 5, In: []int{30}, Kernel: []int{3}, Strides: []int{1},
		PadsBegin: []int{1}, PadsEnd: []int{1}}
	cases := []struct {
		name string
		p    Params
	}{
		{"3x3_s1", Params{ConvParams: cp(1, 6, 6, 6, 12, 13, 3, 1, 1, 1, 1)}},
		{"3x3_s2_bias_relu6", Params{ConvParams: withAct(cp(2, 4, 4, 4, 10, 11, 3, 2, 1, 1, 1), relu6), Bias: true}},
		{"3x3_s2_nopad", Params{ConvParams: cp(1, 3, 3, 3, 11, 9, 3, 2, 0, 0, 1)}},
		{"3x3_dilation2", Params{ConvParams: cp(1, 3, 3, 3, 12, 12, 3, 1, 2, 2, 2)}},
		{"5x5_s1", Params{ConvParams: withAct(cp(1, 2, 2, 2, 17, 40, 5, 1, 2, 2, 1), ref.Activation{Op: ref.HardSwish}), Bias: true}},
		{"1d", Params{ConvParams: oneD, Bias: true}},
	}
	for _, cfg := range []kernels.Config{dw128, dw64, dwOdd} {
		for _, c := range cases {
			t.Run(c.name+"_"+cfg.String(), func(t *testing.T) { checkConv(t, c.p, cfg, r) })
		}
	}
}

// Every config Configs offers builds and is correct (a MobileNet-like depthwise layer and a
// regular one).
func TestConfigsRun(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range []ref.ConvParams{cp(1, 8, 8, 8, 14, 14, 3, 1, 1, 1, 1), cp(1, 16, 24, 1, 6, 6, 3, 1, 1, 1, 1)} {
		cs := Configs(p)
		if len(cs) == 0 {
			t.Fatalf("no configs for %+v", p)
		}
		if Depthwise(p) && cs[0].TileK != 0 {
			t.Errorf("depthwise layer: first config %s is not the direct template", cs[0])
		}
		for _, cfg := range cs {
			t.Run(fmt.Sprint(p.Group, cfg), func(t *testing.T) { checkConv(t, Params{ConvParams: p, Bias: true}, cfg, r) })
		}
	}
}

func TestConvMaskAndResumeBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, tc := range []struct {
		p   Params
		cfg kernels.Config
	}{
		{Params{ConvParams: cp(1, 16, 16, 16, 80, 80, 3, 1, 1, 1, 1), Bias: true}, dw64},
		{Params{ConvParams: cp(1, 4, 16, 1, 80, 80, 3, 1, 1, 1, 1), Bias: true}, cfgV1},
	} {
		in, err := Build(tc.p, tc.cfg, kir.Target{})
		if err != nil {
			t.Fatal(err)
		}
		bufs := kerneltest.Buffers{"x": kerneltest.Normal(r, tc.p.C*80*80), "w": kerneltest.Normal(r, tc.p.M*tc.p.C/tc.p.Group*9),
			"bias": kerneltest.Normal(r, tc.p.M), "y": tc.p.M * 80 * 80}
		kerneltest.CheckMaskAndResume(t, in, bufs, "y", []int{0, 2}, 2)
	}
}

func TestConvErrors(t *testing.T) {
	p3 := ref.ConvParams{N: 1, C: 2, M: 2, Group: 1, In: []int{4, 4, 4}, Kernel: []int{3, 3, 3}}
	if _, err := Build(Params{ConvParams: p3}, cfg32, kir.Target{}); err == nil || !strings.Contains(err.Error(), "3-D") {
		t.Errorf("3-D conv: %v", err)
	}
	if _, err := Build(Params{ConvParams: cp(1, 4, 8, 1, 8, 8, 3, 1, 1, 1, 1)}, dw64, kir.Target{}); err == nil {
		t.Error("direct depthwise template accepted a dense conv")
	}
	bad := cp(1, 4, 4, 4, 8, 8, 3, 1, 1, 1, 1)
	bad.Act = ref.Activation{Op: ref.Cos}
	if _, err := Build(Params{ConvParams: bad}, dw64, kir.Target{}); err == nil {
		t.Error("cos epilogue accepted")
	}
	if _, err := Build(Params{ConvParams: cp(1, 4, 4, 1, 2, 2, 5, 1, 0, 0, 1)}, cfg32, kir.Target{}); err == nil {
		t.Error("kernel larger than the input accepted")
	}
}

func TestConvWork(t *testing.T) {
	in, err := Build(Params{ConvParams: cp(1, 3, 8, 1, 16, 16, 7, 2, 3, 3, 1), Bias: true}, cfg32, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	if w := in.Work; w.FLOPs != 2*8*64*3*49 || w.BytesWritten != 4*8*64 || w.BytesRead != 4*(3*256+8*3*49+8) {
		t.Errorf("work %+v", w)
	}
	var names []string
	for _, a := range in.Args {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "ctl,trace,x,w,bias,y" {
		t.Errorf("args %s", got)
	}
}
