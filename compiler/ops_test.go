package compiler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/lower"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// gb builds small test graphs: one op (or a few) on float32 inputs.
type gb struct {
	g    *graph.Graph
	seed uint64
}

func newGB(name string) *gb { return &gb{g: graph.New(name)} }

func (b *gb) input(name string, shape ...int) string {
	b.g.Inputs = append(b.g.Inputs, graph.NewValue(name, tensor.Float32, graph.Dims(shape...)))
	return name
}

func (b *gb) weight(name string, shape ...int) string {
	b.seed++
	b.g.Initializers[name] = tensor.FromFloat32(shape, kerneltest.Rand(tensor.NumElements(shape), b.seed, -1, 1))
	return name
}

func (b *gb) ints(name string, v ...int64) string {
	b.g.Initializers[name] = tensor.FromInt64([]int{len(v)}, v)
	return name
}

func (b *gb) floats(name string, v ...float32) string {
	b.g.Initializers[name] = tensor.FromFloat32([]int{len(v)}, v)
	return name
}

// op adds a node whose output is named after it and returns the output.
func (b *gb) op(op string, ins []string, attrs ...*attr) string {
	name := fmt.Sprintf("%s_%d", strings.ToLower(op), len(b.g.Nodes))
	n := &graph.Node{Name: name, Op: op, Inputs: ins, Outputs: []string{name}}
	for _, a := range attrs {
		n.SetAttr(a.name, &a.Attr)
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return name
}

func (b *gb) out(names ...string) *graph.Graph {
	for _, n := range names {
		b.g.Outputs = append(b.g.Outputs, &graph.Value{Name: n})
	}
	return b.g
}

type attr struct {
	name string
	graph.Attr
}

func ai(name string, v int64) *attr { return &attr{name, graph.Attr{Type: graph.AttrInt, Int: v}} }
func af(name string, v float32) *attr {
	return &attr{name, graph.Attr{Type: graph.AttrFloat, Float: v}}
}
func as(name, v string) *attr { return &attr{name, graph.Attr{Type: graph.AttrString, String: v}} }
func ais(name string, v ...int64) *attr {
	return &attr{name, graph.Attr{Type: graph.AttrInts, Ints: v}}
}

// TestNodeKinds lowers one small graph per node kind: each must become kernels (no host
// steps), the plan must be consistent, and every kernel must match runtime/cpu on the
// emulator.
func TestNodeKinds(t *testing.T) {
	type tc struct {
		name   string
		build  func(b *gb) *graph.Graph
		family string // a kernel of this family must be in the plan
	}
	cases := []tc{
		{"conv-grouped-dilated", func(b *gb) *graph.Graph {
			x := b.input("x", 1, 8, 13, 11)
			return b.out(b.op("Conv", []string{x, b.weight("w", 12, 4, 3, 3), b.weight("bias", 12)},
				ai("group", 2), ais("dilations", 2, 1), ais("strides", 1, 2), ais("pads", 1, 0, 2, 1)))
		}, "conv"},
		{"conv-depthwise-relu", func(b *gb) *graph.Graph {
			x := b.input("x", 1, 16, 20, 20)
			c := b.op("Conv", []string{x, b.weight("w", 16, 1, 3, 3)}, ai("group", 16), ais("pads", 1, 1, 1, 1))
			return b.out(b.op("Relu", []string{c}))
		}, "conv"},
		{"conv1d", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 6, 30)
			return b.out(b.op("Conv", []string{x, b.weight("w", 5, 6, 4)}, as("auto_pad", "SAME_UPPER")))
		}, "conv"},
		{"gemm-transB-C", func(b *gb) *graph.Graph {
			a := b.input("a", 7, 33)
			return b.out(b.op("Gemm", []string{a, b.weight("w", 21, 33), b.weight("c", 21)}, ai("transB", 1), af("alpha", 0.5), af("beta", 2)))
		}, "gemm"},
		{"matmul-batched-broadcast", func(b *gb) *graph.Graph {
			x := b.input("x", 3, 1, 5, 12)
			y := b.input("y", 4, 12, 7)
			return b.out(b.op("MatMul", []string{x, y}))
		}, "gemm"},
		{"matmul-bias-gelu", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 9, 16)
			m := b.op("MatMul", []string{x, b.weight("w", 16, 24)})
			a := b.op("Add", []string{m, b.weight("bias", 24)})
			return b.out(b.op("Gelu", []string{a}))
		}, "gemm"},
		{"eltwise-chain-broadcast", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 3, 4, 5)
			y := b.input("y", 3, 1, 5)
			s := b.op("Sub", []string{x, y})
			m := b.op("Mul", []string{s, b.weight("scale", 4, 1)})
			e := b.op("Erf", []string{m})
			c := b.op("Clip", []string{e, b.floats("lo", -0.5), b.floats("hi", 0.75)})
			return b.out(b.op("Pow", []string{c, b.floats("two", 2)}))
		}, "eltwise"},
		{"unary", func(b *gb) *graph.Graph {
			x := b.input("x", 5, 7)
			return b.out(b.op("HardSigmoid", []string{x}, af("alpha", 0.3)))
		}, "eltwise"},
		{"variadic-max", func(b *gb) *graph.Graph {
			x, y, z := b.input("x", 4, 6), b.input("y", 6), b.input("z", 4, 1)
			return b.out(b.op("Max", []string{x, y, z}))
		}, "eltwise"},
		{"reduce-mean", func(b *gb) *graph.Graph {
			x := b.input("x", 3, 5, 7)
			return b.out(b.op("ReduceMean", []string{x, b.ints("axes", 0, 2)}, ai("keepdims", 0)))
		}, "reduce"},
		{"reduce-max-argmax", func(b *gb) *graph.Graph {
			x := b.input("x", 6, 10)
			return b.out(b.op("ReduceMax", []string{x, b.ints("axes", -1)}), b.op("ArgMax", []string{x}, ai("axis", 1)))
		}, "reduce"},
		{"softmax-axis1", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 9, 3)
			return b.out(b.op("Softmax", []string{x}, ai("axis", 1)), b.op("LogSoftmax", []string{x}))
		}, "softmax"},
		{"layernorm", func(b *gb) *graph.Graph {
			x := b.input("x", 4, 6, 32)
			return b.out(b.op("LayerNormalization", []string{x, b.weight("s", 32), b.weight("b", 32)}, af("epsilon", 1e-3)))
		}, "norm"},
		{"instancenorm", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 3, 5, 5)
			return b.out(b.op("InstanceNormalization", []string{x, b.weight("s", 3), b.weight("b", 3)}))
		}, "norm"},
		{"batchnorm", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 4, 3, 3)
			v := b.op("Abs", []string{b.weight("v", 4)})
			_ = v
			b.g.Nodes = b.g.Nodes[:0]
			b.g.Initializers["var"] = tensor.FromFloat32([]int{4}, []float32{0.5, 1, 2, 0.25})
			return b.out(b.op("BatchNormalization", []string{x, b.weight("s", 4), b.weight("b", 4), b.weight("m", 4), "var"}))
		}, "norm"},
		{"pools", func(b *gb) *graph.Graph {
			x := b.input("x", 1, 3, 11, 9)
			mp := b.op("MaxPool", []string{x}, ais("kernel_shape", 3, 3), ais("strides", 2, 2), ais("pads", 1, 1, 1, 1))
			ap := b.op("AveragePool", []string{x}, ais("kernel_shape", 2, 3), ai("ceil_mode", 1), ais("strides", 2, 2))
			return b.out(mp, ap, b.op("GlobalAveragePool", []string{x}), b.op("GlobalMaxPool", []string{x}))
		}, "pool"},
		{"moves", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 3, 4, 6)
			tr := b.op("Transpose", []string{x}, ais("perm", 0, 2, 3, 1))
			sl := b.op("Slice", []string{x, b.ints("st", 3, 1), b.ints("en", 0, 5), b.ints("ax", 2, 3), b.ints("sp", -1, 2)})
			cc := b.op("Concat", []string{x, x}, ai("axis", 1))
			ex := b.op("Expand", []string{b.input("e", 3, 1), b.ints("shape", 2, 3, 5)})
			ti := b.op("Tile", []string{x, b.ints("reps", 1, 2, 1, 2)})
			pd := b.op("Pad", []string{x, b.ints("pads", 0, 0, 1, 2, 0, 0, 2, 1)}, as("mode", "reflect"))
			ds := b.op("DepthToSpace", []string{b.input("d", 1, 8, 2, 3)}, ai("blocksize", 2), as("mode", "CRD"))
			return b.out(tr, sl, cc, ex, ti, pd, ds)
		}, "move"},
		{"split-gather-resize", func(b *gb) *graph.Graph {
			x := b.input("x", 2, 3, 4, 6)
			sp := &graph.Node{Name: "split", Op: "Split", Inputs: []string{x, b.ints("sizes", 2, 4)}, Outputs: []string{"s0", "s1"}}
			sp.SetAttr("axis", &graph.Attr{Type: graph.AttrInt, Int: -1})
			b.g.Nodes = append(b.g.Nodes, sp)
			ga := b.op("Gather", []string{x, b.ints("idx", 2, 0, -1)}, ai("axis", 2))
			rn := b.op("Resize", []string{x, "", b.floats("scales", 1, 1, 2, 1.5)}, as("mode", "nearest"))
			rl := b.op("Resize", []string{x, "", "", b.ints("rsizes", 2, 3, 7, 5)}, as("mode", "linear"))
			return b.out("s0", "s1", ga, rn, rl)
		}, "move"},
	}
	tg := target(t, "sm_90")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.build(newGB(c.name))
			var rep compiler.Report
			p, err := compiler.Compile(context.Background(), g, compiler.Options{Target: tg, Budget: budget.Budget{SMs: 20}, Eval: cpu.EvalNode, Report: &rep})
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p)
			if len(rep.Hosts) > 0 {
				t.Fatalf("host steps: %v", rep.Hosts)
			}
			found := false
			for _, k := range p.Kernels {
				found = found || strings.Contains(k.Name, "_"+c.family+"_")
			}
			if !found {
				t.Fatalf("no %s kernel among %d", c.family, len(p.Kernels))
			}
			checkKernels(t, p, randomInputs(t, p), 1e-4)
		})
	}
}

