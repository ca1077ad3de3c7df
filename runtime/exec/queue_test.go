package exec_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/device"
	"github.com/elasticroom/elasticroom/runtime/emu"
	"github.com/elasticroom/elasticroom/runtime/exec"
)

// queuedDevice is the emulator with queues that run their launches on a goroutine, in order,
// asynchronously to the host (as a GPU stream does). Its synchronous Launch fails: an executor
// given a device with queues must queue.
type queuedDevice struct {
	*emu.Device
	mu              sync.Mutex
	launches, syncs int
	drop            bool // launches are taken and never run
	resident        int  // blocks per unit it reports (device.Resident); 0: not Resident
	grids           []int
}

// residentDevice is a queuedDevice that knows how many blocks of a function fit on a unit.
type residentDevice struct{ *queuedDevice }

func (d residentDevice) BlocksPerUnit(device.Function, int, int) (int, error) {
	return d.resident, nil
}

func (d *queuedDevice) Launch(context.Context, device.Function, device.LaunchConfig, ...any) error {
	return errors.New("Launch called on a device with queues")
}

func (d *queuedDevice) NewQueue(prio int) (device.Queue, error) {
	done := make(chan struct{})
	close(done)
	return &stream{d: d, tail: done}, nil
}

func (d *queuedDevice) counts() (launches, syncs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.launches, d.syncs
}

type stream struct {
	d    *queuedDevice
	mu   sync.Mutex
	tail chan struct{}
	err  error
}

