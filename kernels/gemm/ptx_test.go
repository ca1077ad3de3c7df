package gemm

import (
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kerneltest"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Every config renders to PTX that ptxas assembles for sm_80 and sm_90 within 128 registers
// and without spills (one module, so one ptxas run, per target).
func TestGemmPTXAssembles(t *testing.T) {
	p := gp(1000, 1000, 1000)
	p.HasC, p.CShape, p.Act = true, []int{1000}, ref.Activation{Op: ref.Gelu}
	skinny := gp(1, 1000, 512)
	skinny.TransB = true
	kerneltest.CheckPTXModule(t, "gemm", 128, func(tg kir.Target) ([]*kernels.Instance, error) {
		var ins []*kernels.Instance
		for _, q := range []Params{p, skinny} {
			for _, cfg := range append(Configs(q.GemmParams), cfgOdd) {
				in, err := Build(q, cfg, tg)
				if err != nil {
					return nil, err
				}
				ins = append(ins, in)
			}
		}
		return ins, nil
	})
}
