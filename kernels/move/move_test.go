package move

import (
	"fmt"
	"math"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/eltwise"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

var cfgs = []kernels.Config{{Threads: 64, ThreadM: 1, TileM: 64}, {Threads: 32, ThreadM: 3, TileM: 96}}

func runOne(t *testing.T, in *kernels.Instance, err error, bufs kerneltest.Buffers, outs ...string) map[string][]float32 {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	res, err := kerneltest.Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for _, o := range outs {
		got[o] = kerneltest.F32(res[o])
	}
	return got
}

func exact(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", name, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func viewCase(t *testing.T, name string, v View, err error, x, want []float32) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range cfgs {
		in, err := BuildView(v, cfg, kir.Target{})
		got := runOne(t, in, err, kerneltest.Buffers{"x": x, "y": len(want)}, "y")
		exact(t, name+" "+cfg.String(), got["y"], want)
	}
}

func TestViews(t *testing.T) {
	shape := []int{2, 3, 1, 5}
	x := kerneltest.Rand(30, 1, -1, 1)
	for _, perm := range [][]int{{3, 1, 0, 2}, {0, 2, 1, 3}, {1, 0, 3, 2}} {
		want, _, err := ref.Transpose(x, shape, perm)
		if err != nil {
			t.Fatal(err)
		}
		v, err := TransposeView(shape, perm)
		viewCase(t, fmt.Sprint("transpose ", perm), v, err, x, want)
	}
	sl, err := ref.SliceParams(shape, []int64{1, -1, 0, 4}, []int64{2, -100, 1, 0}, []int64{0, 1, 2, 3}, []int64{1, -2, 1, -1})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := ref.Slice(x, shape, sl)
	if err != nil {
		t.Fatal(err)
	}
	v, err := SliceView(shape, sl)
	viewCase(t, "slice", v, err, x, want)

	ex := kerneltest.Rand(6, 2, -1, 1)
	want, err = ref.Expand(ex, []int{3, 1, 2}, []int{2, 3, 4, 2})
	if err != nil {
		t.Fatal(err)
	}
	v, err = ExpandView([]int{3, 1, 2}, []int{2, 3, 4, 2})
	viewCase(t, "expand", v, err, ex, want)

	want, _, err = ref.Tile(x, shape, []int{2, 1, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	v, err = TileView(shape, []int{2, 1, 3, 1})
	viewCase(t, "tile", v, err, x, want)
}

func TestDepthToSpace(t *testing.T) {
	n, c, h, w, bs := 2, 8, 3, 2, 2
	x := kerneltest.Rand(n*c*h*w, 3, -1, 1)
	for _, crd := range []bool{false, true} {
		// naive ONNX definition
		want := make([]float32, len(x))
		oc := c / (bs * bs)
		for in := 0; in < n; in++ {
			for co := 0; co < oc; co++ {
				for oh := 0; oh < h*bs; oh++ {
					for ow := 0; ow < w*bs; ow++ {
						i, j := oh%bs, ow%bs
						ci := (i*bs+j)*oc + co
						if crd {
							ci = co*bs*bs + i*bs + j
						}
						want[((in*oc+co)*h*bs+oh)*w*bs+ow] = x[((in*c+ci)*h+oh/bs)*w+ow/bs]
					}
				}
			}
		}
		v, err := DepthToSpaceView([]int{n, c, h, w}, bs, crd)
		viewCase(t, fmt.Sprint("depth to space crd=", crd), v, err, x, want)
	}
}

func TestConcatSplit(t *testing.T) {
	shapes := [][]int{{2, 3, 4}, {2, 1, 4}, {2, 0, 4}, {2, 5, 4}}
	var ins [][]float32
	bufs := kerneltest.Buffers{}
	for i, s := range shapes {
		ins = append(ins, kerneltest.Rand(eltwise.Prod(s), uint64(i+1), -1, 1))
		bufs[fmt.Sprintf("x%d", i)] = ins[i]
	}
	want, wshape, err := ref.Concat(ins, shapes, 1)
	if err != nil {
		t.Fatal(err)
	}
	bufs["y"] = len(want)
	for _, cfg := range append(cfgs, kernels.Config{Threads: 8, ThreadM: 1, TileM: 8}) {
		in, err := BuildConcat(Pieces{Shapes: shapes, Axis: 1}, cfg, kir.Target{})
		exact(t, "concat "+cfg.String(), runOne(t, in, err, bufs, "y")["y"], want)

		sb := kerneltest.Buffers{"x": want}
		var outs []string
		for i, s := range shapes {
			sb[fmt.Sprintf("y%d", i)] = eltwise.Prod(s)
			outs = append(outs, fmt.Sprintf("y%d", i))
		}
		in, err = BuildSplit(Pieces{Shapes: shapes, Axis: 1}, cfg, kir.Target{})
		got := runOne(t, in, err, sb, outs...)
		for i := range shapes {
			exact(t, fmt.Sprint("split piece ", i), got[outs[i]], ins[i])
		}
	}
	_ = wshape
	if _, err := BuildConcat(Pieces{Shapes: [][]int{{2, 3}, {3, 3}}, Axis: 1}, cfgs[0], kir.Target{}); err == nil {
		t.Error("mismatched pieces accepted")
	}
}

func TestGather(t *testing.T) {
	shape := []int{4, 5, 3}
	x := kerneltest.Rand(60, 4, -1, 1)
	for axis, idx := range [][]int64{{3, -1, 0, 2, 2, 1}, {4, 0, -5, 2, 1, 3}, {2, 0, 1, -2, 1, 0}} {
		ishape := []int{2, 3}
		want, _, err := ref.Gather(x, shape, idx, ishape, axis)
		if err != nil {
			t.Fatal(err)
		}
		p := GatherParams{Shape: shape, Axis: axis, Indices: ishape}
		for _, cfg := range cfgs {
			in, err := BuildGather(p, cfg, kir.Target{})
			got := runOne(t, in, err, kerneltest.Buffers{"x": x, "indices": idx, "y": len(want)}, "y")
			exact(t, fmt.Sprint("gather axis ", axis), got["y"], want)
		}
	}
}

func TestPad(t *testing.T) {
	shape := []int{2, 3, 4}
	x := kerneltest.Rand(24, 5, -1, 1)
	for _, mode := range []ref.PadMode{ref.PadConstant, ref.PadEdge, ref.PadReflect, ref.PadWrap} {
		pb, pe := []int{0, 2, 1}, []int{1, -1, 3}
		want, _, err := ref.Pad(x, shape, pb, pe, mode, float32(2.5))
		if err != nil {
			t.Fatal(err)
		}
		p := PadParams{Shape: shape, PadsBegin: pb, PadsEnd: pe, Mode: mode, Value: 2.5}
		for _, cfg := range cfgs {
			in, err := BuildPad(p, cfg, kir.Target{})
			exact(t, "pad "+mode.String(), runOne(t, in, err, kerneltest.Buffers{"x": x, "y": len(want)}, "y")["y"], want)
		}
	}
}

func TestResize(t *testing.T) {
	shape := []int{1, 2, 5, 7}
	x := kerneltest.Rand(70, 6, -1, 1)
	cases := []ref.ResizeParams{
		{Mode: "nearest", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 2, 10, 14}},
		{Mode: "nearest", CoordMode: "asymmetric", NearestMode: "floor", Scales: []float32{1, 1, 2, 1.5}, OutShape: []int{1, 2, 10, 10}},
		{Mode: "nearest", CoordMode: "half_pixel", NearestMode: "round_prefer_ceil", Scales: []float32{1, 1, 0.6, 1}, OutShape: []int{1, 2, 3, 7}},
		{Mode: "nearest", CoordMode: "tf_half_pixel_for_nn", NearestMode: "ceil", Scales: []float32{1, 1, 1.4, 0.5}, OutShape: []int{1, 2, 7, 3}},
		{Mode: "linear", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 2, 10, 14}},
		{Mode: "linear", CoordMode: "align_corners", Scales: []float32{1, 1, 1.6, 0.6}, OutShape: []int{1, 2, 8, 4}},
		{Mode: "linear", CoordMode: "asymmetric", Scales: []float32{1, 1, 1, 3}, OutShape: []int{1, 2, 5, 21}},
		{Mode: "linear", CoordMode: "pytorch_half_pixel", Scales: []float32{1, 1, 0.2, 2}, OutShape: []int{1, 2, 1, 14}},
		{Mode: "linear", CoordMode: "half_pixel_symmetric", Scales: []float32{1, 1, 1.5, 1.5}, OutShape: []int{1, 2, 7, 10}},
	}
	for ci, p := range cases {
		want, err := ref.Resize(x, shape, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range cfgs {
			in, err := BuildResize(shape, p, cfg, kir.Target{})
			got := runOne(t, in, err, kerneltest.Buffers{"x": x, "y": len(want)}, "y")["y"]
			if e := kerneltest.RelErr(got, want); e > 1e-6 {
				t.Errorf("case %d (%s %s) cfg %v: rel err %g", ci, p.Mode, p.CoordMode, cfg, e)
			}
		}
	}
	if _, err := BuildResize(shape, ref.ResizeParams{Mode: "cubic", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 2, 10, 14}}, cfgs[0], kir.Target{}); err == nil {
		t.Error("cubic accepted")
	}
}

func TestPreemptedRunIsIdentical(t *testing.T) {
	v, err := TransposeView([]int{20, 30, 7}, []int{2, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	in, err := BuildView(v, kernels.Config{Threads: 32, ThreadM: 1, TileM: 32}, kir.Target{})
	if err != nil {
		t.Fatal(err)
	}
	bufs := kerneltest.Buffers{"x": kerneltest.Rand(4200, 1, -1, 1), "y": 4200}
	whole, err := kerneltest.Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	parts, first, err := kerneltest.RunPreempted(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first launch ran %d of %d tiles", first, in.Tiles)
	for i := range whole["y"] {
		if whole["y"][i] != parts["y"][i] {
			t.Fatalf("y[%d] differs after preemption", i)
		}
	}
}
