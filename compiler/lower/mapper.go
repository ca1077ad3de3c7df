package lower

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// mapper maps nodes of one graph onto templates.
type mapper struct {
	g *graph.Graph
}

// mapNode returns the job of a node, or an error saying why it runs on the host.
func (m *mapper) mapNode(n *graph.Node) (*job, error) {
	if n.Domain == passes.Domain {
		switch n.Op {
		case passes.OpFusedConv:
			return m.conv(n)
		case passes.OpFusedGemm:
			return m.gemm(n)
		case passes.OpFusedMatMul:
			return m.matmul(n)
		case passes.OpFusedElementwise:
			return m.fusedElementwise(n)
		case passes.OpAttention:
			return m.attention(n)
		}
		return nil, fmt.Errorf("no kernel template for %s", opName(n))
	}
	if n.Domain != "" {
		return nil, fmt.Errorf("no kernel template for domain %q", n.Domain)
	}
	switch n.Op {
	case "Conv":
		return m.conv(n)
	case "Gemm":
		return m.gemm(n)
	case "MatMul":
		return m.matmul(n)
	case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin":
		return m.reduce(n)
	case "Softmax", "LogSoftmax":
		return m.softmax(n)
	case "LayerNormalization", "InstanceNormalization", "GroupNormalization":
		return m.rowNorm(n)
	case "BatchNormalization":
		return m.batchNorm(n)
	case "MaxPool", "AveragePool":
		return m.pool(n)
	case "GlobalAveragePool", "GlobalMaxPool":
		return m.globalPool(n)
	case "Transpose", "Slice", "Expand", "Tile", "DepthToSpace", "SpaceToDepth":
		return m.view(n)
	case "Concat":
		return m.concat(n)
	case "Split":
		return m.split(n)
	case "Gather":
		return m.gather(n)
	case "Pad":
		return m.pad(n)
	case "Resize":
		return m.resize(n)
	case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout":
		// An alias whose buffer cannot be shared (a weight, or read by a subgraph): a copy.
		return m.copy(n)
	}
	if isElementwiseOp(n.Op) {
		return m.elementwise(n)
	}
	return nil, fmt.Errorf("no kernel template for %s", n.Op)
}

// shape returns the concrete shape of a value.
func (m *mapper) shape(name string) ([]int, error) {
	v, ok := m.g.Value(name)
	if !ok || !v.RankKnown {
		return nil, fmt.Errorf("value %q has no known shape", name)
	}
	s, ok := v.Shape.Concrete()
	if !ok {
		return nil, fmt.Errorf("value %q has shape %v, not concrete", name, v.Shape)
	}
	return s, nil
}

func (m *mapper) dtype(name string) tensor.DType {
	if v, ok := m.g.Value(name); ok {
		return v.DType
	}
	return tensor.Undefined
}

// f32 checks that the named values (empty names skipped) are float32 and returns their shapes.
func (m *mapper) f32(names ...string) ([][]int, error) {
	out := make([][]int, len(names))
	for i, name := range names {
		if name == "" {
			continue
		}
		if dt := m.dtype(name); dt != tensor.Float32 {
			return nil, fmt.Errorf("value %q is %v; kernels take float32", name, dt)
		}
		s, err := m.shape(name)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// word32 checks that a value has a 4-byte element type (what the move kernels copy).
func (m *mapper) word32(name string) error {
	if dt := m.dtype(name); dt.Size() != 4 {
		return fmt.Errorf("value %q is %v; the move kernels copy 4-byte elements", name, dt)
	}
	return nil
}

// constInts reads input i of n as a constant integer list; ok is false when the input is
// omitted. A non-constant input is an error.
func (m *mapper) constInts(n *graph.Node, i int) ([]int64, bool, error) {
	name := n.Input(i)
	if name == "" {
		return nil, false, nil
	}
	t, ok := m.g.Initializers[name]
	if !ok {
		return nil, false, fmt.Errorf("input %d (%q) is not a constant", i, name)
	}
	switch d := t.Data.(type) {
	case []int64:
		return d, true, nil
	case []int32:
		out := make([]int64, len(d))
		for j, v := range d {
			out[j] = int64(v)
		}
		return out, true, nil
	}
	return nil, false, fmt.Errorf("input %d (%q) is %v, want integers", i, name, t.DType)
}

// constFloats reads input i of n as constant floats (any float or integer type).
func (m *mapper) constFloats(n *graph.Node, i int) ([]float32, bool, error) {
	name := n.Input(i)
	if name == "" {
		return nil, false, nil
	}
	t, ok := m.g.Initializers[name]
	if !ok {
		return nil, false, fmt.Errorf("input %d (%q) is not a constant", i, name)
	}
	return floatsOf(t)
}

func floatsOf(t *tensor.Tensor) ([]float32, bool, error) {
	switch d := t.Data.(type) {
	case []float32:
		return d, true, nil
	case []float64:
		out := make([]float32, len(d))
		for j, v := range d {
			out[j] = float32(v)
		}
		return out, true, nil
	case []int64:
		out := make([]float32, len(d))
		for j, v := range d {
			out[j] = float32(v)
		}
		return out, true, nil
	case []int32:
		out := make([]float32, len(d))
		for j, v := range d {
			out[j] = float32(v)
		}
		return out, true, nil
	}
	return nil, false, fmt.Errorf("constant is %v, want numbers", t.DType)
}

// axis normalizes an axis attribute against a rank.
func axis(a int64, rank int) (int, error) {
	if a < -int64(rank) || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, rank)
	}
	if a < 0 {
		a += int64(rank)
	}
	return int(a), nil
}

func ints(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// key is a job's identity for sharing choices: family, parameters and bound dtypes.
func key(family string, params any) string {
	return family + fmt.Sprintf("|%+v", params)
}
