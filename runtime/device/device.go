// Package device is ElasticRoom's device abstraction: the Device interface every executor of
// compiled plans runs on (memory, kernel modules, launches restricted to a unit mask through
// the persistent protocol's control block), and the registry through which device packages
// (runtime/emu, runtime/cuda, ...) make themselves known.
//
// A device has Units: the SMs of a GPU (real or emulated) or the workers of a CPU device; a
// kernel's control block (and the signal block it names) says which units it may run tiles
// on. Memory is addressed by Ptr; the words the host writes while kernels run (yield, the unit
// mask) live in mapped memory, written with Store32 (the runtime preempts a kernel without any
// device synchronisation).
//
// Launch is synchronous and cancellable through its context: concurrency between launches
// (tenants, priorities) is the caller's goroutines, each launch carrying its priority. A device
// that can also queue launches without waiting (a GPU stream) implements Queuer.
//
// device imports compiler/plan (the Kernel a module is loaded from) and compiler/budget (the
// Target data type) only; it must never import a device implementation (runtime/emu,
// runtime/cuda, runtime/cpu): they register themselves with Register from their init.
package device

import (
	"context"
	"errors"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
)

// Ptr is a device memory address; 0 is the null pointer.
type Ptr uint64

// Add returns p advanced by n bytes.
func (p Ptr) Add(n int64) Ptr { return p + Ptr(n) }

// Memory is a device's memory. Alloc and AllocMapped return memory aligned to at least
// Alignment bytes. Store32 and Load32 are atomic 32-bit accesses, safe while kernels run, on
// mapped memory (devices may allow them elsewhere too).
type Memory interface {
	Alloc(bytes int64) (Ptr, error)
	AllocMapped(bytes int64) (Ptr, error) // host-writable while kernels run (control blocks)
	Free(p Ptr) error
	CopyToDevice(dst Ptr, src []byte) error
	CopyToHost(dst []byte, src Ptr) error
	Store32(p Ptr, v uint32) error
	Load32(p Ptr) (uint32, error)
}

// Alignment is the smallest alignment of an allocation every device guarantees (the kernel
// templates use 16-byte vector loads; plans align arena offsets to 256).
const Alignment = 256

// Function is a kernel loaded on a device, ready to launch.
type Function interface {
	Name() string
}

// LaunchConfig is the shape of one launch.
type LaunchConfig struct {
	Grid, Block   [3]int // blocks per grid and threads per block (0 counts as 1)
	SharedBytes   int    // dynamic shared memory per block
	RegsPerThread int    // registers per thread, for occupancy (0: the kernel's own figure)
	Priority      int    // scheduling priority: higher runs first where the device has priorities
}

// Device runs plan kernels. Launch args bind the kernel's parameters in order: pointers as Ptr,
// scalars as uint32, int32, uint64, int64 or float32 matching the parameter's type. Launch
// returns when the launch has finished (every block has left), or with ctx's error once ctx is
// done (the launch is then aborted).
type Device interface {
	Memory
	Name() string
	Units() int // SMs (or CPU workers): the bits of a control block's unit mask
	Load(k *plan.Kernel) (Function, error)
	Launch(ctx context.Context, fn Function, cfg LaunchConfig, args ...any) error
	Close() error
}

// Resident is implemented by devices that know how many blocks of a loaded function are
// resident on one unit at once: a GPU asks its driver, which knows the registers its JIT gave
// the function (the compiler only estimated them). Executors size persistent grids with it.
type Resident interface {
	BlocksPerUnit(fn Function, threads, dynamicShared int) (int, error)
}

// Queuer is implemented by devices that can queue launches: a Queue's launches run in the
// order they were queued, asynchronously to the host, which waits once for a whole sequence
// (a GPU stream). Executors queue a plan's kernels back to back this way instead of waiting
// for each; kernels then guard each other through their control blocks (kernels/kir/protocol:
// the signal and after words).
type Queuer interface {
	NewQueue(priority int) (Queue, error)
}

// Queue is an ordered queue of launches on a device.
type Queue interface {
	// Launch queues fn and returns once the device has it (configuration errors come back
	// here, faults of the running kernel from Sync). The arguments are taken as Launch's.
	Launch(fn Function, cfg LaunchConfig, args ...any) error
	// Sync waits for everything queued so far and returns the first failure among it.
	Sync() error
	// Close waits for the queue and releases it.
	Close() error
}

// Options are what an opener may be told about the device wanted.
type Options struct {
	// Target is the GPU model a plan was compiled for. Emulated devices take their units and
	// per-unit limits from it (zero: the device's default); real devices ignore it.
	Target budget.Target
	// Units caps the units of a device whose unit count is free (emu, cpu); 0: the Target's.
	Units int
}

// Opener opens a device.
type Opener func(Options) (Device, error)

// ErrUnknown is wrapped by Open's error for a name nobody registered.
var ErrUnknown = errors.New("unknown device")
