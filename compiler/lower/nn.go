package lower

import (
	"fmt"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/norm"
	"github.com/elasticroom/elasticroom/kernels/pool"
	"github.com/elasticroom/elasticroom/kernels/reduce"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/softmax"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

var reduceOps = map[string]ref.ReduceOp{
	"ReduceSum": ref.ReduceSum, "ReduceMean": ref.ReduceMean, "ReduceMax": ref.ReduceMax,
	"ReduceMin": ref.ReduceMin, "ReduceProd": ref.ReduceProd, "ReduceL1": ref.ReduceL1,
	"ReduceL2": ref.ReduceL2, "ReduceSumSquare": ref.ReduceSumSquare, "ReduceLogSum": ref.ReduceLogSum,
	"ReduceLogSumExp": ref.ReduceLogSumExp,
}

// onlyOutput checks that a node's outputs beyond the first are omitted (the kernels compute
// one output).
func onlyOutput(n *graph.Node) error {
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return fmt.Errorf("output %q: the kernel computes only the first output", o)
		}
	}
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return fmt.Errorf("no output")
	}
	return nil
}

// reduce maps ReduceX (axes as input or attribute) and ArgMax/ArgMin onto kernels/reduce.
func (m *mapper) reduce(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	sh, err := m.f32(n.Input(0))
	if err != nil {
		return nil, err
	}
	x := sh[0]
	var p reduce.Params
	p.Shape = x
	if n.Op == "ArgMax" || n.Op == "ArgMin" {
		if dt := m.dtype(outputOf(n)); dt != tensor.Int64 {
			return nil, fmt.Errorf("%s output is %v, want int64", n.Op, dt)
		}
		ax, err := axis(n.AttrInt("axis", 0), len(x))
		if err != nil {
			return nil, err
		}
		p.Arg, p.ArgMax, p.SelectLast, p.Axes = true, n.Op == "ArgMax", n.AttrInt("select_last_index", 0) != 0, []int{ax}
	} else {
		if _, err := m.f32(outputOf(n)); err != nil {
			return nil, err
		}
		p.Op = reduceOps[n.Op]
		axes, given, err := m.constInts(n, 1)
		if err != nil {
			return nil, err
		}
		if !given {
			axes = n.AttrInts("axes", nil)
		}
		if len(axes) == 0 && n.AttrInt("noop_with_empty_axes", 0) != 0 {
			return nil, fmt.Errorf("a reduction over no axes is a copy")
		}
		if p.Axes, err = ref.NormalizeAxes(axes, len(x)); err != nil {
			return nil, err
		}
		if len(p.Axes) == 0 {
			for i := range x {
				p.Axes = append(p.Axes, i)
			}
		}
	}
	if len(x) == 0 {
		return nil, fmt.Errorf("reduction of a scalar")
	}
	return &job{family: "reduce", configs: reduce.Configs(p), key: key("reduce", p),
		bind: map[string]string{"x": n.Input(0), "y": outputOf(n)},
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) {
			return reduce.Build(p, cfg, t)
		}}, nil
}

// softmax maps Softmax and LogSoftmax (opset-13 semantics) onto kernels/softmax.
func (m *mapper) softmax(n *graph.Node) (*job, error) {
	sh, err := m.f32(n.Input(0), outputOf(n))
	if err != nil {
		return nil, err
	}
	if len(sh[0]) == 0 {
		return nil, fmt.Errorf("softmax of a scalar")
	}
	ax, err := axis(n.AttrInt("axis", -1), len(sh[0]))
	if err != nil {
		return nil, err
	}
	p := softmax.Params{Shape: sh[0], Axis: ax, Log: n.Op == "LogSoftmax"}
	return &job{family: "softmax", configs: softmax.Configs(p), key: key("softmax", p),
		bind: map[string]string{"x": n.Input(0), "y": outputOf(n)},
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) {
			return softmax.Build(p, cfg, t)
		}}, nil
}

// vector returns the name of a buffer holding input i of n as exactly want elements: the
// input itself, or (a constant that broadcasts to shape) an expanded copy added to the graph.
func (m *mapper) vector(n *graph.Node, i, want int, shape []int) (string, error) {
	name := n.Input(i)
	s, err := m.f32(name)
	if err != nil {
		return "", err
	}
	if prod(s[0]) == want {
		return name, nil
	}
	t, ok := m.g.Initializers[name]
	if !ok {
		return "", fmt.Errorf("input %d (%q) has shape %v, want %d elements", i, name, s[0], want)
	}
	d, err := ref.Expand(t.Data.([]float32), t.Shape, shape)
	if err != nil || len(d) != want {
		return "", fmt.Errorf("input %d (%q) has shape %v, does not broadcast to %v", i, name, t.Shape, shape)
	}
	return m.addConst(n.Name+"/"+name+"/expanded", tensor.FromFloat32(shape, d)), nil
}

