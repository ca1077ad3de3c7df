package gemm

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

const testSMs = 3

// launchOpts shapes one emu run of an instance.
type launchOpts struct {
	sms      []int                                                  // SM mask (all when empty)
	during   func(d *emu.Device, ctl emu.Ptr, stop <-chan struct{}) // runs on the host during the launch
	relaunch bool                                                   // launch again (resume) after the first launch
	trace    *[]uint32                                              // receives the per-tile SM trace
}

// runInstance runs in on a fresh emu device with the named input buffers and returns the
// buffer of role out (n floats).
func runInstance(t *testing.T, in *kernels.Instance, bufs map[string][]float32, out string, n int, o launchOpts) []float32 {
	t.Helper()
	d, err := emu.NewDevice(emu.Config{SMs: testSMs, MaxBlocksPerSM: 2, TimeSlice: 512})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := protocol.NewControl(in.Tiles, testSMs, o.sms...)
	if err != nil {
		t.Fatal(err)
	}
	pctl, err := d.AllocU32(ctl.Words())
	if err != nil {
		t.Fatal(err)
	}
	ptrace, err := d.AllocU32(make([]uint32, in.Tiles))
	if err != nil {
		t.Fatal(err)
	}
	var pout emu.Ptr
	var args []any
	for _, a := range in.Args {
		switch a.Kind {
		case kernels.ArgControl:
			args = append(args, pctl)
		case kernels.ArgTrace:
			args = append(args, ptrace)
		case kernels.ArgBuffer:
			var p emu.Ptr
			if a.Name == out {
				p, err = d.AllocF32(make([]float32, n))
				pout = p
			} else {
				v, ok := bufs[a.Name]
				if !ok {
					t.Fatalf("no buffer for role %q", a.Name)
				}
				p, err = d.AllocF32(v)
			}
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, p)
		default:
			t.Fatalf("unexpected arg %+v", a)
		}
	}
	launch := func() {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		stop := make(chan struct{})
		done := make(chan struct{})
		if o.during != nil {
			go func() { defer close(done); o.during(d, pctl, stop) }()
		} else {
			close(done)
		}
		_, err := d.LaunchWith(ctx, in.Kernel, emu.LaunchConfig{Grid: [3]int{testSMs * 2}, Block: [3]int{in.Threads}}, args...)
		close(stop)
		<-done
		if err != nil {
			t.Fatal(err)
		}
	}
	launch()
	if o.relaunch {
		if err := d.Store32(pctl.Add(4*protocol.WordYield), 0); err != nil {
			t.Fatal(err)
		}
		o.during = nil
		launch()
	}
	w, err := d.ReadU32(pctl, 3)
	if err != nil {
		t.Fatal(err)
	}
	if int(w[protocol.WordDone]) != in.Tiles || int(w[protocol.WordNextTile]) < in.Tiles {
		t.Fatalf("control block after the run: next %d done %d of %d tiles", w[0], w[2], in.Tiles)
	}
	if o.trace != nil {
		if *o.trace, err = d.ReadU32(ptrace, in.Tiles); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.ReadF32(pout, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// yieldAfter returns a launchOpts.during that sets the yield word once `after` tiles are done,
// and records in *claimed how many tiles the first launch claimed.
func yieldAfter(t *testing.T, after uint32, claimed *atomic.Uint32) func(d *emu.Device, ctl emu.Ptr, stop <-chan struct{}) {
	return func(d *emu.Device, ctl emu.Ptr, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				v, _ := d.Load32(ctl.Add(4 * protocol.WordNextTile))
				claimed.Store(v)
				return
			default:
			}
			if v, err := d.Load32(ctl.Add(4 * protocol.WordDone)); err == nil && v >= after {
				if err := d.Store32(ctl.Add(4*protocol.WordYield), 1); err != nil {
					t.Error(err)
				}
				<-stop
				v, _ := d.Load32(ctl.Add(4 * protocol.WordNextTile))
				claimed.Store(v)
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// relErr is ||got-want|| / ||want|| (float64 accumulation).
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
