package ref

import (
	"fmt"
	"math"
)

// Number is every element type arithmetic ops accept (float16/bfloat16 are converted to
// float32 by the caller).
type Number interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~int32 | ~int64
}

// Float is the floating-point element types.
type Float interface{ ~float32 | ~float64 }

// BinaryOp is an elementwise binary arithmetic op with numpy broadcasting.
type BinaryOp uint8

// The binary arithmetic ops. Div truncates for integers; Mod follows the divisor's sign
// (Python) and FMod the dividend's sign (C fmod); PRelu is x<0 ? x*slope : x.
const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Pow
	Max
	Min
	Mod
	FMod
	PRelu
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "FMod", "PRelu"}

func (o BinaryOp) String() string {
	if int(o) < len(binaryNames) {
		return binaryNames[o]
	}
	return fmt.Sprintf("BinaryOp(%d)", uint8(o))
}

// BroadcastShape returns the numpy-style broadcast of the shapes, or an error naming the
// first pair of dims that do not broadcast.
func BroadcastShape(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast (dim %d: %d vs %d)", shapes, off+i-r, o, d)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns the element strides of a row-major tensor of shape seen inside the
// broadcast shape oshape (0 on broadcast and size-1 dims); shape is right-aligned against
// oshape.
func BroadcastStrides(shape, oshape []int) []int {
	st := make([]int, len(oshape))
	off := len(oshape) - len(shape)
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 {
			st[off+i] = s
		}
		s *= shape[i]
	}
	return st
}

// Collapse drops size-1 dims of oshape and merges adjacent dims that are contiguous in every
// operand's strides (strides[k][i] is operand k's element stride on dim i). It returns the
// collapsed dims (at least one) and each operand's strides over them; when every dim has size
// 1 that is the single dim 1 with stride 1.
func Collapse(oshape []int, strides ...[]int) ([]int, [][]int) {
	var dims []int
	sts := make([][]int, len(strides))
	for i, d := range oshape {
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 {
			ok := true
			for k, st := range strides {
				if sts[k][n-1] != st[i]*d {
					ok = false
					break
				}
			}
			if ok {
				dims[n-1] *= d
				for k, st := range strides {
					sts[k][n-1] = st[i]
				}
				continue
			}
		}
		dims = append(dims, d)
		for k, st := range strides {
			sts[k] = append(sts[k], st[i])
		}
	}
	if len(dims) == 0 {
		dims = []int{1}
		for k := range sts {
			sts[k] = []int{1}
		}
	}
	return dims, sts
}

// broadcast2 runs kernel over the broadcast of a and b. kernel gets one innermost row: out
// (contiguous), a and b starting at the row's first element, and their strides along the row
// (0 or 1).
func broadcast2[A, B, O any](a []A, ashape []int, b []B, bshape []int, kernel func(out []O, a []A, b []B, sa, sb int)) ([]O, []int, error) {
	return broadcast2Into(a, ashape, b, bshape, nil, kernel)
}

