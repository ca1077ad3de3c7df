package cuda

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/elasticroom/elasticroom/kernels/ptx/ptxsim"
)

// SimPrefix, as the start of ELASTICROOM_LIBCUDA (or of OpenLibrary's path), selects the
// simulated GPU instead of a driver library: "sim" (8 SMs) or "sim:N" (N SMs, 1..264). It is
// the driver API implemented in Go over kernels/ptx/ptxsim, a PTX interpreter: modules are the
// PTX text the compiler emitted, parsed as the JIT would take it; launches run it block by block
// on N virtual SMs (%smid), concurrently, while the host writes control words in mapped memory;
// streams, events, priorities, copies and function attributes behave as the driver's do. It
// needs no cgo and no GPU, and runs thousands of times slower than one: it exists to run the
// cuda device's code path (this package, runtime/exec on it, the GPU tests and the GPU harness)
// end to end on machines without a GPU, checking the emitted PTX's meaning along the way.
const SimPrefix = "sim"

// Simulated reports whether d is the simulated GPU (SimPrefix), not a real one.
func (d *Device) Simulated() bool {
	_, ok := d.drv.(*simDriver)
	return ok
}

// simDefaultSMs is the SM count of "sim".
const simDefaultSMs = 8

// parseSim reads a sim spec; ok is false when path does not name the simulator.
func parseSim(path string) (sms int, ok bool, err error) {
	if path != SimPrefix && !strings.HasPrefix(path, SimPrefix+":") {
		return 0, false, nil
	}
	if path == SimPrefix {
		return simDefaultSMs, true, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(path, SimPrefix+":"))
	if err != nil || n < 1 || n > 264 {
		return 0, true, fmt.Errorf("%s=%q: want %s or %s:N with 1 <= N <= 264 SMs", LibraryEnv, path, SimPrefix, SimPrefix)
	}
	return n, true, nil
}

// simDriver is the simulated GPU (see SimPrefix): one device of compute capability 9.0 with
// per-SM limits of an H100.
type simDriver struct {
	sms int
	mem simMemory

	mu       sync.Mutex
	retained int   // primary context users
	sticky   error // a kernel fault: like CUDA_ERROR_ILLEGAL_ADDRESS, it poisons the context
}

type simModule struct{ m *ptxsim.Module }

type simFunc struct {
	k      *ptxsim.Kernel
	mu     sync.Mutex
	maxDyn int // bytes of dynamic shared memory allowed (cuFuncSetAttribute)
}

const (
	simSharedPerBlock = 48 << 10
	simSharedOptin    = 227 << 10
	simSharedPerSM    = 228 << 10
	simRegsPerSM      = 65536
	simThreadsPerSM   = 2048
	simBlocksPerSM    = 32
)

func newSimDriver(sms int) *simDriver { return &simDriver{sms: sms} }

func simErr(call string, code Result, format string, args ...any) *Error {
	return &Error{Call: call, Code: code, Message: "simulated GPU: " + fmt.Sprintf(format, args...)}
}

// fault reports a kernel's failure the way the driver does: on the stream's next
// synchronisation, and on every call after it.
func (f *simDriver) fault(err error) *Error {
	e := simErr("cuLaunchKernel", 700, "%v", err) // CUDA_ERROR_ILLEGAL_ADDRESS
	f.mu.Lock()
	if f.sticky == nil {
		f.sticky = e
	}
	f.mu.Unlock()
	return e
}

func (f *simDriver) poisoned() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sticky
}

func (f *simDriver) libraryPath() string {
	return fmt.Sprintf("%s:%d (simulated GPU, kernels/ptx/ptxsim)", SimPrefix, f.sms)
}
func (f *simDriver) init() error                 { return nil }
func (f *simDriver) driverVersion() (int, error) { return 12040, nil }
func (f *simDriver) deviceCount() (int, error)   { return 1, nil }

