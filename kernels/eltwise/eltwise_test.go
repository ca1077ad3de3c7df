package eltwise

import (
	"fmt"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// refEval evaluates p with kernels/ref ops on fully broadcast tensors.
func refEval(t *testing.T, p Params, ins [][]float32) []float32 {
	t.Helper()
	vals := make([][]float32, len(p.Nodes))
	n := Prod(p.Shape)
	for i, nd := range p.Nodes {
		var err error
		switch nd.Kind {
		case Input:
			vals[i], err = ref.Expand(ins[nd.Input], p.Inputs[nd.Input], p.Shape)
		case Const:
			vals[i] = make([]float32, n)
			for j := range vals[i] {
				vals[i][j] = nd.Value
			}
		case Unary:
			vals[i] = make([]float32, n)
			err = ref.Unary(nd.Unary, vals[nd.Args[0]], vals[i])
		case Binary:
			vals[i], _, err = ref.Binary(nd.Binary, vals[nd.Args[0]], p.Shape, vals[nd.Args[1]], p.Shape)
		case Compare:
			var bs []bool
			bs, _, err = ref.Compare(nd.Compare, vals[nd.Args[0]], p.Shape, vals[nd.Args[1]], p.Shape)
			vals[i] = make([]float32, n)
			for j, v := range bs {
				if v {
					vals[i][j] = 1
				}
			}
		case Where:
			vals[i] = make([]float32, n)
			for j := range vals[i] {
				if vals[nd.Args[0]][j] != 0 {
					vals[i][j] = vals[nd.Args[1]][j]
				} else {
					vals[i][j] = vals[nd.Args[2]][j]
				}
			}
		}
		if err != nil {
			t.Fatalf("ref node %d: %v", i, err)
		}
	}
	return vals[len(vals)-1]
}

func run(t *testing.T, p Params, cfg kernels.Config, ins [][]float32) []float32 {
	t.Helper()
	in, err := Build(p, cfg, kir.Target{Arch: "sm_90"})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"y": Prod(p.Shape)}
	for i, x := range ins {
		bufs[fmt.Sprintf("x%d", i)] = x
	}
	out, err := kerneltest.Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	return kerneltest.F32(out["y"])
}

func inputs(p Params, lo, hi float32) [][]float32 {
	ins := make([][]float32, len(p.Inputs))
	for i, s := range p.Inputs {
		ins[i] = kerneltest.Rand(Prod(s), uint64(i+1), lo, hi)
	}
	return ins
}

func check(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if e := kerneltest.RelErr(got, want); e > tol {
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > tol*math.Abs(float64(want[i]))+1e-6 {
				t.Errorf("%s: first bad element %d: got %v want %v", name, i, got[i], want[i])
				break
			}
		}
		t.Fatalf("%s: relative error %g > %g", name, e, tol)
	}
}

func chain() Params {
	// y = sigmoid((x0 + x1) * x2) - relu(x0) / 3, x1 broadcast over rows, x2 a scalar
	return Params{Shape: []int{2, 3, 5, 7}, Inputs: [][]int{{2, 3, 5, 7}, {5, 1}, {}},
		Nodes: []Node{
			{Kind: Input, Input: 0}, {Kind: Input, Input: 1}, {Kind: Input, Input: 2},
			{Kind: Binary, Binary: ref.Add, Args: []int{0, 1}},
			{Kind: Binary, Binary: ref.Mul, Args: []int{3, 2}},
			{Kind: Unary, Unary: ref.UnaryParams{Op: ref.Sigmoid}, Args: []int{4}},
			{Kind: Unary, Unary: ref.UnaryParams{Op: ref.Relu}, Args: []int{0}},
			{Kind: Const, Value: 3},
			{Kind: Binary, Binary: ref.Div, Args: []int{6, 7}},
			{Kind: Binary, Binary: ref.Sub, Args: []int{5, 8}},
		}}
}

func TestChainBroadcast(t *testing.T) {
	p := chain()
	ins := inputs(p, -3, 3)
	want := refEval(t, p, ins)
	cfgs := Configs(p)
	if cfgs[0].Vec != 1 {
		t.Fatalf("odd shapes got vector width %d", cfgs[0].Vec)
	}
	for _, cfg := range []kernels.Config{cfgs[0], cfgs[2], {Threads: 32, ThreadM: 3, TileM: 96, Vec: 1}} {
		check(t, cfg.String(), run(t, p, cfg, ins), want, 1e-6)
	}
}

