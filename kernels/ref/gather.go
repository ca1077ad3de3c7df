package ref

import "fmt"

// Gather takes entries of data along axis at indices (ONNX Gather; negative indices count
// from the end). The result shape is shape[:axis] + ishape + shape[axis+1:].
func Gather[T any](data []T, shape []int, indices []int64, ishape []int, axis int) ([]T, []int, error) {
	if axis < 0 || axis >= len(shape) {
		return nil, nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(shape))
	}
	if len(data) != prod(shape) || len(indices) != prod(ishape) {
		return nil, nil, fmt.Errorf("data or indices do not match shapes %v, %v", shape, ishape)
	}
	d := shape[axis]
	outer := prod(shape[:axis])
	inner := prod(shape[axis+1:])
	oshape := append(append(append([]int{}, shape[:axis]...), ishape...), shape[axis+1:]...)
	out := make([]T, prod(oshape))
	ni := len(indices)
	for j, ix := range indices {
		if ix < -int64(d) || ix >= int64(d) {
			return nil, nil, fmt.Errorf("index %d (entry %d) out of range for axis %d of size %d", ix, j, axis, d)
		}
	}
	for o := 0; o < outer; o++ {
		for j, ix := range indices {
			if ix < 0 {
				ix += int64(d)
			}
			src := (o*d + int(ix)) * inner
			dst := (o*ni + j) * inner
			copy(out[dst:dst+inner], data[src:src+inner])
		}
	}
	return out, oshape, nil
}

