package zoo

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// buildMLP builds a small classifier: [batch, 784] -> fc 512 -> ReLU -> fc 256 -> ReLU ->
// fc 10 -> Softmax, output "probs".
func buildMLP(b *builder, _ Options) error {
	x := b.input("input", tensor.Float32, graph.Shape{b.batch, graph.D(784)})
	x = b.gemm("fc1", x, 512)
	x = b.relu("relu1", x)
	x = b.gemm("fc2", x, 256)
	x = b.relu("relu2", x)
	x = b.gemm("fc3", x, 10)
	x = b.unary("Softmax", "softmax", x, func(mu, v float64) (float64, float64) { return 0.1, 0.01 }, map[string]*graph.Attr{"axis": aInt(-1)})
	b.output(x, "probs")
	return b.err
}
