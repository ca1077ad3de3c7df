package ptxsim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// shflBody stores, per lane, shfl.sync.<mode>.b32 of (100+lane) with b and c, and its
// predicate.
func shflOut(t *testing.T, mode string, b, c uint32, n int) []uint32 {
	t.Helper()
	return runBody(t, fmt.Sprintf(`
	add.u32 %%r10, %%r1, 100;
	shfl.sync.%s.b32 %%r11|%%p1, %%r10, %d, %d, 0xffffffff;
	selp.u32 %%r12, 1, 0, %%p1;
	mul.wide.u32 %%rd10, %%r1, 8;
	add.u64 %%rd10, %%rd1, %%rd10;
	st.global.v2.u32 [%%rd10], {%%r11, %%r12};
`, mode, b, c), n, 2*n, nil)
}

func TestShuffleModes(t *testing.T) {
	type lanefn func(lane int) (src int, ok bool)
	cases := []struct {
		mode string
		b, c uint32
		f    lanefn
	}{
		{"down", 3, 31, func(l int) (int, bool) { return l + 3, l+3 <= 31 }},
		{"down", 35, 31, func(l int) (int, bool) { return l + 3, l+3 <= 31 }}, // b[4:0] only
		{"up", 5, 0, func(l int) (int, bool) { return l - 5, l-5 >= 0 }},
		{"bfly", 6, 31, func(l int) (int, bool) { return l ^ 6, true }},
		{"idx", 9, 31, func(l int) (int, bool) { return 9, true }},
		{"idx", 41, 31, func(l int) (int, bool) { return 9, true }},
		// segments of 8 lanes (c = segmask<<8 | clamp): idx reads lane 2 of each segment,
		// down stays inside its segment
		{"idx", 2, 0x1807, func(l int) (int, bool) { return l&^7 | 2, true }},
		{"down", 1, 0x1807, func(l int) (int, bool) { return l + 1, l&7 != 7 }},
		{"up", 1, 0x1800, func(l int) (int, bool) { return l - 1, l&7 != 0 }},
	}
	for _, tc := range cases {
		out := shflOut(t, tc.mode, tc.b, tc.c, 64)
		for lane := 0; lane < 64; lane++ {
			src, ok := tc.f(lane % 32)
			if !ok {
				src = lane % 32
			}
			want := uint32(100 + lane - lane%32 + src)
			if out[2*lane] != want || out[2*lane+1] != uint32(b2u(ok)) {
				t.Errorf("shfl.%s b=%d c=%#x lane %d: %d,%d, want %d,%v", tc.mode, tc.b, tc.c, lane,
					out[2*lane], out[2*lane+1], want, ok)
			}
		}
	}
}

// TestShuffleUndefinedLanes: reading a lane that does not exist (a partial warp) or has
// exited gives the undefined-value marker.
func TestShuffleUndefinedLanes(t *testing.T) {
	out := shflOut(t, "down", 8, 31, 40) // warp 1 has lanes 0..7 only
	if out[2*32] != undefinedLane || out[2*36] != undefinedLane || out[2*0] != 108 {
		t.Errorf("partial warp: lane 32 read %#x, lane 36 %#x, lane 0 %d", out[64], out[72], out[0])
	}
	out = runBody(t, `
	setp.ge.u32 %p1, %r1, 16;
	@%p1 ret;
	shfl.sync.bfly.b32 %r11, %r1, 16, 31, 0xffffffff;
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	st.global.u32 [%rd10], %r11;
`, 32, 32, nil)
	if out[3] != undefinedLane {
		t.Errorf("read from an exited lane: %#x", out[3])
	}
}

func TestShuffleErrors(t *testing.T) {
	k := mustKernel(t, module(`
	setp.lt.u32 %p1, %r1, 4;
	@%p1 bra $L__a;
	shfl.sync.bfly.b32 %r11, %r1, 1, 31, 0xffffffff;
	bra $L__b;
$L__a:
	shfl.sync.bfly.b32 %r11, %r1, 2, 31, 0xffffffff;
$L__b:
`))
	_, err := newRig(t, 1, nil).run(k, Config{SMs: 1}, Launch{Block: [3]int{32}})
	wantErr(t, err, "different shfl.sync", "line 23", "line 26")

	k = mustKernel(t, module(`shfl.sync.idx.b32 %r11, %r1, 0, 31, 0xffff;`))
	_, err = newRig(t, 1, nil).run(k, Config{SMs: 1}, Launch{Block: [3]int{32}})
	wantErr(t, err, "membermask 0xffff")
}

func TestBarriers(t *testing.T) {
	// each thread writes shared, waits, and reads its neighbour's value; threads 0..7 exit
	// first and do not hold the barrier
	out := runBody(t, `
	setp.lt.u32 %p1, %r1, 8;
	@%p1 bra $L__done;
	mov.u32 %r9, s;
	shl.b32 %r10, %r1, 2;
	add.u32 %r10, %r10, %r9;
	st.shared.u32 [%r10], %r1;
	bar.sync 0;
	add.u32 %r11, %r1, 1;
	rem.u32 %r11, %r11, 64;
	max.u32 %r11, %r11, 8;
	shl.b32 %r12, %r11, 2;
	add.u32 %r12, %r12, %r9;
	ld.shared.u32 %r13, [%r12];
	mul.wide.u32 %rd10, %r1, 4;
	add.u64 %rd10, %rd1, %rd10;
	st.global.u32 [%rd10], %r13;
$L__done:
`, 64, 64, nil, "\t.shared .align 4 .b8 s[256];")
	for i := 8; i < 64; i++ {
		want := uint32(max((i+1)%64, 8))
		if out[i] != want {
			t.Errorf("thread %d read %d, want %d", i, out[i], want)
		}
	}
}

