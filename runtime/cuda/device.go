package cuda

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/elasticroom/elasticroom/runtime/device"
)

// Info describes an opened GPU, read from the driver.
type Info struct {
	Ordinal             int
	Name                string
	Driver              string // CUDA version the driver supports, e.g. "12.4"
	Library             string // the driver library loaded
	CCMajor, CCMinor    int    // compute capability
	SMs                 int
	TotalMemory         uint64 // bytes
	ClockKHz            int    // SM clock (typical)
	MemoryClockKHz      int    // peak memory clock
	BusWidthBits        int
	L2Bytes             int
	SharedPerBlock      int // without opt-in
	SharedPerBlockOptin int
	SharedPerSM         int
	RegsPerSM           int
	ThreadsPerSM        int
	MaxThreadsPerBlock  int
	CanMapHost          bool
	// Stream priorities: CUDA numbers them Least (lowest priority, usually 0) down to Greatest
	// (highest, a negative number).
	PriorityLeast, PriorityGreatest int
	GreenContexts                   bool   // the driver exports the green-context API (>= 12.4)
	PCI                             string // domain:bus:device, e.g. "0000:1b:00"
}

// Arch is the compute capability as a target name, e.g. "sm_90".
func (i Info) Arch() string { return fmt.Sprintf("sm_%d%d", i.CCMajor, i.CCMinor) }

// Device is one GPU through the driver API: runtime/device's Device. It is safe for concurrent
// use: every driver call makes the device's primary context current on its OS thread.
type Device struct {
	lib  *library
	drv  driver
	dev  int    // CUdevice
	ctx  handle // primary context
	info Info

	ctlStream  handle // highest priority: control-block words, small copies
	copyStream handle // transfers

	mu      sync.Mutex
	allocs  map[device.Ptr]int64 // device memory
	mapped  []mappedRange        // mapped pinned memory, sorted by base
	modules map[string]*module   // by PTX text
	streams map[int][]handle     // idle launch streams per CUDA priority
	all     []handle             // every stream created, for Close
	closed  bool
}

type mappedRange struct {
	base device.Ptr
	size int64
	host unsafe.Pointer
}

var _ device.Device = (*Device)(nil)

func newDevice(l *library, ordinal int) (*Device, error) {
	d := &Device{lib: l, drv: l.drv, allocs: map[device.Ptr]int64{}, modules: map[string]*module{}, streams: map[int][]handle{}}
	var err error
	if d.dev, err = d.drv.deviceGet(ordinal); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	if d.info, err = readInfo(l, d.dev, ordinal); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	if d.ctx, err = d.drv.primaryCtxRetain(d.dev); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d (%s): %w", ordinal, d.info.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if d.info.PriorityLeast, d.info.PriorityGreatest, err = d.drv.streamPriorityRange(d.ctx); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	if d.ctlStream, err = d.newStream(d.info.PriorityGreatest); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	if d.copyStream, err = d.newStream(d.info.PriorityLeast); err != nil {
		return nil, fmt.Errorf("cuda: GPU %d: %w", ordinal, err)
	}
	ok = true
	return d, nil
}

// readInfo reads the device's name, memory and attributes.
func readInfo(l *library, dev, ordinal int) (Info, error) {
	drv := l.drv
	in := Info{Ordinal: ordinal, Driver: versionString(l.version), Library: drv.libraryPath(), GreenContexts: drv.greenContexts()}
	var err error
	if in.Name, err = drv.deviceName(dev); err != nil {
		return in, err
	}
	if in.TotalMemory, err = drv.deviceTotalMem(dev); err != nil {
		return in, err
	}
	var canMap int
	for _, a := range []struct {
		attr Attribute
		dst  *int
	}{
		{AttrComputeCapabilityMajor, &in.CCMajor}, {AttrComputeCapabilityMinor, &in.CCMinor},
		{AttrMultiprocessorCount, &in.SMs}, {AttrClockRate, &in.ClockKHz}, {AttrMemoryClockRate, &in.MemoryClockKHz},
		{AttrGlobalMemoryBusWidth, &in.BusWidthBits}, {AttrL2CacheSize, &in.L2Bytes},
		{AttrMaxSharedPerBlock, &in.SharedPerBlock}, {AttrMaxSharedPerBlockOptin, &in.SharedPerBlockOptin},
		{AttrMaxSharedPerMultiproc, &in.SharedPerSM}, {AttrMaxRegistersPerMultiproc, &in.RegsPerSM},
		{AttrMaxThreadsPerMultiproc, &in.ThreadsPerSM}, {AttrMaxThreadsPerBlock, &in.MaxThreadsPerBlock},
		{AttrCanMapHostMemory, &canMap},
	} {
		if *a.dst, err = drv.deviceAttr(dev, a.attr); err != nil {
			return in, err
		}
	}
	in.CanMapHost = canMap != 0
	var dom, bus, pdev int
	for _, a := range []struct {
		attr Attribute
		dst  *int
	}{{AttrPCIDomainID, &dom}, {AttrPCIBusID, &bus}, {AttrPCIDeviceID, &pdev}} {
		if *a.dst, err = drv.deviceAttr(dev, a.attr); err != nil {
			return in, err
		}
	}
	in.PCI = fmt.Sprintf("%04x:%02x:%02x", dom, bus, pdev)
	return in, nil
}

