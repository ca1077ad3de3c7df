package move

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func TestPTX(t *testing.T) {
	cfg := kernels.Config{Threads: 256, ThreadM: 4, TileM: 1024}
	v, err := TransposeView([]int{2, 12, 64, 64}, []int{0, 2, 1, 3})
	if err != nil {
		t.Fatal(err)
	}
	kerneltest.CheckPTX(t, "transpose", 64, func(tg kir.Target) (*kernels.Instance, error) { return BuildView(v, cfg, tg) })
	kerneltest.CheckPTX(t, "concat", 64, func(tg kir.Target) (*kernels.Instance, error) {
		return BuildConcat(Pieces{Shapes: [][]int{{1, 3, 8}, {1, 5, 8}}, Axis: 1}, cfg, tg)
	})
	rp := ref.ResizeParams{Mode: "linear", Scales: []float32{1, 1, 2, 2}, OutShape: []int{1, 8, 40, 40}}
	kerneltest.CheckPTX(t, "resize", 64, func(tg kir.Target) (*kernels.Instance, error) {
		return BuildResize([]int{1, 8, 20, 20}, rp, cfg, tg)
	})
	kerneltest.CheckPTX(t, "pad", 64, func(tg kir.Target) (*kernels.Instance, error) {
		return BuildPad(PadParams{Shape: []int{2, 3, 4}, PadsBegin: []int{0, 1, 1}, PadsEnd: []int{0, 1, 1}, Mode: ref.PadReflect}, cfg, tg)
	})
	kerneltest.CheckPTX(t, "gather", 64, func(tg kir.Target) (*kernels.Instance, error) {
		return BuildGather(GatherParams{Shape: []int{100, 64}, Axis: 0, Indices: []int{4, 7}}, cfg, tg)
	})
}
