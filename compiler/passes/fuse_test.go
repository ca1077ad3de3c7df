package passes_test

import (
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
)

func conv(b *gb, x string, cin, cout, k int, extra ...any) string {
	w := b.w("w"+itoa(b.n), -0.5, 0.5, cout, cin, k, k)
	a := attrs(append([]any{"pads", aInts(int64(k/2), int64(k/2), int64(k/2), int64(k/2))}, extra...)...)
	return b.node("Conv", []string{x, w}, a)
}

func bn(b *gb, x string, c int) string {
	s, bias := b.w("s"+itoa(b.n), 0.5, 1.5, c), b.w("b"+itoa(b.n), -1, 1, c)
	m, v := b.w("m"+itoa(b.n), -1, 1, c), b.w("v"+itoa(b.n), 0.1, 2, c)
	return b.node("BatchNormalization", []string{x, s, bias, m, v}, attrs("epsilon", aFloat(1e-3)))
}

func TestBatchNormFold(t *testing.T) {
	b := newGB("bn")
	x := b.input("x", 1, 3, 8, 8)
	y := bn(b, conv(b, x, 3, 4, 3), 4)
	y = b.node("Relu", []string{y}, nil)
	z := bn(b, b.node("ConvTranspose", []string{y, b.w("wt", -0.5, 0.5, 4, 3, 2, 2)}, attrs("strides", aInts(2, 2), "group", aInt(1))), 3)
	g2 := b.node("Gemm", []string{b.node("Flatten", []string{z}, nil), b.w("wg", -0.1, 0.1, 5, 768)}, attrs("transB", aInt(1)))
	g2 = bn(b, g2, 5)
	expectOps(t, b.output(g2), map[string]int{"BatchNormalization": 0, "elasticroom.FusedConv": 1, "ConvTranspose": 1, "Gemm": 1})
}

func TestBatchNormGroupedConvTranspose(t *testing.T) {
	b := newGB("bn_group")
	x := b.input("x", 1, 4, 5, 5)
	y := b.node("ConvTranspose", []string{x, b.w("wt", -0.5, 0.5, 4, 3, 3, 3), b.w("bt", -1, 1, 6)}, attrs("group", aInt(2)))
	expectOps(t, b.output(bn(b, y, 6)), map[string]int{"BatchNormalization": 0})
}

func TestBatchNormNotFoldedWhenShared(t *testing.T) {
	b := newGB("bn_shared")
	x := b.input("x", 1, 3, 6, 6)
	c := conv(b, x, 3, 4, 3)
	y := bn(b, c, 4)
	expectOps(t, b.output(y, c), map[string]int{"BatchNormalization": 1})
}

func TestConvBiasActivation(t *testing.T) {
	for _, act := range []struct {
		op    string
		extra func(b *gb) ([]string, map[string]*graph.Attr)
	}{
		{"Relu", nil},
		{"Clip", func(b *gb) ([]string, map[string]*graph.Attr) {
			return []string{b.c("lo", nil, 0), b.c("hi", nil, 6)}, nil
		}},
		{"Sigmoid", nil}, {"Tanh", nil}, {"HardSwish", nil},
		{"HardSigmoid", func(b *gb) ([]string, map[string]*graph.Attr) {
			return nil, attrs("alpha", aFloat(0.3), "beta", aFloat(0.4))
		}},
		{"LeakyRelu", func(b *gb) ([]string, map[string]*graph.Attr) { return nil, attrs("alpha", aFloat(0.2)) }},
	} {
		t.Run(act.op, func(t *testing.T) {
			b := newGB("conv_" + act.op)
			x := b.input("x", 1, 3, 7, 7)
			y := conv(b, x, 3, 4, 3, "strides", aInts(2, 2))
			y = b.node("Add", []string{b.w("cb", -1, 1, 4, 1, 1), y}, nil)
			ins, at := []string{y}, map[string]*graph.Attr(nil)
			if act.extra != nil {
				more, a := act.extra(b)
				ins, at = append(ins, more...), a
			}
			y = b.node(act.op, ins, at)
			og := expectOps(t, b.output(y), map[string]int{"elasticroom.FusedConv": 1, "Add": 0, act.op: 0})
			if a := og.Nodes[0].AttrString("activation", ""); a != act.op {
				t.Errorf("activation = %q, want %q", a, act.op)
			}
		})
	}
}

func TestGemmMatMulFusion(t *testing.T) {
	b := newGB("linear")
	x := b.input("x", 2, 8)
	y := b.node("Gemm", []string{x, b.w("w1", -0.5, 0.5, 8, 6)}, nil)
	y = b.node("Add", []string{y, b.w("b1", -1, 1, 6)}, nil)
	y = b.node("HardSigmoid", []string{y}, nil)
	z := b.node("MatMul", []string{b.node("Reshape", []string{y, b.ints("shp", 2, 2, 3)}, nil), b.w("w2", -0.5, 0.5, 3, 5)}, nil)
	z = b.node("Add", []string{z, b.w("b2", -1, 1, 1, 1, 5)}, nil)
	z = b.node("LeakyRelu", []string{z}, attrs("alpha", aFloat(0.1)))
	expectOps(t, b.output(z), map[string]int{"elasticroom.FusedGemm": 1, "elasticroom.FusedMatMul": 1, "Add": 0})
}