// Info describes the GPU.
func (d *Device) Info() Info { return d.info }

// Name describes the device, e.g. "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, driver 12.8)".
func (d *Device) Name() string {
	return fmt.Sprintf("cuda:%d %s (%s, %d SMs, driver %s)", d.info.Ordinal, d.info.Name, d.info.Arch(), d.info.SMs, d.info.Driver)
}

// Units is the number of SMs: the bits of a control block's mask.
func (d *Device) Units() int { return d.info.SMs }

// GreenContexts reports whether the driver exports the green-context API (SM partitions in
// hardware, CUDA >= 12.4), the option DESIGN.md section 4 measures against the %smid masks.
func (d *Device) GreenContexts() bool { return d.info.GreenContexts }

func (d *Device) newStream(prio int) (handle, error) {
	s, err := d.drv.streamCreate(d.ctx, prio)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.all = append(d.all, s)
	d.mu.Unlock()
	return s, nil
}

var errClosed = errors.New("cuda: device closed")

// Alloc allocates n bytes of device memory, zeroed.
func (d *Device) Alloc(n int64) (device.Ptr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("cuda: alloc %d bytes: size out of range", n)
	}
	p, err := d.drv.memAlloc(d.ctx, n)
	if err != nil {
		return 0, fmt.Errorf("cuda: alloc %d bytes: %w", n, err)
	}
	if err := d.drv.memset32(d.ctx, p, 0, (n+3)/4, d.copyStream); err != nil {
		d.drv.memFree(d.ctx, p)
		return 0, fmt.Errorf("cuda: zero %d bytes: %w", n, err)
	}
	d.mu.Lock()
	d.allocs[device.Ptr(p)] = n
	d.mu.Unlock()
	return device.Ptr(p), nil
}

// ControlEnv names an environment variable: set to "device", AllocMapped returns device memory
// instead of mapped pinned memory (Store32 then writes through the highest-priority stream), to
// measure the two against each other or to work around a platform whose GPU atomics on host
// memory misbehave.
const ControlEnv = "ELASTICROOM_CUDA_CTL"

// AllocMapped allocates n bytes of mapped pinned host memory, zeroed: kernels reach it at the
// returned device address, the host writes it (Store32) while they run, with no copy and no
// synchronisation. Control blocks live here (see ControlEnv).
func (d *Device) AllocMapped(n int64) (device.Ptr, error) {
	if n <= 0 {
		return 0, fmt.Errorf("cuda: alloc mapped %d bytes: size out of range", n)
	}
	if os.Getenv(ControlEnv) == "device" {
		return d.Alloc(n)
	}
	h, p, err := d.drv.hostAlloc(d.ctx, n)
	if err != nil {
		return 0, fmt.Errorf("cuda: alloc mapped %d bytes: %w", n, err)
	}
	d.mu.Lock()
	d.mapped = append(d.mapped, mappedRange{base: device.Ptr(p), size: n, host: h})
	sort.Slice(d.mapped, func(i, j int) bool { return d.mapped[i].base < d.mapped[j].base })
	d.mu.Unlock()
	return device.Ptr(p), nil
}

// hostAt returns the host address of [p, p+n) when it lies in mapped memory.
func (d *Device) hostAt(p device.Ptr, n int64) (unsafe.Pointer, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := sort.Search(len(d.mapped), func(i int) bool { return d.mapped[i].base > p }) - 1
	if i < 0 {
		return nil, false
	}
	r := d.mapped[i]
	off := int64(p - r.base)
	if off+n > r.size {
		return nil, false
	}
	return unsafe.Add(r.host, off), true
}

