package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// openSim opens a fresh simulated GPU of sms SMs (each spec is its own library: the sticky
// fault of one test must not reach another, so the spec carries the test's SM count).
func openSim(t *testing.T, sms string) *Device {
	t.Helper()
	d, err := OpenLibrary("sim:"+sms, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// scaleKernel: y[i] = a*x[i] for i < n, one thread per element, 128 per block.
func scaleKernel(t *testing.T) string {
	b := kir.NewKernel("er_scale", kir.Target{Arch: "sm_90", MaxThreads: 128})
	x, y, a, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamF32("a"), b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.ConstU32(128)), b.Tid(0))
	b.If(b.Lt(i, n), func() { b.Store(y, i, b.Mul(a, b.LoadF32(x, i))) })
	k, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	src, err := ptx.Render(k)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSimSpec(t *testing.T) {
	for _, bad := range []string{"sim:0", "sim:x", "sim:1000"} {
		if _, err := OpenLibrary(bad, 0); err == nil || !strings.Contains(err.Error(), LibraryEnv) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	d := openSim(t, "5")
	in := d.Info()
	if in.SMs != 5 || d.Units() != 5 || in.Arch() != "sm_90" || !d.Simulated() || !in.CanMapHost {
		t.Errorf("info %+v", in)
	}
	if !strings.Contains(d.Name(), "simulated") {
		t.Errorf("name %q does not say it is simulated", d.Name())
	}
	if _, err := OpenLibrary("sim:5", 1); !errors.Is(err, ErrNoDevice) {
		t.Errorf("ordinal 1 of one simulated GPU: %v", err)
	}
}

// TestSimLaunch runs a rendered kernel through Device.Launch on the simulated GPU, with
// events, and checks the driver-side errors a real driver gives.
func TestSimLaunch(t *testing.T) {
	d := openSim(t, "3")
	f, err := d.LoadPTX(scaleKernel(t), "er_scale")
	if err != nil {
		t.Fatal(err)
	}
	if f.Info().MaxThreads != 128 || f.Info().Registers <= 0 {
		t.Errorf("function info %+v", f.Info())
	}
	const n = 1000
	x := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(x[4*i:], math.Float32bits(float32(i)-500))
	}
	px, _ := d.Alloc(4 * n)
	py, _ := d.Alloc(4 * n)
	if err := d.CopyToDevice(px, x); err != nil {
		t.Fatal(err)
	}
	cfg := device.LaunchConfig{Grid: [3]int{(n + 127) / 128}, Block: [3]int{128}}
	el, err := d.LaunchTimed(context.Background(), f, cfg, px, py, float32(0.5), uint32(n))
	if err != nil {
		t.Fatal(err)
	}
	if el <= 0 {
		t.Errorf("event time %v", el)
	}
	y := make([]byte, 4*n)
	if err := d.CopyToHost(y, py); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := math.Float32frombits(binary.LittleEndian.Uint32(y[4*i:])), 0.5*(float32(i)-500); got != want {
			t.Fatalf("y[%d] = %v, want %v", i, got, want)
		}
	}
	// Residency: what the driver's occupancy query answers from the function's registers.
	regs := f.Info().Registers
	if n, err := d.BlocksPerUnit(f, 128, 0); err != nil || n != min(16, (16384/((regs*32+255)/256*256))*4/4) || n < 1 {
		t.Errorf("blocks per SM of a 128-thread kernel with %d registers: %d, %v", regs, n, err)
	}
	// The limits the function's attributes give are enforced.
	if err := d.Launch(context.Background(), f, device.LaunchConfig{Grid: [3]int{1}, Block: [3]int{256}}, px, py, float32(1), uint32(n)); err == nil {
		t.Error("256 threads launched into a .maxntid 128 kernel")
	}
	if err := d.Launch(context.Background(), f, device.LaunchConfig{Grid: [3]int{1}, Block: [3]int{128}, SharedBytes: 64 << 10}, px, py, float32(1), uint32(n)); err == nil {
		t.Error("64 KiB of dynamic shared memory launched without opting in")
	}
}

// TestSimJITLog: PTX the simulator cannot parse is CUDA_ERROR_INVALID_PTX with a log naming
// the line, as the JIT's error log would.
func TestSimJITLog(t *testing.T) {
	d := openSim(t, "2")
	bad := ".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry broken()\n{\n\tfrobnicate.u32 %r1, 1;\n\tret;\n}\n"
	_, err := d.LoadPTX(bad, "broken")
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrorInvalid || !strings.Contains(e.Log, "6") || !strings.Contains(e.Log, "frobnicate") {
		t.Fatalf("bad PTX: %v", err)
	}
	if _, err := d.LoadPTX(scaleKernel(t), "nosuch"); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_NOT_FOUND") {
		t.Errorf("missing entry: %v", err)
	}
}

// TestSimFault: a kernel that writes outside every allocation fails the launch with
// CUDA_ERROR_ILLEGAL_ADDRESS naming what it did, and the context stays failed, as on a GPU.
func TestSimFault(t *testing.T) {
	d := openSim(t, "4")
	f, err := d.LoadPTX(scaleKernel(t), "er_scale")
	if err != nil {
		t.Fatal(err)
	}
	px, _ := d.Alloc(16)
	err = d.Launch(context.Background(), f, device.LaunchConfig{Grid: [3]int{1}, Block: [3]int{128}}, px, px, float32(1), uint32(128))
	if err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_ILLEGAL_ADDRESS") || !strings.Contains(err.Error(), "er_scale") {
		t.Fatalf("out-of-bounds kernel: %v", err)
	}
	if _, err := d.Alloc(16); err == nil {
		// Alloc's zeroing memset runs on a stream of the failed context.
		t.Error("the context kept working after a kernel fault")
	}
}

// TestSimQueue queues dependent launches on one stream without waiting between them: y = x/2,
// then y = 3y in place, twice; one Sync sees the whole chain in order.
func TestSimQueue(t *testing.T) {
	d := openSim(t, "2")
	f, err := d.LoadPTX(scaleKernel(t), "er_scale")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	x := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(x[4*i:], math.Float32bits(float32(i)))
	}
	px, _ := d.Alloc(4 * n)
	py, _ := d.Alloc(4 * n)
	if err := d.CopyToDevice(px, x); err != nil {
		t.Fatal(err)
	}
	q, err := d.NewQueue(1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := device.LaunchConfig{Grid: [3]int{(n + 127) / 128}, Block: [3]int{128}}
	if err := q.Launch(f, cfg, px, py, float32(0.5), uint32(n)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := q.Launch(f, cfg, py, py, float32(3), uint32(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Launch(f, device.LaunchConfig{Grid: [3]int{1}, Block: [3]int{256}}, px, py, float32(1), uint32(n)); err == nil {
		t.Error("a 256-thread launch of a .maxntid 128 kernel was queued")
	}
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	y := make([]byte, 4*n)
	if err := d.CopyToHost(y, py); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := math.Float32frombits(binary.LittleEndian.Uint32(y[4*i:])), float32(i)*0.5*3*3; got != want {
			t.Fatalf("y[%d] = %v, want %v", i, got, want)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Launch(f, cfg, px, py, float32(1), uint32(n)); err == nil || !strings.Contains(err.Error(), "closed queue") {
		t.Errorf("launch on a closed queue: %v", err)
	}
}
