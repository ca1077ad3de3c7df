package eltwise

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

func TestPTX(t *testing.T) {
	gelu := UnaryOf([]int{64, 128}, ref.UnaryParams{Op: ref.Gelu})
	cases := map[string]Params{"chain": chain(), "gelu": gelu}
	for name, p := range cases {
		for _, cfg := range Configs(p)[3:4] {
			kerneltest.CheckPTX(t, name+"_"+cfg.String(), 64, func(tg kir.Target) (*kernels.Instance, error) {
				return Build(p, cfg, tg)
			})
		}
	}
}