func TestVectorized(t *testing.T) {
	// x1 broadcast along rows (last-dim stride 1), x2 constant along the last dim (stride 0)
	p := Params{Shape: []int{3, 2, 24}, Inputs: [][]int{{3, 2, 24}, {24}, {3, 2, 1}},
		Nodes: []Node{{Kind: Input, Input: 0}, {Kind: Input, Input: 1}, {Kind: Input, Input: 2},
			{Kind: Binary, Binary: ref.Mul, Args: []int{0, 1}},
			{Kind: Binary, Binary: ref.Max, Args: []int{3, 2}}}}
	cfgs := Configs(p)
	if cfgs[0].Vec != 4 {
		t.Fatalf("vector width %d, want 4", cfgs[0].Vec)
	}
	ins := inputs(p, -2, 2)
	want := refEval(t, p, ins)
	for _, cfg := range []kernels.Config{cfgs[0], cfgs[3], {Threads: 64, ThreadM: 1, TileM: 64, Vec: 1}} {
		check(t, cfg.String(), run(t, p, cfg, ins), want, 1e-7)
	}
	// a middle-dim broadcast forbids vectors only when the last dim is not a multiple of 4
	q, _ := BinaryOf([]int{5, 1, 6}, []int{1, 3, 6}, ref.Sub)
	if Configs(q)[0].Vec != 1 {
		t.Fatal("last dim 6 allowed vectors")
	}
}

func TestUnaryOps(t *testing.T) {
	cases := []struct {
		op     ref.UnaryParams
		lo, hi float32
	}{
		{ref.UnaryParams{Op: ref.Relu}, -3, 3},
		{ref.UnaryParams{Op: ref.LeakyRelu, Alpha: 0.1}, -3, 3},
		{ref.UnaryParams{Op: ref.Sigmoid}, -20, 20},
		{ref.UnaryParams{Op: ref.HardSigmoid, Alpha: 0.2, Beta: 0.5}, -5, 5},
		{ref.UnaryParams{Op: ref.HardSwish}, -5, 5},
		{ref.UnaryParams{Op: ref.Tanh}, -4, 4},
		{ref.UnaryParams{Op: ref.Tanh}, -0.3, 0.3},
		{ref.UnaryParams{Op: ref.Exp}, -30, 30},
		{ref.UnaryParams{Op: ref.Log}, 1e-3, 100},
		{ref.UnaryParams{Op: ref.Log}, 0.9, 1.1},
		{ref.UnaryParams{Op: ref.Sqrt}, 0, 10},
		{ref.UnaryParams{Op: ref.Neg}, -3, 3},
		{ref.UnaryParams{Op: ref.Abs}, -3, 3},
		{ref.UnaryParams{Op: ref.Floor}, -3, 3},
		{ref.UnaryParams{Op: ref.Ceil}, -3, 3},
		{ref.UnaryParams{Op: ref.Round}, -3, 3},
		{ref.UnaryParams{Op: ref.Reciprocal}, 0.5, 3},
		{ref.UnaryParams{Op: ref.Sign}, -3, 3},
		{ref.UnaryParams{Op: ref.Erf}, -4, 4},
		{ref.UnaryParams{Op: ref.Gelu}, -5, 5},
		{ref.UnaryParams{Op: ref.GeluTanh}, -5, 5},
		{ref.UnaryParams{Op: ref.Elu, Alpha: 0.7}, -3, 3},
		{ref.UnaryParams{Op: ref.Selu, Alpha: 1.67, Beta: 1.05}, -3, 3},
		{ref.UnaryParams{Op: ref.Celu, Alpha: 1.3}, -3, 3},
		{ref.UnaryParams{Op: ref.Softplus}, -20, 40},
		{ref.UnaryParams{Op: ref.Softsign}, -3, 3},
		{ref.UnaryParams{Op: ref.Mish}, -5, 5},
		{ref.UnaryParams{Op: ref.ThresholdedRelu, Alpha: 0.5}, -3, 3},
		{ref.UnaryParams{Op: ref.Clip, Alpha: -1, Beta: 2}, -3, 3},
		{ref.UnaryParams{Op: ref.Shrink, Alpha: 0.5, Beta: 0.1}, -3, 3},
	}
	cfg := kernels.Config{Threads: 64, ThreadM: 2, TileM: 128, Vec: 1}
	for _, c := range cases {
		p := UnaryOf([]int{3, 37}, c.op)
		ins := inputs(p, c.lo, c.hi)
		// exact ops must match bit for bit on these inputs; the transcendental ones to 1e-6
		check(t, fmt.Sprintf("op %d [%v,%v]", c.op.Op, c.lo, c.hi), run(t, p, cfg, ins), refEval(t, p, ins), 1e-6)
	}
}

