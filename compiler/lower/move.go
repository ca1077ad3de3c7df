package lower

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/move"
	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func moveJob(kind, k string, bind map[string]string, build func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error)) *job {
	return &job{family: "move", kind: kind, configs: move.ViewConfigs(), bind: bind, key: "move|" + k, build: build}
}

// shapes1 checks a one-input one-output move node (4-byte elements) and returns the shapes.
func (m *mapper) shapes1(n *graph.Node) (in, out []int, err error) {
	if err := onlyOutput(n); err != nil {
		return nil, nil, err
	}
	for _, v := range []string{n.Input(0), outputOf(n)} {
		if err := m.word32(v); err != nil {
			return nil, nil, err
		}
	}
	if in, err = m.shape(n.Input(0)); err != nil {
		return nil, nil, err
	}
	out, err = m.shape(outputOf(n))
	return in, out, err
}

// view maps the ops that are strided views of their input.
func (m *mapper) view(n *graph.Node) (*job, error) {
	x, out, err := m.shapes1(n)
	if err != nil {
		return nil, err
	}
	var v move.View
	switch n.Op {
	case "Transpose":
		perm := ints(n.AttrInts("perm", nil))
		if perm == nil {
			for i := range x {
				perm = append([]int{i}, perm...)
			}
		}
		v, err = move.TransposeView(x, perm)
	case "Slice":
		v, err = m.sliceView(n, x)
	case "Expand":
		v, err = move.ExpandView(x, out)
	case "Tile":
		reps, ok, e := m.constInts(n, 1)
		if e != nil || !ok {
			return nil, fmt.Errorf("repeats: %v", e)
		}
		v, err = move.TileView(x, ints(reps))
	case "DepthToSpace":
		if len(x) != 4 {
			return nil, fmt.Errorf("input of shape %v, want rank 4", x)
		}
		v, err = move.DepthToSpaceView(x, int(n.AttrInt("blocksize", 0)), n.AttrString("mode", "DCR") == "CRD")
	case "SpaceToDepth":
		b := int(n.AttrInt("blocksize", 0))
		if len(x) != 4 || b < 1 || x[2]%b != 0 || x[3]%b != 0 {
			return nil, fmt.Errorf("SpaceToDepth of %v by %d", x, b)
		}
		v, err = move.TransposeView([]int{x[0], x[1], x[2] / b, b, x[3] / b, b}, []int{0, 3, 5, 1, 2, 4})
	}
	if err != nil {
		return nil, err
	}
	if prod(v.OutShape) != prod(out) {
		return nil, fmt.Errorf("%s view of %v gives %v, the graph says %v", n.Op, x, v.OutShape, out)
	}
	return moveJob("view", fmt.Sprintf("view%+v", v), map[string]string{"x": n.Input(0), "y": outputOf(n)},
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildView(v, cfg, t) }), nil
}

func (m *mapper) sliceView(n *graph.Node, x []int) (move.View, error) {
	starts, ok1, err1 := m.constInts(n, 1)
	ends, ok2, err2 := m.constInts(n, 2)
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return move.View{}, fmt.Errorf("slice bounds are not constants")
	}
	axes, given, err := m.constInts(n, 3)
	if err != nil {
		return move.View{}, err
	}
	if !given {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := ref.NormalizeAxes(axes, len(x))
	if err != nil {
		return move.View{}, err
	}
	axes = make([]int64, len(ax))
	for i, a := range ax {
		axes[i] = int64(a)
	}
	steps, given, err := m.constInts(n, 4)
	if err != nil {
		return move.View{}, err
	}
	if !given {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	sl, err := ref.SliceParams(x, starts, ends, axes, steps)
	if err != nil {
		return move.View{}, err
	}
	return move.SliceView(x, sl)
}

// copy is a plain copy of a 4-byte tensor (an alias op whose buffer cannot be shared).
func (m *mapper) copy(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	x, out, err := m.shapes1(n)
	if err != nil {
		return nil, err
	}
	if prod(x) != prod(out) {
		return nil, fmt.Errorf("copy of %v into %v", x, out)
	}
	v := move.View{OutShape: []int{prod(x)}, Strides: []int{1}, InLen: prod(x)}
	return moveJob("copy", fmt.Sprintf("copy%+v", v), map[string]string{"x": n.Input(0), "y": outputOf(n)},
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildView(v, cfg, t) }), nil
}

