package graph

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func TestInferConv(t *testing.T) {
	w := func(s ...int) map[string]*tensor.Tensor { return map[string]*tensor.Tensor{"w": zeros(s...)} }
	conv := func(attrs ...any) *Node { return nd("Conv", names("x", "w"), names("y"), attrs...) }
	runCases(t, []opCase{
		// (224 + 3 + 3 - 7) / 2 + 1 = 112
		{name: "resnet stem", ins: []*Value{in("x", f32, "N", 3, 224, 224)}, inits: w(64, 3, 7, 7),
			node: conv("strides", aInts(2, 2), "pads", aInts(3, 3, 3, 3)), want: []string{"[N,64,112,112]"}},
		{name: "depthwise", ins: []*Value{in("x", f32, 1, 32, 56, 56)}, inits: w(32, 1, 3, 3),
			node: conv("group", aInt(32), "pads", aInts(1, 1, 1, 1)), want: []string{"[1,32,56,56]"}},
		// dilation 2: effective kernel 5; 20 - 5 + 1 = 16
		{name: "dilated", ins: []*Value{in("x", f32, 1, 8, 20, 20)}, inits: w(4, 8, 3, 3),
			node: conv("dilations", aInts(2, 2)), want: []string{"[1,4,16,16]"}},
		{name: "1x1 keeps symbolic spatial", ins: []*Value{in("x", f32, "N", 8, "H", "W")}, inits: w(16, 8, 1, 1),
			node: conv(), want: []string{"[N,16,H,W]"}},
		{name: "3x3 pad 1 keeps symbolic spatial", ins: []*Value{in("x", f32, "N", 8, "H", "W")}, inits: w(16, 8, 3, 3),
			node: conv("pads", aInts(1, 1, 1, 1)), want: []string{"[N,16,H,W]"}},
		{name: "stride 2 on symbol is unknown", ins: []*Value{in("x", f32, "N", 8, "H", 9)}, inits: w(16, 8, 3, 3),
			node: conv("pads", aInts(1, 1, 1, 1), "strides", aInts(2, 2)), want: []string{"[N,16,?,5]"}},
		{name: "same upper", ins: []*Value{in("x", f32, 1, 2, 15, 16)}, inits: w(4, 2, 3, 3),
			node: conv("auto_pad", aStr("SAME_UPPER"), "strides", aInts(2, 2)), want: []string{"[1,4,8,8]"}},
		{name: "valid", ins: []*Value{in("x", f32, 1, 2, 15, 16)}, inits: w(4, 2, 3, 3),
			node: conv("auto_pad", aStr("VALID"), "strides", aInts(2, 2), "pads", aInts(5, 5, 5, 5)), want: []string{"[1,4,7,7]"}},
		// melspectrogram's STFT: (16000 - 512) / 160 + 1 = 97
		{name: "1-D", ins: []*Value{in("x", f32, 1, 1, 16000)}, inits: w(257, 1, 512),
			node: conv("strides", aInts(160), "kernel_shape", aInts(512)), want: []string{"[1,257,97]"}},
		{name: "unknown rank input uses weights", ins: []*Value{unranked("x", f32)}, inits: w(6, 3, 3, 3),
			node: conv(), want: []string{"[?,6,?,?]"}},
		{name: "with bias", ins: []*Value{in("x", f32, 1, 3, 8, 8), in("b", f32, 6)}, inits: w(6, 3, 3, 3),
			node: nd("Conv", names("x", "w", "b"), names("y")), want: []string{"[1,6,6,6]"}},
		{name: "channel mismatch", ins: []*Value{in("x", f32, 1, 4, 8, 8)}, inits: w(8, 3, 3, 3),
			node: conv(), err: "has 4 channels"},
		{name: "group channel mismatch", ins: []*Value{in("x", f32, 1, 8, 8, 8)}, inits: w(8, 2, 3, 3),
			node: conv("group", aInt(2)), err: "expect 4"},
		{name: "bias mismatch", ins: []*Value{in("x", f32, 1, 3, 8, 8), in("b", f32, 7)}, inits: w(6, 3, 3, 3),
			node: nd("Conv", names("x", "w", "b"), names("y")), err: "bias [7]"},
		{name: "kernel larger than input", ins: []*Value{in("x", f32, 1, 1, 2, 2)}, inits: w(1, 1, 3, 3),
			node: conv(), err: "exceeds"},
		{name: "kernel_shape disagrees with weights", ins: []*Value{in("x", f32, 1, 1, 8, 8)}, inits: w(1, 1, 3, 3),
			node: conv("kernel_shape", aInts(5, 5)), err: "kernel_shape"},
	})
}