// Free releases device or mapped memory.
func (d *Device) Free(p device.Ptr) error {
	d.mu.Lock()
	if _, ok := d.allocs[p]; ok {
		delete(d.allocs, p)
		d.mu.Unlock()
		if err := d.drv.memFree(d.ctx, uint64(p)); err != nil {
			return fmt.Errorf("cuda: free %#x: %w", uint64(p), err)
		}
		return nil
	}
	for i, r := range d.mapped {
		if r.base == p {
			d.mapped = append(d.mapped[:i], d.mapped[i+1:]...)
			d.mu.Unlock()
			if err := d.drv.hostFree(d.ctx, r.host); err != nil {
				return fmt.Errorf("cuda: free mapped %#x: %w", uint64(p), err)
			}
			return nil
		}
	}
	d.mu.Unlock()
	return fmt.Errorf("cuda: free %#x: not an allocation of this device", uint64(p))
}

// CopyToDevice copies src to dst (device or mapped memory) and waits for the copy.
func (d *Device) CopyToDevice(dst device.Ptr, src []byte) error {
	if h, ok := d.hostAt(dst, int64(len(src))); ok {
		copy(unsafe.Slice((*byte)(h), len(src)), src)
		return nil
	}
	if err := d.drv.copyHtoD(d.ctx, uint64(dst), src, d.copyStream); err != nil {
		return fmt.Errorf("cuda: copy %d bytes to %#x: %w", len(src), uint64(dst), err)
	}
	return nil
}

// CopyToHost fills dst from src (device or mapped memory), waiting for the copy.
func (d *Device) CopyToHost(dst []byte, src device.Ptr) error {
	if h, ok := d.hostAt(src, int64(len(dst))); ok {
		copy(dst, unsafe.Slice((*byte)(h), len(dst)))
		return nil
	}
	if err := d.drv.copyDtoH(d.ctx, dst, uint64(src), d.copyStream); err != nil {
		return fmt.Errorf("cuda: copy %d bytes from %#x: %w", len(dst), uint64(src), err)
	}
	return nil
}

// Store32 atomically stores v at p: a plain atomic store for mapped memory (visible to running
// kernels' volatile loads), a 4-byte copy on the highest-priority stream for device memory
// (it does not wait for kernels on other streams).
func (d *Device) Store32(p device.Ptr, v uint32) error {
	if p%4 != 0 {
		return fmt.Errorf("cuda: store32 at %#x: not 4-byte aligned", uint64(p))
	}
	if h, ok := d.hostAt(p, 4); ok {
		atomic.StoreUint32((*uint32)(h), v)
		return nil
	}
	// A copy, not a memset: copies run on a copy engine, while a memset may be a kernel that
	// waits for an SM slot, which persistent kernels may hold until they are told to yield.
	b := [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	if err := d.drv.copyHtoD(d.ctx, uint64(p), b[:], d.ctlStream); err != nil {
		return fmt.Errorf("cuda: store32 at %#x: %w", uint64(p), err)
	}
	return nil
}

// Load32 atomically loads the word at p (see Store32).
func (d *Device) Load32(p device.Ptr) (uint32, error) {
	if p%4 != 0 {
		return 0, fmt.Errorf("cuda: load32 at %#x: not 4-byte aligned", uint64(p))
	}
	if h, ok := d.hostAt(p, 4); ok {
		return atomic.LoadUint32((*uint32)(h)), nil
	}
	var b [4]byte
	if err := d.drv.copyDtoH(d.ctx, b[:], uint64(p), d.ctlStream); err != nil {
		return 0, fmt.Errorf("cuda: load32 at %#x: %w", uint64(p), err)
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

// Close frees every allocation, module and stream of the device and releases its primary
// context. Launches must have returned.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	allocs, mapped, mods, streams := d.allocs, d.mapped, d.modules, d.all
	d.allocs, d.mapped, d.modules, d.all, d.streams = nil, nil, nil, nil, nil
	d.mu.Unlock()
	var errs []error
	for p := range allocs {
		errs = append(errs, d.drv.memFree(d.ctx, uint64(p)))
	}
	for _, r := range mapped {
		errs = append(errs, d.drv.hostFree(d.ctx, r.host))
	}
	for _, m := range mods {
		errs = append(errs, d.drv.moduleUnload(d.ctx, m.h))
	}
	for _, s := range streams {
		errs = append(errs, d.drv.streamDestroy(d.ctx, s))
	}
	if d.ctx != nil {
		errs = append(errs, d.drv.primaryCtxRelease(d.dev))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cuda: close: %w", err)
	}
	return nil
}
