package pool

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func TestPTX(t *testing.T) {
	pp := ref.PoolParams{N: 1, C: 64, In: []int{56, 56}, Kernel: []int{3, 3}, Strides: []int{2, 2},
		PadsBegin: []int{1, 1}, PadsEnd: []int{1, 1}, CountIncludePad: true}
	cfg := kernels.Config{Threads: 256, ThreadM: 1, TileM: 256}
	kerneltest.CheckPTX(t, "avgpool", 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(Params{PoolParams: pp}, cfg, tg) })
}