// primaryCtxRetain and primaryCtxRelease count the context's users; when the last one
// releases it, the context is destroyed as the driver's would be, with its fault.
func (f *simDriver) primaryCtxRetain(int) (handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retained++
	return unsafe.Pointer(f), nil
}

func (f *simDriver) primaryCtxRelease(int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retained--; f.retained == 0 {
		f.sticky = nil
	}
	return nil
}
func (f *simDriver) greenContexts() bool                { return false }
func (f *simDriver) deviceTotalMem(int) (uint64, error) { return 80 << 30, nil }

func (f *simDriver) deviceGet(o int) (int, error) {
	if o != 0 {
		return 0, simErr("cuDeviceGet", 101, "one device, ordinal %d asked for", o)
	}
	return 0, nil
}

func (f *simDriver) deviceName(int) (string, error) {
	return fmt.Sprintf("ElasticRoom simulated GPU (PTX interpreter, %d SMs)", f.sms), nil
}

func (f *simDriver) deviceAttr(_ int, a Attribute) (int, error) {
	v, ok := map[Attribute]int{
		AttrMaxThreadsPerBlock: 1024, AttrMaxSharedPerBlock: simSharedPerBlock, AttrWarpSize: 32,
		AttrClockRate: 1_980_000, AttrMultiprocessorCount: f.sms, AttrCanMapHostMemory: 1,
		AttrConcurrentKernels: 1, AttrPCIBusID: 0, AttrPCIDeviceID: 0, AttrPCIDomainID: 0,
		AttrMemoryClockRate: 2_619_000, AttrGlobalMemoryBusWidth: 5120, AttrL2CacheSize: 50 << 20,
		AttrMaxThreadsPerMultiproc: simThreadsPerSM, AttrUnifiedAddressing: 1,
		AttrComputeCapabilityMajor: 9, AttrComputeCapabilityMinor: 0, AttrStreamPrioritiesSupported: 1,
		AttrMaxSharedPerMultiproc: simSharedPerSM, AttrMaxRegistersPerMultiproc: simRegsPerSM,
		AttrComputePreemptionSupported: 1, AttrMaxSharedPerBlockOptin: simSharedOptin,
	}[a]
	if !ok {
		return 0, simErr("cuDeviceGetAttribute("+a.String()+")", 1, "attribute not simulated")
	}
	return v, nil
}

func (f *simDriver) streamPriorityRange(handle) (int, int, error) { return 0, -5, nil }

func (f *simDriver) memAlloc(_ handle, n int64) (uint64, error) {
	if n <= 0 {
		return 0, simErr("cuMemAlloc_v2", 1, "%d bytes", n)
	}
	p, _ := f.mem.alloc(n, false)
	return p, nil
}

func (f *simDriver) memFree(_ handle, p uint64) error {
	if !f.mem.free(p) {
		return simErr("cuMemFree_v2", 1, "%#x is not an allocation", p)
	}
	return nil
}

func (f *simDriver) hostAlloc(_ handle, n int64) (unsafe.Pointer, uint64, error) {
	if n <= 0 {
		return nil, 0, simErr("cuMemHostAlloc", 1, "%d bytes", n)
	}
	p, buf := f.mem.alloc(n, true)
	return unsafe.Pointer(&buf[0]), p, nil
}

func (f *simDriver) hostFree(_ handle, h unsafe.Pointer) error {
	if !f.mem.freeHost(h) {
		return simErr("cuMemFreeHost", 1, "%p is not mapped host memory", h)
	}
	return nil
}

// copyOn runs a copy on stream s and waits for it, as the cgo driver's copies do.
func (f *simDriver) copyOn(call string, s handle, op func() error) error {
	if err := f.poisoned(); err != nil {
		return err
	}
	st := (*simStream)(s)
	st.enqueue(op)
	if err := st.sync(); err != nil {
		return simErr(call, 1, "%v", err)
	}
	return nil
}

