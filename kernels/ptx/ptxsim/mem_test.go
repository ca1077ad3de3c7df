package ptxsim

import (
	"math"
	"testing"
)

func TestLoadsAndStores(t *testing.T) {
	in := []uint32{0x8081fffe, 0x11223344, 0xdeadbeef, 0x01020304, 5, 6, 7, 8}
	out := runBody(t, `
	ld.global.u8 %r10, [%rd2];
	st.global.u32 [%rd1], %r10;
	ld.global.s8 %r10, [%rd2+3];
	st.global.u32 [%rd1+4], %r10;
	ld.global.s16 %r10, [%rd2+2];
	st.global.u32 [%rd1+8], %r10;
	ld.global.u16 %r10, [%rd2];
	st.global.u32 [%rd1+12], %r10;
	ld.global.s8 %rd10, [%rd2+3];
	st.global.u64 [%rd1+16], %rd10;
	ld.global.v4.u32 {%r20, %r21, %r22, %r23}, [%rd2+16];
	st.global.v2.u32 [%rd1+24], {%r23, %r22};
	add.u64 %rd11, %rd2, 16;
	ld.global.v2.f32 {%f1, %f2}, [%rd11+-8];
	st.global.f32 [%rd1+32], %f2;
	st.global.u8 [%rd1+36], 0x1ff;
	st.global.u16 [%rd1+38], %r10;
	ld.global.u64 %rd12, [%rd2+8];
	st.global.u64 [%rd1+40], %rd12;
	ld.volatile.global.u32 %r11, [%rd2+4];
	st.volatile.global.u32 [%rd1+48], %r11;
	ld.global.nc.u32 %r12, [%rd2+4];
	st.global.cg.u32 [%rd1+52], %r12;
`, 1, 14, in)
	want := []uint32{0xfe, 0xffffff80, 0xffff8081, 0xfffe, 0xffffff80, 0xffffffff, 8, 7,
		0x01020304, 0xff | 0xfffe<<16, 0xdeadbeef, 0x01020304, 0x11223344, 0x11223344}
	for i, w := range want {
		if out[i] != w {
			t.Errorf("word %d = %#x, want %#x", i, out[i], w)
		}
	}
}

// TestSharedLayout: static arrays in declaration order at their alignment, the dynamic array
// after them at the module's .extern alignment, all zeroed at block start.
func TestSharedLayout(t *testing.T) {
	src := module(`
	mov.u32 %r10, a;
	mov.u32 %r11, b;
	mov.u32 %r12, b+4;
	mov.u32 %r13, dyn;
	st.global.v4.u32 [%rd1], {%r10, %r11, %r12, %r13};
	ld.shared.u32 %r14, [b+4];
	st.shared.u32 [dyn+12], 77;
	mov.u64 %rd10, dyn;
	ld.shared.u32 %r15, [%rd10+12];
	ld.shared.u32 %r16, [%r13+16];
	st.global.v4.u32 [%rd1+16], {%r14, %r15, %r16, %r16};
	mul.lo.u32 %r17, %r1, 4;
	atom.shared.add.u32 %r18, [%r17+20], 1;
	st.global.u32 [%rd1+32], %r18;
`, "\t.shared .align 4 .b8 a[6];\n\t.shared .align 8 .b8 b[12];", ".extern .shared .align 16 .b8 dyn[];")
	k := mustKernel(t, src)
	if k.StaticShared() != 20 {
		t.Errorf("static shared = %d, want 20", k.StaticShared())
	}
	r := newRig(t, 9, nil)
	if _, err := r.run(k, Config{SMs: 1}, Launch{Grid: [3]int{3}, DynShared: 32}); err != nil {
		t.Fatal(err)
	}
	got := r.words(t)
	for i, w := range []uint32{0, 8, 12, 32, 0, 77, 0, 0, 0} {
		if got[i] != w {
			t.Errorf("word %d = %d, want %d", i, got[i], w)
		}
	}
}

func TestAtomics(t *testing.T) {
	const n = 256
	out := runBody(t, `
	atom.global.add.u32 %r10, [%rd1], 1;
	atom.global.max.u32 %r11, [%rd1+4], %r10;
	atom.global.min.s32 %r11, [%rd1+8], -5;
	atom.global.add.f32 %f1, [%rd1+12], 0f3F000000;
	atom.global.inc.u32 %r11, [%rd1+16], 9;
	atom.global.dec.u32 %r11, [%rd1+20], 9;
	red.global.add.u32 [%rd1+24], 2;
	atom.global.or.b32 %r11, [%rd1+28], %r1;
	atom.global.exch.b32 %r11, [%rd1+32], 5;
	atom.global.cas.b32 %r11, [%rd1+36], %r1, 1000;
	mul.wide.u32 %rd10, %r10, 4;
	add.u64 %rd10, %rd1, %rd10;
	st.global.u32 [%rd10+64], %r11;
	atom.global.add.u64 %rd11, [%rd1+40], 3;
	atom.shared.add.u32 %r12, [s], 1;
	atom.shared.max.s32 %r12, [s+4], %r1;
	atom.shared.cas.b32 %r12, [s+8], %r1, 1;
	bar.sync 0;
	setp.ne.u32 %p1, %r1, 0;
	@%p1 bra $L__end;
	ld.shared.v4.u32 {%r20, %r21, %r22, %r23}, [s];
	st.global.v4.u32 [%rd1+48], {%r20, %r21, %r22, %r23};
$L__end:
`, n, 16+n, []uint32{0}, "\t.shared .align 16 .b8 s[16];")
	wantWords := map[int]uint32{0: n, 1: n - 1, 2: 0xfffffffb, 3: math.Float32bits(n / 2),
		4: n % 10, 6: 2 * n, 7: n - 1, 8: 5, 9: 1000, 10: 3 * n, 12: n, 13: n - 1, 14: 1}
	for i, w := range wantWords {
		if out[i] != w {
			t.Errorf("word %d = %#x, want %#x", i, out[i], w)
		}
	}
	// dec from 0 wraps to 9 and counts down: after n decrements the value is (9 - (n-1)%10)
	if want := uint32(9 - (n-1)%10); out[5] != want {
		t.Errorf("dec: %d, want %d", out[5], want)
	}
}

func TestArena(t *testing.T) {
	a := NewArena()
	p, err := a.Alloc(10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bytes(p+8, 2); err != nil {
		t.Error(err)
	}
	if _, err := a.Bytes(p+8, 4); err == nil {
		t.Error("a read past the end succeeded")
	}
	if _, err := a.Bytes(p-1, 1); err == nil {
		t.Error("a read before the start succeeded")
	}
	if err := a.Free(p); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bytes(p, 1); err == nil {
		t.Error("a read of freed memory succeeded")
	}
	if err := a.Free(p); err == nil {
		t.Error("double free succeeded")
	}
	if q, _ := a.Alloc(4); q != p {
		t.Errorf("the freed slot was not reused: %#x, %#x", q, p)
	}
	if _, err := a.Alloc(0); err == nil {
		t.Error("alloc of 0 bytes succeeded")
	}
}
