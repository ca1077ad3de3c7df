package onnx

import (
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// A light element-type and rank propagation, run as nodes are imported, so that upgrades
// that depend on the input's rank or type (Softmax before opset 13, Clip and Pad constants)
// find it even when the model carries no value_info. It only records what it is sure of;
// full shape inference is a compiler pass.

var (
	// Ops whose outputs all have input 0's type and rank.
	sameAsFirst = setOf("Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
		"Sign", "Erf", "Not", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
		"Acosh", "Atanh", "Identity", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu",
		"ThresholdedRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign",
		"Mish", "Gelu", "Clip", "Conv", "ConvTranspose", "AveragePool", "GlobalAveragePool",
		"GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LRN", "LpNormalization",
		"Softmax", "LogSoftmax", "Hardmax", "CumSum", "Transpose", "Slice", "Pad", "Tile",
		"Concat", "Split", "Resize", "DepthToSpace", "SpaceToDepth", "Trilu", "ScatterElements",
		"ScatterND")
	// Broadcasting ops: type of input 0, rank the largest of the inputs.
	broadcast = setOf("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean")
	// Broadcasting comparisons and logic: bool, rank the largest of the inputs.
	compare = setOf("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// infer records the output types and ranks of n that follow from what is known.
func (s *scope) infer(n *graph.Node) {
	in := func(i int) valInfo {
		if vi, ok := s.lookup(n.Input(i)); ok && n.Input(i) != "" {
			return vi
		}
		return valInfo{rank: -1}
	}
	maxRank := func(from int) int {
		r := -1
		for i := from; i < len(n.Inputs); i++ {
			ri := in(i).rank
			if ri < 0 {
				return -1
			}
			r = max(r, ri)
		}
		return r
	}
	constLen := func(i int) int { return in(i).length() } // of a 1-D input, or -1
	var out []valInfo
	x := in(0)
	switch {
	case sameAsFirst[n.Op]:
		out = []valInfo{x}
		if n.Op == "Split" {
			out = make([]valInfo, len(n.Outputs))
			for i := range out {
				out[i] = x
			}
		}
	case broadcast[n.Op]:
		out = []valInfo{{dt: x.dt, rank: maxRank(0)}}
	case compare[n.Op]:
		out = []valInfo{{dt: tensor.Bool, rank: maxRank(0)}}
	}
	switch n.Op {
	case "IsNaN", "IsInf":
		out = []valInfo{{dt: tensor.Bool, rank: x.rank}}
	case "Where":
		out = []valInfo{{dt: in(1).dt, rank: maxRank(0)}}
	case "MaxPool":
		out = []valInfo{x, {dt: tensor.Int64, rank: x.rank}}
	case "Dropout":
		out = []valInfo{x, {dt: tensor.Bool, rank: x.rank}}
	case "LayerNormalization":
		out = []valInfo{x}
	case "Cast":
		out = []valInfo{{rank: x.rank}}
		if dt, err := dtypeOf(int32(n.AttrInt("to", 0))); err == nil {
			out[0].dt = dt
		}
	case "CastLike":
		out = []valInfo{{dt: in(1).dt, rank: x.rank}}
	case "Shape":
		out = []valInfo{{dt: tensor.Int64, rank: 1}}
	case "Size":
		out = []valInfo{{dt: tensor.Int64, rank: 0}}
	case "Flatten", "Gemm":
		out = []valInfo{{dt: x.dt, rank: 2}}
	case "NonZero":
		out = []valInfo{{dt: tensor.Int64, rank: 2}}
	case "MatMul":
		ra, rb := x.rank, in(1).rank
		r := -1
		switch {
		case ra < 0 || rb < 0:
		case ra == 1 && rb == 1:
			r = 0
		case ra == 1:
			r = rb - 1
		case rb == 1:
			r = ra - 1
		default:
			r = max(ra, rb)
		}
		out = []valInfo{{dt: x.dt, rank: r}}
	case "Reshape":
		out = []valInfo{{dt: x.dt, rank: constLen(1)}}
	case "Expand":
		r := constLen(1)
		if r >= 0 && x.rank >= 0 {
			r = max(r, x.rank)
		} else {
			r = -1
		}
		out = []valInfo{{dt: x.dt, rank: r}}
	case "ConstantOfShape":
		dt := tensor.Float32
		if t := n.AttrTensor("value"); t != nil {
			dt = t.DType
		}
		out = []valInfo{{dt: dt, rank: constLen(0)}}
	case "Range":
		out = []valInfo{{dt: x.dt, rank: 1}}
	case "Unsqueeze", "Squeeze":
		r, k := x.rank, constLen(1)
		switch {
		case r < 0 || k < 0:
			r = -1
		case n.Op == "Unsqueeze":
			r += k
		default:
			r -= k
		}
		out = []valInfo{{dt: x.dt, rank: r}}
	case "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp":
		r := x.rank
		if n.AttrInt("keepdims", 1) == 0 && r >= 0 {
			switch k := constLen(1); {
			case n.Input(1) == "" && n.AttrInt("noop_with_empty_axes", 0) == 0:
				r = 0
			case k >= 0:
				r -= k
			default:
				r = -1
			}
		}
		out = []valInfo{{dt: x.dt, rank: r}}
	case "ArgMax", "ArgMin":
		r := x.rank
		if n.AttrInt("keepdims", 1) == 0 && r >= 0 {
			r--
		}
		out = []valInfo{{dt: tensor.Int64, rank: r}}
	case "TopK":
		out = []valInfo{x, {dt: tensor.Int64, rank: x.rank}}
	case "Gather":
		r := -1
		if x.rank >= 0 && in(1).rank >= 0 {
			r = x.rank + in(1).rank - 1
		}
		out = []valInfo{{dt: x.dt, rank: r}}
	case "GatherElements":
		out = []valInfo{{dt: x.dt, rank: in(1).rank}}
	case "OneHot":
		r := -1
		if x.rank >= 0 {
			r = x.rank + 1
		}
		out = []valInfo{{dt: in(2).dt, rank: r}}
	}
	s.inferLength(n, out)
	for i, name := range n.Outputs {
		if i >= len(out) || name == "" {
			break
		}
		if _, known := s.info[name]; !known {
			s.info[name] = out[i]
		}
	}
}

// inferLength sets the lengths of 1-D outputs (shape vectors), so that a Reshape's target
// rank is known when its shape is computed (Shape -> Slice -> Concat -> Reshape).
func (s *scope) inferLength(n *graph.Node, out []valInfo) {
	keep := n.Op == "Cast" || n.Op == "CastLike" || n.Op == "Identity" || n.Op == "Neg" ||
		n.Op == "Abs" || n.Op == "Floor" || n.Op == "Ceil" || n.Op == "Round"
	for i := range out {
		out[i].len1 = 0
	}
	if keep && len(out) > 0 && n.Input(0) != "" {
		if vi, ok := s.lookup(n.Input(0)); ok {
			out[0].len1 = vi.len1
		}
	}
	if len(out) == 0 || out[0].rank != 1 {
		return
	}
	in := func(i int) valInfo {
		if vi, ok := s.lookup(n.Input(i)); ok && n.Input(i) != "" {
			return vi
		}
		return valInfo{rank: -1}
	}
	ints := func(i int) []int64 {
		if t := s.constant(n.Input(i)); t != nil {
			if v := t.Int64s(); v != nil {
				return v
			}
			if v := t.Int32s(); v != nil {
				w := make([]int64, len(v))
				for j, x := range v {
					w[j] = int64(x)
				}
				return w
			}
		}
		return nil
	}
	length := -1
	switch {
	case n.Op == "Shape":
		if r := int64(in(0).rank); r >= 0 {
			clamp := func(v int64) int64 {
				if v < 0 {
					v += r
				}
				return min(max(v, 0), r)
			}
			start, end := clamp(n.AttrInt("start", 0)), clamp(n.AttrInt("end", r))
			length = int(max(end-start, 0))
		}
	case n.Op == "Concat":
		length = 0
		for i := range n.Inputs {
			if l := in(i).length(); l >= 0 && length >= 0 {
				length += l
			} else {
				length = -1
			}
		}
	case n.Op == "Unsqueeze":
		if in(0).rank == 0 {
			length = 1
		}
	case n.Op == "Gather":
		if in(0).rank == 1 {
			length = in(1).length()
		}
	case n.Op == "Slice":
		length = sliceLength(in(0).length(), ints(1), ints(2), ints(3), ints(4), n.Input(3) != "", n.Input(4) != "")
	case broadcast[n.Op] || compare[n.Op]:
		length = 1
		for i := range n.Inputs {
			l := 1
			if vi := in(i); vi.rank != 0 {
				l = vi.length()
			}
			switch {
			case l < 0 || length < 0:
				length = -1
			case length == 1:
				length = l
			case l != 1 && l != length:
				length = -1
			}
		}
	default:
		return
	}
	out[0].len1 = length + 1
}

// sliceLength is the length of a 1-D slice with constant parameters, or -1.
func sliceLength(n int, starts, ends, axes, steps []int64, hasAxes, hasSteps bool) int {
	if n < 0 || len(starts) != 1 || len(ends) != 1 || (hasAxes && (len(axes) != 1 || (axes[0] != 0 && axes[0] != -1))) ||
		(hasSteps && (len(steps) != 1 || steps[0] == 0)) {
		return -1
	}
	step := int64(1)
	if hasSteps {
		step = steps[0]
	}
	l := int64(n)
	start, end := starts[0], ends[0]
	if start < 0 {
		start += l
	}
	if end < 0 {
		end += l
	}
	if step > 0 {
		start, end = min(max(start, 0), l), min(max(end, 0), l)
		if end <= start {
			return 0
		}
		return int((end - start + step - 1) / step)
	}
	start, end = min(max(start, 0), l-1), min(max(end, -1), l-1)
	if start <= end {
		return 0
	}
	return int((start - end - step - 1) / -step)
}
