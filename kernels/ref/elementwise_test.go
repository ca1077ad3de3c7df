package ref

import (
	"math"
	"testing"
)

func TestBinaryBroadcast(t *testing.T) {
	cases := []struct {
		name string
		op   BinaryOp
		a    []float32
		as   []int
		b    []float32
		bs   []int
		want []float32
		ws   []int
	}{
		{"scalar", Add, []float32{1, 2, 3}, []int{3}, []float32{10}, []int{}, []float32{11, 12, 13}, []int{3}},
		{"scalar left", Sub, []float32{10}, nil, []float32{1, 2}, []int{2}, []float32{9, 8}, []int{2}},
		{"row col", Mul, []float32{1, 2, 3}, []int{3, 1}, []float32{1, 10}, []int{1, 2}, []float32{1, 10, 2, 20, 3, 30}, []int{3, 2}},
		{"rank mismatch", Add, []float32{1, 2, 3, 4, 5, 6}, []int{2, 1, 3}, []float32{10, 20}, []int{2, 1}, []float32{11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26}, []int{2, 2, 3}},
		{"channel bias", Add, []float32{1, 2, 3, 4, 5, 6, 7, 8}, []int{1, 2, 2, 2}, []float32{100, 200}, []int{2, 1, 1}, []float32{101, 102, 103, 104, 205, 206, 207, 208}, []int{1, 2, 2, 2}},
		{"div", Div, []float32{1, 4}, []int{2}, []float32{2, 8}, []int{2}, []float32{0.5, 0.5}, []int{2}},
		{"pow", Pow, []float32{2, 3}, []int{2}, []float32{3}, []int{1}, []float32{8, 27}, []int{2}},
		{"max", Max, []float32{1, 5}, []int{2}, []float32{3, 2}, []int{2}, []float32{3, 5}, []int{2}},
		{"min", Min, []float32{1, 5}, []int{2}, []float32{3}, []int{}, []float32{1, 3}, []int{2}},
		{"mod", Mod, []float32{5, -5, 5, -5}, []int{4}, []float32{3, 3, -3, -3}, []int{4}, []float32{2, 1, -1, -2}, []int{4}},
		{"fmod", FMod, []float32{5, -5}, []int{2}, []float32{3, 3}, []int{2}, []float32{2, -2}, []int{2}},
		{"prelu", PRelu, []float32{-2, 3, -4, 5}, []int{2, 2}, []float32{0.5, 0.25}, []int{2, 1}, []float32{-1, 3, -1, 5}, []int{2, 2}},
		{"empty", Add, nil, []int{0, 3}, []float32{1, 2, 3}, []int{3}, []float32{}, []int{0, 3}},
	}
	for _, tc := range cases {
		got, shape, err := Binary(tc.op, tc.a, tc.as, tc.b, tc.bs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !equal(shape, tc.ws) || !equalF(got, tc.want) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, shape, tc.want, tc.ws)
		}
	}
	if _, _, err := Binary(Add, make([]float32, 6), []int{2, 3}, make([]float32, 2), []int{2}); err == nil {
		t.Error("[2 3] + [2]: no error")
	}
	if _, _, err := Binary(Add, make([]float32, 5), []int{2, 3}, make([]float32, 2), []int{2}); err == nil {
		t.Error("data/shape mismatch: no error")
	}
}

func TestBinaryInt(t *testing.T) {
	got, _, err := Binary(Div, []int64{7, -7, 9}, []int{3}, []int64{2, 2, 3}, []int{3})
	if err != nil || got[0] != 3 || got[1] != -3 || got[2] != 3 {
		t.Fatalf("int div %v %v", got, err)
	}
	got, _, err = Binary(Mod, []int64{-7, 7}, []int{2}, []int64{3, -3}, []int{2})
	if err != nil || got[0] != 2 || got[1] != -2 {
		t.Fatalf("int mod %v %v", got, err)
	}
	if _, _, err := Binary(Div, []int64{1}, []int{1}, []int64{0}, []int{1}); err == nil {
		t.Fatal("integer division by zero: no error")
	}
	g32, _, err := Binary(Mul, []int32{2, 3}, []int{2, 1}, []int32{4, 5}, []int{2})
	if err != nil || !equal(toIntSlice(g32), []int{8, 10, 12, 15}) {
		t.Fatalf("int32 mul %v %v", g32, err)
	}
}

