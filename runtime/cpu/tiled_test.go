package cpu

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// tinyPool is a pool whose tiles are tiny, so that every op that can split does.
func tinyPool(t testing.TB, units int) *Pool {
	t.Helper()
	p, err := NewPool(PoolOptions{Units: units, TileTime: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func sameBits(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if got == nil || want == nil || !sameShape(got.Shape, want.Shape) || got.DType != want.DType {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	g, w := got.Float32s(), want.Float32s()
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Fatalf("%s: element %d is %v tiled, %v untiled", what, i, g[i], w[i])
		}
	}
}

// checkTiled runs one node with Run and with Pool.Run and wants the same bits and more than
// one tile.
func checkTiled(t *testing.T, p *Pool, n *graph.Node, in, inits map[string]*tensor.Tensor, minTiles int) {
	t.Helper()
	g := oneNode(n, in, inits)
	want, err := Run(context.Background(), g, in, Options{})
	if err != nil {
		t.Fatalf("untiled: %v", err)
	}
	var log TileLog
	got, err := p.Run(context.Background(), g, in, UnitRunOptions{Trace: &log})
	if err != nil {
		t.Fatalf("tiled: %v", err)
	}
	for _, o := range n.Outputs {
		sameBits(t, o, got[o], want[o])
	}
	tiles := log.Tiles()
	if len(tiles) < minTiles {
		t.Errorf("%d tiles, want at least %d", len(tiles), minTiles)
	}
	seen := map[int]bool{}
	for _, tr := range tiles {
		if seen[tr.Tile] {
			t.Errorf("tile %d ran twice", tr.Tile)
		}
		seen[tr.Tile] = true
		if tr.Tiles != len(tiles) {
			t.Errorf("tile says %d tiles, %d ran", tr.Tiles, len(tiles))
		}
	}
}

func TestTiledOpsBitIdentical(t *testing.T) {
	p := tinyPool(t, 8)
	type io = map[string]*tensor.Tensor
	conv := func(group int64, strides ...int64) map[string]*graph.Attr {
		a := map[string]*graph.Attr{"group": intA(group), "pads": intsA(1, 1, 1, 1)}
		if strides != nil {
			a["strides"] = intsA(strides...)
		}
		return a
	}
	cases := []struct {
		name     string
		n        *graph.Node
		in       io
		inits    io
		minTiles int
	}{
		{"conv dense batch2", node("c", "Conv", []string{"x", "w", "b"}, []string{"y"}, conv(1)),
			io{"x": fzT([]int{2, 8, 12, 12}, 1)}, io{"w": fzT([]int{30, 8, 3, 3}, 2), "b": fzT([]int{30}, 3)}, 4},
		{"conv grouped", node("c", "Conv", []string{"x", "w", "b"}, []string{"y"}, conv(4, 2, 2)),
			io{"x": fzT([]int{1, 16, 16, 16}, 1)}, io{"w": fzT([]int{32, 4, 3, 3}, 2), "b": fzT([]int{32}, 3)}, 2},
		{"conv depthwise", node("c", "Conv", []string{"x", "w"}, []string{"y"}, conv(9)),
			io{"x": fzT([]int{1, 9, 20, 20}, 1)}, io{"w": fzT([]int{9, 1, 3, 3}, 2)}, 2},
		{"conv stem columns", node("c", "Conv", []string{"x", "w", "b"}, []string{"y"}, map[string]*graph.Attr{"pads": intsA(1, 1, 1, 1), "strides": intsA(2, 2)}),
			io{"x": fzT([]int{1, 3, 60, 70}, 1)}, io{"w": fzT([]int{8, 3, 3, 3}, 2), "b": fzT([]int{8}, 3)}, 4},
		{"conv pointwise columns", node("c", "Conv", []string{"x", "w"}, []string{"y"}, map[string]*graph.Attr{}),
			io{"x": fzT([]int{1, 16, 40, 41}, 1)}, io{"w": fzT([]int{6, 16, 1, 1}, 2)}, 4},
		{"fused conv hardswish columns", &graph.Node{Name: "fc", Op: "FusedConv", Domain: FusedDomain, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"},
			Attrs: map[string]*graph.Attr{"activation": strA("HardSwish"), "pads": intsA(1, 1, 1, 1)}},
			io{"x": fzT([]int{1, 8, 30, 33}, 1)}, io{"w": fzT([]int{3, 8, 3, 3}, 2), "b": fzT([]int{3}, 3)}, 4},
		{"conv pointwise", node("c", "Conv", []string{"x", "w"}, []string{"y"}, map[string]*graph.Attr{}),
			io{"x": fzT([]int{1, 24, 10, 10}, 1)}, io{"w": fzT([]int{40, 24, 1, 1}, 2)}, 2},
		{"fused conv relu", &graph.Node{Name: "fc", Op: "FusedConv", Domain: FusedDomain, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"},
			Attrs: map[string]*graph.Attr{"activation": strA("Relu"), "pads": intsA(1, 1, 1, 1)}},
			io{"x": fzT([]int{1, 8, 12, 12}, 1)}, io{"w": fzT([]int{24, 8, 3, 3}, 2), "b": fzT([]int{24}, 3)}, 2},
		{"gemm rows", node("g", "Gemm", []string{"a", "b", "c"}, []string{"y"}, map[string]*graph.Attr{"transB": intA(1), "alpha": floatA(0.5)}),
			io{"a": fzT([]int{40, 64}, 1)}, io{"b": fzT([]int{48, 64}, 2), "c": fzT([]int{48}, 3)}, 2},
		{"gemm rows deep K", node("g", "Gemm", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": fzT([]int{50, 600}, 1)}, io{"b": fzT([]int{600, 40}, 2)}, 2},
		{"gemm rows C matrix", node("g", "Gemm", []string{"a", "b", "c"}, []string{"y"}, map[string]*graph.Attr{"beta": floatA(2)}),
			io{"a": fzT([]int{40, 64}, 1)}, io{"b": fzT([]int{64, 48}, 2), "c": fzT([]int{40, 48}, 3)}, 2},
		{"gemm skinny columns", node("g", "Gemm", []string{"a", "b", "c"}, []string{"y"}, map[string]*graph.Attr{"transB": intA(1)}),
			io{"a": fzT([]int{1, 128}, 1)}, io{"b": fzT([]int{300, 128}, 2), "c": fzT([]int{1, 300}, 3)}, 2},
		{"gemm skinny columns noTrans", node("g", "Gemm", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": fzT([]int{3, 128}, 1)}, io{"b": fzT([]int{128, 200}, 2)}, 2},
		{"fused gemm sigmoid", &graph.Node{Name: "fg", Op: "FusedGemm", Domain: FusedDomain, Inputs: []string{"a", "b", "c"}, Outputs: []string{"y"},
			Attrs: map[string]*graph.Attr{"activation": strA("Sigmoid"), "transB": intA(1)}},
			io{"a": fzT([]int{30, 64}, 1)}, io{"b": fzT([]int{50, 64}, 2), "c": fzT([]int{50}, 3)}, 2},
		{"matmul stacked rows", node("m", "MatMul", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": fzT([]int{2, 20, 32}, 1)}, io{"b": fzT([]int{32, 24}, 2)}, 2},
		{"matmul batched", node("m", "MatMul", []string{"a", "b"}, []string{"y"}, nil),
			io{"a": fzT([]int{2, 3, 8, 16}, 1), "b": fzT([]int{2, 1, 16, 8}, 2)}, nil, 2},
		{"fused matmul bias gelu-ish", &graph.Node{Name: "fm", Op: "FusedMatMul", Domain: FusedDomain, Inputs: []string{"a", "b", "c"}, Outputs: []string{"y"},
			Attrs: map[string]*graph.Attr{"activation": strA("Tanh")}},
			io{"a": fzT([]int{1, 4, 96}, 1)}, io{"b": fzT([]int{96, 256}, 2), "c": fzT([]int{256}, 3)}, 2},
		{"relu", node("r", "Relu", []string{"x"}, []string{"y"}, nil), io{"x": fzT([]int{4, 3000}, 1)}, nil, 2},
		{"sigmoid", node("r", "Sigmoid", []string{"x"}, []string{"y"}, nil), io{"x": fzT([]int{5, 1001}, 1)}, nil, 2},
		{"add same", node("a", "Add", []string{"x", "z"}, []string{"y"}, nil), io{"x": fzT([]int{3, 4000}, 1), "z": fzT([]int{3, 4000}, 2)}, nil, 2},
		{"div scalar", node("a", "Div", []string{"x", "z"}, []string{"y"}, nil), io{"x": fzT([]int{3, 4000}, 1)}, io{"z": f32(nil, 3)}, 2},
		{"sub row", node("a", "Sub", []string{"z", "x"}, []string{"y"}, nil), io{"x": fzT([]int{1, 64, 300}, 1)}, io{"z": fzT([]int{300}, 2)}, 2},
		{"maxpool", node("p", "MaxPool", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"kernel_shape": intsA(3, 3), "strides": intsA(2, 2), "pads": intsA(1, 1, 1, 1)}),
			io{"x": fzT([]int{2, 16, 32, 32}, 1)}, nil, 2},
		{"avgpool", node("p", "AveragePool", []string{"x"}, []string{"y"}, map[string]*graph.Attr{"kernel_shape": intsA(2, 2), "strides": intsA(2, 2)}),
			io{"x": fzT([]int{1, 16, 64, 64}, 1)}, nil, 2},
		{"global avg", node("p", "GlobalAveragePool", []string{"x"}, []string{"y"}, nil), io{"x": fzT([]int{4, 32, 32, 32}, 1)}, nil, 2},
		{"softmax is one tile", node("s", "Softmax", []string{"x"}, []string{"y"}, nil), io{"x": fzT([]int{4, 100}, 1)}, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkTiled(t, p, tc.n, tc.in, tc.inits, tc.minTiles)
		})
	}
}

func TestSpans(t *testing.T) {
	got := spans(20, 3, 6)
	want := [][2]int{{0, 12}, {12, 20}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("spans(20, 3, 6) = %v, want %v", got, want)
	}
	if got := spans(5, 10, 1); len(got) != 5 {
		t.Errorf("spans(5, 10, 1) = %v, want 5 spans", got)
	}
	// every row block keeps the register-blocked kernel and is a multiple of 6 rows
	for _, s := range rowSpans(100, []int{64}, 64, 8) {
		if s[0]%gemmMR != 0 || gemmPath(s[1]-s[0], 64, 64) != 3 {
			t.Errorf("row span %v", s)
		}
	}
	if rowSpans(8, []int{4}, 4, 4) != nil {
		t.Error("split a GEMM too small to keep its kernel")
	}
}

// A node measured slower than the pool's GEMM rate gets smaller tiles on its next run.
func TestMeasuredRateShrinksTiles(t *testing.T) {
	p, err := NewPool(PoolOptions{Units: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := node("c", "Conv", []string{"x", "w"}, []string{"y"}, nil)
	mask, _ := p.NewMask([]int{0})
	u := &unitRun{p: p, opt: UnitRunOptions{Mask: mask}}
	c := &opCtx{node: n}
	flops := 100 * p.flopRate * float64(p.tileTime.Nanoseconds()) / 10 // ~10 tile times at the GEMM rate
	if got := u.want(c).count(flops, 1000); got > 11 {
		t.Fatalf("%d tiles before any measurement, want about 10", got)
	}
	// measured 10x slower than the GEMM rate: about 10x the tiles
	p.observe(n, flops, int64(100*p.tileTime.Nanoseconds()))
	var est float64
	w := u.want(c)
	w.est = &est
	if got := w.count(flops, 1000); got < 90 || got > 110 {
		t.Errorf("%d tiles after a measured rate 10x slower, want about 100", got)
	}
	if est != flops {
		t.Errorf("estimate recorded %v, want %v", est, flops)
	}
}
