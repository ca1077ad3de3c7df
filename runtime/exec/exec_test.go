package exec_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/exec"
)

func load(t *testing.T, m, k, n, o int) (*exec.Instance, map[string]*tensor.Tensor, []float32) {
	t.Helper()
	p, ins := testPlan(t, m, k, n, o)
	want, err := cpu.Run(t.Context(), p.Graph, ins, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := exec.Load(t.Context(), newDevice(t), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in, ins, want["y"].Float32s()
}

func TestRunMatchesCPU(t *testing.T) {
	in, ins, want := load(t, 24, 40, 20, 12)
	for range 2 { // a second run reuses the arena and control blocks
		out, err := in.Run(t.Context(), ins, exec.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		y := out["y"]
		if !slices.Equal(y.Shape, []int{24, 12}) {
			t.Fatalf("y shape %v", y.Shape)
		}
		if e := relErr(y.Float32s(), want); e > 1e-5 {
			t.Fatalf("rel err %g", e)
		}
	}
}

func TestMaskRespected(t *testing.T) {
	in, ins, want := load(t, 48, 16, 40, 32)
	out, err := in.Run(t.Context(), ins, exec.RunOptions{SMs: []int{1, 3}, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(out["y"].Float32s(), want); e > 1e-5 {
		t.Fatalf("rel err %g", e)
	}
	tr := in.LastTrace()
	if len(tr) != 3 {
		t.Fatalf("%d kernel traces, want 3", len(tr))
	}
	for _, k := range tr {
		if len(k.TileUnit) == 0 {
			t.Fatalf("kernel %s: empty trace", k.Kernel)
		}
		for tile, u := range k.TileUnit {
			if u != 1 && u != 3 {
				t.Fatalf("kernel %s tile %d ran on unit %d, mask is {1, 3}", k.Kernel, tile, u)
			}
		}
	}
	if got := in.Mask(); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("mask after run %v", got)
	}
}

// TestYieldResume preempts a kernel once it has finished some tiles, checks it stays stopped
// while paused, resumes it, and compares with an uninterrupted run bit for bit.
func TestYieldResume(t *testing.T) {
	in, ins, _ := load(t, 96, 32, 96, 16)
	ref, err := in.Run(t.Context(), ins, exec.RunOptions{SMs: []int{0, 1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		res := make(chan error, 1)
		var out map[string]*tensor.Tensor
		go func() {
			var err error
			out, err = in.Run(t.Context(), ins, exec.RunOptions{SMs: []int{2}, Trace: true})
			res <- err
		}()
		var at exec.Progress
		deadline := time.Now().Add(20 * time.Second)
		for {
			at = in.Progress()
			if at.Running && at.Done >= 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		if err := in.Yield(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		paused := in.Progress()
		select {
		case err := <-res:
			t.Fatalf("Run returned while paused: %v", err)
		default:
		}
		in.Resume()
		if err := <-res; err != nil {
			t.Fatal(err)
		}
		if !paused.Paused || paused.Running {
			t.Fatalf("after Yield: %+v", paused)
		}
		tr := in.LastTrace()
		if !slices.Equal(out["y"].Float32s(), ref["y"].Float32s()) {
			t.Fatal("preempted run differs from the uninterrupted one")
		}
		midKernel := paused.InKernel && paused.Done > 0 && paused.Done < paused.Tiles
		if !midKernel && try < 19 {
			continue
		}
		if !midKernel {
			t.Skip("the yield never landed in the middle of a kernel")
		}
		// the yielded kernel took two launches, all on unit 2
		for _, k := range tr {
			if k.Launch != paused.Launch {
				continue
			}
			if k.Launches < 2 {
				t.Fatalf("kernel %s took %d launches after a yield at %d/%d tiles", k.Kernel, k.Launches, paused.Done, paused.Tiles)
			}
			for _, u := range k.TileUnit {
				if u != 2 {
					t.Fatalf("tile ran on unit %d, mask {2}", u)
				}
			}
			return
		}
		t.Fatalf("no trace of launch %d", paused.Launch)
	}
}

func TestSetMaskMidRunMovesWork(t *testing.T) {
	in, ins, want := load(t, 96, 32, 96, 16)
	if err := in.SetMask(nil); err != nil { // empty mask: Run waits for units
		t.Fatal(err)
	}
	res := make(chan error, 1)
	var out map[string]*tensor.Tensor
	go func() {
		var err error
		out, err = in.Run(t.Context(), ins, exec.RunOptions{Trace: true})
		res <- err
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-res:
		t.Fatalf("Run returned with no units: %v", err)
	default:
	}
	if err := in.SetMask([]int{0}); err != nil {
		t.Fatal(err)
	}
	for pr := in.Progress(); !(pr.Running && pr.Done >= 1); pr = in.Progress() {
		time.Sleep(50 * time.Microsecond)
	}
	if err := in.SetMask([]int{3}); err != nil { // move the work to unit 3
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if e := relErr(out["y"].Float32s(), want); e > 1e-5 {
		t.Fatalf("rel err %g", e)
	}
	tr := in.LastTrace()
	last := tr[len(tr)-1]
	for _, u := range last.TileUnit {
		if u != 3 {
			t.Fatalf("last kernel ran a tile on unit %d after the mask moved to {3}", u)
		}
	}
}

func TestCancelWhilePaused(t *testing.T) {
	in, ins, _ := load(t, 8, 8, 8, 8)
	if err := in.SetMask(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := in.Run(ctx, ins, exec.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "deadline") || !strings.Contains(err.Error(), "launch 0") {
		t.Fatalf("err = %v, want a deadline error naming launch 0", err)
	}
}

func TestInputErrors(t *testing.T) {
	in, ins, _ := load(t, 8, 8, 8, 8)
	x := ins["x"]
	cases := []struct {
		name string
		ins  map[string]*tensor.Tensor
		want []string
	}{
		{"missing", map[string]*tensor.Tensor{}, []string{`"x"`, "missing", "[8,8]"}},
		{"shape", map[string]*tensor.Tensor{"x": tensor.FromFloat32([]int{8, 4}, make([]float32, 32))},
			[]string{`"x"`, "[8 4]", "[8 8]"}},
		{"dtype", map[string]*tensor.Tensor{"x": tensor.FromInt64([]int{8, 8}, make([]int64, 64))},
			[]string{`"x"`, "int64", "float32"}},
		{"short data", map[string]*tensor.Tensor{"x": tensor.FromFloat32([]int{8, 8}, make([]float32, 3))},
			[]string{`"x"`, "3 elements"}},
		{"extra", map[string]*tensor.Tensor{"x": x, "z": x}, []string{`"z"`, "not inputs"}},
	}
	for _, c := range cases {
		_, err := in.Run(t.Context(), c.ins, exec.RunOptions{})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
	if err := in.SetMask([]int{testUnits}); err == nil {
		t.Error("SetMask accepted a unit beyond the device")
	}
}

func TestLoadErrors(t *testing.T) {
	p, _ := testPlan(t, 8, 8, 8, 8)
	p.Launches[0].Args[2].Value = "nope"
	if _, err := exec.Load(t.Context(), newDevice(t), p); err == nil || !strings.Contains(err.Error(), `"nope"`) ||
		!strings.Contains(err.Error(), "launch 0") {
		t.Errorf("unknown value: err = %v", err)
	}
	p, _ = testPlan(t, 8, 8, 8, 8)
	p.Kernels[1].IR = nil
	if _, err := exec.Load(t.Context(), newDevice(t), p); err == nil || !strings.Contains(err.Error(), "kernel IR") {
		t.Errorf("no IR: err = %v", err)
	}
	p, _ = testPlan(t, 8, 8, 8, 8)
	p.Launches[1].Args = p.Launches[1].Args[:2]
	if _, err := exec.Load(t.Context(), newDevice(t), p); err == nil || !strings.Contains(err.Error(), "arguments") {
		t.Errorf("short args: err = %v", err)
	}
}