// concat maps Concat: pieces "x0".."xk-1" into "y".
func (m *mapper) concat(n *graph.Node) (*job, error) {
	if err := onlyOutput(n); err != nil {
		return nil, err
	}
	p := move.Pieces{}
	bind := map[string]string{"y": outputOf(n)}
	out, err := m.shape(outputOf(n))
	if err != nil {
		return nil, err
	}
	if err := m.word32(outputOf(n)); err != nil {
		return nil, err
	}
	if p.Axis, err = axis(n.AttrInt("axis", 0), len(out)); err != nil {
		return nil, err
	}
	for i, in := range n.Inputs {
		if err := m.word32(in); err != nil {
			return nil, err
		}
		s, err := m.shape(in)
		if err != nil {
			return nil, err
		}
		p.Shapes = append(p.Shapes, s)
		bind[fmt.Sprintf("x%d", i)] = in
	}
	return moveJob("concat", fmt.Sprintf("concat%+v", p), bind,
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildConcat(p, cfg, t) }), nil
}

// split maps Split (sizes read from the outputs' shapes): "x" into "y0".."yk-1".
func (m *mapper) split(n *graph.Node) (*job, error) {
	x, err := m.shape(n.Input(0))
	if err != nil {
		return nil, err
	}
	if err := m.word32(n.Input(0)); err != nil {
		return nil, err
	}
	p := move.Pieces{}
	if p.Axis, err = axis(n.AttrInt("axis", 0), len(x)); err != nil {
		return nil, err
	}
	bind := map[string]string{"x": n.Input(0)}
	for i, o := range n.Outputs {
		if o == "" {
			return nil, fmt.Errorf("omitted output %d", i)
		}
		s, err := m.shape(o)
		if err != nil {
			return nil, err
		}
		p.Shapes = append(p.Shapes, s)
		bind[fmt.Sprintf("y%d", i)] = o
	}
	return moveJob("split", fmt.Sprintf("split%+v", p), bind,
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildSplit(p, cfg, t) }), nil
}

// gather maps Gather with int64 indices.
func (m *mapper) gather(n *graph.Node) (*job, error) {
	x, _, err := m.shapes1(n)
	if err != nil {
		return nil, err
	}
	if dt := m.dtype(n.Input(1)); dt != tensor.Int64 {
		return nil, fmt.Errorf("indices are %v, the kernel takes int64", dt)
	}
	is, err := m.shape(n.Input(1))
	if err != nil {
		return nil, err
	}
	p := move.GatherParams{Shape: x, Indices: is}
	if p.Axis, err = axis(n.AttrInt("axis", 0), len(x)); err != nil {
		return nil, err
	}
	return moveJob("gather", fmt.Sprintf("gather%+v", p), map[string]string{"x": n.Input(0), "indices": n.Input(1), "y": outputOf(n)},
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildGather(p, cfg, t) }), nil
}

