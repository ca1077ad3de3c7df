package conv

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Every config of a few representative layers renders to PTX that ptxas assembles for sm_80
// and sm_90 within 128 registers and without spills (one module, so one ptxas run, per
// target).
func TestConvPTXAssembles(t *testing.T) {
	relu6 := ref.Activation{Op: ref.Clip, Alpha: 0, Beta: 6}
	layers := []Params{
		{ConvParams: withAct(cp(1, 32, 32, 32, 112, 112, 3, 1, 1, 1, 1), relu6), Bias: true}, // MobileNet dw
		{ConvParams: withAct(cp(1, 96, 96, 96, 112, 112, 3, 2, 0, 1, 1), relu6), Bias: true},
		{ConvParams: withAct(cp(1, 3, 64, 1, 224, 224, 7, 2, 3, 3, 1), ref.Activation{Op: ref.Relu}), Bias: true}, // ResNet stem
		{ConvParams: cp(1, 64, 256, 1, 56, 56, 1, 1, 0, 0, 1), Bias: true},                                        // pointwise
		{ConvParams: withAct(cp(1, 64, 64, 1, 56, 56, 3, 1, 1, 1, 1), ref.Activation{Op: ref.Relu}), Bias: true},
	}
	kerneltest.CheckPTXModule(t, "conv", 128, func(tg kir.Target) ([]*kernels.Instance, error) {
		var ins []*kernels.Instance
		for _, p := range layers {
			for _, cfg := range Configs(p.ConvParams) {
				in, err := Build(p, cfg, tg)
				if err != nil {
					return nil, err
				}
				ins = append(ins, in)
			}
		}
		return ins, nil
	})
}
