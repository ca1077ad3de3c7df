package ref

// Vector helpers: the AVX2 loops of vec_amd64.s on the bulk of a slice (multiples of 8) and
// plain Go on the tail, or plain Go throughout where AVX2/FMA is missing.

// axpy computes y[i] += a*x[i] for i < len(x).
func axpy(a float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	if haveFMA && n >= 8 {
		i = n &^ 7
		axpy8(i, a, &x[0], &y[0])
	}
	for ; i < n; i++ {
		y[i] += a * x[i]
	}
}

// clampAdd computes x[i] = min(max(x[i]+b, lo), hi) in place: a bias plus Relu/Clip/Identity.
func clampAdd(x []float32, b, lo, hi float32) { clampAddTo(x, x, b, lo, hi) }

// clampAddTo computes y[i] = min(max(x[i]+b, lo), hi); y may alias x.
func clampAddTo(x, y []float32, b, lo, hi float32) {
	n := len(x)
	y = y[:n]
	i := 0
	if haveFMA && n >= 8 {
		i = n &^ 7
		clamp8(i, &x[0], &y[0], b, lo, hi)
	}
	for ; i < n; i++ {
		y[i] = min(max(x[i]+b, lo), hi)
	}
}

// scaleShift computes y[i] = x[i]*a + b.
func scaleShift(x, y []float32, a, b float32) {
	n := len(x)
	y = y[:n]
	i := 0
	if haveFMA && n >= 8 {
		i = n &^ 7
		scaleShift8(i, &x[0], &y[0], a, b)
	}
	for ; i < n; i++ {
		y[i] = x[i]*a + b
	}
}

// vecVV computes c = a op b on equal-length slices for Add/Sub/Mul/Div/Max/Min; false for
// other ops.
func vecVV(op BinaryOp, a, b, c []float32) bool {
	var f func(n int, a, b, c *float32)
	switch op {
	case Add:
		f = addVV8
	case Sub:
		f = subVV8
	case Mul:
		f = mulVV8
	case Div:
		f = divVV8
	case Max:
		f = maxVV8
	case Min:
		f = minVV8
	default:
		return false
	}
	n := len(c)
	a, b = a[:n], b[:n]
	i := 0
	if haveFMA && n >= 8 {
		i = n &^ 7
		f(i, &a[0], &b[0], &c[0])
	}
	for ; i < n; i++ {
		c[i] = scalarOp(op, a[i], b[i])
	}
	return true
}

// vecVS computes c = a op s (s a scalar) for Add/Sub/Mul/Div, and Max/Min with s not NaN;
// false for other ops.
func vecVS(op BinaryOp, a []float32, s float32, c []float32) bool {
	var f func(n int, a *float32, s float32, c *float32)
	switch op {
	case Add:
		f = addVS8
	case Sub:
		f = subVS8
	case Mul:
		f = mulVS8
	case Div:
		f = divVS8
	case Max, Min:
		if s != s {
			return false
		}
		f = maxVS8
		if op == Min {
			f = minVS8
		}
	default:
		return false
	}
	n := len(c)
	a = a[:n]
	i := 0
	if haveFMA && n >= 8 {
		i = n &^ 7
		f(i, &a[0], s, &c[0])
	}
	for ; i < n; i++ {
		c[i] = scalarOp(op, a[i], s)
	}
	return true
}

func scalarOp(op BinaryOp, x, y float32) float32 {
	switch op {
	case Add:
		return x + y
	case Sub:
		return x - y
	case Mul:
		return x * y
	case Max, Min:
		if x != x || y != y { // NaN propagates
			return x + y
		}
		if op == Max {
			return max(x, y)
		}
		return min(x, y)
	}
	return x / y
}

// dwTaps computes dst[j] = min(max(b + sum_t w[t]*src[offs[t]+j], lo), hi) for j < len(dst);
// src must hold offs[t]+len(dst) elements for every t (rounded up to 16 on the vector path).
func dwTaps(offs []int, w, src, dst []float32, b, lo, hi float32) {
	n := len(dst)
	if haveFMA && n%16 == 0 && n > 0 && len(offs) > 0 {
		dwConv16(n, len(offs), &offs[0], &w[0], &src[0], &dst[0], b, lo, hi)
		return
	}
	for j := range dst {
		acc := b
		for t, o := range offs {
			acc += w[t] * src[o+j]
		}
		dst[j] = min(max(acc, lo), hi)
	}
}

// dot returns the sum of x[i]*y[i] for i < len(x).
func dot(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	i := 0
	var s float32
	if haveFMA && n >= 32 {
		i = n &^ 31
		s = dot32(i, &x[0], &y[0])
	}
	for ; i < n; i++ {
		s += x[i] * y[i]
	}
	return s
}

// biasActTo computes y = act(x + b) with the vector loops for the activations that have one
// (Identity, Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, each with or without Bounded);
// false (nothing written) for the others or without AVX2. y may alias x.
func biasActTo(act Activation, x, y []float32, b float32) bool {
	if !haveFMA {
		return false
	}
	if lo, hi, ok := act.clamp(); ok {
		clampAddTo(x, y, b, lo, hi)
		return true
	}
	n := len(x)
	y = y[:n]
	i := n &^ 7
	switch act.Op {
	case LeakyRelu:
		if i > 0 {
			leaky8(i, &x[0], &y[0], b, act.Alpha)
		}
		for ; i < n; i++ {
			v := x[i] + b
			y[i] = max(v, 0) + act.Alpha*min(v, 0)
		}
	case HardSigmoid, HardSwish:
		alpha, beta, swish := act.Alpha, act.Beta, 0
		if act.Op == HardSwish {
			alpha, beta, swish = 1.0/6, 0.5, 1
		}
		if i > 0 {
			hardSigmoid8(i, &x[0], &y[0], b, alpha, beta, swish)
		}
		for ; i < n; i++ {
			v := x[i] + b
			h := min(max(alpha*v+beta, 0), 1)
			if swish != 0 {
				h *= v
			}
			y[i] = h
		}
	default:
		return false
	}
	act.bound(y)
	return true
}
