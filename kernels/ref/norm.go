package ref

import (
	"fmt"
	"math"
)

// BatchNorm is inference BatchNormalization on x [N, C, sp...] (sp = product of the rest):
// y = scale*(x-mean)/sqrt(var+eps) + bias, per channel.
func BatchNorm(x []float32, n, c, sp int, scale, bias, mean, variance []float32, eps float32, out []float32) error {
	if len(x) != n*c*sp || len(out) != len(x) {
		return fmt.Errorf("batchnorm: %d elements for [%d %d %d]", len(x), n, c, sp)
	}
	for i, v := range [][]float32{scale, bias, mean, variance} {
		if len(v) != c {
			return fmt.Errorf("batchnorm: parameter %d has %d elements, want %d channels", i+1, len(v), c)
		}
	}
	parallelFor(n*c, max(1, elemGrain/max(sp, 1)), 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % c
			a := scale[ch] / float32(math.Sqrt(float64(variance[ch]+eps)))
			b := bias[ch] - mean[ch]*a
			scaleShift(x[i*sp:(i+1)*sp], out[i*sp:(i+1)*sp], a, b)
		}
	})
	return nil
}

// InstanceNorm normalizes each (n, c) plane of sp elements, then scales and shifts per channel.
func InstanceNorm(x []float32, n, c, sp int, scale, bias []float32, eps float32, out []float32) error {
	if len(x) != n*c*sp || len(out) != len(x) || len(scale) != c || len(bias) != c {
		return fmt.Errorf("instancenorm: %d elements for [%d %d %d], scale %d, bias %d", len(x), n, c, sp, len(scale), len(bias))
	}
	parallelFor(n*c, 1, 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % c
			normRow(x[i*sp:(i+1)*sp], out[i*sp:(i+1)*sp], eps, nil, nil, scale[ch], bias[ch])
		}
	})
	return nil
}

// normRow writes (x-mean)/sqrt(var+eps) * (scale or s) + (bias or b) and returns mean and
// 1/std. scale and bias, when non-nil, have len(x).
func normRow(x, y []float32, eps float32, scale, bias []float32, s, b float32) (float32, float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var sq float64
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	m, iv := float32(mean), float32(inv)
	for i, v := range x {
		z := (v - m) * iv
		if scale != nil {
			z *= scale[i]
		} else {
			z *= s
		}
		if bias != nil {
			z += bias[i]
		} else {
			z += b
		}
		y[i] = z
	}
	return m, iv
}

// LayerNorm normalizes each of the outer rows of inner elements: y = (x-mean)/sqrt(var+eps)
// * scale + bias (scale, bias of len inner; bias may be nil). mean and invStd (may be nil)
// receive one value per row.
func LayerNorm(x []float32, outer, inner int, scale, bias []float32, eps float32, out, mean, invStd []float32) error {
	if len(x) != outer*inner || len(out) != len(x) || len(scale) != inner || (bias != nil && len(bias) != inner) {
		return fmt.Errorf("layernorm: %d elements for %d rows of %d, scale %d, bias %d", len(x), outer, inner, len(scale), len(bias))
	}
	if (mean != nil && len(mean) != outer) || (invStd != nil && len(invStd) != outer) {
		return fmt.Errorf("layernorm: mean/invstd outputs do not have %d rows", outer)
	}
	var zeros []float32
	if bias == nil {
		zeros = make([]float32, inner)
		bias = zeros
	}
	parallelFor(outer, max(1, elemGrain/max(inner, 1)), 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m, iv := normRow(x[i*inner:(i+1)*inner], out[i*inner:(i+1)*inner], eps, scale, bias, 0, 0)
			if mean != nil {
				mean[i] = m
			}
			if invStd != nil {
				invStd[i] = iv
			}
		}
	})
	return nil
}

// GroupNorm normalizes x [N, C, sp] over groups of C/groups channels, then applies
// per-channel scale and bias (opset 21 semantics).
func GroupNorm(x []float32, n, c, sp, groups int, scale, bias []float32, eps float32, out []float32) error {
	if groups < 1 || c%groups != 0 || len(x) != n*c*sp || len(out) != len(x) || len(scale) != c || len(bias) != c {
		return fmt.Errorf("groupnorm: %d groups, [%d %d %d], scale %d, bias %d", groups, n, c, sp, len(scale), len(bias))
	}
	cg := c / groups
	gsz := cg * sp
	parallelFor(n*groups, 1, 0, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seg := x[i*gsz : (i+1)*gsz]
			dst := out[i*gsz : (i+1)*gsz]
			_, _ = normRow(seg, dst, eps, nil, nil, 1, 0)
			g := i % groups
			for k := 0; k < cg; k++ {
				ch := g*cg + k
				pl := dst[k*sp : (k+1)*sp]
				for j := range pl {
					pl[j] = pl[j]*scale[ch] + bias[ch]
				}
			}
		}
	})
	return nil
}

// LRN is ONNX LRN over the channels of x [N, C, sp].
func LRN(x []float32, n, c, sp, size int, alpha, beta, bias float32, out []float32) error {
	if len(x) != n*c*sp || len(out) != len(x) || size < 1 {
		return fmt.Errorf("lrn: %d elements for [%d %d %d], size %d", len(x), n, c, sp, size)
	}
	lo := (size - 1) / 2
	hi := size - 1 - lo
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < sp; j++ {
				var s float64
				for k := max(0, ch-lo); k <= min(c-1, ch+hi); k++ {
					v := float64(x[(b*c+k)*sp+j])
					s += v * v
				}
				i := (b*c+ch)*sp + j
				out[i] = x[i] / float32(math.Pow(float64(bias)+float64(alpha)/float64(size)*s, float64(beta)))
			}
		}
	}
	return nil
}
