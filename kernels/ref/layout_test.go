package ref

import "testing"

func iota64(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i)
	}
	return v
}

func TestTranspose(t *testing.T) {
	x := iota64(24)
	got, shape, err := Transpose(x, []int{2, 3, 4}, []int{2, 0, 1})
	if err != nil || !equal(shape, []int{4, 2, 3}) {
		t.Fatalf("%v %v", shape, err)
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 2; j++ {
			for k := 0; k < 3; k++ {
				if got[(i*2+j)*3+k] != x[(j*3+k)*4+i] {
					t.Fatalf("mismatch at %d %d %d", i, j, k)
				}
			}
		}
	}
	g2, s2, _ := Transpose(iota64(6), []int{2, 3}, nil)
	if !equal(s2, []int{3, 2}) || g2[1] != 3 || g2[2] != 1 {
		t.Fatalf("2d transpose %v %v", g2, s2)
	}
	// NCHW -> NHWC large enough for tiling
	big := iota64(2 * 35 * 40)
	g3, _, _ := Transpose(big, []int{1, 2, 35, 40}, []int{0, 2, 3, 1})
	for h := 0; h < 35; h++ {
		for w := 0; w < 40; w++ {
			for c := 0; c < 2; c++ {
				if g3[(h*40+w)*2+c] != big[(c*35+h)*40+w] {
					t.Fatalf("nhwc mismatch")
				}
			}
		}
	}
	if _, _, err := Transpose(x, []int{2, 3, 4}, []int{0, 0, 1}); err == nil {
		t.Fatal("bad perm: no error")
	}
}

func TestSlice(t *testing.T) {
	x := iota64(20) // [4, 5]
	sl, err := SliceParams([]int{4, 5}, []int64{-1, 1}, []int64{-100, 1000}, []int64{0, 1}, []int64{-2, 2})
	if err != nil {
		t.Fatal(err)
	}
	got, shape, err := Slice(x, []int{4, 5}, sl)
	if err != nil || !equal(shape, []int{2, 2}) {
		t.Fatalf("%v %v", shape, err)
	}
	if want := []int64{16, 18, 6, 8}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("got %v, want %v", got, want)
	}
	sl, _ = SliceParams([]int{4, 5}, []int64{3}, []int64{3}, []int64{1}, []int64{1})
	if _, shape, _ := Slice(x, []int{4, 5}, sl); !equal(shape, []int{4, 0}) {
		t.Fatalf("empty slice shape %v", shape)
	}
	if _, err := SliceParams([]int{4}, []int64{0}, []int64{1}, []int64{0}, []int64{0}); err == nil {
		t.Fatal("step 0: no error")
	}
}

func TestConcatSplitGather(t *testing.T) {
	a, b := iota64(4), []int64{10, 11}
	got, shape, err := Concat([][]int64{a, b}, [][]int{{2, 2}, {2, 1}}, 1)
	if err != nil || !equal(shape, []int{2, 3}) || got[2] != 10 || got[5] != 11 || got[3] != 2 {
		t.Fatalf("concat %v %v %v", got, shape, err)
	}
	if _, _, err := Concat([][]int64{a, b}, [][]int{{2, 2}, {1, 2}}, 1); err == nil {
		t.Fatal("concat mismatch: no error")
	}
	parts, shapes, err := Split(got, shape, 1, []int{1, 2})
	if err != nil || !equal(shapes[1], []int{2, 2}) || parts[1][0] != 1 || parts[1][1] != 10 || parts[0][1] != 2 {
		t.Fatalf("split %v %v %v", parts, shapes, err)
	}
	if s, _ := SplitEven(7, 3); !equal(s, []int{3, 3, 1}) {
		t.Fatalf("split even %v", s)
	}
	g, gs, err := Gather(iota64(6), []int{3, 2}, []int64{2, -3, 1, 2}, []int{2, 2}, 0)
	if err != nil || !equal(gs, []int{2, 2, 2}) || g[0] != 4 || g[2] != 0 || g[4] != 2 {
		t.Fatalf("gather %v %v %v", g, gs, err)
	}
	if _, _, err := Gather(iota64(6), []int{3, 2}, []int64{3}, []int{1}, 0); err == nil {
		t.Fatal("gather out of range: no error")
	}
	ge, err := GatherElements(iota64(4), []int{2, 2}, []int64{1, 0, 0, 0}, []int{2, 2}, 1)
	if err != nil || ge[0] != 1 || ge[1] != 0 || ge[2] != 2 {
		t.Fatalf("gather elements %v %v", ge, err)
	}
}

