package zoo

import (
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// convOut is the output size of a convolution or pooling window along one axis.
func convOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// conv adds Conv (bias when withBias) with square kernel k and symmetric padding. The weight
// is N(0, 1/(fan_in E[x^2])): output second moment about 1, He init for unit ReLU inputs.
func (b *builder) conv(name, x string, cout, k, stride, pad, group int, withBias bool) string {
	s := b.shape(x)
	if len(s) != 4 {
		b.fail("conv %q: input %q has shape %v, want rank 4", name, x, s)
		return name
	}
	cin, h, w := b.dim(x, 1), b.dim(x, 2), b.dim(x, 3)
	if group < 1 || cin%group != 0 || cout%group != 0 {
		b.fail("conv %q: channels %d -> %d do not divide into %d groups", name, cin, cout, group)
		return name
	}
	fanIn := cin / group * k * k
	wName := b.normal(name+".weight", []int{cout, cin / group, k, k}, 0, 1/math.Sqrt(float64(fanIn)*b.stats(x).q()))
	ins := []string{x, wName}
	var bias []float32
	if withBias {
		bound := 1 / math.Sqrt(float64(fanIn)) / 4
		ins = append(ins, b.uniform(name+".bias", []int{cout}, -bound, bound))
		bias = b.g.Initializers[ins[2]].Float32s()
	}
	attrs := map[string]*graph.Attr{
		"kernel_shape": aInts(int64(k), int64(k)),
		"strides":      aInts(int64(stride), int64(stride)),
		"pads":         aInts(int64(pad), int64(pad), int64(pad), int64(pad)),
		"dilations":    aInts(1, 1),
		"group":        aInt(int64(group)),
	}
	shape := graph.Shape{s[0], graph.D(int64(cout)), graph.D(int64(convOut(h, k, stride, pad))), graph.D(int64(convOut(w, k, stride, pad)))}
	out := b.node("Conv", name, ins, tensor.Float32, shape, attrs)
	cg, og := cin/group, cout/group
	b.linearStats(out, x, b.g.Initializers[wName].Float32s(), bias, cout, fanIn,
		func(o, i int) int { return o/og*cg + i/(k*k) })
	return out
}

// batchNorm adds BatchNormalization (inference form) with realistic statistics: scale in
// [0.75, 1.25), bias ~ N(0, 0.1^2), running mean = the channel's estimated mean plus
// N(0, (0.1 sd)^2), running variance = its estimated variance times U[0.5, 1.5) (about
// [0.5, 1.5) after a conv, whose output variance is about 1).
func (b *builder) batchNorm(name, x string) string {
	c := b.dim(x, 1)
	in := b.stats(x)
	scale := b.uniform(name+".weight", []int{c}, 0.75, 1.25)
	bias := b.normal(name+".bias", []int{c}, 0, 0.1)
	mean := b.normal(name+".running_mean", []int{c}, 0, 1)
	variance := b.uniform(name+".running_var", []int{c}, 0.5, 1.5)
	gs, bs, ms, vs := b.g.Initializers[scale].Float32s(), b.g.Initializers[bias].Float32s(), b.g.Initializers[mean].Float32s(), b.g.Initializers[variance].Float32s()
	for i := range c {
		mu, v := in.at(i)
		v = max(v, 1e-3)
		ms[i] = float32(mu + 0.1*math.Sqrt(v)*float64(ms[i]))
		vs[i] = float32(v * float64(vs[i]))
	}
	const eps = 1e-5
	out := b.node("BatchNormalization", name, []string{x, scale, bias, mean, variance}, tensor.Float32, b.shape(x),
		map[string]*graph.Attr{"epsilon": aFloat(eps), "momentum": aFloat(0.9)})
	b.setPerChannel(out, c, func(i int) (float64, float64) {
		mu, v := in.at(i)
		g := float64(gs[i]) / math.Sqrt(float64(vs[i])+eps)
		return float64(bs[i]) + g*(mu-float64(ms[i])), g * g * v
	})
	return out
}

// unary adds a shape-preserving op whose output statistics are those of x mapped by f.
func (b *builder) unary(op, name, x string, f func(mu, v float64) (float64, float64), attrs map[string]*graph.Attr, extra ...string) string {
	out := b.node(op, name, append([]string{x}, extra...), b.dtype(x), b.shape(x), attrs)
	in := b.stats(x)
	b.setPerChannel(out, in.n(), func(c int) (float64, float64) { return f(in.at(c)) })
	return out
}

// relu adds Relu.
func (b *builder) relu(name, x string) string { return b.unary("Relu", name, x, rectify, nil) }

// relu6 adds Clip(x, 0, 6) with min and max as inputs (canonical form).
func (b *builder) relu6(name, x string) string {
	return b.unary("Clip", name, x, rectify, nil, b.scalar("const.zero", 0), b.scalar("const.six", 6))
}

// add adds an elementwise Add of x and y (same channels, or y broadcast).
func (b *builder) add(name, x, y string, shape graph.Shape) string {
	out := b.node("Add", name, []string{x, y}, b.dtype(x), shape, nil)
	sx, sy := b.stats(x), b.stats(y)
	b.setPerChannel(out, max(sx.n(), sy.n()), func(c int) (float64, float64) {
		mx, vx := sx.at(c)
		my, vy := sy.at(c)
		return mx + my, vx + vy
	})
	return out
}

// gemm adds Gemm(x, W^T) + bias with W of shape [n, k] (PyTorch Linear layout, transB=1),
// W ~ N(0, 1/(k E[x^2])) and bias ~ U(-1/sqrt(k), 1/sqrt(k)) as PyTorch's Linear.
func (b *builder) gemm(name, x string, n int) string {
	s := b.shape(x)
	if len(s) != 2 {
		b.fail("gemm %q: input %q has shape %v, want rank 2", name, x, s)
		return name
	}
	k := b.dim(x, 1)
	w := b.normal(name+".weight", []int{n, k}, 0, 1/math.Sqrt(float64(k)*b.stats(x).q()))
	bound := 1 / math.Sqrt(float64(k))
	bias := b.uniform(name+".bias", []int{n}, -bound, bound)
	out := b.node("Gemm", name, []string{x, w, bias}, tensor.Float32, graph.Shape{s[0], graph.D(int64(n))},
		map[string]*graph.Attr{"transB": aInt(1), "alpha": aFloat(1), "beta": aFloat(1)})
	b.linearStats(out, x, b.g.Initializers[w].Float32s(), b.g.Initializers[bias].Float32s(), n, k,
		func(_, i int) int { return i })
	return out
}

// maxPool adds MaxPool with a square window.
func (b *builder) maxPool(name, x string, k, stride, pad int) string {
	s := b.shape(x)
	h, w := b.dim(x, 2), b.dim(x, 3)
	shape := graph.Shape{s[0], s[1], graph.D(int64(convOut(h, k, stride, pad))), graph.D(int64(convOut(w, k, stride, pad)))}
	out := b.node("MaxPool", name, []string{x}, tensor.Float32, shape, map[string]*graph.Attr{
		"kernel_shape": aInts(int64(k), int64(k)),
		"strides":      aInts(int64(stride), int64(stride)),
		"pads":         aInts(int64(pad), int64(pad), int64(pad), int64(pad)),
	})
	// The max of a window of ReLU outputs is the ReLU of the max of the window's inputs; the
	// window's elements are taken as independent (they are correlated, which lowers the max).
	pre := x
	if n := b.producer(x); n != nil && (n.Op == "Relu" || n.Op == "Clip") {
		pre = n.Inputs[0]
	}
	in := b.stats(pre)
	e, ev := maxOfNormals(k * k)
	b.setPerChannel(out, in.n(), func(c int) (float64, float64) {
		mu, v := in.at(c)
		return rectify(mu+0.9*e*math.Sqrt(v), ev*v)
	})
	return out
}

// globalAvgPool adds GlobalAveragePool then Flatten, giving [batch, channels].
func (b *builder) globalAvgPool(name, x string) string {
	s := b.shape(x)
	pooled := b.node("GlobalAveragePool", name, []string{x}, tensor.Float32, graph.Shape{s[0], s[1], graph.D(1), graph.D(1)}, nil)
	// Averaging keeps the channel means and loses most of the spread.
	in := b.stats(x)
	b.setPerChannel(pooled, in.n(), func(c int) (float64, float64) {
		mu, v := in.at(c)
		return mu, 0.25 * v
	})
	return b.flatten(name+".flatten", pooled)
}

// flatten adds Flatten(axis=1) of a [batch, C, ...] value; feature f comes from channel
// f / (size of the inner dims).
func (b *builder) flatten(name, x string) string {
	s := b.shape(x)
	n := int64(1)
	for _, d := range s[1:] {
		if !d.Known() {
			b.fail("flatten %q: input %q has shape %v with an open inner dim", name, x, s)
			return name
		}
		n *= d.Size
	}
	out := b.node("Flatten", name, []string{x}, b.dtype(x), graph.Shape{s[0], graph.D(n)}, map[string]*graph.Attr{"axis": aInt(1)})
	in := b.stats(x)
	per := int(n) / max(1, b.dim(x, 1))
	b.setPerChannel(out, int(n), func(f int) (float64, float64) { return in.at(f / per) })
	return out
}
