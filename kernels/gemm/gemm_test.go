package gemm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/epilogue"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

var (
	cfg64  = kernels.Config{Threads: 256, TileM: 64, TileN: 64, TileK: 8, ThreadM: 4, ThreadN: 4, Vec: 4}
	cfg32  = kernels.Config{Threads: 64, TileM: 32, TileN: 32, TileK: 16, ThreadM: 4, ThreadN: 4, Vec: 4}
	cfg16  = kernels.Config{Threads: 128, TileM: 16, TileN: 64, TileK: 16, ThreadM: 2, ThreadN: 4, Vec: 4}
	cfgOdd = kernels.Config{Threads: 64, TileM: 24, TileN: 16, TileK: 6, ThreadM: 3, ThreadN: 2, Vec: 2}
	cfgV1  = kernels.Config{Threads: 64, TileM: 16, TileN: 32, TileK: 8, ThreadM: 2, ThreadN: 4, Vec: 1}
)

type gemmCase struct {
	p      Params
	cfg    kernels.Config
	cshape []int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("M%d_N%d_K%d_ta%v_tb%v_c%v_act%d_%s", c.p.M, c.p.N, c.p.K, c.p.TransA, c.p.TransB, c.cshape, c.p.Act.Op, c.cfg)
}

// checkGemm runs a non-batched case on emu and compares it with ref.Gemm.
func checkGemm(t *testing.T, c gemmCase, r *rand.Rand) {
	t.Helper()
	p := c.p
	if c.cshape != nil {
		p.HasC, p.CShape = true, c.cshape
	}
	in, err := Build(p, c.cfg, kir.Target{Arch: "sm_90"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := kerneltest.Normal(r, p.M*p.K), kerneltest.Normal(r, p.K*p.N)
	bufs := kerneltest.Buffers{"a": a, "b": b, "y": p.M * p.N}
	var cv []float32
	if p.HasC {
		cv = kerneltest.Normal(r, prod(c.cshape))
		bufs["c"] = cv
	}
	want := make([]float32, p.M*p.N)
	if err := ref.Gemm(p.GemmParams, a, b, cv, c.cshape, want); err != nil {
		t.Fatal(err)
	}
	got := kerneltest.RunF32(t, in, bufs, "y")
	if e := kerneltest.RelErr(got, want); e > 1e-5 {
		t.Fatalf("%v: relative error %.3g (got[0..4] %v want %v)", c, e, got[:min(4, len(got))], want[:min(4, len(want))])
	}
}

func gp(m, n, k int) Params {
	return Params{GemmParams: ref.GemmParams{M: m, N: n, K: k, Alpha: 1, Beta: 1}}
}

func TestGemmShapesAndConfigs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{37, 45, 29}, {64, 68, 32}, {1, 40, 24}, {20, 16, 1}, {5, 3, 70}}
	for _, cfg := range []kernels.Config{cfg64, cfg32, cfg16, cfgOdd, cfgV1} {
		for _, s := range shapes {
			if cfg.Threads == 256 && s[0]*s[1] < 1000 {
				continue // keep the interpreter's time small
			}
			c := gemmCase{p: gp(s[0], s[1], s[2]), cfg: cfg}
			t.Run(c.String(), func(t *testing.T) { checkGemm(t, c, r) })
		}
	}
}

func TestGemmTransposesBiasActivation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []gemmCase{}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			p := gp(33, 36, 20)
			p.TransA, p.TransB = ta, tb
			cases = append(cases, gemmCase{p: p, cfg: cfg32})
			p2 := gp(32, 40, 24) // vector loads on every operand layout
			p2.TransA, p2.TransB = ta, tb
			cases = append(cases, gemmCase{p: p2, cfg: cfg32})
		}
	}
	withC := func(cshape []int, alpha, beta float32, act ref.Activation) gemmCase {
		p := gp(19, 24, 13)
		p.Alpha, p.Beta, p.Act = alpha, beta, act
		return gemmCase{p: p, cfg: cfg16, cshape: cshape}
	}
	cases = append(cases,
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.Relu}),
		withC([]int{1, 24}, 0.5, 2, ref.Activation{}),
		withC([]int{19, 1}, 1, -1, ref.Activation{Op: ref.Sigmoid}),
		withC([]int{19, 24}, 1.5, 0.25, ref.Activation{Op: ref.Clip, Alpha: -0.5, Beta: 0.75}),
		withC([]int{}, 1, 1, ref.Activation{Op: ref.LeakyRelu, Alpha: 0.1}),
		withC([]int{1}, 1, 1, ref.Activation{Op: ref.HardSigmoid, Alpha: 0.2, Beta: 0.5}),
		withC([]int{24}, 1, 0, ref.Activation{Op: ref.HardSwish}), // beta 0: C ignored
		withC(nil, 0.3, 1, ref.Activation{Op: ref.Tanh}),
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.Gelu}),
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.GeluTanh}),
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.Elu, Alpha: 0.7}),
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.Softplus}),
		withC([]int{24}, 1, 1, ref.Activation{Op: ref.Mish}),
	)
	k0 := withC([]int{19, 24}, 1, 0.5, ref.Activation{Op: ref.Relu})
	k0.p.K = 0 // Y = Act(Beta*C)
	cases = append(cases, k0)
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) { checkGemm(t, c, r) })
	}
}

func TestMatMulBatchBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		ashape, bshape []int
		cfg            kernels.Config
	}{
		{[]int{2, 1, 5, 12}, []int{3, 12, 8}, cfg32},
		{[]int{3, 7, 9}, []int{9, 6}, cfgV1},
		{[]int{4, 16}, []int{2, 16, 20}, cfg16},
		{[]int{12}, []int{2, 12, 7}, cfgOdd}, // rank-1 a: M = 1
	} {
		t.Run(fmt.Sprint(tc.ashape, tc.bshape), func(t *testing.T) {
			p, err := MatMul(tc.ashape, tc.bshape)
			if err != nil {
				t.Fatal(err)
			}
			in, err := Build(p, tc.cfg, kir.Target{})
			if err != nil {
				t.Fatal(err)
			}
			a, b := kerneltest.Normal(r, prod(tc.ashape)), kerneltest.Normal(r, prod(tc.bshape))
			want, _, err := ref.MatMul(a, tc.ashape, b, tc.bshape, 1)
			if err != nil {
				t.Fatal(err)
			}
			got := kerneltest.RunF32(t, in, kerneltest.Buffers{"a": a, "b": b, "y": len(want)}, "y")
			if e := kerneltest.RelErr(got, want); e > 1e-5 {
				t.Fatalf("relative error %.3g", e)
			}
		})
	}
}

// An SM mask confines the tiles to its SMs, and a yield in the middle of the run followed by a
// relaunch gives the same bits as one uninterrupted run.
func TestGemmMaskAndResumeBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	p := gp(320, 644, 16) // 420 tiles of 16x32
	p.Act = ref.Activation{Op: ref.Relu}
	in, err := Build(p, cfgV1, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"a": kerneltest.Normal(r, p.M*p.K), "b": kerneltest.Normal(r, p.K*p.N), "y": p.M * p.N}
	kerneltest.CheckMaskAndResume(t, in, bufs, "y", []int{1}, 2)
}

// The kernel is really tiled: shared memory, barriers, shared vector loads of the fragments,
// and v4 global loads when the layout allows.
func TestGemmKernelShape(t *testing.T) {
	count := func(in *kernels.Instance) (bars, sharedLd, globalV4, globalLd int) {
		kir.Walk(in.Kernel.Body, func(x *kir.Inst, _ int) {
			switch {
			case x.Op == kir.OpBar:
				bars++
			case x.Op == kir.OpLd && x.Space == kir.Shared && len(x.Dst) == 4:
				sharedLd++
			case x.Op == kir.OpLd && x.Space == kir.Global && len(x.Dst) == 4:
				globalV4++
			case x.Op == kir.OpLd && x.Space == kir.Global:
				globalLd++
			}
		})
		return
	}
	in, err := Build(gp(128, 128, 64), cfg64, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bars, shl, v4, _ := count(in)
	if bars < 3 || shl < 2*cfg64.TileK || v4 < 2 || in.SharedBytes < SharedBytes(cfg64) {
		t.Errorf("64x64 v4 kernel: %d barriers, %d v4 shared loads, %d v4 global loads, %d shared bytes", bars, shl, v4, in.SharedBytes)
	}
	// odd leading dimensions: no global vector loads
	in, err = Build(gp(37, 45, 29), cfg64, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, v4, ld := count(in); v4 != 0 || ld == 0 {
		t.Errorf("odd shape: %d v4 global loads, %d scalar", v4, ld)
	}
	if w := in.Work; w.FLOPs != 2*37*45*29 || w.BytesRead != 4*(37*29+29*45) || w.BytesWritten != 4*37*45 {
		t.Errorf("work %+v", w)
	}
	if in.Args[0].Kind != kernels.ArgControl || in.Args[1].Kind != kernels.ArgTrace || in.Args[4].Name != "y" {
		t.Errorf("args %+v", in.Args)
	}
}

func TestBuildErrors(t *testing.T) {
	p := gp(8, 8, 8)
	p.Act = ref.Activation{Op: ref.Sin}
	if _, err := Build(p, cfg32, kir.Target{}); !errors.Is(err, epilogue.ErrUnsupported) {
		t.Errorf("sin epilogue: %v", err)
	}
	bad := cfg32
	bad.Threads = 128
	if _, err := Build(gp(8, 8, 8), bad, kir.Target{}); err == nil {
		t.Error("inconsistent thread count accepted")
	}
	p = gp(8, 8, 8)
	p.HasC, p.CShape = true, []int{3}
	if _, err := Build(p, cfg32, kir.Target{}); err == nil {
		t.Error("C of shape [3] for N=8 accepted")
	}
	if _, err := MatMul([]int{2, 3, 4}, []int{3, 4, 5}); err == nil {
		t.Error("batch dims 2 and 3 accepted")
	}
}

func TestConfigsValid(t *testing.T) {
	for _, p := range []ref.GemmParams{{M: 1, N: 1000, K: 512}, {M: 4096, N: 4096, K: 4096}, {M: 3, N: 5, K: 7}} {
		cs := Configs(p)
		if len(cs) == 0 {
			t.Fatalf("%+v: no configs", p)
		}
		for _, c := range cs {
			if err := CheckConfig(c); err != nil {
				t.Errorf("%+v: %v", p, err)
			}
		}
	}
}

func TestDivModMagic(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for d := 3; d < 5000; d++ {
		if d&(d-1) == 0 {
			continue
		}
		m, s := Magic(d)
		for i := 0; i < 200; i++ {
			x := uint32(r.Int32())
			if i < 4 {
				x = []uint32{0, uint32(d - 1), uint32(d), 1<<31 - 1}[i]
			}
			q := uint32((uint64(x)*uint64(m))>>32) >> (s - 1)
			if q != x/uint32(d) {
				t.Fatalf("%d / %d: magic gives %d", x, d, q)
			}
		}
	}
}
