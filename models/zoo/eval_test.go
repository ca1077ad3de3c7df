package zoo

// A small, slow, independent evaluator of the ops the zoo uses, written from the ONNX operator
// specs, for testing that the models compute something sensible (activations O(1)) and that
// the shapes the builder records are the shapes the ops produce. It shares no code with the
// builder. Convolutions and matrix products use gonum's sgemm.

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

var sgemm = gonum.Implementation{}

// evalStats is what a run records of every node output.
type evalStats struct {
	name      string
	op        string
	rms       float64 // sqrt(E[x^2])
	zeroFrac  float64 // fraction of exact zeros
	maxAbs    float64
	nonFinite int
}

// evaluate runs g on inputs, checking every node output against the shape the graph records
// (the symbolic batch dim resolved to batch). It returns all values and per-node statistics.
func evaluate(g *graph.Graph, inputs map[string]*tensor.Tensor, batch int) (map[string]*tensor.Tensor, []evalStats, error) {
	env := map[string]*tensor.Tensor{}
	for k, v := range g.Initializers {
		env[k] = v
	}
	for k, v := range inputs {
		env[k] = v
	}
	var stats []evalStats
	for _, n := range g.Nodes {
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			t, ok := env[name]
			if !ok {
				return nil, nil, fmt.Errorf("%v: input %q not computed", n, name)
			}
			ins[i] = t
		}
		out, err := evalNode(n, ins)
		if err != nil {
			return nil, nil, fmt.Errorf("%v: %w", n, err)
		}
		v, ok := g.Value(n.Outputs[0])
		if !ok {
			return nil, nil, fmt.Errorf("%v: output %q has no recorded value", n, n.Outputs[0])
		}
		want := make([]int, len(v.Shape))
		for i, d := range v.Shape {
			want[i] = int(d.Size)
			if !d.Known() {
				want[i] = batch
			}
		}
		if !slices.Equal(want, out.Shape) || v.DType != out.DType {
			return nil, nil, fmt.Errorf("%v: computed %v, graph records %v", n, out, v)
		}
		env[n.Outputs[0]] = out
		if d := out.Float32s(); d != nil {
			st := evalStats{name: n.Name, op: n.Op}
			for _, x := range d {
				f := float64(x)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					st.nonFinite++
					continue
				}
				st.rms += f * f
				st.maxAbs = max(st.maxAbs, math.Abs(f))
				if x == 0 {
					st.zeroFrac++
				}
			}
			st.rms = math.Sqrt(st.rms / float64(len(d)))
			st.zeroFrac /= float64(len(d))
			stats = append(stats, st)
		}
	}
	return env, stats, nil
}

