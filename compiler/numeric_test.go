package compiler_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// TestKernelsMatchCPU runs every kernel of small plans on the kernel emulator (kernels/emu
// through kerneltest) with the inputs runtime/cpu computes for its node, and compares its
// outputs with runtime/cpu's (the reference semantics of the node): the lowering's parameter
// mapping (shapes, attributes, roles) is what this checks, the templates being tested
// against kernels/ref by their own packages.
func TestKernelsMatchCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kernels on the emulator")
	}
	cases := []struct {
		m testModel
		b budget.Budget
	}{
		{zooModels[0], budget.Budget{SMs: 20}},                                 // mlp
		{zooModels[0], budget.Budget{SMs: 8, MaxRegs: 32}},                     // mlp, lean tiles
		{realModels[0], budget.Budget{SMs: 66}},                                // ppocr_cls
		{realModels[0], budget.Budget{SMs: 8, MaxRegs: 48, MaxTileMicros: 10}}, // ppocr_cls, tight
		{testModel{name: "bert-1", zoo: "bert", opt: zoo.Options{Batch: 1, Layers: 1, SeqLen: 8}}, budget.Budget{SMs: 132}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%v", c.m.name, c.b), func(t *testing.T) {
			p, err := compile(t, c.m, target(t, "sm_90"), c.b, nil)
			if err != nil {
				t.Fatal(err)
			}
			inputs := randomInputs(t, p)
			checkKernels(t, p, inputs, 1e-4)
		})
	}
}

// randomInputs makes seeded inputs for a plan: float32 N(0,1)-ish, int64 ids in [0, 100).
func randomInputs(t *testing.T, p *plan.Plan) map[string]*tensor.Tensor {
	t.Helper()
	out := map[string]*tensor.Tensor{}
	for i, v := range p.Inputs {
		s, ok := v.Shape.Concrete()
		if !ok {
			t.Fatalf("input %s: shape %v", v.Name, v.Shape)
		}
		n := tensor.NumElements(s)
		switch v.DType {
		case tensor.Float32:
			out[v.Name] = tensor.FromFloat32(s, kerneltest.Rand(n, uint64(i+1), -1, 1))
		case tensor.Int64:
			d := make([]int64, n)
			for j := range d {
				d[j] = int64((j*7 + i) % 100)
				if v.Name == "attention_mask" {
					d[j] = int64(1 - j%5/4) // mostly 1
				}
			}
			out[v.Name] = tensor.FromInt64(s, d)
		default:
			t.Fatalf("input %s: dtype %v", v.Name, v.DType)
		}
	}
	return out
}

// checkKernels evaluates p.Graph node by node with runtime/cpu and runs each kernel launch on
// the emulator with its node's inputs, comparing outputs (relative error <= tol for floats,
// exact for integers).
func checkKernels(t *testing.T, p *plan.Plan, inputs map[string]*tensor.Tensor, tol float64) {
	t.Helper()
	ctx := context.Background()
	vals := map[string]*tensor.Tensor{}
	for k, v := range p.Graph.Initializers {
		vals[k] = v
	}
	for k, v := range inputs {
		vals[k] = v
	}
	byNode := map[string]int{}
	for i, l := range p.Launches {
		if l.Kernel >= 0 {
			byNode[p.Kernels[l.Kernel].Nodes[0]] = i
		}
	}
	worst := 0.0
	for _, n := range p.Graph.Nodes {
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for i, name := range n.Inputs {
			if name != "" {
				ins[i] = vals[name]
			}
		}
		outs, err := cpu.EvalNode(ctx, n, ins)
		if err != nil {
			t.Fatalf("cpu %v: %v", n, err)
		}
		for i, o := range n.Outputs {
			if o != "" && i < len(outs) {
				vals[o] = outs[i]
			}
		}
		li, ok := byNode[n.Name]
		if !ok {
			continue
		}
		l := p.Launches[li]
		k := p.Kernels[l.Kernel]
		in := &kernels.Instance{Name: k.Name, Kernel: k.IR, Threads: k.Block[0], Tiles: k.Tiles, SharedBytes: k.SharedBytes}
		bufs := kerneltest.Buffers{}
		isOut := map[string]bool{}
		for _, o := range n.Outputs {
			isOut[o] = true
		}
		for j, par := range k.Params {
			a := l.Args[j]
			switch par.Kind {
			case plan.ParamCtl:
				in.Args = append(in.Args, kernels.Arg{Kind: kernels.ArgControl})
			case plan.ParamU64:
				in.Args = append(in.Args, kernels.Arg{Kind: kernels.ArgTrace})
			case plan.ParamU32:
				in.Args = append(in.Args, kernels.Arg{Kind: kernels.ArgU32, U32: uint32(a.Int)})
			case plan.ParamF32:
				in.Args = append(in.Args, kernels.Arg{Kind: kernels.ArgF32, F32: float32(a.Float)})
			case plan.ParamBuffer:
				in.Args = append(in.Args, kernels.Arg{Kind: kernels.ArgBuffer, Name: a.Value})
				v := vals[a.Value]
				if v == nil {
					t.Fatalf("%s: no value %q", k.Name, a.Value)
				}
				if isOut[a.Value] {
					bufs[a.Value] = (v.Len()*v.DType.Size() + 3) / 4
					continue
				}
				switch d := v.Data.(type) {
				case []float32:
					bufs[a.Value] = d
				case []int64:
					bufs[a.Value] = d
				case []int32:
					bufs[a.Value] = d
				default:
					t.Fatalf("%s: value %q of type %v", k.Name, a.Value, v.DType)
				}
			}
		}
		got, err := kerneltest.Run(in, bufs)
		if err != nil {
			t.Fatalf("%s (%v): %v", k.Name, n, err)
		}
		for _, o := range n.Outputs {
			want := vals[o]
			w, ok := got[o]
			if !ok {
				continue
			}
			switch want.DType {
			case tensor.Float32:
				e := kerneltest.RelErr(kerneltest.F32(w), want.Float32s())
				worst = math.Max(worst, e)
				if e > tol || math.IsNaN(e) {
					t.Errorf("%s (%v): output %q relative error %.3g", k.Name, n, o, e)
				}
			case tensor.Int64:
				g := kerneltest.I64(w)
				for i, x := range want.Data.([]int64) {
					if g[i] != x {
						t.Errorf("%s (%v): output %q[%d] = %d, want %d", k.Name, n, o, i, g[i], x)
						break
					}
				}
			}
		}
	}
	t.Logf("%d kernels, worst relative error %.3g", len(p.Kernels), worst)
}
