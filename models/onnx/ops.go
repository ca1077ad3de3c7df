package onnx

import (
	"sort"

	"github.com/elasticroom/elasticroom/compiler/graph"
)

// upgradeFunc rewrites a node of the model's opset into canonical (opset-21) form. It may
// add initializers through s and return several nodes.
type upgradeFunc func(s *scope, n *graph.Node, opset int64) ([]*graph.Node, error)

// opSpec describes one accepted operator of the default domain.
type opSpec struct {
	since   int64       // first opset that has the operator (1 for those older than opset 9)
	upgrade upgradeFunc // nil: the node is already in canonical form at every accepted opset
	// replaced is true when the operator never reaches the imported graph (it becomes
	// initializers or another operator).
	replaced bool
}

// opTable is the accepted operator list: exactly these op types import.
var opTable = map[string]opSpec{
	// Elementwise, one input.
	"Abs": {since: 1}, "Neg": {since: 1}, "Exp": {since: 1}, "Log": {since: 1},
	"Sqrt": {since: 1}, "Reciprocal": {since: 1}, "Floor": {since: 1}, "Ceil": {since: 1},
	"Round": {since: 11}, "Sign": {since: 9}, "Erf": {since: 9}, "Not": {since: 1},
	"Sin": {since: 7}, "Cos": {since: 7}, "Tan": {since: 7}, "Asin": {since: 7},
	"Acos": {since: 7}, "Atan": {since: 7}, "Sinh": {since: 9}, "Cosh": {since: 9},
	"Asinh": {since: 9}, "Acosh": {since: 9}, "Atanh": {since: 9},
	"IsNaN": {since: 9}, "IsInf": {since: 10}, "Identity": {since: 1},
	// Activations.
	"Relu": {since: 1}, "LeakyRelu": {since: 1}, "PRelu": {since: 1}, "Elu": {since: 1},
	"Selu": {since: 1}, "Celu": {since: 12}, "ThresholdedRelu": {since: 10},
	"Sigmoid": {since: 1}, "HardSigmoid": {since: 1}, "HardSwish": {since: 14},
	"Tanh": {since: 1}, "Softplus": {since: 1}, "Softsign": {since: 1}, "Mish": {since: 18},
	"Gelu":  {since: 20},
	"Clip":  {since: 1, upgrade: upClip},
	"Where": {since: 9},
	// Elementwise, broadcasting.
	"Add": {since: 1}, "Sub": {since: 1}, "Mul": {since: 1}, "Div": {since: 1},
	"Pow": {since: 1}, "Mod": {since: 10}, "Max": {since: 1}, "Min": {since: 1},
	"Sum": {since: 1}, "Mean": {since: 1},
	"Equal": {since: 1}, "Less": {since: 1}, "Greater": {since: 1},
	"LessOrEqual": {since: 12}, "GreaterOrEqual": {since: 12},
	"And": {since: 1}, "Or": {since: 1}, "Xor": {since: 1},
	// Linear algebra, convolution, pooling, normalization.
	"MatMul": {since: 1}, "Gemm": {since: 1}, "Conv": {since: 1}, "ConvTranspose": {since: 1},
	"MaxPool": {since: 1}, "AveragePool": {since: 1},
	"GlobalAveragePool": {since: 1}, "GlobalMaxPool": {since: 1},
	"BatchNormalization":    {since: 1, upgrade: upBatchNorm},
	"InstanceNormalization": {since: 1}, "LayerNormalization": {since: 17},
	"LRN": {since: 1}, "LpNormalization": {since: 1},
	"Dropout":    {since: 1, upgrade: upDropout},
	"Softmax":    {since: 1, upgrade: upSoftmax},
	"LogSoftmax": {since: 1, upgrade: upSoftmax},
	"Hardmax":    {since: 1, upgrade: upSoftmax},
	// Reductions.
	"ReduceMean": {since: 1, upgrade: upReduce}, "ReduceMax": {since: 1, upgrade: upReduce},
	"ReduceMin": {since: 1, upgrade: upReduce}, "ReduceSum": {since: 1, upgrade: upReduce},
	"ReduceProd": {since: 1, upgrade: upReduce}, "ReduceL1": {since: 1, upgrade: upReduce},
	"ReduceL2": {since: 1, upgrade: upReduce}, "ReduceSumSquare": {since: 1, upgrade: upReduce},
	"ReduceLogSum": {since: 1, upgrade: upReduce}, "ReduceLogSumExp": {since: 1, upgrade: upReduce},
	"ArgMax": {since: 1}, "ArgMin": {since: 1}, "CumSum": {since: 11},
	"TopK": {since: 1, upgrade: upTopK},
	// Shapes and data movement.
	"Reshape": {since: 5}, "Flatten": {since: 1}, "Transpose": {since: 1},
	"Squeeze":   {since: 1, upgrade: upAxesInput},
	"Unsqueeze": {since: 1, upgrade: upAxesInput},
	"Concat":    {since: 4},
	"Split":     {since: 1, upgrade: upSplit},
	"Slice":     {since: 1, upgrade: upSlice},
	"Pad":       {since: 2, upgrade: upPad},
	"Gather":    {since: 1}, "GatherElements": {since: 11}, "GatherND": {since: 11},
	"ScatterElements": {since: 11}, "ScatterND": {since: 11},
	"Scatter": {since: 9, upgrade: upScatter, replaced: true},
	"Expand":  {since: 8}, "Tile": {since: 6}, "Shape": {since: 1}, "Size": {since: 1},
	"ConstantOfShape": {since: 9}, "Range": {since: 11}, "NonZero": {since: 9},
	"OneHot": {since: 9}, "Trilu": {since: 14},
	"Cast": {since: 6}, "CastLike": {since: 15},
	"DepthToSpace": {since: 1}, "SpaceToDepth": {since: 1},
	"Resize":   {since: 10, upgrade: upResize},
	"Upsample": {since: 7, upgrade: upUpsample, replaced: true},
	"Constant": {since: 1, replaced: true},
	// Control flow.
	"If": {since: 1}, "Loop": {since: 1}, "Scan": {since: 9},
}

// SupportedOps lists, sorted, the op types of the default domain the importer accepts.
func SupportedOps() []string {
	ops := make([]string, 0, len(opTable))
	for op := range opTable {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// CanonicalOps lists, sorted, the op types an imported graph may contain: SupportedOps less
// the operators the importer always replaces (Constant, Upsample, Scatter), plus those its
// rewrites produce.
func CanonicalOps() []string {
	var ops []string
	for op, spec := range opTable {
		if !spec.replaced {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	return ops
}
