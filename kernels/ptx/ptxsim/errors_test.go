package ptxsim

import (
	"context"
	"testing"
)

// bytesOnly hides the Arena's Regions, so that Run goes through Bytes on every access.
type bytesOnly struct{ a *Arena }

func (b bytesOnly) Bytes(addr uint64, n int) ([]byte, error) { return b.a.Bytes(addr, n) }

func TestRuntimeErrors(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{`mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	st.global.u32 [%rd10+12], %r1;`,
			[]string{"kernel k", "block (0,0,0) on SM 0, thread (1,0,0)", `line 22 "st.global.u32 [%rd10+12], %r1;"`, "0x100000010 is in no allocation"}},
		{`ld.global.u32 %r10, [%rd1+2];`, []string{"thread (0,0,0)", "line 20", "not aligned to 4 bytes"}},
		{`ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd1+8];`, []string{"not aligned to 16 bytes"}},
		{`ld.global.u32 %r10, [%rd1+-4];`, []string{"in no allocation"}},
		{`ld.shared.u32 %r10, [s+16];`, []string{"shared access [0x10, +4) outside the block's 16 bytes"}},
		{`mov.u32 %r10, 0;
	div.u32 %r11, %r1, %r10;`, []string{"line 21", "integer division by zero"}},
		{`rem.s64 %rd10, %rd1, 0;`, []string{"integer division by zero"}},
		{`setp.eq.u32 %p1, %r1, 1;
	@%p1 trap;`, []string{"thread (1,0,0)", "trap"}},
		{`atom.global.add.u32 %r10, [%rd1+2], 1;`, []string{"not aligned to 4 bytes"}},
		{`mov.u32 %r10, 3;
	bar.sync %r10, 40;`, []string{"thread count 40"}},
	}
	for _, c := range cases {
		k := mustKernel(t, module(c.body, "\t.shared .align 4 .b8 s[16];"))
		r := newRig(t, 4, []uint32{1})
		_, err := r.run(k, Config{SMs: 1}, Launch{Block: [3]int{4}})
		wantErr(t, err, c.want...)
	}
}

func TestLaunchErrors(t *testing.T) {
	k := mustKernel(t, `.version 7.8
.target sm_80
.address_size 64
.visible .entry k(.param .u64 a, .param .u32 b)
.maxntid 64, 1, 1
{
	.reg .b32 %r<3>;
	.reg .b64 %rd<2>;
	ld.param.u64 %rd1, [a];
	ld.param.u32 %r1, [b];
}`)
	ctx := context.Background()
	a := NewArena()
	cases := []struct {
		cfg  Config
		l    Launch
		want string
	}{
		{Config{}, Launch{}, "0 SMs"},
		{Config{SMs: 1}, Launch{Block: [3]int{65}}, ".maxntid allows 64"},
		{Config{SMs: 1}, Launch{Block: [3]int{-1}}, "block dimension 0 is -1"},
		{Config{SMs: 1}, Launch{DynShared: 1 << 20}, "dynamic shared memory"},
		{Config{SMs: 1}, Launch{Params: []uint64{1, 2, 3}}, "3 params for a kernel of 2"},
		{Config{SMs: 1}, Launch{Params: []uint64{1}}, `line 10 "ld.param.u32 %r1, [b];": param 1 (b) was not passed`},
	}
	for _, c := range cases {
		_, err := Run(ctx, k, a, c.cfg, c.l)
		wantErr(t, err, c.want)
	}
	if _, err := Run(ctx, nil, a, Config{SMs: 1}, Launch{}); err == nil {
		t.Error("nil kernel ran")
	}
}

// TestBytesOnlyMemory: a Memory without Regions works (through Bytes) and reports errors.
func TestBytesOnlyMemory(t *testing.T) {
	k := mustKernel(t, module(`
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd11, %rd2, %rd10;
	ld.global.u32 %r10, [%rd11];
	add.u64 %rd12, %rd1, %rd10;
	atom.global.add.u32 %r11, [%rd12], %r10;
	atom.global.add.u32 %r11, [%rd12], %r10;
`))
	r := newRig(t, 8, []uint32{1, 2, 3, 4, 5, 6, 7, 8})
	if _, err := Run(context.Background(), k, bytesOnly{r.a}, Config{SMs: 1}, Launch{Block: [3]int{8}, Params: []uint64{r.out, r.in}}); err != nil {
		t.Fatal(err)
	}
	for i, w := range r.words(t) {
		if w != uint32(2*(i+1)) {
			t.Errorf("word %d = %d", i, w)
		}
	}
	_, err := Run(context.Background(), k, bytesOnly{r.a}, Config{SMs: 1}, Launch{Block: [3]int{9}, Params: []uint64{r.out, r.in}})
	wantErr(t, err, "thread (8,0,0)", "in no allocation")
	_, err = Run(context.Background(), k, nil, Config{SMs: 1}, Launch{Block: [3]int{1}, Params: []uint64{r.out, r.in}})
	wantErr(t, err, "without a Memory")
}
