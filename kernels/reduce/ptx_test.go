package reduce

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func TestPTX(t *testing.T) {
	cases := []struct {
		p   Params
		cfg kernels.Config
	}{
		{Params{Op: ref.ReduceLogSumExp, Shape: []int{8, 64, 5}, Axes: []int{1}}, kernels.Config{Threads: 256, TileN: 1, TileM: 256}},
		{Params{Op: ref.ReduceMean, Shape: []int{8, 1000}, Axes: []int{1}}, kernels.Config{Threads: 256, TileN: 256, TileM: 1}},
		{Params{Shape: []int{8, 1000}, Axes: []int{1}, Arg: true, ArgMax: true}, kernels.Config{Threads: 256, TileN: 32, TileM: 8}},
	}
	for _, c := range cases {
		kerneltest.CheckPTX(t, c.cfg.String(), 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(c.p, c.cfg, tg) })
	}
}
