package kerneltest

import (
	"slices"
	"testing"

	"github.com/elasticroom/elasticroom/kernels"
)

// RunF32 runs in once (Run) and returns buffer out as float32 values; any error fails t.
func RunF32(t testing.TB, in *kernels.Instance, bufs Buffers, out string) []float32 {
	t.Helper()
	res, err := Run(in, bufs)
	if err != nil {
		t.Fatal(err)
	}
	return F32(res[out])
}

// CheckMaskAndResume fails t unless buffer out comes out bit-identical from three runs of in:
// a plain one; one confined to the SMs in mask, every tile of which must (by the trace) run on
// one of them; and one the host preempts, setting yield once after tiles are done, and that a
// relaunch resumes. The yield races the kernel, so the preempted run is tried up to 5 times
// (on fresh buffers) until its first launch stops before claiming every tile; t fails if it
// never does.
func CheckMaskAndResume(t testing.TB, in *kernels.Instance, bufs Buffers, out string, mask []int, after int) {
	t.Helper()
	base := RunF32(t, in, bufs, out)
	res, err := RunWith(in, bufs, Launch{SMs: mask, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	masked := F32(res.Out[out])
	for tile, sm := range res.Trace {
		if !slices.Contains(mask, int(sm)) {
			t.Fatalf("%s: tile %d ran on SM %d, mask is %v", in.Name, tile, sm, mask)
		}
	}
	var resumed []float32
	for try := 0; ; try++ {
		res, err := RunWith(in, bufs, Launch{During: YieldAfter(after), Relaunch: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Claimed < in.Tiles {
			t.Logf("%s: first launch claimed %d of %d tiles", in.Name, res.Claimed, in.Tiles)
			resumed = F32(res.Out[out])
			break
		}
		if try == 4 {
			t.Fatalf("%s: the yield never stopped the first launch before its end", in.Name)
		}
	}
	for i := range base {
		if masked[i] != base[i] || resumed[i] != base[i] {
			t.Fatalf("%s[%d]: plain %v, masked %v, resumed %v", out, i, base[i], masked[i], resumed[i])
		}
	}
}
