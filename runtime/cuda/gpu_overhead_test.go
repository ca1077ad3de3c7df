//go:build gpu && cgo && linux

package cuda

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// TestGPULaunchOverhead measures what one kernel launch costs on the host: a one-block kernel
// launched and waited for, first with the bare driver calls (cuLaunchKernel +
// cuStreamSynchronize, the floor), then through Device.Launch (argument packing, the stream
// pool, the wait that can preempt). The difference is this runtime's overhead per kernel.
func TestGPULaunchOverhead(t *testing.T) {
	d := openGPU(t)
	src, err := ptx.Render(vaddKernel(t, ptxArch(d)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.LoadPTX(src, "er_vadd")
	if err != nil {
		t.Fatal(err)
	}
	const n = 256
	pa, _ := d.Alloc(4 * n)
	pb, _ := d.Alloc(4 * n)
	py, _ := d.Alloc(4 * n)
	cfg := device.LaunchConfig{Grid: [3]int{1}, Block: [3]int{256}}
	iters := 2000
	if testing.Short() || d.Simulated() {
		iters = 50
	}
	vals, err := packArgs(f, []any{pa, pb, py, uint32(n)})
	if err != nil {
		t.Fatal(err)
	}
	prio := d.cudaPriority(0)
	s, err := d.stream(prio)
	if err != nil {
		t.Fatal(err)
	}
	bare := func() time.Duration {
		start := time.Now()
		for range iters {
			if err := d.drv.launch(d.ctx, f.h, [3]int{1, 1, 1}, [3]int{256, 1, 1}, 0, s, vals, nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := d.drv.streamSync(d.ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(iters)
	}
	ours := func() time.Duration {
		start := time.Now()
		for range iters {
			if err := d.Launch(context.Background(), f, cfg, pa, pb, py, uint32(n)); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(iters)
	}
	bare() // warm-up
	ours()
	// Alternate, best of three each: the machine's other work shows up in both.
	b, o := time.Duration(1<<62), time.Duration(1<<62)
	for range 3 {
		b, o = min(b, bare()), min(o, ours())
	}
	d.release(prio, s)
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1000 }
	text := fmt.Sprintf("\nLaunch + wait of a one-block kernel, host side (best of 3 x %d)\n%-40s %8.2f us\n%-40s %8.2f us\n%-40s %8.2f us\n",
		iters, "bare driver (cuLaunchKernel + sync)", us(b), "cuda.Device.Launch", us(o), "runtime overhead per kernel", us(o-b))
	fmt.Print(text)
	gpuReport(t, "launch", text)
}