func (f *simDriver) copyHtoD(_ handle, dst uint64, src []byte, s handle) error {
	return f.copyOn("cuMemcpyHtoDAsync_v2", s, func() error {
		b, err := f.mem.Bytes(dst, len(src))
		if err == nil {
			copy(b, src)
		}
		return err
	})
}

func (f *simDriver) copyDtoH(_ handle, dst []byte, src uint64, s handle) error {
	return f.copyOn("cuMemcpyDtoHAsync_v2", s, func() error {
		b, err := f.mem.Bytes(src, len(dst))
		if err == nil {
			copy(dst, b)
		}
		return err
	})
}

func (f *simDriver) memset32(_ handle, dst uint64, v uint32, words int64, s handle) error {
	return f.copyOn("cuMemsetD32Async", s, func() error {
		if dst%4 != 0 {
			return fmt.Errorf("%#x is not 4-byte aligned", dst)
		}
		b, err := f.mem.Bytes(dst, int(words*4))
		if err != nil {
			return err
		}
		for i := 0; i+4 <= len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		return nil
	})
}

func (f *simDriver) streamCreate(_ handle, prio int) (handle, error) {
	return unsafe.Pointer(newSimStream(prio)), nil
}

func (f *simDriver) streamSync(_, s handle) error {
	if err := (*simStream)(s).sync(); err != nil {
		return err
	}
	return f.poisoned()
}

func (f *simDriver) streamDestroy(_, s handle) error { return nil }

func (f *simDriver) eventCreate(handle) (handle, error) { return unsafe.Pointer(&simEvent{}), nil }

func (f *simDriver) eventRecord(_, e, s handle) error {
	(*simEvent)(e).record((*simStream)(s))
	return nil
}

func (f *simDriver) eventElapsed(_, a, b handle) (float32, error) {
	tb, okb := (*simEvent)(b).wait()
	ta, oka := (*simEvent)(a).wait()
	if !oka || !okb {
		return 0, simErr("cuEventElapsedTime", 400, "event never recorded") // CUDA_ERROR_INVALID_HANDLE
	}
	return float32(tb.Sub(ta).Seconds() * 1000), nil
}

func (f *simDriver) eventDestroy(_, e handle) error { return nil }

func (f *simDriver) moduleLoad(_ handle, image string) (handle, string, error) {
	m, err := ptxsim.Parse(image)
	if err != nil {
		e := simErr("cuModuleLoadDataEx", ErrorInvalid, "the PTX does not parse")
		e.Log = err.Error()
		return nil, "", e
	}
	return unsafe.Pointer(&simModule{m: m}), fmt.Sprintf("ptxsim: %d kernels parsed", len(m.Kernels())), nil
}

func (f *simDriver) moduleFunction(_, m handle, name string) (handle, error) {
	k, err := (*simModule)(m).m.Kernel(name)
	if err != nil {
		return nil, simErr("cuModuleGetFunction("+name+")", 500, "%v", err) // CUDA_ERROR_NOT_FOUND
	}
	return unsafe.Pointer(&simFunc{k: k, maxDyn: max(0, simSharedPerBlock-k.StaticShared())}), nil
}

func (f *simDriver) moduleUnload(_, m handle) error { return nil }

// regs is the register count the simulated JIT reports: .maxnreg when the kernel sets one,
// else the declared registers, capped at 255 as ptxas would.
func (fn *simFunc) regs() int {
	if r := fn.k.MaxRegs(); r > 0 {
		return r
	}
	return min(max(fn.k.Registers(), 16), 255)
}

func (f *simDriver) funcAttr(_, h handle, a FuncAttribute) (int, error) {
	fn := (*simFunc)(h)
	switch a {
	case FuncMaxThreadsPerBlock:
		if t := fn.k.MaxThreads(); t > 0 {
			return min(t, 1024), nil
		}
		return 1024, nil
	case FuncSharedSizeBytes:
		return fn.k.StaticShared(), nil
	case FuncConstSizeBytes, FuncLocalSizeBytes:
		return 0, nil
	case FuncNumRegs:
		return fn.regs(), nil
	case FuncPTXVersion, FuncBinaryVersion:
		return 90, nil
	case FuncMaxDynamicShared:
		fn.mu.Lock()
		defer fn.mu.Unlock()
		return fn.maxDyn, nil
	}
	return 0, simErr("cuFuncGetAttribute("+a.String()+")", 1, "attribute not simulated")
}

