package ptxsim

import (
	"strings"
	"testing"
)

const twoKernels = `
// a comment
.version 7.8
.target sm_90
.address_size 64

/* a block
   comment */
.extern .shared .align 16 .b8 dyn[];

.visible .entry first(
	.param .u64 first_param_0,
	.param .f32 first_param_1,
	.param .u32 first_param_2
)
.maxntid 16, 4, 1
.maxnreg 40
{
	.reg .pred %p<3>;
	.reg .b32 %r<5>;
	.reg .b64 %rd<3>;
	.reg .f32 %f<2>;
	.shared .align 16 .b8 first_smem[20];

	{
	mov.u32 %r1, %tid.x;
	}
	ret;
}

.entry second()
{
	.reg .b32 %r1, %r2;
	mov.u32 %r1, 1;
}
`

func TestModule(t *testing.T) {
	m, err := Parse(twoKernels)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Kernels(), ","); got != "first,second" || m.Target() != "sm_90" {
		t.Errorf("kernels %s, target %s", got, m.Target())
	}
	k, err := m.Kernel("first")
	if err != nil {
		t.Fatal(err)
	}
	ps := k.Params()
	if len(ps) != 3 || ps[0] != (Param{"first_param_0", 8}) || ps[1].Size != 4 || ps[2].Name != "first_param_2" {
		t.Errorf("params %+v", ps)
	}
	if k.Name() != "first" || k.MaxThreads() != 64 || k.MaxRegs() != 40 || k.StaticShared() != 20 ||
		k.Registers() != 5+2*3+2 || k.Instructions() != 3 {
		t.Errorf("first: %s maxntid %d maxnreg %d smem %d regs %d instructions %d", k.Name(), k.MaxThreads(),
			k.MaxRegs(), k.StaticShared(), k.Registers(), k.Instructions())
	}
	if k.dynBase != 32 {
		t.Errorf("dynamic shared at %d, want 32", k.dynBase)
	}
	s, _ := m.Kernel("second")
	if len(s.Params()) != 0 || s.MaxThreads() != 0 || s.Registers() != 2 || s.StaticShared() != 0 {
		t.Errorf("second: %+v", s)
	}
	if _, err := m.Kernel("third"); err == nil || !strings.Contains(err.Error(), "first") {
		t.Errorf("missing kernel: %v", err)
	}
}

func TestGuards(t *testing.T) {
	out := runBody(t, `
	setp.lt.u32 %p1, %r1, 2;
	mov.u32 %r10, 5;
	@%p1 mov.u32 %r10, 6;
	@!%p1 add.u32 %r10, %r10, 10;
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	@%p1 bra.uni $L__x_1;
	st.global.u32 [%rd10], %r10;
	ret;
$L__x_1:
	st.global.u32 [%rd10], %r10;
`, 4, 4, nil)
	for i, w := range []uint32{6, 6, 15, 15} {
		if out[i] != w {
			t.Errorf("thread %d: %d, want %d", i, out[i], w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	body := func(s string) string { return module(s) }
	cases := []struct{ src, want string }{
		{body("frob.u32 %r1, %r2;"), `line 20 "frob.u32 %r1, %r2;": unknown or unsupported instruction`},
		{body("add.u32 %r1, %r99, 1;"), "undeclared register %r99"},
		{body("add.u32 %f1, %f2, %f3;"), "register %f1 is .f32, the instruction wants .u32"},
		{body("add.u64 %rd3, %r2, 1;"), "register %r2 is .b32, the instruction wants .u64"},
		{body("setp.lt.u32 %r3, %r1, 2;"), "register %r3 is .b32, the instruction wants .pred"},
		{body("bra $L__nowhere;"), "no label $L__nowhere"},
		{body("ld.global.v4.u64 {%rd3, %rd4, %rd5, %rd6}, [%rd1];"), "at most 128 bits"},
		{body("add.ftz.f32 %f1, %f2, %f3;"), "unsupported modifier .ftz"},
		{body("add.rz.f32 %f1, %f2, %f3;"), "rounding .rz is not modelled"},
		{body("cvt.s32.f32 %r3, %f1;"), "need .rni, .rzi, .rmi or .rpi"},
		{body("cvt.f32.s32 %f1, %r3;"), "need .rn, .rz, .rm or .rp"},
		{body("ld.u32 %r3, [%rd1];"), "generic addressing"},
		{body("ld.local.u32 %r3, [%rd1];"), "the .local state space is not modelled"},
		{body("ld.global.u32 %r3, [%r1];"), "64-bit integer register"},
		{body("ld.param.u32 %r3, [nope];"), "nope is not a param"},
		{body("ld.param.u64 %rd3, [k_in+4];"), "offset 4 of the 8-byte param"},
		{body("mov.u32 %r3, nosuch;"), "unknown symbol nosuch"},
		{body("bar.sync 16;"), "barrier 16"},
		{body("mul.u32 %r3, %r1, %r1;"), "needs .lo, .hi or .wide"},
		{body("mov.u32 %tid.x, 1;"), "cannot write special register"},
		{body("mov.u32 %r3, %clock;"), "undeclared register %clock"},
		{body("add.u32 %r3, %r1;"), "takes 3 operands"},
		{body("add.u32 %r3, %r1, 1"), "missing ';'"},
		{body("shfl.down.b32 %r3, %r1, 1, 31;"), "only shfl.sync"},
		{body("$L__a:\n$L__a:\n"), "label $L__a defined twice"},
		{strings.Replace(body(""), ".reg .f32", ".local .f32", 1), "unsupported declaration .local"},
		{strings.Replace(body(""), ".address_size 64", ".address_size 32", 1), "only 64-bit addressing"},
		{".version 7.8\n.target sm_80\n", "no .entry"},
		{".version 7.8\n/* open", "unterminated /* comment"},
		{body("") + body(""), "two kernels named k"},
		{".global .u32 g;\n" + body(""), `line 1 ".global .u32 g;": unsupported module-scope statement`},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}

func TestLiterals(t *testing.T) {
	for _, c := range []struct {
		s    string
		t    ptype
		want uint64
	}{
		{"0x1F", tU32, 31}, {"017", tU32, 15}, {"0b101", tU32, 5}, {"-1", tU32, 0xffffffff},
		{"-1", tS64, 0xffffffffffffffff}, {"4294967295U", tU32, 0xffffffff}, {"0f3F800000", tF32, 0x3f800000},
		{"0d3FF0000000000000", tF32, 0x3f800000}, {"1.5", tF32, 0x3fc00000}, {"-2", tF32, 0xc0000000},
		{"1", tPred, 1}, {"0f3F800000", tB32, 0x3f800000},
	} {
		got, err := immValue(c.s, c.t)
		if err != nil || got != c.want {
			t.Errorf("%s as %s = %#x, %v; want %#x", c.s, c.t, got, err, c.want)
		}
	}
	for _, bad := range []string{"0x", "12a", "0fZZ", "08"} {
		if _, err := immValue(bad, tU32); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
