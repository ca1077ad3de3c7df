package kerneltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
)

// Builder builds one instance for a target (a template's Build with its params bound).
type Builder func(target kir.Target) (*kernels.Instance, error)

// CheckPTX builds the instance for sm_80 and sm_90, renders it with kernels/ptx, assembles it
// with ptxas and fails the test as CheckPTXModule does. It skips the test when no ptxas is
// installed, and logs the registers.
func CheckPTX(t *testing.T, name string, maxRegs int, build Builder) {
	t.Helper()
	CheckPTXModule(t, name, maxRegs, func(target kir.Target) ([]*kernels.Instance, error) {
		in, err := build(target)
		return []*kernels.Instance{in}, err
	})
}

// CheckPTXModule builds the instances for sm_80 and for sm_90, renders each target's kernels
// as one module (one ptxas run per target) and fails the test on any error, on a kernel ptxas
// does not report or reports without registers, on spills, when the registers exceed maxRegs
// (0: no bound), or when ptxas's shared bytes are not the instance's. It skips the test when
// no ptxas is installed, and logs every kernel's registers.
func CheckPTXModule(t *testing.T, name string, maxRegs int, build func(target kir.Target) ([]*kernels.Instance, error)) {
	t.Helper()
	path, err := ptxas.Find()
	if errors.Is(err, ptxas.ErrNotFound) {
		t.Skip("no ptxas: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"sm_80", "sm_90"} {
		ins, err := build(kir.Target{Arch: arch, MaxRegs: maxRegs})
		if err != nil {
			t.Fatalf("%s %s: %v", name, arch, err)
		}
		res, err := assemble(path, ins, arch)
		if err != nil {
			t.Fatalf("%s %s: %v", name, arch, err)
		}
		for _, in := range ins {
			k := in.Kernel.Name
			r, ok := res[k]
			switch {
			case !ok || r.Registers == 0:
				t.Errorf("%s %s %s: ptxas reports %+v", name, arch, k, r)
			case r.SpillStores > 0 || r.SpillLoads > 0 || maxRegs > 0 && r.Registers > maxRegs:
				t.Errorf("%s %s %s: %d registers, %d/%d bytes spilled (bound %d)", name, arch, k, r.Registers, r.SpillStores, r.SpillLoads, maxRegs)
			}
			if ok && r.SharedBytes != in.SharedBytes {
				t.Errorf("%s %s %s: ptxas reports %d shared bytes, the instance %d", name, arch, k, r.SharedBytes, in.SharedBytes)
			}
			t.Logf("%s %s %s: %d registers, %d shared bytes, stack %d, spills %d/%d", name, arch, k, r.Registers, r.SharedBytes, r.StackBytes, r.SpillStores, r.SpillLoads)
		}
	}
}

func assemble(path string, ins []*kernels.Instance, arch string) (map[string]ptxas.Result, error) {
	ks := make([]*kir.Kernel, len(ins))
	for i, in := range ins {
		ks[i] = in.Kernel
	}
	text, err := ptx.RenderModule(ks, arch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return ptxas.Assemble(ctx, text, arch, ptxas.Options{Path: path})
}