// pad maps Pad with constant pads (and a constant fill value).
func (m *mapper) pad(n *graph.Node) (*job, error) {
	x, _, err := m.shapes1(n)
	if err != nil {
		return nil, err
	}
	r := len(x)
	pads, ok, err := m.constInts(n, 1)
	if err != nil || !ok {
		return nil, fmt.Errorf("pads are not constant: %v", err)
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a, given, err := m.constInts(n, 3); err != nil {
		return nil, err
	} else if given {
		if axes, err = ref.NormalizeAxes(a, r); err != nil {
			return nil, err
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("pads %v for %d axes", pads, len(axes))
	}
	p := move.PadParams{Shape: x, PadsBegin: make([]int, r), PadsEnd: make([]int, r)}
	for i, a := range axes {
		p.PadsBegin[a], p.PadsEnd[a] = int(pads[i]), int(pads[i+len(axes)])
	}
	if v, given, err := m.constFloats(n, 2); err != nil {
		return nil, err
	} else if given && len(v) > 0 {
		if m.dtype(n.Input(0)) != tensor.Float32 {
			return nil, fmt.Errorf("constant pad value of a %v tensor", m.dtype(n.Input(0)))
		}
		p.Value = v[0]
	}
	modes := map[string]ref.PadMode{"constant": ref.PadConstant, "reflect": ref.PadReflect, "edge": ref.PadEdge, "wrap": ref.PadWrap}
	mode, ok := modes[n.AttrString("mode", "constant")]
	if !ok {
		return nil, fmt.Errorf("pad mode %q", n.AttrString("mode", "constant"))
	}
	p.Mode = mode
	return moveJob("pad", fmt.Sprintf("pad%+v", p), map[string]string{"x": n.Input(0), "y": outputOf(n)},
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) { return move.BuildPad(p, cfg, t) }), nil
}

// resize maps Resize (nearest or linear over the last two axes, constant scales or sizes with
// the stretch policy).
func (m *mapper) resize(n *graph.Node) (*job, error) {
	x, out, err := m.shapes1(n)
	if err != nil {
		return nil, err
	}
	p := ref.ResizeParams{
		Mode:        n.AttrString("mode", "nearest"),
		CoordMode:   n.AttrString("coordinate_transformation_mode", "half_pixel"),
		NearestMode: n.AttrString("nearest_mode", "round_prefer_floor"),
		CubicA:      n.AttrFloat("cubic_coeff_a", -0.75), ExcludeOutside: n.AttrInt("exclude_outside", 0) != 0,
	}
	switch {
	case p.CoordMode == "tf_crop_and_resize", n.AttrInt("antialias", 0) != 0, p.Mode == "cubic":
		return nil, fmt.Errorf("resize mode %q, coordinates %q, antialias %d", p.Mode, p.CoordMode, n.AttrInt("antialias", 0))
	case p.Mode == "linear" && m.dtype(n.Input(0)) != tensor.Float32:
		return nil, fmt.Errorf("linear resize of a %v tensor", m.dtype(n.Input(0)))
	}
	r := len(x)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes", nil); a != nil {
		if axes, err = ref.NormalizeAxes(a, r); err != nil {
			return nil, err
		}
	}
	p.Scales = make([]float32, r)
	p.OutShape = append([]int(nil), x...)
	for i := range p.Scales {
		p.Scales[i] = 1
	}
	sizes, hasSizes, err := m.constInts(n, 3)
	if err != nil {
		return nil, err
	}
	if hasSizes && len(sizes) > 0 {
		if n.AttrString("keep_aspect_ratio_policy", "stretch") != "stretch" || len(sizes) != len(axes) {
			return nil, fmt.Errorf("resize sizes %v with policy %q", sizes, n.AttrString("keep_aspect_ratio_policy", "stretch"))
		}
		for i, a := range axes {
			p.OutShape[a] = int(sizes[i])
			p.Scales[a] = float32(sizes[i]) / float32(x[a])
		}
	} else {
		sc, given, err := m.constFloats(n, 2)
		if err != nil || !given || len(sc) != len(axes) || m.dtype(n.Input(2)) != tensor.Float32 {
			return nil, fmt.Errorf("resize scales are not constant float32 (%v)", err)
		}
		for i, a := range axes {
			p.Scales[a] = sc[i]
			p.OutShape[a] = int(float32(x[a]) * sc[i])
		}
	}
	for i := range out {
		if p.OutShape[i] != out[i] {
			return nil, fmt.Errorf("resize output %v, the graph says %v", p.OutShape, out)
		}
	}
	for _, s := range p.Scales {
		if s <= 0 || math.IsNaN(float64(s)) {
			return nil, fmt.Errorf("resize scales %v", p.Scales)
		}
	}
	return moveJob("resize", fmt.Sprintf("resize%v%+v", x, p), map[string]string{"x": n.Input(0), "y": outputOf(n)},
		func(cfg kernels.Config, t kir.Target) (*kernels.Instance, error) {
			return move.BuildResize(x, p, cfg, t)
		}), nil
}
