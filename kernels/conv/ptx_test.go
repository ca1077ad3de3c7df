package conv

import (
	"errors"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Every config of a few representative layers renders to PTX that ptxas assembles for sm_80
// and sm_90 within 128 registers and without spills.
func TestConvPTXAssembles(t *testing.T) {
	bin, err := ptxas.Find()
	if errors.Is(err, ptxas.ErrNotFound) {
		t.Skip(err)
	}
	relu6 := ref.Activation{Op: ref.Clip, Alpha: 0, Beta: 6}
	layers := []Params{
		{ConvParams: withAct(cp(1, 32, 32, 32, 112, 112, 3, 1, 1, 1, 1), relu6), Bias: true}, // MobileNet dw
		{ConvParams: withAct(cp(1, 96, 96, 96, 112, 112, 3, 2, 0, 1, 1), relu6), Bias: true},
		{ConvParams: withAct(cp(1, 3, 64, 1, 224, 224, 7, 2, 3, 3, 1), ref.Activation{Op: ref.Relu}), Bias: true}, // ResNet stem
		{ConvParams: cp(1, 64, 256, 1, 56, 56, 1, 1, 0, 0, 1), Bias: true},                                        // pointwise
		{ConvParams: withAct(cp(1, 64, 64, 1, 56, 56, 3, 1, 1, 1, 1), ref.Activation{Op: ref.Relu}), Bias: true},
	}
	// one module per target: one ptxas run assembles every kernel
	for _, arch := range []string{"sm_80", "sm_90"} {
		var ks []*kir.Kernel
		for _, p := range layers {
			for _, cfg := range Configs(p.ConvParams) {
				in, err := Build(p, cfg, kir.Target{Arch: arch, MaxRegs: 128})
				if err != nil {
					t.Fatal(err)
				}
				ks = append(ks, in.Kernel)
			}
		}
		text, err := ptx.RenderModule(ks, arch)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		res, err := ptxas.Assemble(t.Context(), text, arch, ptxas.Options{Path: bin})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			r, ok := res[k.Name]
			t.Logf("%s %s: %d registers, %d bytes shared, spills %d/%d", arch, k.Name, r.Registers, r.SharedBytes, r.SpillStores, r.SpillLoads)
			if !ok || r.Registers == 0 || r.Registers > 128 || r.SpillStores > 0 || r.SpillLoads > 0 {
				t.Errorf("%s %s: %+v", arch, k.Name, r)
			}
		}
	}
}