func (f *simDriver) funcSetAttr(_, h handle, a FuncAttribute, v int) error {
	fn := (*simFunc)(h)
	if a != FuncMaxDynamicShared {
		return simErr("cuFuncSetAttribute("+a.String()+")", 1, "attribute not simulated")
	}
	if v < 0 || v+fn.k.StaticShared() > simSharedOptin {
		return simErr("cuFuncSetAttribute("+a.String()+")", 1, "%d bytes beside %d static exceed %d", v, fn.k.StaticShared(), simSharedOptin)
	}
	fn.mu.Lock()
	fn.maxDyn = v
	fn.mu.Unlock()
	return nil
}

// occupancy1 is how many blocks of the launch fit on one SM, as the hardware computes it.
func (f *simDriver) occupancy1(fn *simFunc, threads, shared int) int {
	warps := (threads + 31) / 32
	n := min(simBlocksPerSM, simThreadsPerSM/(warps*32))
	if shared > 0 {
		n = min(n, simSharedPerSM/(shared+1024)) // the driver reserves 1 KiB per block
	}
	// Registers are allocated per warp in units of 256, from one of 4 sub-partitions' files.
	perWarp := (fn.regs()*32 + 255) / 256 * 256
	return min(n, (simRegsPerSM/4/perWarp)*4/warps)
}

func (f *simDriver) occupancy(_, h handle, threads, dynShared int) (int, error) {
	fn := (*simFunc)(h)
	return f.occupancy1(fn, threads, fn.k.StaticShared()+dynShared), nil
}

func (f *simDriver) launch(_, h handle, grid, block [3]int, shared int, s handle, vals []uint64, start, stop handle) error {
	const call = "cuLaunchKernel"
	if err := f.poisoned(); err != nil {
		return err
	}
	fn := (*simFunc)(h)
	if np := len(fn.k.Params()); np != len(vals) {
		return simErr(call, 1, "kernel %s takes %d parameters, %d given", fn.k.Name(), np, len(vals))
	}
	threads := max(block[0], 1) * max(block[1], 1) * max(block[2], 1)
	limit, _ := f.funcAttr(nil, h, FuncMaxThreadsPerBlock)
	if threads > limit {
		return simErr(call, 1, "%d threads per block, kernel %s allows %d", threads, fn.k.Name(), limit)
	}
	fn.mu.Lock()
	maxDyn := fn.maxDyn
	fn.mu.Unlock()
	if shared > maxDyn {
		return simErr(call, 1, "%d bytes of dynamic shared memory, kernel %s allows %d", shared, fn.k.Name(), maxDyn)
	}
	occ := f.occupancy1(fn, threads, fn.k.StaticShared()+shared)
	if occ < 1 {
		return simErr(call, 701, "kernel %s: a block of %d threads does not fit on an SM", fn.k.Name(), threads) // LAUNCH_OUT_OF_RESOURCES
	}
	st := (*simStream)(s)
	if start != nil {
		(*simEvent)(start).record(st)
	}
	l := ptxsim.Launch{Grid: grid, Block: block, DynShared: shared, Params: append([]uint64(nil), vals...)}
	cfg := ptxsim.Config{SMs: f.sms, BlocksPerSM: occ}
	st.enqueue(func() error {
		if err := f.poisoned(); err != nil {
			return err
		}
		if _, err := ptxsim.Run(context.Background(), fn.k, &f.mem, cfg, l); err != nil {
			return f.fault(err)
		}
		return nil
	})
	if stop != nil {
		(*simEvent)(stop).record(st)
	}
	return nil
}