func evalNode(n *graph.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	switch n.Op {
	case "Conv":
		return evalConv(n, in)
	case "BatchNormalization":
		return evalBN(n, in)
	case "Relu":
		return mapF(in[0], func(x float32) float32 { return max(x, 0) }), nil
	case "Clip":
		lo, hi := in[1].Float32s()[0], in[2].Float32s()[0]
		return mapF(in[0], func(x float32) float32 { return min(max(x, lo), hi) }), nil
	case "Erf":
		return mapF(in[0], func(x float32) float32 { return float32(math.Erf(float64(x))) }), nil
	case "MaxPool":
		return evalMaxPool(n, in[0])
	case "GlobalAveragePool":
		s := in[0].Shape
		out := tensor.MustNew(tensor.Float32, []int{s[0], s[1], 1, 1})
		hw := s[2] * s[3]
		for i := range s[0] * s[1] {
			var sum float64
			for _, x := range in[0].Float32s()[i*hw : (i+1)*hw] {
				sum += float64(x)
			}
			out.Float32s()[i] = float32(sum / float64(hw))
		}
		return out, nil
	case "Flatten":
		if n.AttrInt("axis", 1) != 1 {
			return nil, fmt.Errorf("axis != 1")
		}
		return in[0].Reshaped([]int{in[0].Shape[0], in[0].Len() / in[0].Shape[0]})
	case "Gemm":
		return evalGemm(n, in)
	case "MatMul":
		return evalMatMul(in[0], in[1])
	case "Add":
		return broadcast(in[0], in[1], func(a, b float32) float32 { return a + b })
	case "Sub":
		return broadcast(in[0], in[1], func(a, b float32) float32 { return a - b })
	case "Mul":
		return broadcast(in[0], in[1], func(a, b float32) float32 { return a * b })
	case "Div":
		return broadcast(in[0], in[1], func(a, b float32) float32 { return a / b })
	case "Softmax":
		if a := n.AttrInt("axis", -1); a != -1 && int(a) != in[0].Rank()-1 {
			return nil, fmt.Errorf("softmax axis %d", a)
		}
		return lastAxis(in[0], func(row, out []float32) {
			m := slices.Max(row)
			var sum float64
			for i, x := range row {
				e := math.Exp(float64(x - m))
				out[i] = float32(e)
				sum += e
			}
			for i := range out {
				out[i] = float32(float64(out[i]) / sum)
			}
		}), nil
	case "LayerNormalization":
		eps := float64(n.AttrFloat("epsilon", 1e-5))
		scale, bias := in[1].Float32s(), in[2].Float32s()
		return lastAxis(in[0], func(row, out []float32) {
			var mean, v float64
			for _, x := range row {
				mean += float64(x)
			}
			mean /= float64(len(row))
			for _, x := range row {
				v += (float64(x) - mean) * (float64(x) - mean)
			}
			inv := 1 / math.Sqrt(v/float64(len(row))+eps)
			for i, x := range row {
				out[i] = float32((float64(x)-mean)*inv)*scale[i] + bias[i]
			}
		}), nil
	case "Gather":
		return evalGather(n, in[0], in[1])
	case "Cast":
		if n.AttrInt("to", 0) != 1 || in[0].DType != tensor.Int64 {
			return nil, fmt.Errorf("only int64 -> float (1) casts, got to=%d from %v", n.AttrInt("to", 0), in[0].DType)
		}
		out := tensor.MustNew(tensor.Float32, in[0].Shape)
		for i, x := range in[0].Int64s() {
			out.Float32s()[i] = float32(x)
		}
		return out, nil
	case "Unsqueeze":
		shape := slices.Clone(in[0].Shape)
		for _, a := range in[1].Int64s() { // axes in ascending order, non-negative
			shape = slices.Insert(shape, int(a), 1)
		}
		return in[0].Reshaped(shape)
	case "Reshape":
		return evalReshape(in[0], in[1].Int64s())
	case "Transpose":
		return evalTranspose(in[0], n.AttrInts("perm", nil))
	}
	return nil, fmt.Errorf("op %s not in the test evaluator", n.Op)
}

func mapF(x *tensor.Tensor, f func(float32) float32) *tensor.Tensor {
	out := tensor.MustNew(tensor.Float32, x.Shape)
	for i, v := range x.Float32s() {
		out.Float32s()[i] = f(v)
	}
	return out
}

func lastAxis(x *tensor.Tensor, f func(row, out []float32)) *tensor.Tensor {
	out := tensor.MustNew(tensor.Float32, x.Shape)
	k := x.Shape[len(x.Shape)-1]
	for i := 0; i < x.Len(); i += k {
		f(x.Float32s()[i:i+k], out.Float32s()[i:i+k])
	}
	return out
}

// strides returns row-major strides for shape, with 0 where a dim is broadcast to out.
func bstrides(shape, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		j := i + len(out) - len(shape)
		if shape[i] != 1 {
			st[j] = s
		}
		s *= shape[i]
	}
	return st
}