func TestDeadlocks(t *testing.T) {
	k := mustKernel(t, module(`
	setp.lt.u32 %p1, %r1, 40;
	@%p1 bra $L__a;
	barrier.sync 1;
	bra $L__b;
$L__a:
	barrier.sync 0;
$L__b:
`))
	_, err := newRig(t, 1, nil).run(k, Config{SMs: 1}, Launch{Block: [3]int{64}})
	wantErr(t, err, "deadlock", "40 threads wait at barrier 0 at line 26", "24 threads wait at barrier 1 at line 23")

	// bar.sync is .aligned: every thread must reach the same instruction
	k = mustKernel(t, module(`
	setp.lt.u32 %p1, %r1, 32;
	@%p1 bra $L__a;
	bar.sync 0;
	bra $L__b;
$L__a:
	bar.sync 0;
$L__b:
`))
	_, err = newRig(t, 1, nil).run(k, Config{SMs: 1}, Launch{Block: [3]int{64}})
	wantErr(t, err, ".aligned", "line 23", "line 26")

	// a thread spinning forever is not a deadlock: the launch runs until the context ends
	k = mustKernel(t, module(`
$L__spin:
	ld.volatile.global.u32 %r10, [%rd2];
	setp.eq.u32 %p1, %r10, 0;
	@%p1 bra $L__spin;
`))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := newRig(t, 1, []uint32{0})
	_, err = Run(ctx, k, r.a, Config{SMs: 2}, Launch{Grid: [3]int{4}, Block: [3]int{32}, Params: []uint64{r.out, r.in}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spinning launch ended with %v, want the context's deadline", err)
	}
}

// TestPersistentSpin: blocks spin on a volatile word the host writes while they run; every
// SM's blocks run concurrently and report their %smid.
func TestPersistentSpin(t *testing.T) {
	const sms, per = 3, 2
	k := mustKernel(t, module(`
	setp.ne.u32 %p2, %r1, 0;
	@%p2 bra $L__wait;
	atom.global.add.u32 %r20, [%rd2+4], 1;
$L__wait:
	ld.volatile.global.u32 %r10, [%rd2];
	setp.eq.u32 %p1, %r10, 0;
	@%p1 bra $L__wait;
	@%p2 bra $L__end;
	mov.u32 %r11, %ctaid.x;
	mov.u32 %r12, %smid;
	mov.u32 %r13, %nsmid;
	mul.wide.u32 %rd10, %r11, 8;
	add.u64 %rd10, %rd1, %rd10;
	st.global.v2.u32 [%rd10], {%r12, %r13};
$L__end:
`))
	r := newRig(t, 2*sms*per, []uint32{0, 0})
	done := make(chan error)
	go func() {
		// every block has started (so all slots run at once) before the flag goes up
		for n, _ := r.a.Load32(r.in + 4); n < sms*per; n, _ = r.a.Load32(r.in + 4) {
			time.Sleep(100 * time.Microsecond)
		}
		done <- r.a.Store32(r.in, 1)
	}()
	st, err := r.run(k, Config{SMs: sms, BlocksPerSM: per, TimeSlice: 64}, Launch{Grid: [3]int{sms * per}, Block: [3]int{48}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := r.words(t)
	for b := 0; b < sms*per; b++ {
		if out[2*b] != uint32(b%sms) || out[2*b+1] != sms {
			t.Errorf("block %d: %%smid %d, %%nsmid %d; want %d, %d", b, out[2*b], out[2*b+1], b%sms, sms)
		}
	}
	if st.Blocks != sms*per || len(st.BlocksPerSM) != sms || st.BlocksPerSM[0] != per || st.Instructions == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestGridAndBlockShape: special registers of a 3D launch, more blocks than slots.
func TestGridAndBlockShape(t *testing.T) {
	k := mustKernel(t, module(`
	mov.u32 %r10, %tid.y;
	mov.u32 %r11, %tid.z;
	mov.u32 %r12, %ntid.x;
	mov.u32 %r13, %ntid.y;
	mad.lo.u32 %r14, %r11, %r13, %r10;
	mad.lo.u32 %r14, %r14, %r12, %r1;
	mov.u32 %r15, %ctaid.x;
	mov.u32 %r16, %ctaid.y;
	mov.u32 %r17, %nctaid.x;
	mad.lo.u32 %r18, %r16, %r17, %r15;
	mov.u32 %r19, %ntid.z;
	mul.lo.u32 %r20, %r12, %r13;
	mul.lo.u32 %r20, %r20, %r19;
	mad.lo.u32 %r21, %r18, %r20, %r14;
	mov.u32 %r22, %laneid;
	mov.u32 %r23, %warpid;
	mad.lo.u32 %r24, %r23, 32, %r22;
	mul.wide.u32 %rd10, %r21, 8;
	add.u64 %rd10, %rd1, %rd10;
	st.global.v2.u32 [%rd10], {%r24, %r18};
`))
	const threads, blocks = 4 * 3 * 5, 3 * 2
	r := newRig(t, 2*threads*blocks, nil)
	st, err := r.run(k, Config{SMs: 2}, Launch{Grid: [3]int{3, 2}, Block: [3]int{4, 3, 5}})
	if err != nil {
		t.Fatal(err)
	}
	out := r.words(t)
	for i := 0; i < threads*blocks; i++ {
		if out[2*i] != uint32(i%threads) || out[2*i+1] != uint32(i/threads) {
			t.Fatalf("thread %d: linear id %d, block %d", i, out[2*i], out[2*i+1])
		}
	}
	if st.Blocks != blocks || st.BlocksPerSM[0]+st.BlocksPerSM[1] != blocks {
		t.Errorf("stats %+v", st)
	}
}