func TestPadTileExpand(t *testing.T) {
	x := []float32{1, 2, 3}
	for _, tc := range []struct {
		mode PadMode
		want []float32
	}{
		{PadConstant, []float32{9, 9, 1, 2, 3, 9}},
		{PadReflect, []float32{3, 2, 1, 2, 3, 2}},
		{PadEdge, []float32{1, 1, 1, 2, 3, 3}},
		{PadWrap, []float32{2, 3, 1, 2, 3, 1}},
	} {
		got, _, err := Pad(x, []int{3}, []int{2}, []int{1}, tc.mode, 9)
		if err != nil || !equalF(got, tc.want) {
			t.Errorf("pad %v: %v %v, want %v", tc.mode, got, err, tc.want)
		}
	}
	got, shape, _ := Pad([]float32{1, 2, 3, 4}, []int{2, 2}, []int{0, -1}, []int{1, 0}, PadConstant, 0)
	if !equal(shape, []int{3, 1}) || !equalF(got, []float32{2, 4, 0}) {
		t.Fatalf("crop pad %v %v", got, shape)
	}
	tl, ts, _ := Tile([]int64{1, 2}, []int{1, 2}, []int{2, 2})
	if !equal(ts, []int{2, 4}) || tl[2] != 1 || tl[7] != 2 {
		t.Fatalf("tile %v %v", tl, ts)
	}
	e, err := Expand([]float32{1, 2}, []int{2, 1}, []int{2, 1, 3})
	if err != nil || len(e) != 12 || e[3] != 2 || e[6] != 1 {
		t.Fatalf("expand %v %v", e, err)
	}
}

func TestReduce(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6} // [2, 3]
	for _, tc := range []struct {
		op   ReduceOp
		axes []int
		want []float32
	}{
		{ReduceSum, []int{1}, []float32{6, 15}},
		{ReduceMean, []int{0}, []float32{2.5, 3.5, 4.5}},
		{ReduceMax, nil, []float32{6}},
		{ReduceMin, []int{1}, []float32{1, 4}},
		{ReduceProd, []int{0}, []float32{4, 10, 18}},
		{ReduceSumSquare, []int{1}, []float32{14, 77}},
		{ReduceL1, []int{0, 1}, []float32{21}},
	} {
		got, err := Reduce(tc.op, x, []int{2, 3}, tc.axes)
		if err != nil {
			t.Fatal(err)
		}
		relErr(t, "reduce", got, tc.want, 1e-6)
	}
	// non-contiguous axes on [2, 2, 2]
	y := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	got, _ := Reduce(ReduceSum, y, []int{2, 2, 2}, []int{0, 2})
	relErr(t, "reduce 0,2", got, []float32{1 + 2 + 5 + 6, 3 + 4 + 7 + 8}, 1e-6)
	if !equal(ReduceShape([]int{2, 3, 4}, []int{1}, true), []int{2, 1, 4}) || !equal(ReduceShape([]int{2, 3, 4}, []int{0, 2}, false), []int{3}) {
		t.Fatal("reduce shape")
	}
	if _, err := NormalizeAxes([]int64{-1, 2}, 3); err == nil {
		t.Fatal("repeated axis: no error")
	}
	am, _ := ArgReduce([]float32{1, 3, 3, 0, 2, 2}, []int{2, 3}, 1, true, false)
	if am[0] != 1 || am[1] != 1 {
		t.Fatalf("argmax %v", am)
	}
	am, _ = ArgReduce([]float32{1, 3, 3, 0, 2, 2}, []int{2, 3}, 1, true, true)
	if am[0] != 2 || am[1] != 2 {
		t.Fatalf("argmax last %v", am)
	}
	vals, idx, _, _ := TopK([]float32{1, 5, 3, 5}, []int{4}, 0, 2, true, true)
	if vals[0] != 5 || vals[1] != 5 || idx[0] != 1 || idx[1] != 3 {
		t.Fatalf("topk %v %v", vals, idx)
	}
}
