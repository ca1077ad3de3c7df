package exec_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/gemm"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/emu"
)

const testUnits = 4

func newDevice(t testing.TB) *emu.Device {
	t.Helper()
	d, err := emu.New(emu.Config{Units: testUnits, MaxBlocksPerSM: 2, TimeSlice: 512})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// kernelOf turns a template instance into a plan kernel and the launch binding its buffer
// roles to values.
func kernelOf(t testing.TB, in *kernels.Instance, roles map[string]string) (plan.Kernel, plan.Launch) {
	t.Helper()
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	k := plan.Kernel{Name: in.Name, Grid: [3]int{testUnits * 2}, Block: [3]int{in.Threads},
		SharedBytes: in.SharedBytes + in.DynamicShared, Tiles: in.Tiles, BlocksPerSM: 2, IR: in.Kernel}
	var l plan.Launch
	for _, a := range in.Args {
		var p plan.Param
		var arg plan.Arg
		switch a.Kind {
		case kernels.ArgControl:
			p = plan.Param{Name: a.Name, Kind: plan.ParamCtl}
		case kernels.ArgTrace:
			p = plan.Param{Name: "trace", Kind: plan.ParamBuffer}
		case kernels.ArgBuffer:
			v, ok := roles[a.Name]
			if !ok {
				t.Fatalf("kernel %s: no value for role %q", in.Name, a.Name)
			}
			p, arg = plan.Param{Name: a.Name, Kind: plan.ParamBuffer}, plan.Arg{Value: v}
		case kernels.ArgU32:
			p, arg = plan.Param{Name: a.Name, Kind: plan.ParamU32}, plan.Arg{Int: int64(a.U32)}
		case kernels.ArgS32:
			p, arg = plan.Param{Name: a.Name, Kind: plan.ParamU32}, plan.Arg{Int: int64(a.S32)}
		case kernels.ArgF32:
			p, arg = plan.Param{Name: a.Name, Kind: plan.ParamF32}, plan.Arg{Float: float64(a.F32)}
		}
		k.Params = append(k.Params, p)
		l.Args = append(l.Args, arg)
	}
	return k, l
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	d := make([]float32, tensor.NumElements(shape))
	for i := range d {
		d[i] = r.Float32()*2 - 1
	}
	return tensor.FromFloat32(shape, d)
}

// testPlan is y = Relu(x·W1 + b)·W2 with x [m,k]: a gemm kernel, an eltwise kernel (the bias),
// Relu as a host step, a second gemm kernel. h, a and r live in the arena; x and y do not.
func testPlan(t testing.TB, m, k, n, o int) (*plan.Plan, map[string]*tensor.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	g := graph.New("mlp")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(m, k))}
	g.Outputs = []*graph.Value{graph.NewValue("y", tensor.Float32, graph.Dims(m, o))}
	g.Initializers["w1"] = randTensor(r, k, n)
	g.Initializers["b"] = randTensor(r, n)
	g.Initializers["w2"] = randTensor(r, n, o)
	for _, v := range []string{"h", "a", "r"} {
		g.Values[v] = graph.NewValue(v, tensor.Float32, graph.Dims(m, n))
	}
	g.Nodes = []*graph.Node{
		{Name: "mm1", Op: "MatMul", Inputs: []string{"x", "w1"}, Outputs: []string{"h"}},
		{Name: "bias", Op: "Add", Inputs: []string{"h", "b"}, Outputs: []string{"a"}},
		{Name: "relu", Op: "Relu", Inputs: []string{"a"}, Outputs: []string{"r"}},
		{Name: "mm2", Op: "MatMul", Inputs: []string{"r", "w2"}, Outputs: []string{"y"}},
	}
	target := kir.Target{Arch: "sm_90"}
	build := func(p gemm.Params) *kernels.Instance {
		in, err := gemm.Build(p, kernels.Config{Threads: 64, TileM: 16, TileN: 16, TileK: 8, ThreadM: 2, ThreadN: 2}, target)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	p1, err := gemm.MatMul([]int{m, k}, []int{k, n})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := gemm.MatMul([]int{m, n}, []int{n, o})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := eltwise.BinaryOf([]int{m, n}, []int{n}, ref.Add)
	if err != nil {
		t.Fatal(err)
	}
	ein, err := eltwise.Build(ep, kernels.Config{Threads: 32, ThreadM: 1, TileM: 32, Vec: 1}, target)
	if err != nil {
		t.Fatal(err)
	}
	k1, l1 := kernelOf(t, build(p1), map[string]string{"a": "x", "b": "w1", "y": "h"})
	k2, l2 := kernelOf(t, ein, map[string]string{"x0": "h", "x1": "b", "y": "a"})
	k3, l3 := kernelOf(t, build(p2), map[string]string{"a": "r", "b": "w2", "y": "y"})
	l1.Kernel, l2.Kernel, l3.Kernel = 0, 1, 2
	sz := int64(4 * m * n)
	al := func(x int64) int64 { return (x + 255) / 256 * 256 }
	mem := plan.MemoryPlan{Alignment: 256,
		Offsets: map[string]int64{"h": 0, "a": al(sz), "r": 0},
		Sizes:   map[string]int64{"h": sz, "a": sz, "r": sz}, ArenaBytes: 2 * al(sz)}
	p := &plan.Plan{Model: "mlp", Graph: g, Kernels: []plan.Kernel{k1, k2, k3},
		Launches: []plan.Launch{l1, l2, {Kernel: plan.HostStep, Host: "relu"}, l3},
		Memory:   mem, Inputs: []graph.Value{*g.Inputs[0]}, Outputs: []graph.Value{*g.Outputs[0]}}
	p.Budget.SMs = testUnits
	return p, map[string]*tensor.Tensor{"x": randTensor(r, m, k)}
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if len(got) != len(want) {
		return math.Inf(1)
	}
	return math.Sqrt(num / max(den, 1e-30))
}