// TestAttentionKLayouts: the fused Attention with K given as [.., D, Sk] (transpose_k = 0)
// gets a transpose in front of it (or, when K comes from a Transpose, a changed perm).
func TestAttentionKLayouts(t *testing.T) {
	for _, viaTranspose := range []bool{false, true} {
		b := newGB(fmt.Sprintf("attention-%v", viaTranspose))
		q, v := b.input("q", 1, 2, 4, 8), b.input("v", 1, 2, 5, 8)
		k := b.input("k", 1, 2, 8, 5)
		if viaTranspose {
			k = b.op("Transpose", []string{b.input("kt", 1, 2, 5, 8)}, ais("perm", 0, 1, 3, 2))
			b.g.Inputs = b.g.Inputs[:2]
			b.g.Inputs = append(b.g.Inputs, graph.NewValue("kt", tensor.Float32, graph.Dims(1, 2, 5, 8)))
		}
		n := &graph.Node{Name: "attn", Op: "Attention", Domain: "elasticroom", Inputs: []string{q, k, v}, Outputs: []string{"y"}}
		n.SetAttr("scale", &graph.Attr{Type: graph.AttrFloat, Float: 0.3})
		n.SetAttr("transpose_k", &graph.Attr{Type: graph.AttrInt, Int: 0})
		b.g.Nodes = append(b.g.Nodes, n)
		// Compile takes imported graphs (no fused ops): lower this one directly.
		g := b.out("y")
		if err := passes.InferShapes(g); err != nil {
			t.Fatal(err)
		}
		tg, bu := target(t, "sm_90"), budget.Budget{SMs: 8}
		res, err := lower.Lower(context.Background(), g, lower.Options{Target: tg, Budget: bu})
		if err != nil {
			t.Fatal(err)
		}
		p := &plan.Plan{Target: tg, Budget: bu, Graph: g, Kernels: res.Kernels, Launches: res.Launches, Memory: *res.Memory}
		for _, v := range g.Inputs {
			p.Inputs = append(p.Inputs, *v)
		}
		for _, v := range g.Outputs {
			p.Outputs = append(p.Outputs, *v)
		}
		checkPlan(t, p)
		if len(res.Hosts) > 0 || len(p.Kernels) != 2 || !strings.Contains(p.Kernels[1].Name, "_attention_") {
			t.Fatalf("transpose %v: hosts %v, %d kernels", viaTranspose, res.Hosts, len(p.Kernels))
		}
		checkKernels(t, p, randomInputs(t, p), 1e-4)
	}
}