func TestBinaryOps(t *testing.T) {
	cfg := kernels.Config{Threads: 64, ThreadM: 1, TileM: 64, Vec: 1}
	for _, op := range []ref.BinaryOp{ref.Add, ref.Sub, ref.Mul, ref.Div, ref.Max, ref.Min, ref.Pow, ref.Mod, ref.FMod, ref.PRelu} {
		p, err := BinaryOf([]int{4, 1, 9}, []int{3, 1}, op)
		if err != nil {
			t.Fatal(err)
		}
		ins := inputs(p, -3, 3)
		if op == ref.Pow { // negative bases with integer exponents, positive with fractional ones
			for i := range ins[1] {
				if i%2 == 0 {
					ins[1][i] = float32(math.Round(float64(ins[1][i])))
				} else {
					ins[0][i] = float32(math.Abs(float64(ins[0][i])))
				}
			}
			for i := range ins[0] {
				if i%3 != 0 {
					ins[0][i] = float32(math.Abs(float64(ins[0][i]))) + 0.1
				}
			}
		}
		check(t, op.String(), run(t, p, cfg, ins), refEval(t, p, ins), 2e-6)
	}
	// constant exponents take the specialised paths
	for _, e := range []float32{0, 1, 2, 3, 0.5, -1, -0.5, 1.7} {
		p := Params{Shape: []int{50}, Inputs: [][]int{{50}}, Nodes: []Node{{Kind: Input}, {Kind: Const, Value: e},
			{Kind: Binary, Binary: ref.Pow, Args: []int{0, 1}}}}
		ins := inputs(p, 0.1, 4)
		check(t, fmt.Sprintf("pow %v", e), run(t, p, cfg, ins), refEval(t, p, ins), 1e-6)
	}
}

func TestCompareWhere(t *testing.T) {
	cfg := kernels.Config{Threads: 64, ThreadM: 1, TileM: 64, Vec: 1}
	for _, op := range []ref.CompareOp{ref.Equal, ref.Less, ref.LessOrEqual, ref.Greater, ref.GreaterOrEqual} {
		p := Params{Shape: []int{6, 7}, Inputs: [][]int{{6, 7}, {7}, {6, 1}}, Nodes: []Node{
			{Kind: Input, Input: 0}, {Kind: Input, Input: 1}, {Kind: Input, Input: 2},
			{Kind: Unary, Unary: ref.UnaryParams{Op: ref.Round}, Args: []int{0}},
			{Kind: Unary, Unary: ref.UnaryParams{Op: ref.Round}, Args: []int{1}},
			{Kind: Compare, Compare: op, Args: []int{3, 4}},
			{Kind: Where, Args: []int{5, 0, 2}}}}
		ins := inputs(p, -2, 2)
		check(t, fmt.Sprint("compare ", op), run(t, p, cfg, ins), refEval(t, p, ins), 0)
	}
}

// TestErfAccuracy checks erf (and so gelu) against math.Erf on a dense grid: 2e-7 absolute.
func TestErfAccuracy(t *testing.T) {
	n := 2000
	x := make([]float32, n)
	for i := range x {
		x[i] = -5 + 10*float32(i)/float32(n-1)
	}
	p := UnaryOf([]int{n}, ref.UnaryParams{Op: ref.Erf})
	got := run(t, p, kernels.Config{Threads: 128, ThreadM: 4, TileM: 2048, Vec: 4}, [][]float32{x})
	worst := 0.0
	for i, v := range x {
		worst = max(worst, math.Abs(float64(got[i])-math.Erf(float64(v))))
	}
	if worst > 2e-7 {
		t.Fatalf("erf max abs error %g", worst)
	}
	t.Logf("erf max abs error %g", worst)
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	p := chain()
	p.Shape, p.Inputs[0] = []int{40, 3, 5, 7}, []int{40, 3, 5, 7}
	cfg := kernels.Config{Threads: 32, ThreadM: 1, TileM: 32, Vec: 1}
	in, err := Build(p, cfg, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	ins := inputs(p, -3, 3)
	bufs := kerneltest.Buffers{"x0": ins[0], "x1": ins[1], "x2": ins[2], "y": Prod(p.Shape)}
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
			t.Fatalf("y[%d]: preempted %#x, whole %#x", i, parts["y"][i], whole["y"][i])
		}
	}
}

func TestErrors(t *testing.T) {
	bad := []Params{
		{Shape: []int{3}, Inputs: [][]int{{4}}, Nodes: []Node{{Kind: Input}}},
		{Shape: []int{3}, Inputs: [][]int{{3}}, Nodes: []Node{{Kind: Unary, Args: []int{0}}}},
		{Shape: []int{3}, Inputs: [][]int{{3}}, Nodes: []Node{{Kind: Input}, {Kind: Unary, Unary: ref.UnaryParams{Op: ref.Acosh}, Args: []int{0}}}},
		{Shape: []int{0}, Inputs: [][]int{{0}}, Nodes: []Node{{Kind: Input}}},
	}
	for i, p := range bad {
		if _, err := Build(p, kernels.Config{Threads: 32, ThreadM: 1, TileM: 32, Vec: 1}, kir.Target{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