func broadcast(a, b *tensor.Tensor, f func(a, b float32) float32) (*tensor.Tensor, error) {
	r := max(a.Rank(), b.Rank())
	shape := make([]int, r)
	for i := range r {
		da, db := 1, 1
		if j := i - (r - a.Rank()); j >= 0 {
			da = a.Shape[j]
		}
		if j := i - (r - b.Rank()); j >= 0 {
			db = b.Shape[j]
		}
		switch {
		case da == db || db == 1:
			shape[i] = da
		case da == 1:
			shape[i] = db
		default:
			return nil, fmt.Errorf("cannot broadcast %v with %v", a.Shape, b.Shape)
		}
	}
	out := tensor.MustNew(tensor.Float32, shape)
	ad, bd, od := a.Float32s(), b.Float32s(), out.Float32s()
	if slices.Equal(a.Shape, b.Shape) {
		for i := range od {
			od[i] = f(ad[i], bd[i])
		}
		return out, nil
	}
	sa, sb := bstrides(a.Shape, shape), bstrides(b.Shape, shape)
	idx := make([]int, r)
	for i := range od {
		oa, ob := 0, 0
		for k := range r {
			oa += idx[k] * sa[k]
			ob += idx[k] * sb[k]
		}
		od[i] = f(ad[oa], bd[ob])
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}

func evalConv(n *graph.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	x, w := in[0], in[1]
	k := n.AttrInts("kernel_shape", nil)
	st := n.AttrInts("strides", []int64{1, 1})
	p := n.AttrInts("pads", []int64{0, 0, 0, 0})
	if d := n.AttrInts("dilations", []int64{1, 1}); d[0] != 1 || d[1] != 1 {
		return nil, fmt.Errorf("dilation %v", d)
	}
	if len(k) != 2 || int(k[0]) != w.Shape[2] || int(k[1]) != w.Shape[3] || p[0] != p[2] || p[1] != p[3] {
		return nil, fmt.Errorf("kernel_shape %v / pads %v do not fit weight %v", k, p, w.Shape)
	}
	g := int(n.AttrInt("group", 1))
	nb, cin, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	cout, cg, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	if cg*g != cin {
		return nil, fmt.Errorf("weight %v with group %d does not fit input %v", w.Shape, g, x.Shape)
	}
	sh, sw, ph, pw := int(st[0]), int(st[1]), int(p[0]), int(p[1])
	oh, ow := (h+2*ph-kh)/sh+1, (wd+2*pw-kw)/sw+1
	out := tensor.MustNew(tensor.Float32, []int{nb, cout, oh, ow})
	xd, wdat, od := x.Float32s(), w.Float32s(), out.Float32s()
	kk := cg * kh * kw
	col := make([]float32, kk*oh*ow)
	og := cout / g
	for b := range nb {
		for gi := range g {
			// im2col: rows (c, ky, kx), columns output positions.
			for c := range cg {
				plane := xd[((b*cin)+gi*cg+c)*h*wd:]
				for ky := range kh {
					for kx := range kw {
						row := col[((c*kh+ky)*kw+kx)*oh*ow:]
						for oy := range oh {
							iy := oy*sh - ph + ky
							for ox := range ow {
								ix := ox*sw - pw + kx
								v := float32(0)
								if iy >= 0 && iy < h && ix >= 0 && ix < wd {
									v = plane[iy*wd+ix]
								}
								row[oy*ow+ox] = v
							}
						}
					}
				}
			}
			sgemm.Sgemm(blas.NoTrans, blas.NoTrans, og, oh*ow, kk, 1,
				wdat[gi*og*kk:], kk, col, oh*ow, 0, od[(b*cout+gi*og)*oh*ow:], oh*ow)
		}
	}
	if len(in) > 2 && in[2] != nil {
		bias := in[2].Float32s()
		for b := range nb {
			for c := range cout {
				seg := od[(b*cout+c)*oh*ow : (b*cout+c+1)*oh*ow]
				for i := range seg {
					seg[i] += bias[c]
				}
			}
		}
	}
	return out, nil
}

func evalBN(n *graph.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	x := in[0]
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	scale, bias, mean, v := in[1].Float32s(), in[2].Float32s(), in[3].Float32s(), in[4].Float32s()
	out := tensor.MustNew(tensor.Float32, x.Shape)
	c, hw := x.Shape[1], x.Len()/(x.Shape[0]*x.Shape[1])
	for i := range x.Len() {
		ch := (i / hw) % c
		y := (float64(x.Float32s()[i])-float64(mean[ch]))/math.Sqrt(float64(v[ch])+eps)*float64(scale[ch]) + float64(bias[ch])
		out.Float32s()[i] = float32(y)
	}
	return out, nil
}

func evalMaxPool(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error) {
	k := n.AttrInts("kernel_shape", nil)
	st := n.AttrInts("strides", []int64{1, 1})
	p := n.AttrInts("pads", []int64{0, 0, 0, 0})
	if len(k) != 2 || p[0] != p[2] || p[1] != p[3] || n.AttrInt("ceil_mode", 0) != 0 {
		return nil, fmt.Errorf("unsupported pooling attributes")
	}
	nb, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := (h+2*int(p[0])-int(k[0]))/int(st[0])+1, (w+2*int(p[1])-int(k[1]))/int(st[1])+1
	out := tensor.MustNew(tensor.Float32, []int{nb, c, oh, ow})
	for pl := range nb * c {
		src := x.Float32s()[pl*h*w:]
		for oy := range oh {
			for ox := range ow {
				m := float32(math.Inf(-1))
				for ky := range int(k[0]) {
					for kx := range int(k[1]) {
						iy, ix := oy*int(st[0])-int(p[0])+ky, ox*int(st[1])-int(p[1])+kx
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							m = max(m, src[iy*w+ix])
						}
					}
				}
				out.Float32s()[(pl*oh+oy)*ow+ox] = m
			}
		}
	}
	return out, nil
}