func (s *stream) Launch(fn device.Function, cfg device.LaunchConfig, args ...any) error {
	s.d.mu.Lock()
	s.d.launches++
	drop := s.d.drop
	s.d.grids = append(s.d.grids, cfg.Grid[0])
	s.d.mu.Unlock()
	if drop {
		return nil
	}
	done := make(chan struct{})
	s.mu.Lock()
	prev := s.tail
	s.tail = done
	s.mu.Unlock()
	go func() {
		<-prev
		err := s.d.Device.Launch(context.Background(), fn, cfg, args...)
		s.mu.Lock()
		if err != nil && s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

func (s *stream) Sync() error {
	s.d.mu.Lock()
	s.d.syncs++
	s.d.mu.Unlock()
	s.mu.Lock()
	tail := s.tail
	s.mu.Unlock()
	<-tail
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

func (s *stream) Close() error { return s.Sync() }

func loadQueued(t *testing.T, m, k, n, o int) (*exec.Instance, *queuedDevice, *exec.Instance) {
	t.Helper()
	p, _ := testPlan(t, m, k, n, o)
	d := &queuedDevice{Device: newDevice(t)}
	in, err := exec.Load(t.Context(), d, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	ref, err := exec.Load(t.Context(), newDevice(t), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	return in, d, ref
}

// The kernels between host steps are queued together and waited for once: the test plan is
// [kernel, kernel], host step, [kernel], so a run takes 3 launches and 2 waits.
func TestQueuedRunWaitsOncePerSequence(t *testing.T) {
	in, d, ref := loadQueued(t, 24, 40, 20, 12)
	_, ins := testPlan(t, 24, 40, 20, 12)
	want, err := ref.Run(t.Context(), ins, exec.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		out, err := in.Run(t.Context(), ins, exec.RunOptions{Trace: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out["y"].Float32s(), want["y"].Float32s()) {
			t.Fatalf("run %d: queued run differs from launch-by-launch", run)
		}
		if l, s := d.counts(); l != 3*run || s != 2*run {
			t.Fatalf("after %d runs: %d launches, %d waits; want %d and %d", run, l, s, 3*run, 2*run)
		}
		for _, k := range in.LastTrace() {
			if k.Launches != 1 || slices.Contains(k.TileUnit, -1) {
				t.Fatalf("kernel %s: %d launches, tiles on units %v", k.Kernel, k.Launches, k.TileUnit)
			}
		}
	}
}

// A yield in the first kernel of a queued sequence stops the sequence there: the kernel queued
// after it runs nothing until the relaunch (one launch that ran tiles), and the result is the
// uninterrupted one, bit for bit.
func TestQueuedYieldStopsTheSequence(t *testing.T) {
	in, _, ref := loadQueued(t, 96, 32, 96, 16)
	_, ins := testPlan(t, 96, 32, 96, 16)
	want, err := ref.Run(t.Context(), ins, exec.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 20; try++ {
		res := make(chan error, 1)
		var y []float32
		go func() {
			o, err := in.Run(t.Context(), ins, exec.RunOptions{SMs: []int{1}, Trace: true})
			if err == nil {
				y = o["y"].Float32s()
			}
			res <- err
		}()
		deadline := time.Now().Add(20 * time.Second)
		for pr := in.Progress(); !(pr.Running && pr.Done >= 1) && time.Now().Before(deadline); pr = in.Progress() {
			time.Sleep(20 * time.Microsecond)
		}
		if err := in.Yield(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		paused := in.Progress()
		in.Resume()
		if err := <-res; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y, want["y"].Float32s()) {
			t.Fatal("yielded queued run differs from the uninterrupted one")
		}
		if !paused.Paused || paused.Running || !paused.InKernel {
			t.Fatalf("while yielded: %+v", paused)
		}
		if paused.Launch != 0 || paused.Done == 0 || paused.Done >= paused.Tiles {
			continue // the yield did not land inside the first kernel
		}
		tr := in.LastTrace()
		if tr[0].Launches != 2 || tr[1].Launches != 1 {
			t.Fatalf("launches per kernel %d, %d: want 2 (yielded, relaunched) and 1", tr[0].Launches, tr[1].Launches)
		}
		for _, k := range tr {
			for tile, u := range k.TileUnit {
				if u != 1 {
					t.Fatalf("kernel %s tile %d ran on unit %d, mask {1}", k.Kernel, tile, u)
				}
			}
		}
		return
	}
	t.Skip("the yield never landed inside the first kernel")
}

// Cancelling a queued sequence stops it through the signal block; the next run is whole.
func TestQueuedCancel(t *testing.T) {
	in, _, ref := loadQueued(t, 96, 32, 96, 16)
	_, ins := testPlan(t, 96, 32, 96, 16)
	want, err := ref.Run(t.Context(), ins, exec.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() {
		_, err := in.Run(ctx, ins, exec.RunOptions{SMs: []int{0}})
		res <- err
	}()
	for pr := in.Progress(); !(pr.Running && pr.Done >= 1); pr = in.Progress() {
		time.Sleep(20 * time.Microsecond)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	out, err := in.Run(t.Context(), ins, exec.RunOptions{SMs: []int{0, 1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out["y"].Float32s(), want["y"].Float32s()) {
		t.Fatal("the run after a cancelled one differs")
	}
}

// A sequence whose kernels never run fails after a few attempts, naming the kernel, instead of
// relaunching forever.
func TestQueuedNoProgress(t *testing.T) {
	in, d, _ := loadQueued(t, 8, 8, 8, 8)
	_, ins := testPlan(t, 8, 8, 8, 8)
	d.drop = true
	_, err := in.Run(t.Context(), ins, exec.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "no progress") || !strings.Contains(err.Error(), "launch 0") {
		t.Fatalf("err = %v, want no progress naming launch 0", err)
	}
	if l, s := d.counts(); s != 3 || l != 6 {
		t.Errorf("%d launches in %d waits before giving up, want 6 in 3", l, s)
	}
}

// On a device that knows residency, each launch takes as many blocks per unit as the mask's
// units need to take every tile at once, at most the resident ones, on every unit.
func TestGridFollowsTilesAndMask(t *testing.T) {
	p, ins := testPlan(t, 96, 32, 96, 16)
	qd := &queuedDevice{Device: newDevice(t), resident: 3}
	in, err := exec.Load(t.Context(), residentDevice{qd}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	want, err := cpu.Run(t.Context(), p.Graph, ins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tiles []int
	for _, l := range p.Launches {
		if l.Kernel >= 0 {
			tiles = append(tiles, p.Kernels[l.Kernel].Tiles)
		}
	}
	for _, mask := range [][]int{{0, 1, 2, 3}, {2}} {
		qd.grids = nil
		out, err := in.Run(t.Context(), ins, exec.RunOptions{SMs: mask})
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(out["y"].Float32s(), want["y"].Float32s()); e > 1e-5 {
			t.Fatalf("mask %v: rel err %g", mask, e)
		}
		var exp []int
		for _, n := range tiles {
			exp = append(exp, testUnits*min(3, (n+len(mask)-1)/len(mask)))
		}
		if !slices.Equal(qd.grids, exp) {
			t.Errorf("mask %v, tiles %v: grids %v, want %v", mask, tiles, qd.grids, exp)
		}
	}
}
