package zoo

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// buildResNet builds torchvision's ResNet: 7x7/2 conv, BN, ReLU, 3x3/2 max pool, four stages
// of residual blocks (BasicBlock, or Bottleneck 1x1-3x3-1x1 with the stride on the 3x3), a
// 1x1 conv + BN downsample where the shape changes, global average pool, flatten, fc 1000.
func buildResNet(b *builder, bottleneck bool, blocks []int) error {
	x := b.input("input", tensor.Float32, graph.Shape{b.batch, graph.D(3), graph.D(224), graph.D(224)})
	x = b.conv("conv1", x, 64, 7, 2, 3, 1, false)
	x = b.batchNorm("bn1", x)
	x = b.relu("relu", x)
	x = b.maxPool("maxpool", x, 3, 2, 1)
	expansion := 1
	if bottleneck {
		expansion = 4
	}
	inplanes := 64
	for stage, n := range blocks {
		planes := 64 << stage
		for i := range n {
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d", stage+1, i)
			identity := x
			if stride != 1 || inplanes != planes*expansion {
				identity = b.conv(p+".downsample.0", x, planes*expansion, 1, stride, 0, 1, false)
				identity = b.batchNorm(p+".downsample.1", identity)
			}
			var y string
			if bottleneck {
				y = b.conv(p+".conv1", x, planes, 1, 1, 0, 1, false)
				y = b.batchNorm(p+".bn1", y)
				y = b.relu(p+".relu1", y)
				y = b.conv(p+".conv2", y, planes, 3, stride, 1, 1, false)
				y = b.batchNorm(p+".bn2", y)
				y = b.relu(p+".relu2", y)
				y = b.conv(p+".conv3", y, planes*expansion, 1, 1, 0, 1, false)
				y = b.batchNorm(p+".bn3", y)
			} else {
				y = b.conv(p+".conv1", x, planes, 3, stride, 1, 1, false)
				y = b.batchNorm(p+".bn1", y)
				y = b.relu(p+".relu1", y)
				y = b.conv(p+".conv2", y, planes, 3, 1, 1, 1, false)
				y = b.batchNorm(p+".bn2", y)
			}
			y = b.add(p+".add", y, identity, b.shape(y))
			x = b.relu(p+".relu", y)
			inplanes = planes * expansion
		}
	}
	x = b.globalAvgPool("avgpool", x)
	x = b.gemm("fc", x, 1000)
	b.output(x, "logits")
	return b.err
}