func TestElementwiseChain(t *testing.T) {
	b := newGB("hardswish")
	x := b.input("x", 1, 4, 5, 5)
	y := b.node("Add", []string{x, b.c("three", nil, 3)}, nil)
	y = b.node("Clip", []string{y, b.c("lo", nil, 0), b.c("hi", nil, 6)}, nil)
	y = b.node("Div", []string{y, b.c("six", nil, 6)}, nil)
	y = b.node("Mul", []string{x, y}, nil)
	y = b.node("Sub", []string{y, b.w("shift", -1, 1, 4, 1, 1)}, nil) // broadcasting constant
	y = b.node("Exp", []string{y}, nil)
	og := expectOps(t, b.output(y), map[string]int{"elasticroom.FusedElementwise": 1})
	if len(og.Nodes) != 1 {
		t.Errorf("%d nodes left, want 1", len(og.Nodes))
	}
	body := og.Nodes[0].AttrGraph("body")
	if body == nil || len(body.Nodes) != 6 {
		t.Fatalf("body = %+v", body)
	}
}

func TestLayerNorm(t *testing.T) {
	for _, sq := range []string{"Pow", "Mul"} {
		t.Run(sq, func(t *testing.T) {
			b := newGB("ln")
			x := b.input("x", 2, 3, 16)
			m := b.node("ReduceMean", []string{x, b.ints("ax", -1)}, nil)
			d := b.node("Sub", []string{x, m}, nil)
			var p string
			if sq == "Pow" {
				p = b.node("Pow", []string{d, b.c("two", nil, 2)}, nil)
			} else {
				p = b.node("Mul", []string{d, d}, nil)
			}
			v := b.node("ReduceMean", []string{p, b.ints("ax2", 2)}, nil)
			v = b.node("Add", []string{b.c("eps", nil, 1e-5), v}, nil)
			s := b.node("Sqrt", []string{v}, nil)
			n := b.node("Div", []string{d, s}, nil)
			n = b.node("Mul", []string{n, b.w("gamma", 0.5, 1.5, 16)}, nil)
			n = b.node("Add", []string{n, b.w("beta", -1, 1, 1, 16)}, nil)
			og := expectOps(t, b.output(n), map[string]int{"LayerNormalization": 1})
			if len(og.Nodes) != 1 {
				t.Errorf("%d nodes left, want 1:\n%s", len(og.Nodes), formatG(og))
			}
		})
	}
}

func TestGelu(t *testing.T) {
	for variant := range 3 {
		b := newGB("gelu")
		x := b.input("x", 2, 16)
		d := b.node("Div", []string{x, b.c("sqrt2", nil, float32(math.Sqrt2))}, nil)
		if variant == 1 {
			d = b.node("Mul", []string{b.c("isqrt2", nil, float32(1/math.Sqrt2)), x}, nil)
		}
		e := b.node("Erf", []string{d}, nil)
		a := b.node("Add", []string{e, b.c("one", nil, 1)}, nil)
		var y string
		switch variant {
		case 0, 1:
			y = b.node("Mul", []string{b.node("Mul", []string{x, a}, nil), b.c("half", nil, 0.5)}, nil)
		case 2:
			y = b.node("Mul", []string{b.node("Mul", []string{x, b.c("half", nil, 0.5)}, nil), a}, nil)
		}
		og := expectOps(t, b.output(y), map[string]int{"Gelu": 1})
		if len(og.Nodes) != 1 {
			t.Errorf("variant %d: %d nodes left, want 1", variant, len(og.Nodes))
		}
	}
}

func TestAttention(t *testing.T) {
	for _, tc := range []struct {
		name          string
		mask, transpK bool
	}{{"plain", false, false}, {"mask", true, false}, {"mask_transpose", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newGB("att")
			q := b.input("q", 1, 2, 5, 8)
			k := b.input("k", 1, 2, 5, 8)
			v := b.input("v", 1, 2, 5, 8)
			var kt string
			if tc.transpK {
				kt = b.node("Transpose", []string{k}, attrs("perm", aInts(0, 1, 3, 2)))
			} else {
				kt = b.node("Transpose", []string{b.input("kk", 1, 5, 2, 8)}, attrs("perm", aInts(0, 2, 3, 1)))
			}
			s := b.node("MatMul", []string{q, kt}, nil)
			s = b.node("Div", []string{s, b.c("scale", nil, float32(math.Sqrt(8)))}, nil)
			if tc.mask {
				s = b.node("Add", []string{s, b.input("mask", 1, 1, 1, 5)}, nil)
			}
			s = b.node("Softmax", []string{s}, attrs("axis", aInt(-1)))
			y := b.node("MatMul", []string{s, v}, nil)
			og := expectOps(t, b.output(y), map[string]int{"elasticroom.Attention": 1, "Softmax": 0})
			for _, n := range og.Nodes {
				if n.Op == "Attention" && (n.AttrInt("transpose_k", 0) == 1) != tc.transpK {
					t.Errorf("transpose_k = %d", n.AttrInt("transpose_k", 0))
				}
			}
		})
	}
}

func formatG(g *graph.Graph) string { return formatGraph(g) }
