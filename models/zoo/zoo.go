package zoo

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Options choose the variant of a model to build.
type Options struct {
	Batch  int    // batch size; 0 leaves the first dim symbolic ("batch")
	SeqLen int    // sequence length for bert (default 128, at most 512); ignored by the others
	Layers int    // encoder layers for bert (default 12); ignored by the others
	Seed   uint64 // weight seed: the same Options give bit-identical weights
}

// InputSpec describes one graph input: its name, element type and its shape for batch 1 (and
// the default sequence length).
type InputSpec struct {
	Name  string
	DType tensor.DType
	Shape []int
}

// Model describes a built-in model.
type Model struct {
	Name        string
	Description string
	Inputs      []InputSpec
	Outputs     []string // graph output names
	Params      int64    // learned parameters of the default build (see ParamCount)
	build       func(b *builder, opt Options) error
}

// BatchDim is the name of the symbolic batch dimension when Options.Batch is 0.
const BatchDim = "batch"

// Default and largest sequence length of bert.
const (
	DefaultSeqLen = 128
	MaxSeqLen     = 512
)

var registry = []Model{
	{
		Name:        "bert",
		Description: "BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522), no pooler",
		Inputs: []InputSpec{
			{Name: "input_ids", DType: tensor.Int64, Shape: []int{1, DefaultSeqLen}},
			{Name: "attention_mask", DType: tensor.Int64, Shape: []int{1, DefaultSeqLen}},
		},
		Outputs: []string{"last_hidden_state"},
		Params:  108_891_648,
		build:   buildBERT,
	},
	{
		Name:        "mlp",
		Description: "MLP 784-512-256-10 with ReLU and Softmax",
		Inputs:      []InputSpec{{Name: "input", DType: tensor.Float32, Shape: []int{1, 784}}},
		Outputs:     []string{"probs"},
		Params:      535_818,
		build:       buildMLP,
	},
	{
		Name:        "mobilenetv2",
		Description: "MobileNetV2 (width 1.0, torchvision layout), ImageNet classifier",
		Inputs:      []InputSpec{imageInput},
		Outputs:     []string{"logits"},
		Params:      3_504_872,
		build:       buildMobileNetV2,
	},
	{
		Name:        "resnet18",
		Description: "ResNet-18 (torchvision layout, BasicBlock [2,2,2,2]), ImageNet classifier",
		Inputs:      []InputSpec{imageInput},
		Outputs:     []string{"logits"},
		Params:      11_689_512,
		build:       func(b *builder, _ Options) error { return buildResNet(b, false, []int{2, 2, 2, 2}) },
	},
	{
		Name:        "resnet50",
		Description: "ResNet-50 (torchvision layout, Bottleneck [3,4,6,3]), ImageNet classifier",
		Inputs:      []InputSpec{imageInput},
		Outputs:     []string{"logits"},
		Params:      25_557_032,
		build:       func(b *builder, _ Options) error { return buildResNet(b, true, []int{3, 4, 6, 3}) },
	},
	{
		Name:        "vgg16",
		Description: "VGG-16 (torchvision layout, no batch norm), ImageNet classifier for 224x224 input",
		Inputs:      []InputSpec{imageInput},
		Outputs:     []string{"logits"},
		Params:      138_357_544,
		build:       buildVGG16,
	},
}

var imageInput = InputSpec{Name: "input", DType: tensor.Float32, Shape: []int{1, 3, 224, 224}}

// List returns the built-in models sorted by name.
func List() []Model {
	out := make([]Model, len(registry))
	copy(out, registry)
	for i := range out {
		out[i].Inputs = append([]InputSpec(nil), out[i].Inputs...)
		for j := range out[i].Inputs {
			out[i].Inputs[j].Shape = append([]int(nil), out[i].Inputs[j].Shape...)
		}
		out[i].Outputs = append([]string(nil), out[i].Outputs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the built-in model names, sorted.
func Names() []string {
	var names []string
	for _, m := range List() {
		names = append(names, m.Name)
	}
	return names
}

func lookup(name string) (*Model, error) {
	for i := range registry {
		if registry[i].Name == name {
			return &registry[i], nil
		}
	}
	return nil, fmt.Errorf("unknown zoo model %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Build constructs model name with seeded weights. The graph is in canonical form, has one
// named initializer per weight and records the type and shape of every intermediate value.
func Build(name string, opt Options) (*graph.Graph, error) {
	m, err := lookup(name)
	if err != nil {
		return nil, err
	}
	if opt.Batch < 0 {
		return nil, fmt.Errorf("zoo model %q: batch %d is negative", name, opt.Batch)
	}
	b := newBuilder(name, opt, seedStream(name))
	if err := m.build(b, opt); err != nil {
		return nil, fmt.Errorf("zoo model %q: %w", name, err)
	}
	if err := b.g.Verify(); err != nil {
		return nil, fmt.Errorf("zoo model %q: built graph does not verify: %w", name, err)
	}
	return b.g, nil
}

// seedStream derives the second PCG word from the model name, so that models built with the
// same seed do not share weight streams.
func seedStream(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte("elasticroom/zoo/" + name))
	return h.Sum64()
}

// ParamCount counts the learned parameters of a zoo graph: the elements of initializers whose
// names end in ".weight" or ".bias" (as in PyTorch's parameters()). Batch-norm running
// statistics and constants (shapes, axes, position ids, clip bounds) are not counted.
func ParamCount(g *graph.Graph) int64 {
	var n int64
	for name, t := range g.Initializers {
		if strings.HasSuffix(name, ".weight") || strings.HasSuffix(name, ".bias") {
			n += int64(t.Len())
		}
	}
	return n
}