// TestAliases: Reshape-like nodes launch nothing and share their input's buffer; a Reshape
// of a weight (nothing to share) is a copy kernel.
func TestAliases(t *testing.T) {
	b := newGB("alias")
	x := b.input("x", 2, 3, 4)
	r := b.op("Reshape", []string{x, b.ints("shape", 6, 4)})
	f := b.op("Flatten", []string{r}, ai("axis", 1))
	y := b.op("Relu", []string{f})
	u := b.op("Unsqueeze", []string{y, b.ints("axes", 0)})
	p, err := compiler.Compile(context.Background(), b.out(u), compiler.Options{Target: target(t, "sm_80"), Budget: budget.Budget{SMs: 8}, Eval: cpu.EvalNode})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	if len(p.Launches) != 1 || len(p.Kernels) != 1 {
		t.Fatalf("want one launch (the Relu), got %d launches, %d kernels", len(p.Launches), len(p.Kernels))
	}
	off := p.Memory.Offsets
	if off[r] != off[x] || off[f] != off[x] || off[u] != off[y] {
		t.Fatalf("aliases do not share buffers: %v", off)
	}
	if off[y] == off[x] && p.Memory.Live[x][1] >= p.Memory.Live[y][0] {
		t.Fatalf("the Relu's output overlaps its live input: %v %v", p.Memory.Offsets, p.Memory.Live)
	}
	checkKernels(t, p, randomInputs(t, p), 1e-6)
}

