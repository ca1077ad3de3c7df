package ptxas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needPtxas returns the ptxas to use, or skips the test; with ELASTICROOM_REQUIRE_PTXAS=1
// (set by scripts/test after scripts/install-ptxas) a missing ptxas fails it instead.
func needPtxas(t *testing.T) string {
	t.Helper()
	p, err := Find()
	if err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_PTXAS") == "1" {
			t.Fatalf("ELASTICROOM_REQUIRE_PTXAS=1: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// vaddPTX is c[i] = a[i] + b[i] with a round trip of a through a 3072-byte shared array,
// capped at 32 registers by .maxnreg.
func vaddPTX(arch string) string {
	return fmt.Sprintf(`.version 7.8
.target %s
.address_size 64

.visible .entry vadd(.param .u64 a, .param .u64 b, .param .u64 c, .param .u32 n)
.maxnreg 32
{
	.reg .pred %%p<2>;
	.reg .b32 %%r<6>;
	.reg .f32 %%f<4>;
	.reg .b64 %%rd<10>;
	.shared .align 4 .b8 buf[3072];

	ld.param.u64 %%rd1, [a];
	ld.param.u64 %%rd2, [b];
	ld.param.u64 %%rd3, [c];
	ld.param.u32 %%r1, [n];
	mov.u32 %%r2, %%ctaid.x;
	mov.u32 %%r3, %%ntid.x;
	mov.u32 %%r4, %%tid.x;
	mad.lo.s32 %%r5, %%r2, %%r3, %%r4;
	setp.ge.s32 %%p1, %%r5, %%r1;
	@%%p1 bra DONE;
	cvta.to.global.u64 %%rd4, %%rd1;
	cvta.to.global.u64 %%rd5, %%rd2;
	cvta.to.global.u64 %%rd6, %%rd3;
	mul.wide.s32 %%rd7, %%r5, 4;
	add.s64 %%rd8, %%rd4, %%rd7;
	ld.global.f32 %%f1, [%%rd8];
	add.s64 %%rd8, %%rd5, %%rd7;
	ld.global.f32 %%f2, [%%rd8];
	mov.u32 %%r2, buf;
	shl.b32 %%r3, %%r4, 2;
	add.s32 %%r2, %%r2, %%r3;
	st.shared.f32 [%%r2], %%f1;
	bar.sync 0;
	ld.shared.f32 %%f1, [%%r2];
	add.f32 %%f3, %%f1, %%f2;
	add.s64 %%rd9, %%rd6, %%rd7;
	st.global.f32 [%%rd9], %%f3;
DONE:
	ret;
}
`, arch)
}

// pressurePTX loads n floats (volatile, so all n are live at once), multiplies pairs and
// stores the n products: it needs at least n registers to run without spilling. maxnreg 0
// leaves out the .maxnreg directive.
func pressurePTX(name string, n, maxnreg int) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".visible .entry %s(.param .u64 a)\n", name)
	if maxnreg > 0 {
		fmt.Fprintf(&b, ".maxnreg %d\n", maxnreg)
	}
	fmt.Fprintf(&b, "{\n.reg .f32 %%f<%d>;\n.reg .b64 %%rd<3>;\nld.param.u64 %%rd1, [a];\ncvta.to.global.u64 %%rd2, %%rd1;\n", 2*n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "ld.volatile.global.f32 %%f%d, [%%rd2+%d];\n", i, 4*i)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "mul.f32 %%f%d, %%f%d, %%f%d;\n", n+i, i, (7*i+3)%n)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "st.volatile.global.f32 [%%rd2+%d], %%f%d;\n", 4*i, n+i)
	}
	b.WriteString("ret;\n}\n")
	return b.String()
}

const header = ".version 7.8\n.target sm_80\n.address_size 64\n\n"

func TestAssembleVadd(t *testing.T) {
	bin := needPtxas(t)
	for _, arch := range []string{"sm_80", "sm_90"} {
		res, err := Assemble(testContext(t), vaddPTX(arch), arch, Options{Path: bin})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		r, ok := res["vadd"]
		if !ok || len(res) != 1 {
			t.Fatalf("%s: got functions %v, want vadd only", arch, res)
		}
		// The shared array is declared 3072 bytes; .maxnreg caps registers at 32; the kernel
		// has three 64-bit pointers and a few 32-bit values live, so it needs more than 6.
		if !r.Entry || r.SharedBytes != 3072 || r.Registers < 6 || r.Registers > 32 || r.SpillStores != 0 || r.SpillLoads != 0 {
			t.Errorf("%s: got %+v, want an entry with 3072 smem bytes, 6..32 registers, no spills", arch, r)
		}
		if !strings.Contains(r.Log, "Used") {
			t.Errorf("%s: log %q", arch, r.Log)
		}
		t.Logf("%s vadd: %d registers, %d bytes smem, %d stack", arch, r.Registers, r.SharedBytes, r.StackBytes)
	}
}

