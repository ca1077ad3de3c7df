package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// fakeDriver is a driver in Go memory: device memory is a map of byte slices, mapped memory
// real Go memory, and a launch runs a Go "kernel" on a goroutine that the stream waits for.
// It checks the Device's bookkeeping, argument packing, priorities and cancellation with no GPU.
type fakeDriver struct {
	mu      sync.Mutex
	next    uint64
	mem     map[uint64][]byte
	host    map[uint64][]byte // mapped: device address -> host memory
	running map[handle]chan struct{}
	kernel  func(vals []uint64) // what a launch runs
	prios   []int
	lastErr *Error
}

func newFake() *fakeDriver {
	return &fakeDriver{next: 1 << 20, mem: map[uint64][]byte{}, host: map[uint64][]byte{}, running: map[handle]chan struct{}{}}
}

func (f *fakeDriver) find(p uint64, n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for base, b := range f.mem {
		if p >= base && p+uint64(n) <= base+uint64(len(b)) {
			return b[p-base : p-base+uint64(n)]
		}
	}
	for base, b := range f.host {
		if p >= base && p+uint64(n) <= base+uint64(len(b)) {
			return b[p-base : p-base+uint64(n)]
		}
	}
	return nil
}

func (f *fakeDriver) libraryPath() string                  { return "fake" }
func (f *fakeDriver) init() error                          { return nil }
func (f *fakeDriver) driverVersion() (int, error)          { return 12040, nil }
func (f *fakeDriver) deviceCount() (int, error)            { return 1, nil }
func (f *fakeDriver) deviceGet(o int) (int, error)         { return o, nil }
func (f *fakeDriver) deviceName(int) (string, error)       { return "Fake GPU", nil }
func (f *fakeDriver) deviceTotalMem(int) (uint64, error)   { return 1 << 30, nil }
func (f *fakeDriver) primaryCtxRetain(int) (handle, error) { return unsafe.Pointer(new(int)), nil }
func (f *fakeDriver) primaryCtxRelease(int) error          { return nil }
func (f *fakeDriver) greenContexts() bool                  { return false }
func (f *fakeDriver) deviceAttr(_ int, a Attribute) (int, error) {
	v := map[Attribute]int{AttrComputeCapabilityMajor: 9, AttrMultiprocessorCount: 4, AttrMaxSharedPerBlock: 48 << 10,
		AttrMaxSharedPerBlockOptin: 227 << 10, AttrCanMapHostMemory: 1, AttrPCIBusID: 0x1b}[a]
	return v, nil
}
func (f *fakeDriver) streamPriorityRange(handle) (int, int, error) { return 0, -5, nil }
func (f *fakeDriver) memAlloc(_ handle, n int64) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.next
	f.next += uint64(n+255) &^ 255
	f.mem[p] = make([]byte, n)
	return p, nil
}
func (f *fakeDriver) memFree(_ handle, p uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mem[p]; !ok {
		return &Error{Call: "cuMemFree_v2", Code: 1}
	}
	delete(f.mem, p)
	return nil
}
func (f *fakeDriver) hostAlloc(_ handle, n int64) (unsafe.Pointer, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := make([]byte, (n+7)&^7)
	p := f.next
	f.next += uint64(n+255) &^ 255
	f.host[p] = b
	return unsafe.Pointer(&b[0]), p, nil
}
func (f *fakeDriver) hostFree(_ handle, h unsafe.Pointer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, b := range f.host {
		if unsafe.Pointer(&b[0]) == h {
			delete(f.host, p)
			return nil
		}
	}
	return &Error{Call: "cuMemFreeHost", Code: 1}
}
func (f *fakeDriver) copyHtoD(_ handle, dst uint64, src []byte, _ handle) error {
	b := f.find(dst, len(src))
	if b == nil {
		return &Error{Call: "cuMemcpyHtoDAsync_v2", Code: 1}
	}
	copy(b, src)
	return nil
}
func (f *fakeDriver) copyDtoH(_ handle, dst []byte, src uint64, _ handle) error {
	b := f.find(src, len(dst))
	if b == nil {
		return &Error{Call: "cuMemcpyDtoHAsync_v2", Code: 1}
	}
	copy(dst, b)
	return nil
}
func (f *fakeDriver) memset32(_ handle, dst uint64, v uint32, words int64, _ handle) error {
	b := f.find(dst, int(4*words))
	if b == nil {
		return &Error{Call: "cuMemsetD32Async", Code: 1}
	}
	for i := int64(0); i < words; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return nil
}
func (f *fakeDriver) streamCreate(_ handle, prio int) (handle, error) {
	f.mu.Lock()
	f.prios = append(f.prios, prio)
	f.mu.Unlock()
	return unsafe.Pointer(new(int)), nil
}
func (f *fakeDriver) streamSync(_, s handle) error {
	f.mu.Lock()
	ch := f.running[s]
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return nil
}
func (f *fakeDriver) streamDestroy(handle, handle) error                   { return nil }
func (f *fakeDriver) eventCreate(handle) (handle, error)                   { return unsafe.Pointer(new(int)), nil }
func (f *fakeDriver) eventRecord(handle, handle, handle) error             { return nil }
func (f *fakeDriver) eventElapsed(handle, handle, handle) (float32, error) { return 1.5, nil }
func (f *fakeDriver) eventDestroy(handle, handle) error                    { return nil }
func (f *fakeDriver) moduleLoad(_ handle, image string) (handle, string, error) {
	if strings.Contains(image, "broken") {
		e := &Error{Call: "cuModuleLoadDataEx", Code: 218, Log: "ptxas fatal: broken"}
		return nil, "", e
	}
	return unsafe.Pointer(new(int)), "info", nil
}
func (f *fakeDriver) moduleFunction(_, _ handle, name string) (handle, error) {
	if name == "missing" {
		return nil, &Error{Call: "cuModuleGetFunction", Code: 500}
	}
	return unsafe.Pointer(new(int)), nil
}
func (f *fakeDriver) moduleUnload(handle, handle) error { return nil }
func (f *fakeDriver) funcAttr(_, _ handle, a FuncAttribute) (int, error) {
	return map[FuncAttribute]int{FuncNumRegs: 32, FuncMaxThreadsPerBlock: 1024, FuncSharedSizeBytes: 1024}[a], nil
}
func (f *fakeDriver) funcSetAttr(handle, handle, FuncAttribute, int) error { return nil }
func (f *fakeDriver) occupancy(_, _ handle, threads, _ int) (int, error) {
	return max(1, 1024/max(threads, 1)), nil
}
func (f *fakeDriver) launch(_, _ handle, grid, block [3]int, _ int, s handle, vals []uint64, _, _ handle) error {
	ch := make(chan struct{})
	f.mu.Lock()
	f.running[s] = ch
	k := f.kernel
	f.mu.Unlock()
	v := append([]uint64(nil), vals...) // the driver copies the values during the call
	go func() { defer close(ch); k(v) }()
	return nil
}

