package gemm

import (
	"errors"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
	"github.com/elasticroom/elasticroom/kernels/ref"
)

// Every config renders to PTX that ptxas assembles for sm_80 and sm_90 within 128 registers
// and without spills.
func TestGemmPTXAssembles(t *testing.T) {
	bin, err := ptxas.Find()
	if errors.Is(err, ptxas.ErrNotFound) {
		t.Skip(err)
	}
	p := gp(1000, 1000, 1000)
	p.HasC, p.CShape, p.Act = true, []int{1000}, ref.Activation{Op: ref.Gelu}
	skinny := gp(1, 1000, 512)
	skinny.TransB = true
	for _, arch := range []string{"sm_80", "sm_90"} {
		var ks []*kir.Kernel
		for _, q := range []Params{p, skinny} {
			for _, cfg := range append(Configs(q.GemmParams), cfgOdd) {
				in, err := Build(q, cfg, kir.Target{Arch: arch, MaxRegs: 128})
				if err != nil {
					t.Fatal(err)
				}
				ks = append(ks, in.Kernel)
			}
		}
		// one module per target: one ptxas run assembles every kernel
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
