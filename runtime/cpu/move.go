package cpu

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// moveKind is a data-movement op that works on every element type alike.
type moveKind uint8

const (
	mvTranspose moveKind = iota
	mvSlice
	mvGather
	mvGatherElements
	mvGatherND
	mvScatterElements
	mvScatterND
	mvConcat
	mvSplit
	mvExpand
	mvTile
	mvPad
	mvWhere
	mvResizeNearest
	mvTrilu  // k = idx[0], upper = axis != 0
	mvOneHot // indices idx of shape ishape, depth sizes[0], new axis; input is [off, on]
)

// moveOp is one data-movement op's parameters; run dispatches on the element type once.
type moveOp struct {
	kind      moveKind
	perm      []int
	slice     []ref.SliceAxis
	idx       []int64
	ishape    []int
	axis      int
	others    []*tensor.Tensor // same element type as the main input
	sizes     []int
	shape     []int
	padB      []int
	padE      []int
	padMode   ref.PadMode
	padValue  *tensor.Tensor // nil or one element of the input's type
	cond      []bool
	condShape []int
	resize    ref.ResizeParams
}

func (m *moveOp) run(t *tensor.Tensor) ([]*tensor.Tensor, error) {
	for i, o := range m.others {
		if o.DType != t.DType {
			return nil, fmt.Errorf("input element types %v and %v differ (operand %d)", t.DType, o.DType, i+1)
		}
	}
	if m.padValue != nil && (m.padValue.DType != t.DType || m.padValue.Len() != 1) {
		return nil, fmt.Errorf("pad value %v does not match the input's element type %v", m.padValue, t.DType)
	}
	switch d := t.Data.(type) {
	case []float32:
		return moveT(m, t, d)
	case []float64:
		return moveT(m, t, d)
	case []uint16:
		return moveT(m, t, d)
	case []int8:
		return moveT(m, t, d)
	case []uint8:
		return moveT(m, t, d)
	case []int16:
		return moveT(m, t, d)
	case []int32:
		return moveT(m, t, d)
	case []int64:
		return moveT(m, t, d)
	case []bool:
		return moveT(m, t, d)
	}
	return nil, fmt.Errorf("element type %v is not supported", t.DType)
}

func moveT[T any](m *moveOp, t *tensor.Tensor, d []T) ([]*tensor.Tensor, error) {
	one := func(data []T, shape []int, err error) ([]*tensor.Tensor, error) {
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{{DType: t.DType, Shape: shape, Data: data}}, nil
	}
	other := func(i int) []T { return m.others[i].Data.([]T) }
	switch m.kind {
	case mvTranspose:
		return one(ref.Transpose(d, t.Shape, m.perm))
	case mvSlice:
		return one(ref.Slice(d, t.Shape, m.slice))
	case mvGather:
		return one(ref.Gather(d, t.Shape, m.idx, m.ishape, m.axis))
	case mvGatherElements:
		out, err := ref.GatherElements(d, t.Shape, m.idx, m.ishape, m.axis)
		return one(out, m.ishape, err)
	case mvGatherND:
		return one(ref.GatherND(d, t.Shape, m.idx, m.ishape))
	case mvScatterElements:
		out, err := ref.ScatterElements(d, t.Shape, m.idx, m.ishape, other(0), m.axis)
		return one(out, t.Shape, err)
	case mvScatterND:
		out, err := ref.ScatterND(d, t.Shape, m.idx, m.ishape, other(0))
		return one(out, t.Shape, err)
	case mvConcat:
		ins := [][]T{d}
		shapes := [][]int{t.Shape}
		for i, o := range m.others {
			ins = append(ins, other(i))
			shapes = append(shapes, o.Shape)
		}
		return one(ref.Concat(ins, shapes, m.axis))
	case mvSplit:
		outs, shapes, err := ref.Split(d, t.Shape, m.axis, m.sizes)
		if err != nil {
			return nil, err
		}
		res := make([]*tensor.Tensor, len(outs))
		for i := range outs {
			res[i] = &tensor.Tensor{DType: t.DType, Shape: shapes[i], Data: outs[i]}
		}
		return res, nil
	case mvExpand:
		oshape, err := ref.BroadcastShape(t.Shape, m.shape)
		if err != nil {
			return nil, err
		}
		out, err := ref.Expand(d, t.Shape, m.shape)
		return one(out, oshape, err)
	case mvTile:
		return one(ref.Tile(d, t.Shape, m.sizes))
	case mvPad:
		var v T
		if m.padValue != nil {
			v = m.padValue.Data.([]T)[0]
		}
		return one(ref.Pad(d, t.Shape, m.padB, m.padE, m.padMode, v))
	case mvWhere:
		return one(ref.Where(m.cond, m.condShape, d, t.Shape, other(0), m.others[0].Shape))
	case mvResizeNearest:
		out, err := ref.ResizeNearest(d, t.Shape, m.resize)
		return one(out, m.resize.OutShape, err)
	case mvTrilu:
		out, err := ref.Trilu(d, t.Shape, m.idx[0], m.axis != 0)
		return one(out, t.Shape, err)
	case mvOneHot:
		if len(d) != 2 {
			return nil, fmt.Errorf("values has %d elements, want 2 (off, on)", len(d))
		}
		return one(ref.OneHot(m.idx, m.ishape, m.sizes[0], m.axis, d[0], d[1]))
	}
	return nil, fmt.Errorf("unknown data movement %d", m.kind)
}
