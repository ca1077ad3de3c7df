package kerneltest

import (
	"context"
	"errors"
	"fmt"
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
// with ptxas and fails the test on any error, on spills, or when the registers exceed maxRegs
// (0: no bound). It skips the test when no ptxas is installed, and logs the registers.
func CheckPTX(t *testing.T, name string, maxRegs int, build Builder) {
	t.Helper()
	path, err := ptxas.Find()
	if errors.Is(err, ptxas.ErrNotFound) {
		t.Skip("no ptxas: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"sm_80", "sm_90"} {
		in, err := build(kir.Target{Arch: arch, MaxRegs: maxRegs})
		if err != nil {
			t.Fatalf("%s %s: %v", name, arch, err)
		}
		res, err := assemble(path, in, arch)
		if err != nil {
			t.Fatalf("%s %s: %v", name, arch, err)
		}
		r := res[in.Kernel.Name]
		if r.SpillStores > 0 || r.SpillLoads > 0 || maxRegs > 0 && r.Registers > maxRegs {
			t.Errorf("%s %s: %d registers, %d/%d bytes spilled (bound %d)", name, arch, r.Registers, r.SpillStores, r.SpillLoads, maxRegs)
		}
		if r.SharedBytes != in.SharedBytes {
			t.Errorf("%s %s: ptxas reports %d shared bytes, the instance %d", name, arch, r.SharedBytes, in.SharedBytes)
		}
		t.Logf("%s %s: %d registers, %d shared bytes, stack %d", name, arch, r.Registers, r.SharedBytes, r.StackBytes)
	}
}

func assemble(path string, in *kernels.Instance, arch string) (map[string]ptxas.Result, error) {
	text, err := ptx.Render(in.Kernel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := ptxas.Assemble(ctx, text, arch, ptxas.Options{Path: path})
	if err != nil {
		return nil, err
	}
	if _, ok := res[in.Kernel.Name]; !ok {
		return nil, fmt.Errorf("ptxas reported no kernel %q", in.Kernel.Name)
	}
	return res, nil
}