// broadcast2Into is broadcast2 writing into out when out has the result's length (else it
// allocates). out may alias a or b when that operand has the result's shape.
func broadcast2Into[A, B, O any](a []A, ashape []int, b []B, bshape []int, out []O, kernel func(out []O, a []A, b []B, sa, sb int)) ([]O, []int, error) {
	if len(a) != prod(ashape) || len(b) != prod(bshape) {
		return nil, nil, fmt.Errorf("operand data (%d, %d elements) does not match shapes %v, %v", len(a), len(b), ashape, bshape)
	}
	oshape, err := BroadcastShape(ashape, bshape)
	if err != nil {
		return nil, nil, err
	}
	n := prod(oshape)
	if len(out) != n {
		out = make([]O, n)
	}
	if n == 0 {
		return out, oshape, nil
	}
	dims, sts := Collapse(oshape, BroadcastStrides(ashape, oshape), BroadcastStrides(bshape, oshape))
	sa, sb := sts[0], sts[1]
	r := len(dims)
	inner := dims[r-1]
	rows := n / inner
	grain := max(1, elemGrain/inner)
	parallelFor(rows, grain, 0, func(lo, hi int) {
		idx := make([]int, r)
		// position of row lo
		rem := lo
		offA, offB := 0, 0
		for d := r - 2; d >= 0; d-- {
			idx[d] = rem % dims[d]
			rem /= dims[d]
			offA += idx[d] * sa[d]
			offB += idx[d] * sb[d]
		}
		ia, ib := sa[r-1], sb[r-1]
		for row := lo; row < hi; row++ {
			kernel(out[row*inner:(row+1)*inner], a[offA:], b[offB:], ia, ib)
			for d := r - 2; d >= 0; d-- {
				idx[d]++
				offA += sa[d]
				offB += sb[d]
				if idx[d] < dims[d] {
					break
				}
				offA -= sa[d] * dims[d]
				offB -= sb[d] * dims[d]
				idx[d] = 0
			}
		}
	})
	return out, oshape, nil
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Binary applies op elementwise with numpy broadcasting and returns the result and its shape.
func Binary[T Number](op BinaryOp, a []T, ashape []int, b []T, bshape []int) ([]T, []int, error) {
	return BinaryInto(op, a, ashape, b, bshape, nil)
}

// BinaryInto is Binary writing into out when out has the result's length (it allocates
// otherwise). out may be a or b itself when that operand has the result's shape.
func BinaryInto[T Number](op BinaryOp, a []T, ashape []int, b []T, bshape []int, out []T) ([]T, []int, error) {
	if op > PRelu {
		return nil, nil, fmt.Errorf("unknown binary op %v", op)
	}
	var zero T
	if isInt(zero) && (op == Div || op == Mod || op == FMod) && hasZero(b) {
		return nil, nil, fmt.Errorf("integer %v by zero", op)
	}
	if af, ok := any(a).([]float32); ok && haveFMA && (op <= Div || op == Max || op == Min) {
		of, _ := any(out).([]float32)
		out, oshape, err := broadcast2Into(af, ashape, any(b).([]float32), bshape, of, func(out, a, b []float32, sa, sb int) {
			binaryRowF32(op, out, a, b, sa, sb)
		})
		return any(out).([]T), oshape, err
	}
	return broadcast2Into(a, ashape, b, bshape, out, func(out, a, b []T, sa, sb int) {
		binaryRow(op, out, a, b, sa, sb)
	})
}

// binaryRowF32 is binaryRow for float32 Add/Sub/Mul/Div/Max/Min on the vector loops.
func binaryRowF32(op BinaryOp, out, a, b []float32, sa, sb int) {
	commutes := op == Add || op == Mul || op == Max || op == Min
	switch {
	case sa == 1 && sb == 1:
		vecVV(op, a, b, out)
	case sa == 1 && vecVS(op, a, b[0], out):
	case sb == 1 && commutes && vecVS(op, b, a[0], out):
	default:
		binaryRow(op, out, a, b, sa, sb)
	}
}

func isInt[T Number](v T) bool {
	v = 1
	v /= 3 // 0 for integers
	return v == 0
}

func hasZero[T Number](b []T) bool {
	for _, v := range b {
		if v == 0 {
			return true
		}
	}
	return false
}

// binaryRow is the inner loop: sa and sb are 0 (broadcast scalar) or 1.
func binaryRow[T Number](op BinaryOp, out, a, b []T, sa, sb int) {
	n := len(out)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case Add:
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case Sub:
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case Mul:
			for i := range out {
				out[i] = a[i] * b[i]
			}
		case Div:
			for i := range out {
				out[i] = a[i] / b[i]
			}
		default:
			f := binaryFunc[T](op)
			for i := range out {
				out[i] = f(a[i], b[i])
			}
		}
	case sa == 1:
		a = a[:n]
		y := b[0]
		switch op {
		case Add:
			for i := range out {
				out[i] = a[i] + y
			}
		case Sub:
			for i := range out {
				out[i] = a[i] - y
			}
		case Mul:
			for i := range out {
				out[i] = a[i] * y
			}
		case Div:
			for i := range out {
				out[i] = a[i] / y
			}
		default:
			f := binaryFunc[T](op)
			for i := range out {
				out[i] = f(a[i], y)
			}
		}
	case sb == 1:
		b = b[:n]
		x := a[0]
		switch op {
		case Add:
			for i := range out {
				out[i] = x + b[i]
			}
		case Sub:
			for i := range out {
				out[i] = x - b[i]
			}
		case Mul:
			for i := range out {
				out[i] = x * b[i]
			}
		case Div:
			for i := range out {
				out[i] = x / b[i]
			}
		default:
			f := binaryFunc[T](op)
			for i := range out {
				out[i] = f(x, b[i])
			}
		}
	default:
		v := binaryFunc[T](op)(a[0], b[0])
		for i := range out {
			out[i] = v
		}
	}
}

func binaryFunc[T Number](op BinaryOp) func(x, y T) T {
	switch op {
	case Add:
		return func(x, y T) T { return x + y }
	case Sub:
		return func(x, y T) T { return x - y }
	case Mul:
		return func(x, y T) T { return x * y }
	case Div:
		return func(x, y T) T { return x / y }
	case Pow:
		var z T
		if isInt(z) {
			return func(x, y T) T { return T(math.Pow(float64(x), float64(y))) }
		}
		return func(x, y T) T {
			if y == 2 {
				return x * x
			}
			if float64(y) == 0.5 {
				return T(math.Sqrt(float64(x)))
			}
			return T(math.Pow(float64(x), float64(y)))
		}
	case Max:
		return func(x, y T) T {
			if x != x || y != y { // NaN propagates
				return x + y
			}
			return max(x, y)
		}
	case Min:
		return func(x, y T) T {
			if x != x || y != y {
				return x + y
			}
			return min(x, y)
		}
	case Mod:
		var z T
		if isInt(z) {
			return func(x, y T) T {
				m := T(int64(x) % int64(y))
				if m != 0 && (m < 0) != (y < 0) {
					m += y
				}
				return m
			}
		}
		return func(x, y T) T {
			m := T(math.Mod(float64(x), float64(y)))
			if m != 0 && (m < 0) != (y < 0) {
				m += y
			}
			return m
		}
	case FMod:
		var z T
		if isInt(z) {
			return func(x, y T) T { return T(int64(x) % int64(y)) }
		}
		return func(x, y T) T { return T(math.Mod(float64(x), float64(y))) }
	case PRelu:
		return func(x, y T) T {
			if x < 0 {
				return x * y
			}
			return x
		}
	}
	return func(x, y T) T { return 0 }
}
