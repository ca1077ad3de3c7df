package ref

import (
	"math/rand"
	"testing"
)

func naiveMatMul(a, b []float32, m, n, k int) []float32 {
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				s += float64(a[i*k+l]) * float64(b[l*n+j])
			}
			out[i*n+j] = float32(s)
		}
	}
	return out
}

func transpose2(a []float32, r, c int) []float32 {
	out := make([]float32, len(a))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = a[i*c+j]
		}
	}
	return out
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, tc := range []struct {
		m, n, k     int
		ta, tb      bool
		cshape      []int
		alpha, beta float32
	}{
		{3, 4, 5, false, false, []int{4}, 1, 1},
		{7, 2, 9, true, false, []int{7, 1}, 0.5, 2},
		{5, 6, 3, false, true, []int{}, 1, 1},
		{130, 70, 90, true, true, []int{130, 70}, 1, 0.5},
		{4, 4, 4, false, false, nil, 2, 1},
		// blocked AVX2 path: edge tiles, K and N beyond one block, every transpose
		{37, 1100, 300, false, false, []int{1100}, 1, 1},
		{61, 45, 517, true, false, []int{61, 1}, 0.5, 0},
		{13, 17, 29, false, true, nil, 1, 1},
		{6, 16, 1, true, true, []int{6, 16}, 1, 3},
		{200, 9, 64, false, false, nil, 1, 1},
		// skinny rows (matrix-vector path): every transpose, beta 0/1/other, odd sizes
		{1, 1000, 1280, false, true, []int{1000}, 1, 1},
		{1, 517, 300, false, false, nil, 1, 0},
		{3, 130, 77, true, false, []int{3, 130}, 0.5, 2},
		{4, 70, 129, true, true, []int{70}, 1, 1},
		// one column (matrix-vector with A's rows as the dot products): every transpose
		{96, 1, 288, false, false, nil, 1, 0},
		{200, 1, 30, true, false, []int{200, 1}, 0.5, 2},
		{64, 1, 100, false, true, []int{1}, 1, 1},
		{77, 1, 65, true, true, nil, 2, 0},
	} {
		a := randSlice(r, tc.m*tc.k)
		b := randSlice(r, tc.k*tc.n)
		want := naiveMatMul(a, b, tc.m, tc.n, tc.k)
		var c []float32
		if tc.cshape != nil {
			c = randSlice(r, prod(tc.cshape))
			ce, _ := Expand(c, tc.cshape, []int{tc.m, tc.n})
			for i := range want {
				want[i] = tc.alpha*want[i] + tc.beta*ce[i]
			}
		} else {
			for i := range want {
				want[i] *= tc.alpha
			}
		}
		aa, bb := a, b
		if tc.ta {
			aa = transpose2(a, tc.m, tc.k)
		}
		if tc.tb {
			bb = transpose2(b, tc.k, tc.n)
		}
		got := make([]float32, tc.m*tc.n)
		p := GemmParams{M: tc.m, N: tc.n, K: tc.k, TransA: tc.ta, TransB: tc.tb, Alpha: tc.alpha, Beta: tc.beta}
		if err := Gemm(p, aa, bb, c, tc.cshape, got); err != nil {
			t.Fatal(err)
		}
		relErr(t, "gemm", got, want, 1e-5)
	}
	if err := Gemm(GemmParams{M: 2, N: 2, K: 2, Alpha: 1, Beta: 1}, make([]float32, 4), make([]float32, 4), make([]float32, 3), []int{3}, make([]float32, 4)); err == nil {
		t.Fatal("C of shape [3] for [2 2]: no error")
	}
}

func TestMatMulBroadcast(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for _, tc := range []struct{ a, b, want []int }{
		{[]int{3, 4}, []int{4, 5}, []int{3, 5}},
		{[]int{2, 3, 4}, []int{4, 5}, []int{2, 3, 5}},
		{[]int{2, 1, 3, 4}, []int{3, 4, 2}, []int{2, 3, 3, 2}},
		{[]int{4}, []int{2, 4, 3}, []int{2, 3}},
		{[]int{2, 3, 4}, []int{4}, []int{2, 3}},
		{[]int{4}, []int{4}, []int{}},
		{[]int{1, 3, 4}, []int{5, 4, 6}, []int{5, 3, 6}},
	} {
		a := randSlice(r, prod(tc.a))
		b := randSlice(r, prod(tc.b))
		got, shape, err := MatMul(a, tc.a, b, tc.b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !equal(shape, tc.want) {
			t.Fatalf("%v x %v: shape %v, want %v", tc.a, tc.b, shape, tc.want)
		}
		// reference: expand both to full batch and do naive per batch
		as, bs := tc.a, tc.b
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
		batch, _ := BroadcastShape(as[:len(as)-2], bs[:len(bs)-2])
		ae, _ := Expand(a, as, append(append([]int{}, batch...), m, k))
		be, _ := Expand(b, bs, append(append([]int{}, batch...), k, n))
		var want []float32
		for i := 0; i < prod(batch); i++ {
			want = append(want, naiveMatMul(ae[i*m*k:(i+1)*m*k], be[i*k*n:(i+1)*k*n], m, n, k)...)
		}
		relErr(t, "matmul", got, want, 1e-5)
	}
	if _, _, err := MatMul(make([]float32, 6), []int{2, 3}, make([]float32, 8), []int{4, 2}, 0); err == nil {
		t.Fatal("inner dim mismatch: no error")
	}
	if _, _, err := MatMul(make([]float32, 12), []int{2, 2, 3}, make([]float32, 18), []int{3, 3, 2}, 0); err == nil {
		t.Fatal("batch mismatch: no error")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkGemm(b *testing.B) {
	for _, sz := range []int{256, 512} {
		r := rand.New(rand.NewSource(9))
		x := randSlice(r, sz*sz)
		y := randSlice(r, sz*sz)
		out := make([]float32, sz*sz)
		p := GemmParams{M: sz, N: sz, K: sz, Alpha: 1}
		b.Run(itoa(sz), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := Gemm(p, x, y, nil, nil, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*float64(sz*sz*sz)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func itoa(i int) string {
	s := ""
	for i > 0 {
		s = string(rune('0'+i%10)) + s
		i /= 10
	}
	return s
}
