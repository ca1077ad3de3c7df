package zoo

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// mobileNetV2Config is the inverted residual configuration (t, c, n, s): expansion, output
// channels, repeats, stride of the first repeat.
var mobileNetV2Config = [][4]int{
	{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
}

// buildMobileNetV2 builds torchvision's MobileNetV2 at width 1.0: a 3x3/2 conv to 32 channels,
// 17 inverted residual blocks (1x1 expansion, 3x3 depthwise, linear 1x1 projection, residual
// when the shape is kept), a 1x1 conv to 1280, global average pool and fc 1000. ReLU6 is
// Clip(x, 0, 6) with min and max as inputs; dropout is left out (identity at inference).
func buildMobileNetV2(b *builder, _ Options) error {
	x := b.input("input", tensor.Float32, graph.Shape{b.batch, graph.D(3), graph.D(224), graph.D(224)})
	x = b.convBNReLU6("features.0", x, 32, 3, 2, 1)
	in, layer := 32, 1
	for _, cfg := range mobileNetV2Config {
		t, c, n, s := cfg[0], cfg[1], cfg[2], cfg[3]
		for i := range n {
			stride := 1
			if i == 0 {
				stride = s
			}
			x = b.invertedResidual(fmt.Sprintf("features.%d", layer), x, in, c, stride, t)
			in = c
			layer++
		}
	}
	x = b.convBNReLU6(fmt.Sprintf("features.%d", layer), x, 1280, 1, 1, 1)
	x = b.globalAvgPool("avgpool", x)
	x = b.gemm("classifier.1", x, 1000)
	b.output(x, "logits")
	return b.err
}

// convBNReLU6 is torchvision's Conv2dNormActivation: conv (no bias, pad (k-1)/2), BN, ReLU6.
func (b *builder) convBNReLU6(name, x string, cout, k, stride, group int) string {
	x = b.conv(name+".0", x, cout, k, stride, (k-1)/2, group, false)
	x = b.batchNorm(name+".1", x)
	return b.relu6(name+".2", x)
}

// invertedResidual is one MobileNetV2 block.
func (b *builder) invertedResidual(name, x string, in, out, stride, expand int) string {
	hidden := in * expand
	y, i := x, 0
	if expand != 1 {
		y = b.convBNReLU6(fmt.Sprintf("%s.conv.%d", name, i), y, hidden, 1, 1, 1)
		i++
	}
	y = b.convBNReLU6(fmt.Sprintf("%s.conv.%d", name, i), y, hidden, 3, stride, hidden)
	y = b.conv(fmt.Sprintf("%s.conv.%d", name, i+1), y, out, 1, 1, 0, 1, false)
	y = b.batchNorm(fmt.Sprintf("%s.conv.%d", name, i+2), y)
	if stride == 1 && in == out {
		y = b.add(name+".add", x, y, b.shape(y))
	}
	return y
}