// GatherElements is ONNX GatherElements: out has the indices' shape and
// out[i0..ik..] = data[i0..indices[i]..] on axis.
func GatherElements[T any](data []T, shape []int, indices []int64, ishape []int, axis int) ([]T, error) {
	r := len(shape)
	if axis < 0 || axis >= r || len(ishape) != r {
		return nil, fmt.Errorf("axis %d / indices rank %d do not fit data rank %d", axis, len(ishape), r)
	}
	if len(data) != prod(shape) || len(indices) != prod(ishape) {
		return nil, fmt.Errorf("data or indices do not match shapes %v, %v", shape, ishape)
	}
	st := Strides(shape)
	out := make([]T, len(indices))
	idx := make([]int, r)
	d := int64(shape[axis])
	for i, ix := range indices {
		if ix < -d || ix >= d {
			return nil, fmt.Errorf("index %d out of range for axis %d of size %d", ix, axis, d)
		}
		if ix < 0 {
			ix += d
		}
		off := 0
		for k := 0; k < r; k++ {
			if k == axis {
				off += int(ix) * st[k]
			} else {
				if idx[k] >= shape[k] {
					return nil, fmt.Errorf("indices shape %v exceeds data shape %v", ishape, shape)
				}
				off += idx[k] * st[k]
			}
		}
		out[i] = data[off]
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < ishape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}

// ScatterElements is ONNX ScatterElements with reduction "none": a copy of data with
// updates written at indices along axis.
func ScatterElements[T any](data []T, shape []int, indices []int64, ishape []int, updates []T, axis int) ([]T, error) {
	r := len(shape)
	if axis < 0 || axis >= r || len(ishape) != r || len(updates) != len(indices) || len(indices) != prod(ishape) {
		return nil, fmt.Errorf("indices %v / updates (%d) do not fit data %v on axis %d", ishape, len(updates), shape, axis)
	}
	out := append([]T(nil), data...)
	st := Strides(shape)
	idx := make([]int, r)
	d := int64(shape[axis])
	for i, ix := range indices {
		if ix < -d || ix >= d {
			return nil, fmt.Errorf("index %d out of range for axis %d of size %d", ix, axis, d)
		}
		if ix < 0 {
			ix += d
		}
		off := 0
		for k := 0; k < r; k++ {
			if k == axis {
				off += int(ix) * st[k]
			} else {
				off += idx[k] * st[k]
			}
		}
		out[off] = updates[i]
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < ishape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}

// ScatterND is ONNX ScatterND with reduction "none".
func ScatterND[T any](data []T, shape []int, indices []int64, ishape []int, updates []T) ([]T, error) {
	if len(ishape) == 0 {
		return nil, fmt.Errorf("indices must have rank >= 1")
	}
	k := ishape[len(ishape)-1]
	if k > len(shape) {
		return nil, fmt.Errorf("index depth %d exceeds data rank %d", k, len(shape))
	}
	inner := prod(shape[k:])
	n := prod(ishape[:len(ishape)-1])
	if len(updates) != n*inner {
		return nil, fmt.Errorf("updates have %d elements, want %d", len(updates), n*inner)
	}
	st := Strides(shape)
	out := append([]T(nil), data...)
	for i := 0; i < n; i++ {
		off := 0
		for j := 0; j < k; j++ {
			ix := indices[i*k+j]
			d := int64(shape[j])
			if ix < -d || ix >= d {
				return nil, fmt.Errorf("index %d out of range for axis %d of size %d", ix, j, d)
			}
			if ix < 0 {
				ix += d
			}
			off += int(ix) * st[j]
		}
		copy(out[off:off+inner], updates[i*inner:(i+1)*inner])
	}
	return out, nil
}

// GatherND is ONNX GatherND with batch_dims = 0.
func GatherND[T any](data []T, shape []int, indices []int64, ishape []int) ([]T, []int, error) {
	if len(ishape) == 0 {
		return nil, nil, fmt.Errorf("indices must have rank >= 1")
	}
	k := ishape[len(ishape)-1]
	if k > len(shape) {
		return nil, nil, fmt.Errorf("index depth %d exceeds data rank %d", k, len(shape))
	}
	inner := prod(shape[k:])
	n := prod(ishape[:len(ishape)-1])
	oshape := append(append([]int{}, ishape[:len(ishape)-1]...), shape[k:]...)
	st := Strides(shape)
	out := make([]T, n*inner)
	for i := 0; i < n; i++ {
		off := 0
		for j := 0; j < k; j++ {
			ix := indices[i*k+j]
			d := int64(shape[j])
			if ix < -d || ix >= d {
				return nil, nil, fmt.Errorf("index %d out of range for axis %d of size %d", ix, j, d)
			}
			if ix < 0 {
				ix += d
			}
			off += int(ix) * st[j]
		}
		copy(out[i*inner:(i+1)*inner], data[off:off+inner])
	}
	return out, oshape, nil
}

// AxisMapGather builds a tensor of shape len(maps[i]) per axis whose element at (j0, j1, ...)
// is in[maps[0][j0], maps[1][j1], ...], or fill where any map entry is negative. It is the
// common core of Pad, Tile and nearest-neighbour Resize.
func AxisMapGather[T any](in []T, shape []int, maps [][]int, fill T) ([]T, []int) {
	r := len(shape)
	oshape := make([]int, r)
	for i, m := range maps {
		oshape[i] = len(m)
	}
	n := prod(oshape)
	out := make([]T, n)
	if n == 0 {
		return out, oshape
	}
	if r == 0 {
		out[0] = in[0]
		return out, oshape
	}
	st := Strides(shape)
	inner := oshape[r-1]
	last := maps[r-1]
	rows := n / inner
	parallelFor(rows, max(1, elemGrain/inner), 0, func(lo, hi int) {
		idx := make([]int, r)
		for row := lo; row < hi; row++ {
			rem := row
			off := 0
			valid := true
			for d := r - 2; d >= 0; d-- {
				idx[d] = rem % oshape[d]
				rem /= oshape[d]
				m := maps[d][idx[d]]
				if m < 0 {
					valid = false
				}
				off += m * st[d]
			}
			dst := out[row*inner : (row+1)*inner]
			if !valid {
				for i := range dst {
					dst[i] = fill
				}
				continue
			}
			src := in[off:]
			for i, m := range last {
				if m < 0 {
					dst[i] = fill
				} else {
					dst[i] = src[m]
				}
			}
		}
	})
	return out, oshape
}

// PadMode is how Pad fills the border.
type PadMode uint8

// The pad modes of ONNX Pad.
const (
	PadConstant PadMode = iota
	PadReflect
	PadEdge
	PadWrap
)

// Pad pads (or, with negative pads, crops) in: padsBegin/padsEnd per axis.
func Pad[T any](in []T, shape []int, padsBegin, padsEnd []int, mode PadMode, value T) ([]T, []int, error) {
	r := len(shape)
	if len(padsBegin) != r || len(padsEnd) != r {
		return nil, nil, fmt.Errorf("pads %v/%v do not match rank %d", padsBegin, padsEnd, r)
	}
	maps := make([][]int, r)
	for ax, d := range shape {
		o := d + padsBegin[ax] + padsEnd[ax]
		if o < 0 {
			return nil, nil, fmt.Errorf("pads %d,%d make axis %d of size %d negative", padsBegin[ax], padsEnd[ax], ax, d)
		}
		if d == 0 && o > 0 && mode != PadConstant {
			return nil, nil, fmt.Errorf("cannot %v-pad the empty axis %d", mode, ax)
		}
		m := make([]int, o)
		for j := range m {
			i := j - padsBegin[ax]
			if i < 0 || i >= d {
				switch mode {
				case PadConstant:
					i = -1
				case PadEdge:
					i = min(max(i, 0), d-1)
				case PadReflect:
					if d == 1 {
						i = 0
						break
					}
					p := 2 * (d - 1)
					i %= p
					if i < 0 {
						i += p
					}
					if i >= d {
						i = p - i
					}
				case PadWrap:
					i %= d
					if i < 0 {
						i += d
					}
				}
			}
			m[j] = i
		}
		maps[ax] = m
	}
	out, oshape := AxisMapGather(in, shape, maps, value)
	return out, oshape, nil
}

func (m PadMode) String() string {
	return [...]string{"constant", "reflect", "edge", "wrap"}[m&3]
}

// Tile repeats in repeats[i] times along each axis.
func Tile[T any](in []T, shape []int, repeats []int) ([]T, []int, error) {
	if len(repeats) != len(shape) {
		return nil, nil, fmt.Errorf("repeats %v do not match rank %d", repeats, len(shape))
	}
	maps := make([][]int, len(shape))
	for ax, d := range shape {
		if repeats[ax] < 0 {
			return nil, nil, fmt.Errorf("negative repeat %d on axis %d", repeats[ax], ax)
		}
		m := make([]int, d*repeats[ax])
		for j := range m {
			m[j] = j % d
		}
		maps[ax] = m
	}
	var zero T
	out, oshape := AxisMapGather(in, shape, maps, zero)
	return out, oshape, nil
}