func TestAssembleRegisterCaps(t *testing.T) {
	bin := needPtxas(t)
	const n = 96
	module := header + pressurePTX("free", n, 0) + "\n" + pressurePTX("capped", n, 32)
	res, err := Assemble(testContext(t), module, "sm_80", Options{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	free, capped := res["free"], res["capped"]
	// 96 values are live at once: uncapped it takes at least 96 registers and spills nothing.
	if free.Registers < n || free.SpillStores != 0 {
		t.Errorf("free: %+v, want >= %d registers and no spills", free, n)
	}
	// Capped at 32 it must spill.
	if capped.Registers > 32 || capped.SpillStores == 0 || capped.SpillLoads == 0 || capped.StackBytes == 0 {
		t.Errorf("capped: %+v, want <= 32 registers with spills", capped)
	}
	t.Logf("free: %d registers; capped: %d registers, %d B spill stores, %d B spill loads, %d B stack",
		free.Registers, capped.Registers, capped.SpillStores, capped.SpillLoads, capped.StackBytes)

	// --maxrregcount caps the module's kernels too.
	res, err = Assemble(testContext(t), header+pressurePTX("free", n, 0), "sm_90", Options{Path: bin, MaxRegs: 40})
	if err != nil {
		t.Fatal(err)
	}
	if r := res["free"]; r.Registers > 40 || r.SpillStores == 0 {
		t.Errorf("--maxrregcount 40: %+v, want <= 40 registers with spills", r)
	}
}

func TestAssembleBroken(t *testing.T) {
	bin := needPtxas(t)
	bad := strings.Replace(vaddPTX("sm_80"), "\tbar.sync 0;\n", "\tbar.sync 0;\n\tbogus.op %r1;\n", 1)
	_, err := Assemble(testContext(t), bad, "sm_80", Options{Path: bin})
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *Error", err)
	}
	msg := err.Error()
	bogusLine := 0
	for i, l := range strings.Split(bad, "\n") {
		if strings.Contains(l, "bogus") {
			bogusLine = i + 1
		}
	}
	for _, want := range []string{
		"Not a name of any known instruction: 'bogus'",   // ptxas's own message
		fmt.Sprintf(">%6d  \tbogus.op %%r1;", bogusLine), // the offending line, marked
		"repro: ",
		"--gpu-name sm_80",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	// The repro command reruns ptxas on the kept PTX and fails the same way.
	out, rerr := exec.Command("sh", "-c", pe.Repro).CombinedOutput()
	if rerr == nil || !strings.Contains(string(out), "'bogus'") {
		t.Errorf("repro %q: err %v, output %s", pe.Repro, rerr, out)
	}
	removeKept(pe)

	// More static shared memory than the 48 KiB a block may declare.
	big := strings.Replace(vaddPTX("sm_80"), "buf[3072]", "buf[49153]", 1)
	_, err = Assemble(testContext(t), big, "sm_80", Options{Path: bin})
	if err == nil || !strings.Contains(err.Error(), "too much shared data") {
		t.Errorf("49153 static shared bytes: err = %v", err)
	}
	if errors.As(err, &pe) {
		removeKept(pe)
	}
	if _, err := Assemble(testContext(t), vaddPTX("sm_80"), "80", Options{Path: bin}); err == nil {
		t.Error("arch \"80\": no error")
	}
}

func TestVersion(t *testing.T) {
	bin := needPtxas(t)
	v, err := Version(testContext(t), bin)
	if err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil || major < 11 || (major == 11 && minor < 8) {
		t.Errorf("ptxas release %q: want 11.8 or later (PTX ISA 7.8, sm_90)", v)
	}
	t.Logf("ptxas %s at %s", v, bin)
}

func TestFindEnv(t *testing.T) {
	t.Setenv(EnvPath, filepath.Join(t.TempDir(), "no-ptxas"))
	if _, err := Find(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), EnvPath) {
		t.Errorf("missing %s: err = %v", EnvPath, err)
	}
	fake := filepath.Join(t.TempDir(), "ptxas")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvPath, fake)
	if p, err := Find(); err != nil || p != fake {
		t.Errorf("Find() = %q, %v; want %q", p, err, fake)
	}
}

// removeKept deletes the PTX file an *Error kept for its repro command.
func removeKept(e *Error) {
	if f := strings.Fields(e.Repro); len(f) > 0 && strings.HasPrefix(f[len(f)-1], os.TempDir()) {
		os.Remove(f[len(f)-1])
	}
}
