package norm

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

func TestPTX(t *testing.T) {
	p := Params{Kind: Layer, Outer: 128, Inner: 768, Eps: 1e-12}
	cfg := kernels.Config{Threads: 256, TileN: 256, TileM: 2}
	kerneltest.CheckPTX(t, "layernorm", 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(p, cfg, tg) })
	g := Params{Kind: Group, N: 2, C: 32, Spatial: 64, Groups: 8, Eps: 1e-5}
	cfg = kernels.Config{Threads: 256, TileN: 32, TileM: 8}
	kerneltest.CheckPTX(t, "groupnorm", 64, func(tg kir.Target) (*kernels.Instance, error) { return Build(g, cfg, tg) })
}