func TestInferConvTranspose(t *testing.T) {
	w := func(s ...int) map[string]*tensor.Tensor { return map[string]*tensor.Tensor{"w": zeros(s...)} }
	ct := func(attrs ...any) *Node { return nd("ConvTranspose", names("x", "w"), names("y"), attrs...) }
	runCases(t, []opCase{
		// 2*(10-1) + 2 = 20
		{name: "upsample x2", ins: []*Value{in("x", f32, "N", 16, 10, 10)}, inits: w(16, 8, 2, 2),
			node: ct("strides", aInts(2, 2)), want: []string{"[N,8,20,20]"}},
		// channels 4*2; 1*(10-1) + 3 - 2 = 10
		{name: "grouped", ins: []*Value{in("x", f32, 1, 16, 10, 10)}, inits: w(16, 4, 3, 3),
			node: ct("group", aInt(2), "pads", aInts(1, 1, 1, 1)), want: []string{"[1,8,10,10]"}},
		// 2*9 + 1 + 3 - 2 = 20
		{name: "output padding", ins: []*Value{in("x", f32, 1, 4, 10, 10)}, inits: w(4, 4, 3, 3),
			node: ct("strides", aInts(2, 2), "pads", aInts(1, 1, 1, 1), "output_padding", aInts(1, 1)), want: []string{"[1,4,20,20]"}},
		{name: "output_shape", ins: []*Value{in("x", f32, 1, 4, 10, 10)}, inits: w(4, 4, 3, 3),
			node: ct("strides", aInts(2, 2), "output_shape", aInts(21, 19)), want: []string{"[1,4,21,19]"}},
		{name: "symbolic spatial stride 2", ins: []*Value{in("x", f32, 1, 4, "H", 3)}, inits: w(4, 4, 2, 2),
			node: ct("strides", aInts(2, 2)), want: []string{"[1,4,?,6]"}},
		{name: "channel mismatch", ins: []*Value{in("x", f32, 1, 5, 10, 10)}, inits: w(4, 4, 3, 3),
			node: ct(), err: "has 5 channels"},
	})
}

func TestInferPoolAndNorm(t *testing.T) {
	runCases(t, []opCase{
		// (32 - 3) / 2 + 1 = 15
		{name: "maxpool", ins: []*Value{in("x", f32, "N", 3, 32, 32)},
			node: nd("MaxPool", names("x"), names("y", "idx"), "kernel_shape", aInts(3, 3), "strides", aInts(2, 2)),
			want: []string{"[N,3,15,15]", "[N,3,15,15]"}, dt: []tensor.DType{f32, i64}},
		// ceil((32 + 2 - 3) / 2) + 1 = 17
		{name: "maxpool ceil", ins: []*Value{in("x", f32, 1, 3, 32, 32)},
			node: nd("MaxPool", names("x"), names("y"), "kernel_shape", aInts(3, 3), "strides", aInts(2, 2),
				"pads", aInts(1, 1, 1, 1), "ceil_mode", aInt(1)), want: []string{"[1,3,17,17]"}},
		// ceil((5 + 2 - 2) / 2) + 1 = 4, but the last window would start in the end padding: 3
		{name: "maxpool ceil drops window in padding", ins: []*Value{in("x", f32, 1, 1, 5, 6)},
			node: nd("MaxPool", names("x"), names("y"), "kernel_shape", aInts(2, 2), "strides", aInts(2, 2),
				"pads", aInts(1, 1, 1, 1), "ceil_mode", aInt(1)), want: []string{"[1,1,3,4]"}},
		{name: "maxpool dilations", ins: []*Value{in("x", f32, 1, 1, 10, 10)},
			node: nd("MaxPool", names("x"), names("y"), "kernel_shape", aInts(3, 3), "dilations", aInts(2, 2)),
			want: []string{"[1,1,6,6]"}},
		{name: "averagepool rec", ins: []*Value{in("x", f32, 1, 480, 3, 80)},
			node: nd("AveragePool", names("x"), names("y"), "kernel_shape", aInts(3, 2), "strides", aInts(3, 2)),
			want: []string{"[1,480,1,40]"}},
		{name: "pool needs kernel", ins: []*Value{in("x", f32, 1, 1, 4, 4)},
			node: nd("AveragePool", names("x"), names("y")), err: "kernel_shape"},
		{name: "global average pool", ins: []*Value{in("x", f32, "N", 960, "H", "W")},
			node: nd("GlobalAveragePool", names("x"), names("y")), want: []string{"[N,960,1,1]"}},
		{name: "batchnorm", ins: []*Value{in("x", f32, "N", 16, 8, 8), in("s", f32, 16), in("b", f32, 16), in("m", f32, 16), in("v", f32, "?")},
			node: nd("BatchNormalization", names("x", "s", "b", "m", "v"), names("y")), want: []string{"[N,16,8,8]"}},
		{name: "batchnorm mismatch", ins: []*Value{in("x", f32, "N", 16, 8, 8), in("s", f32, 16), in("b", f32, 15), in("m", f32, 16), in("v", f32, 16)},
			node: nd("BatchNormalization", names("x", "s", "b", "m", "v"), names("y")), err: "bias has shape [15]"},
		{name: "layernorm", ins: []*Value{in("x", f32, "N", "T", 64), in("s", f32, 64), in("b", f32, 64)},
			node: nd("LayerNormalization", names("x", "s", "b"), names("y", "mean", "inv")),
			want: []string{"[N,T,64]", "[N,T,1]", "[N,T,1]"}},
		{name: "layernorm axis -2", ins: []*Value{in("x", f32, 2, 5, 4), in("s", f32, 5, 4)},
			node: nd("LayerNormalization", names("x", "s"), names("y", "mean"), "axis", aInt(-2)),
			want: []string{"[2,5,4]", "[2,1,1]"}},
		{name: "layernorm scale mismatch", ins: []*Value{in("x", f32, 2, 5, 4), in("s", f32, 5)},
			node: nd("LayerNormalization", names("x", "s"), names("y")), err: "does not broadcast"},
	})
}
