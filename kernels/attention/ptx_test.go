package attention

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

func TestPTX(t *testing.T) {
	p := Params{Batch: 1, Heads: 12, SeqQ: 128, SeqK: 128, HeadDim: 64, ValDim: 64, Mask: []int{1, 1, 1, 128}}
	cfg := kernels.Config{Threads: 256, ThreadN: 8, TileM: 32, TileN: 32}
	kerneltest.CheckPTX(t, "bert", 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(p, cfg, tg) })
}