// TestHostSteps: nodes no template covers (int64 arithmetic, comparisons, ConvTranspose) run
// on the host, with a reason.
func TestHostSteps(t *testing.T) {
	b := newGB("host")
	x := b.input("x", 1, 2, 5, 5)
	ct := b.op("ConvTranspose", []string{x, b.weight("w", 2, 3, 3, 3)}, ais("strides", 2, 2))
	ge := b.op("GreaterOrEqual", []string{ct, b.floats("z", 0)})
	var rep compiler.Report
	p, err := compiler.Compile(context.Background(), b.out(ge), compiler.Options{Target: target(t, "sm_90"), Budget: budget.Budget{SMs: 4}, Eval: cpu.EvalNode, Report: &rep})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	if len(p.Kernels) != 0 || len(p.Launches) != 2 || p.Launches[0].Kernel != plan.HostStep || p.Launches[0].Host != ct {
		t.Fatalf("launches %+v", p.Launches)
	}
	if !strings.Contains(rep.Hosts[ct], "ConvTranspose") || !strings.Contains(rep.Hosts[ge], "GreaterOrEqual") {
		t.Fatalf("reasons: %v", rep.Hosts)
	}
}

// TestBudgets: errors of impossible budgets name the node and the limit; configs differ
// sensibly between a small and a large SM budget.
func TestBudgets(t *testing.T) {
	tg := target(t, "sm_90")
	m := zooModels[1] // resnet18
	_, err := compile(t, m, tg, budget.Budget{SMs: 20, MaxRegs: 24}, nil)
	if !errors.Is(err, lower.ErrNoConfig) || !strings.Contains(err.Error(), `node "conv1" (elasticroom.FusedConv)`) ||
		!strings.Contains(err.Error(), "registers per thread, budget allows 24") {
		t.Errorf("max-regs 24: %v", err)
	}
	_, err = compile(t, m, tg, budget.Budget{SMs: 20, MaxTileMicros: 0.05}, nil)
	if !errors.Is(err, lower.ErrNoConfig) || !strings.Contains(err.Error(), "the shortest conv tile takes an estimated") ||
		!strings.Contains(err.Error(), "budget allows 0.05 µs") {
		t.Errorf("max-tile-us 0.05: %v", err)
	}
	for _, b := range []budget.Budget{{SMs: 0}, {SMs: 133}, {SMs: 20, MaxRegs: 8}, {SMs: 20, SharedPerBlock: 1 << 20}} {
		if _, err := compile(t, m, tg, b, nil); !errors.Is(err, budget.ErrInvalidBudget) {
			t.Errorf("%v: %v, want an invalid-budget error", b, err)
		}
	}
	// A tile bound the full-occupancy configs miss is met with fewer blocks per SM.
	p, err := compile(t, m, tg, budget.Budget{SMs: 20, MaxTileMicros: 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)

	small, err := compile(t, m, tg, budget.Budget{SMs: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	large, err := compile(t, m, tg, budget.Budget{SMs: 132}, nil)
	if err != nil {
		t.Fatal(err)
	}
	differ, moreTiles, faster := 0, 0, 0
	var sEst, lEst float64
	for i := range small.Kernels {
		s, l := small.Kernels[i], large.Kernels[i]
		if s.Tiles != l.Tiles || s.Block != l.Block {
			differ++
		}
		if l.Tiles > s.Tiles {
			moreTiles++
		}
		if l.EstMicros < s.EstMicros {
			faster++
		}
		sEst += s.EstMicros
		lEst += l.EstMicros
	}
	t.Logf("resnet18: %d of %d kernels change config from 8 to 132 SMs (%d with more tiles); est %.0f -> %.0f µs",
		differ, len(small.Kernels), moreTiles, sEst, lEst)
	if differ == 0 || moreTiles == 0 || lEst >= sEst/3 || faster < len(small.Kernels)/2 {
		t.Errorf("budgets 8 and 132 give too similar plans: %d differ, %d with more tiles, est %.0f vs %.0f µs", differ, moreTiles, sEst, lEst)
	}
}