// rowNorm maps LayerNormalization, InstanceNormalization and GroupNormalization.
func (m *mapper) rowNorm(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	sh, err := m.f32(n.Input(0), outputOf(n))
	if err != nil {
		return nil, err
	}
	x := sh[0]
	p := norm.Params{Eps: n.AttrFloat("epsilon", 1e-5)}
	bind := map[string]string{"x": n.Input(0), "y": outputOf(n)}
	var scaleShape []int
	var want int
	switch n.Op {
	case "LayerNormalization":
		ax, err := axis(n.AttrInt("axis", -1), len(x))
		if err != nil {
			return nil, err
		}
		p.Kind, p.Outer, p.Inner = norm.Layer, prod(x[:ax]), prod(x[ax:])
		scaleShape, want = x[ax:], p.Inner
		p.NoBias = n.Input(2) == ""
	case "InstanceNormalization", "GroupNormalization":
		if len(x) < 3 {
			return nil, fmt.Errorf("input of shape %v, want rank >= 3", x)
		}
		p.Kind, p.N, p.C, p.Spatial = norm.Instance, x[0], x[1], prod(x[2:])
		if n.Op == "GroupNormalization" {
			p.Kind, p.Groups = norm.Group, int(n.AttrInt("num_groups", 0))
			if p.Groups < 1 || p.C%p.Groups != 0 {
				return nil, fmt.Errorf("num_groups %d for %d channels", p.Groups, p.C)
			}
		}
		scaleShape, want = []int{x[1]}, x[1]
	}
	for i, role := range []string{"scale", "bias"} {
		if n.Input(i+1) == "" {
			if role == "scale" || n.Op != "LayerNormalization" {
				return nil, fmt.Errorf("no %s input", role)
			}
			continue
		}
		v, err := m.vector(n, i+1, want, scaleShape)
		if err != nil {
			return nil, err
		}
		bind[role] = v
	}
	return &job{family: "norm", configs: norm.Configs(p), key: key("norm", p), bind: bind,
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return norm.Build(p, cfg, t) }}, nil
}

// batchNorm maps inference BatchNormalization (when not folded into a conv).
func (m *mapper) batchNorm(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	if n.AttrInt("training_mode", 0) != 0 {
		return nil, fmt.Errorf("training_mode=1")
	}
	sh, err := m.f32(n.Input(0), outputOf(n))
	if err != nil {
		return nil, err
	}
	x := sh[0]
	if len(x) < 2 {
		return nil, fmt.Errorf("input of shape %v, want rank >= 2", x)
	}
	p := norm.BatchParams{N: x[0], C: x[1], Spatial: prod(x[2:]), Eps: n.AttrFloat("epsilon", 1e-5)}
	bind := map[string]string{"x": n.Input(0), "y": outputOf(n)}
	for i, role := range []string{"scale", "bias", "mean", "var"} {
		v, err := m.vector(n, i+1, p.C, []int{p.C})
		if err != nil {
			return nil, err
		}
		bind[role] = v
	}
	return &job{family: "norm", configs: norm.BatchConfigs(p), key: key("batchnorm", p), bind: bind,
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return norm.BuildBatch(p, cfg, t) }}, nil
}

// pool maps MaxPool (without the indices output) and AveragePool onto kernels/pool.
func (m *mapper) pool(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	sh, err := m.f32(n.Input(0), outputOf(n))
	if err != nil {
		return nil, err
	}
	x := sh[0]
	if len(x) < 3 {
		return nil, fmt.Errorf("input of shape %v, want rank >= 3", x)
	}
	geo, err := readGeometry(n, len(x)-2, nil)
	if err != nil {
		return nil, err
	}
	if err := geo.resolvePads(x[2:]); err != nil {
		return nil, err
	}
	p := pool.Params{Max: n.Op == "MaxPool", PoolParams: ref.PoolParams{N: x[0], C: x[1], In: x[2:],
		Kernel: geo.kernel, Strides: geo.strides, Dilations: geo.dilations, PadsBegin: geo.pb, PadsEnd: geo.pe,
		CeilMode: n.AttrInt("ceil_mode", 0) != 0, CountIncludePad: n.AttrInt("count_include_pad", 0) != 0}}
	if out, err := ref.PoolOutShape(p.PoolParams); err != nil || prod(out) != prod(sh[1]) {
		return nil, fmt.Errorf("pool output shape %v (%v) does not match the graph's %v", out, err, sh[1])
	}
	return &job{family: "pool", configs: pool.Configs(p), key: key("pool", p),
		bind:  map[string]string{"x": n.Input(0), "y": outputOf(n)},
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return pool.Build(p, cfg, t) }}, nil
}

// globalPool maps GlobalAveragePool and GlobalMaxPool.
func (m *mapper) globalPool(n *graph.Node) (*job, error) {
	sh, err := m.f32(n.Input(0), outputOf(n))
	if err != nil {
		return nil, err
	}
	x := sh[0]
	if len(x) < 2 {
		return nil, fmt.Errorf("input of shape %v, want rank >= 2", x)
	}
	p := pool.GlobalParams{NC: x[0] * x[1], Spatial: prod(x[2:]), Max: n.Op == "GlobalMaxPool"}
	return &job{family: "reduce", configs: pool.GlobalConfigs(p), key: key("globalpool", p),
		bind: map[string]string{"x": n.Input(0), "y": outputOf(n)},
		build: func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) {
			return pool.BuildGlobal(p, cfg, t)
		}}, nil
}