func toIntSlice(v []int32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func TestCompareLogicWhere(t *testing.T) {
	c, s, err := Compare(Less, []int64{1, 5, 3}, []int{3}, []int64{3}, nil)
	if err != nil || !equal(s, []int{3}) || c[0] != true || c[1] != false || c[2] != false {
		t.Fatalf("less %v %v %v", c, s, err)
	}
	c, _, _ = Compare(GreaterOrEqual, []float32{1, 5, 3}, []int{3}, []float32{3}, nil)
	if c[0] || !c[1] || !c[2] {
		t.Fatalf("ge %v", c)
	}
	c, _, _ = Compare(Equal, []bool{true, false}, []int{2}, []bool{true}, nil)
	if !c[0] || c[1] {
		t.Fatalf("eq bool %v", c)
	}
	l, _, _ := Logic(Xor, []bool{true, false}, []int{2, 1}, []bool{true, false}, []int{2})
	if l[0] || !l[1] || !l[2] || l[3] {
		t.Fatalf("xor %v", l)
	}
	w, ws, err := Where([]bool{true, false}, []int{2}, []float32{1, 2, 3, 4}, []int{2, 2}, []float32{-1}, nil)
	if err != nil || !equal(ws, []int{2, 2}) || !equalF(w, []float32{1, -1, 3, -1}) {
		t.Fatalf("where %v %v %v", w, ws, err)
	}
}

func TestUnary(t *testing.T) {
	in := []float32{-2, -0.5, 0, 0.5, 3, 4}
	for _, tc := range []struct {
		p UnaryParams
		f func(float64) float64
	}{
		{UnaryParams{Op: Relu}, func(x float64) float64 { return math.Max(x, 0) }},
		{UnaryParams{Op: LeakyRelu, Alpha: 0.1}, func(x float64) float64 { return map[bool]float64{true: x * 0.1, false: x}[x < 0] }},
		{UnaryParams{Op: Sigmoid}, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{UnaryParams{Op: HardSigmoid, Alpha: 0.2, Beta: 0.5}, func(x float64) float64 { return math.Max(0, math.Min(1, 0.2*x+0.5)) }},
		{UnaryParams{Op: HardSwish}, func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }},
		{UnaryParams{Op: Clip, Alpha: -1, Beta: 3.5}, func(x float64) float64 { return math.Max(-1, math.Min(3.5, x)) }},
		{UnaryParams{Op: Gelu}, func(x float64) float64 { return x * 0.5 * (1 + math.Erf(x/math.Sqrt2)) }},
		{UnaryParams{Op: Round}, func(x float64) float64 { return math.RoundToEven(x) }},
		{UnaryParams{Op: Elu, Alpha: 1}, func(x float64) float64 { return map[bool]float64{true: math.Exp(x) - 1, false: x}[x < 0] }},
		{UnaryParams{Op: Softplus}, func(x float64) float64 { return math.Log(1 + math.Exp(x)) }},
		{UnaryParams{Op: Sign}, func(x float64) float64 {
			return map[bool]float64{true: -1, false: map[bool]float64{true: 1, false: 0}[x > 0]}[x < 0]
		}},
		{UnaryParams{Op: Mish}, func(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) }},
	} {
		out := make([]float32, len(in))
		if err := Unary(tc.p, in, out); err != nil {
			t.Fatal(err)
		}
		for i, x := range in {
			if w := tc.f(float64(x)); math.Abs(float64(out[i])-w) > 1e-6 {
				t.Errorf("op %d (%v): f(%v) = %v, want %v", tc.p.Op, tc.p, x, out[i], w)
			}
		}
	}
	o := make([]int64, 3)
	if err := UnaryInt(Clip, []int64{-5, 2, 9}, o, 0, 4); err != nil || o[0] != 0 || o[1] != 2 || o[2] != 4 {
		t.Fatalf("int clip %v %v", o, err)
	}
	if err := UnaryInt(Exp, []int64{1}, o[:1], 0, 0); err == nil {
		t.Fatal("Exp on ints: no error")
	}
}

func TestSoftmax(t *testing.T) {
	in := []float32{1, 2, 3, 1, 1, 1}
	out := make([]float32, 6)
	if err := Softmax(in, []int{2, 3}, 1, false, out); err != nil {
		t.Fatal(err)
	}
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	s := e[0] + e[1] + e[2]
	want := []float32{float32(e[0] / s), float32(e[1] / s), float32(e[2] / s), 1.0 / 3, 1.0 / 3, 1.0 / 3}
	relErr(t, "softmax", out, want, 1e-6)
	// axis 0 (strided)
	if err := Softmax(in, []int{2, 3}, 0, true, out); err != nil {
		t.Fatal(err)
	}
	l2 := math.Log(2)
	L2, L3 := math.Log(math.Exp(2)+math.E), math.Log(math.Exp(3)+math.E)
	wantLog := []float32{float32(-l2), float32(2 - L2), float32(3 - L3), float32(-l2), float32(1 - L2), float32(1 - L3)}
	relErr(t, "logsoftmax axis0", out, wantLog, 1e-6)
}

func TestNorms(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	out := make([]float32, 6)
	mean := make([]float32, 2)
	if err := LayerNorm(x, 2, 3, []float32{1, 2, 1}, []float32{0, 0, 1}, 0, out, mean, nil); err != nil {
		t.Fatal(err)
	}
	s := float32(math.Sqrt(2.0 / 3))
	want := []float32{-1 / s, 0, 1/s + 1, -1 / s, 0, 1/s + 1}
	relErr(t, "layernorm", out, want, 1e-6)
	if mean[0] != 2 || mean[1] != 5 {
		t.Fatalf("mean %v", mean)
	}
	if err := BatchNorm(x, 1, 2, 3, []float32{2, 1}, []float32{1, 0}, []float32{2, 5}, []float32{4, 1}, 0, out); err != nil {
		t.Fatal(err)
	}
	relErr(t, "batchnorm", out, []float32{0, 1, 2, -1, 0, 1}, 1e-6)
	if err := BatchNorm(x, 1, 2, 3, []float32{2}, []float32{1, 0}, []float32{2, 5}, []float32{4, 1}, 0, out); err == nil {
		t.Fatal("short scale: no error")
	}
	if err := InstanceNorm(x, 1, 2, 3, []float32{1, 1}, []float32{0, 0}, 0, out); err != nil {
		t.Fatal(err)
	}
	relErr(t, "instancenorm", out, []float32{-1 / s, 0, 1 / s, -1 / s, 0, 1 / s}, 1e-6)
}
