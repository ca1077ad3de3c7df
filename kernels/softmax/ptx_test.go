package softmax

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

func TestPTX(t *testing.T) {
	p := Params{Shape: []int{12, 128, 128}, Axis: 2}
	for _, cfg := range []kernels.Config{{Threads: 256, TileN: 32, TileM: 8}, {Threads: 256, TileN: 256, TileM: 1}} {
		kerneltest.CheckPTX(t, cfg.String(), 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(p, cfg, tg) })
	}
}
