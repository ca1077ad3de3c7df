package ref

import "fmt"

// CompareOp is an elementwise comparison producing booleans.
type CompareOp uint8

// The comparisons.
const (
	Equal CompareOp = iota
	Less
	LessOrEqual
	Greater
	GreaterOrEqual
)

// Compare applies op elementwise with broadcasting. Booleans order false < true.
func Compare[T Number | ~bool](op CompareOp, a []T, ashape []int, b []T, bshape []int) ([]bool, []int, error) {
	if op > GreaterOrEqual {
		return nil, nil, fmt.Errorf("unknown comparison %d", op)
	}
	if av, ok := any(a).([]bool); ok {
		bv := any(b).([]bool)
		return broadcast2(av, ashape, bv, bshape, func(out, a, b []bool, sa, sb int) {
			for i := range out {
				out[i] = compareOrdered(op, b2i(a[i*sa]), b2i(b[i*sb]))
			}
		})
	}
	return broadcast2(a, ashape, b, bshape, func(out []bool, a, b []T, sa, sb int) {
		compareRow(op, out, a, b, sa, sb)
	})
}

func compareRow[T Number | ~bool](op CompareOp, out []bool, a, b []T, sa, sb int) {
	switch av := any(a).(type) {
	case []float32:
		compareRowOrdered(op, out, av, any(b).([]float32), sa, sb)
	case []float64:
		compareRowOrdered(op, out, av, any(b).([]float64), sa, sb)
	case []int8:
		compareRowOrdered(op, out, av, any(b).([]int8), sa, sb)
	case []uint8:
		compareRowOrdered(op, out, av, any(b).([]uint8), sa, sb)
	case []int16:
		compareRowOrdered(op, out, av, any(b).([]int16), sa, sb)
	case []int32:
		compareRowOrdered(op, out, av, any(b).([]int32), sa, sb)
	case []int64:
		compareRowOrdered(op, out, av, any(b).([]int64), sa, sb)
	}
}

func compareRowOrdered[T Number](op CompareOp, out []bool, a, b []T, sa, sb int) {
	for i := range out {
		out[i] = compareOrdered(op, a[i*sa], b[i*sb])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compareOrdered[T Number | ~int](op CompareOp, x, y T) bool {
	switch op {
	case Less:
		return x < y
	case LessOrEqual:
		return x <= y
	case Greater:
		return x > y
	case GreaterOrEqual:
		return x >= y
	}
	return x == y
}

// LogicOp is an elementwise boolean op.
type LogicOp uint8

// The boolean ops.
const (
	And LogicOp = iota
	Or
	Xor
)

// Logic applies op elementwise with broadcasting.
func Logic(op LogicOp, a []bool, ashape []int, b []bool, bshape []int) ([]bool, []int, error) {
	if op > Xor {
		return nil, nil, fmt.Errorf("unknown logic op %d", op)
	}
	return broadcast2(a, ashape, b, bshape, func(out, a, b []bool, sa, sb int) {
		for i := range out {
			x, y := a[i*sa], b[i*sb]
			switch op {
			case And:
				out[i] = x && y
			case Or:
				out[i] = x || y
			default:
				out[i] = x != y
			}
		}
	})
}

// Where selects x where cond holds and y elsewhere, broadcasting all three.
func Where[T any](cond []bool, cshape []int, x []T, xshape []int, y []T, yshape []int) ([]T, []int, error) {
	oshape, err := BroadcastShape(cshape, xshape, yshape)
	if err != nil {
		return nil, nil, err
	}
	c, err := Expand(cond, cshape, oshape)
	if err != nil {
		return nil, nil, err
	}
	xe, err := Expand(x, xshape, oshape)
	if err != nil {
		return nil, nil, err
	}
	ye, err := Expand(y, yshape, oshape)
	if err != nil {
		return nil, nil, err
	}
	for i, v := range c {
		if !v {
			xe[i] = ye[i]
		}
	}
	return xe, oshape, nil
}
