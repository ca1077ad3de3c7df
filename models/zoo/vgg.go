package zoo

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// vgg16Config is torchvision's configuration "D": conv widths, 0 for a 2x2/2 max pool.
var vgg16Config = []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}

// buildVGG16 builds torchvision's VGG-16 without batch norm: 3x3 convs (pad 1, bias) with
// ReLU and max pools, then Flatten (25088 for a 224x224 input; torchvision's adaptive average
// pool to 7x7 is the identity there and is left out) and fc 4096-4096-1000 with ReLU between
// (dropout is the identity at inference and is left out).
func buildVGG16(b *builder, _ Options) error {
	x := b.input("input", tensor.Float32, graph.Shape{b.batch, graph.D(3), graph.D(224), graph.D(224)})
	for i, c := range vgg16Config { // torchvision numbers the modules of features in sequence
		name := fmt.Sprintf("features.%d", idx(vgg16Config, i))
		if c == 0 {
			x = b.maxPool(name, x, 2, 2, 0)
			continue
		}
		x = b.conv(name, x, c, 3, 1, 1, 1, true)
		x = b.relu(fmt.Sprintf("features.%d", idx(vgg16Config, i)+1), x)
	}
	x = b.flatten("flatten", x)
	x = b.gemm("classifier.0", x, 4096)
	x = b.relu("classifier.1", x)
	x = b.gemm("classifier.3", x, 4096)
	x = b.relu("classifier.4", x)
	x = b.gemm("classifier.6", x, 1000)
	b.output(x, "logits")
	return b.err
}

// idx is the torchvision module index of config entry i: a conv takes two modules (conv and
// ReLU), a pool one.
func idx(cfg []int, i int) int {
	n := 0
	for _, c := range cfg[:i] {
		if c == 0 {
			n++
		} else {
			n += 2
		}
	}
	return n
}