func fakeDevice(t *testing.T) (*Device, *fakeDriver) {
	f := newFake()
	d, err := newDevice(&library{drv: f, version: 12040}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, f
}

func TestFakeDeviceMemory(t *testing.T) {
	d, _ := fakeDevice(t)
	if d.Units() != 4 || !strings.Contains(d.Name(), "Fake GPU (sm_90, 4 SMs, driver 12.4)") || d.Info().PCI != "0000:1b:00" {
		t.Errorf("name %q, info %+v", d.Name(), d.Info())
	}
	p, err := d.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	d.CopyToDevice(p, []byte{1, 2, 3, 4, 5})
	b := make([]byte, 5)
	if err := d.CopyToHost(b, p); err != nil || string(b) != "\x01\x02\x03\x04\x05" {
		t.Errorf("device round trip %v %v", b, err)
	}
	if err := d.Store32(p.Add(8), 42); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Load32(p.Add(8)); v != 42 || err != nil {
		t.Errorf("device word %d %v", v, err)
	}
	m, err := d.AllocMapped(64)
	if err != nil {
		t.Fatal(err)
	}
	d.Store32(m.Add(12), 7)
	if v, _ := d.Load32(m.Add(12)); v != 7 {
		t.Errorf("mapped word %d", v)
	}
	d.CopyToDevice(m.Add(16), []byte{9, 9})
	d.CopyToHost(b[:4], m.Add(12))
	if binary.LittleEndian.Uint32(b) != 7 {
		t.Errorf("mapped copy %v", b)
	}
	if err := d.Store32(m.Add(2), 1); err == nil {
		t.Error("unaligned store accepted")
	}
	if err := d.Free(m); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(p); err == nil {
		t.Error("double free accepted")
	}
	if _, err := d.Alloc(0); err == nil {
		t.Error("empty allocation accepted")
	}
}

func TestFakeLoadAndLaunch(t *testing.T) {
	d, f := fakeDevice(t)
	if _, err := d.LoadPTX("broken", "k"); err == nil || !strings.Contains(err.Error(), "jit log: ptxas fatal: broken") {
		t.Errorf("broken module: %v", err)
	}
	if _, err := d.LoadPTX("ok", "missing"); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_NOT_FOUND") {
		t.Errorf("missing entry: %v", err)
	}
	k := &plan.Kernel{Name: "k", PTX: "ok", SharedBytes: 100 << 10, Params: []plan.Param{
		{Name: "ctl", Kind: plan.ParamCtl}, {Name: "x", Kind: plan.ParamBuffer}, {Name: "n", Kind: plan.ParamU32}, {Name: "a", Kind: plan.ParamF32}}}
	fn, err := d.Load(k)
	if err != nil {
		t.Fatal(err)
	}
	if fn.(*Function).Info().DynamicSharedMax != 100<<10 || fn.(*Function).Info().Registers != 32 {
		t.Errorf("info %+v", fn.(*Function).Info())
	}
	var got []uint64
	f.kernel = func(v []uint64) { got = v }
	ctl, _ := d.AllocMapped(64)
	cfg := device.LaunchConfig{Grid: [3]int{8}, Block: [3]int{128}, SharedBytes: 100 << 10, Priority: 2}
	el, err := d.LaunchTimed(context.Background(), fn, cfg, ctl, device.Ptr(0x1234), int64(7), float32(1.5))
	if err != nil || el != 1500*time.Microsecond {
		t.Fatalf("launch: %v, %v", el, err)
	}
	want := []uint64{uint64(ctl), 0x1234, 7, uint64(math.Float32bits(1.5))}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d = %#x, want %#x", i, got[i], want[i])
		}
	}
	if f.prios[len(f.prios)-1] != -2 {
		t.Errorf("priority 2 made stream priority %d, want -2", f.prios[len(f.prios)-1])
	}
	for _, bad := range [][]any{{ctl, device.Ptr(1), int64(-1), float32(1)}, {ctl, device.Ptr(1), uint32(1)}, {ctl, device.Ptr(1), uint32(1), 2}} {
		if err := d.Launch(context.Background(), fn, cfg, bad...); err == nil {
			t.Errorf("bad arguments %v accepted", bad)
		}
	}
	if err := d.Launch(context.Background(), fn, device.LaunchConfig{Block: [3]int{2048}}, want[0], device.Ptr(0), uint32(1), float32(0)); err == nil {
		t.Error("2048 threads accepted")
	}
	if d.cudaPriority(-4) != 0 || d.cudaPriority(9) != -5 {
		t.Errorf("priority clamp: %d %d", d.cudaPriority(-4), d.cudaPriority(9))
	}
}

// Cancelling a launch's context sets the kernel's yield word; the kernel leaves; Launch
// returns the context's error after it left.
func TestFakeCancelYields(t *testing.T) {
	d, f := fakeDevice(t)
	fn, err := d.Load(&plan.Kernel{Name: "k", PTX: "ok", Params: []plan.Param{{Name: "ctl", Kind: plan.ParamCtl}}})
	if err != nil {
		t.Fatal(err)
	}
	ctl, _ := d.AllocMapped(int64(4 * protocol.Words(4)))
	h, _ := d.hostAt(ctl, 16)
	yield := (*uint32)(unsafe.Add(h, 4*protocol.WordYield))
	var left atomic.Bool
	f.kernel = func([]uint64) {
		for atomic.LoadUint32(yield) == 0 {
			time.Sleep(time.Millisecond)
		}
		left.Store(true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = d.Launch(ctx, fn, device.LaunchConfig{Grid: [3]int{4}, Block: [3]int{32}}, ctl)
	if !errors.Is(err, context.DeadlineExceeded) || !left.Load() {
		t.Errorf("cancelled launch: %v, kernel left %v", err, left.Load())
	}
}
