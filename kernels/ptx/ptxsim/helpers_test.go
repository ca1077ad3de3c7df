package ptxsim

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// module wraps a kernel body into a module with one entry k(out, in) whose registers are
// %p<16>, %r<64>, %rd<32>, %f<64>; %rd1 and %rd2 hold the out and in pointers, %r1 the
// linear thread index. extra[0], when given, is declared in the kernel, extra[1:] at module
// scope.
func module(body string, extra ...string) string {
	return fmt.Sprintf(`.version 7.8
.target sm_80
.address_size 64
%s
.visible .entry k(
	.param .u64 k_out,
	.param .u64 k_in
)
{
	.reg .pred %%p<16>;
	.reg .b32 %%r<64>;
	.reg .b64 %%rd<32>;
	.reg .f32 %%f<64>;
%s
	ld.param.u64 %%rd1, [k_out];
	cvta.to.global.u64 %%rd1, %%rd1;
	ld.param.u64 %%rd2, [k_in];
	cvta.to.global.u64 %%rd2, %%rd2;
	mov.u32 %%r1, %%tid.x;
%s
	ret;
}
`, strings.Join(extra[min(1, len(extra)):], "\n"), first(extra), body)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func mustKernel(t *testing.T, src string) *Kernel {
	t.Helper()
	m, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Kernel("k")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rig is an arena with an out and an in buffer.
type rig struct {
	a       *Arena
	out, in uint64
	nout    int
}

func newRig(t *testing.T, nout int, in []uint32) *rig {
	t.Helper()
	a := NewArena()
	out, err := a.AllocU32(make([]uint32, nout))
	if err != nil {
		t.Fatal(err)
	}
	inp, err := a.AllocU32(in)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{a: a, out: out, in: inp, nout: nout}
}

func (r *rig) run(k *Kernel, cfg Config, l Launch) (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if l.Params == nil {
		l.Params = []uint64{r.out, r.in}
	}
	return Run(ctx, k, r.a, cfg, l)
}

func (r *rig) words(t *testing.T) []uint32 {
	t.Helper()
	w, err := r.a.ReadU32(r.out, r.nout)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runBody runs body on a grid of one block of n threads and returns the out words (extra as
// for module).
func runBody(t *testing.T, body string, n, nout int, in []uint32, extra ...string) []uint32 {
	t.Helper()
	k := mustKernel(t, module(body, extra...))
	r := newRig(t, nout, in)
	if _, err := r.run(k, Config{SMs: 1}, Launch{Block: [3]int{n}}); err != nil {
		t.Fatal(err)
	}
	return r.words(t)
}

// eval runs setup lines and a final instruction on one thread and returns the value of the
// instruction's first operand (a %r, %rd, %f or %p register).
func eval(t *testing.T, lines ...string) uint64 {
	t.Helper()
	v, err := evalErr(lines...)
	if err != nil {
		t.Fatalf("%q: %v", lines, err)
	}
	return v
}

func evalErr(lines ...string) (uint64, error) {
	last := strings.TrimSpace(lines[len(lines)-1])
	fields := strings.Fields(last)
	dst := strings.TrimSuffix(strings.Split(fields[1], "|")[0], ",")
	var st string
	switch {
	case strings.HasPrefix(dst, "%rd"):
		st = "st.global.u64 [%rd1], " + dst + ";"
	case strings.HasPrefix(dst, "%p"):
		st = "selp.u32 %r63, 1, 0, " + dst + ";\n\tst.global.u32 [%rd1], %r63;"
	case strings.HasPrefix(dst, "%f"):
		st = "st.global.f32 [%rd1], " + dst + ";"
	default:
		st = "st.global.u32 [%rd1], " + dst + ";"
	}
	var body strings.Builder
	for _, l := range lines {
		body.WriteString("\t" + strings.TrimSuffix(strings.TrimSpace(l), ";") + ";\n")
	}
	body.WriteString("\t" + st)
	m, err := Parse(module(body.String()))
	if err != nil {
		return 0, err
	}
	k, err := m.Kernel("k")
	if err != nil {
		return 0, err
	}
	a := NewArena()
	out, _ := a.Alloc(8)
	in, _ := a.Alloc(8)
	if _, err := Run(context.Background(), k, a, Config{SMs: 1}, Launch{Params: []uint64{out, in}}); err != nil {
		return 0, err
	}
	b, _ := a.Bytes(out, 8)
	v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	if strings.HasPrefix(dst, "%rd") {
		v |= uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	}
	return v, nil
}

func fbits(f float64) uint64 { return uint64(math.Float32bits(float32(f))) }

// lit is the PTX literal of an f32.
func lit(f float64) string { return fmt.Sprintf("0f%08X", math.Float32bits(float32(f))) }

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
