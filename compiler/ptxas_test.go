package compiler_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
)

// findPTXAS returns ptxas, skipping the test when it is absent (failing under
// ELASTICROOM_REQUIRE_PTXAS=1).
func findPTXAS(t *testing.T) string {
	t.Helper()
	path, err := ptxas.Find()
	if errors.Is(err, ptxas.ErrNotFound) {
		if os.Getenv("ELASTICROOM_REQUIRE_PTXAS") == "1" {
			t.Fatalf("ptxas is required (ELASTICROOM_REQUIRE_PTXAS=1): %v", err)
		}
		t.Skip("no ptxas: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRegistersUnderBudget compiles every model under a register cap (sm_90, 64 registers)
// and without one (sm_80), assembles every kernel with ptxas for the plan's architecture and
// checks registers <= the budget's limit, no spills (the register estimate kept every chosen
// config within the cap), and the plan's shared memory figure. The literal PTX of each plan's
// first kernels is assembled too (the rest as one module of the same kernels, for speed).
func TestRegistersUnderBudget(t *testing.T) {
	path := findPTXAS(t)
	budgets := []struct {
		arch string
		b    budget.Budget
	}{
		{"sm_90", budget.Budget{SMs: 20, MaxRegs: 64}},
		{"sm_80", budget.Budget{SMs: 108}},
	}
	for _, m := range append(append([]testModel{}, zooModels...), realModels...) {
		t.Run(m.name, func(t *testing.T) {
			for _, bc := range budgets {
				tg := target(t, bc.arch)
				var rep compiler.Report
				p, err := compile(t, m, tg, bc.b, &rep)
				if err != nil {
					t.Fatalf("%s %v: %v", bc.arch, bc.b, err)
				}
				limit := bc.b.RegLimit(tg)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				var irs []*kir.Kernel
				for _, k := range p.Kernels {
					irs = append(irs, k.IR)
				}
				text, err := ptx.RenderModule(irs, tg.Arch)
				if err != nil {
					t.Fatal(err)
				}
				res, err := ptxas.Assemble(ctx, text, tg.Arch, ptxas.Options{Path: path})
				if err != nil {
					t.Fatalf("%s: %v", bc.arch, err)
				}
				for i, k := range p.Kernels[:min(3, len(p.Kernels))] {
					one, err := ptxas.Assemble(ctx, k.PTX, tg.Arch, ptxas.Options{Path: path})
					if err != nil {
						t.Fatalf("kernel %d %s: %v", i, k.Name, err)
					}
					if one[k.Name].Registers != res[k.Name].Registers {
						t.Errorf("%s: %d registers alone, %d in the module", k.Name, one[k.Name].Registers, res[k.Name].Registers)
					}
				}
				maxRegs, spills, under := 0, 0, 0
				for ki, k := range p.Kernels {
					r, ok := res[k.Name]
					if !ok {
						t.Fatalf("ptxas reported nothing for %s", k.Name)
					}
					maxRegs = max(maxRegs, r.Registers)
					if r.Registers > limit {
						t.Errorf("%s %s: %d registers, budget limit %d", bc.arch, k.Name, r.Registers, limit)
					}
					if r.SpillStores > 0 || r.SpillLoads > 0 {
						spills++
						t.Errorf("%s %s (%s): spills %d/%d bytes (cap %d, limit %d)", bc.arch, k.Name, rep.Configs[ki], r.SpillStores, r.SpillLoads, k.Registers, limit)
					}
					if r.Registers > k.Registers {
						under++
						t.Errorf("%s %s: ptxas allocates %d registers, the plan estimated %d", bc.arch, k.Name, r.Registers, k.Registers)
					}
					if r.SharedBytes > k.SharedBytes {
						t.Errorf("%s %s: ptxas reports %d shared bytes, the plan %d", bc.arch, k.Name, r.SharedBytes, k.SharedBytes)
					}
				}
				t.Logf("%s %v: %d kernels, max %d registers (limit %d), %d spilling, %d underestimated",
					bc.arch, bc.b, len(p.Kernels), maxRegs, limit, spills, under)
			}
		})
	}
}