func evalGemm(n *graph.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if n.AttrInt("transA", 0) != 0 || n.AttrInt("transB", 0) != 1 || n.AttrFloat("alpha", 1) != 1 || n.AttrFloat("beta", 1) != 1 {
		return nil, fmt.Errorf("only transA=0 transB=1 alpha=beta=1")
	}
	a, w, c := in[0], in[1], in[2]
	m, k, nn := a.Shape[0], a.Shape[1], w.Shape[0]
	if w.Shape[1] != k || c.Len() != nn {
		return nil, fmt.Errorf("shapes %v %v %v", a.Shape, w.Shape, c.Shape)
	}
	out := tensor.MustNew(tensor.Float32, []int{m, nn})
	for i := range m {
		copy(out.Float32s()[i*nn:], c.Float32s())
	}
	sgemm.Sgemm(blas.NoTrans, blas.Trans, m, nn, k, 1, a.Float32s(), k, w.Float32s(), k, 1, out.Float32s(), nn)
	return out, nil
}

// evalMatMul handles [..., m, k] x [k, n] and equal-batch [..., m, k] x [..., k, n].
func evalMatMul(a, b *tensor.Tensor) (*tensor.Tensor, error) {
	ra, rb := a.Rank(), b.Rank()
	m, k := a.Shape[ra-2], a.Shape[ra-1]
	n := b.Shape[rb-1]
	if b.Shape[rb-2] != k {
		return nil, fmt.Errorf("matmul %v x %v", a.Shape, b.Shape)
	}
	shape := append(slices.Clone(a.Shape[:ra-1]), n)
	out := tensor.MustNew(tensor.Float32, shape)
	switch {
	case rb == 2:
		rows := a.Len() / k
		sgemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, n, k, 1, a.Float32s(), k, b.Float32s(), n, 0, out.Float32s(), n)
	case slices.Equal(a.Shape[:ra-2], b.Shape[:rb-2]):
		for i := range a.Len() / (m * k) {
			sgemm.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a.Float32s()[i*m*k:], k, b.Float32s()[i*k*n:], n, 0, out.Float32s()[i*m*n:], n)
		}
	default:
		return nil, fmt.Errorf("matmul batch broadcast %v x %v not in the test evaluator", a.Shape, b.Shape)
	}
	return out, nil
}

func evalGather(n *graph.Node, data, idx *tensor.Tensor) (*tensor.Tensor, error) {
	if n.AttrInt("axis", 0) != 0 || data.Rank() != 2 {
		return nil, fmt.Errorf("only axis 0 of a matrix")
	}
	rows, cols := data.Shape[0], data.Shape[1]
	out := tensor.MustNew(tensor.Float32, append(slices.Clone(idx.Shape), cols))
	for i, r := range idx.Int64s() {
		if r < 0 || int(r) >= rows {
			return nil, fmt.Errorf("index %d out of [0, %d)", r, rows)
		}
		copy(out.Float32s()[i*cols:(i+1)*cols], data.Float32s()[int(r)*cols:])
	}
	return out, nil
}

func evalReshape(x *tensor.Tensor, spec []int64) (*tensor.Tensor, error) {
	shape := make([]int, len(spec))
	infer, known := -1, 1
	for i, s := range spec {
		switch {
		case s == 0:
			shape[i] = x.Shape[i]
		case s == -1:
			infer = i
			continue
		default:
			shape[i] = int(s)
		}
		known *= shape[i]
	}
	if infer >= 0 {
		shape[infer] = x.Len() / known
	}
	return x.Reshaped(shape)
}

func evalTranspose(x *tensor.Tensor, perm []int64) (*tensor.Tensor, error) {
	r := x.Rank()
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", perm, r)
	}
	shape := make([]int, r)
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	in := bstrides(x.Shape, x.Shape)
	for i := range in { // plain strides, including size-1 dims
		in[i] = tensor.NumElements(x.Shape[i+1:])
	}
	out := tensor.MustNew(tensor.Float32, shape)
	idx := make([]int, r)
	for i := range out.Float32s() {
		off := 0
		for k := range r {
			off += idx[k] * in[perm[k]]
		}
		out.Float32s()[i] = x.Float32s()[off]
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out, nil
}
