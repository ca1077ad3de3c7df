package cuda

import "unsafe"

// handle is an opaque driver handle (CUcontext, CUmodule, CUfunction, CUstream, CUevent):
// memory the driver owns, never Go memory.
type handle = unsafe.Pointer

// driver is the CUDA driver API as this package uses it. The cgo build reaches libcuda.so.1
// through dlopen (driver_cgo.go); a build without cgo has none (driver_nocgo.go). Every call
// that works in a context takes it and makes it current on the calling OS thread first, so
// callers may come from any goroutine.
type driver interface {
	libraryPath() string
	init() error
	driverVersion() (int, error)
	deviceCount() (int, error)
	deviceGet(ordinal int) (int, error)
	deviceName(dev int) (string, error)
	deviceAttr(dev int, a Attribute) (int, error)
	deviceTotalMem(dev int) (uint64, error)
	primaryCtxRetain(dev int) (handle, error)
	primaryCtxRelease(dev int) error
	greenContexts() bool

	streamPriorityRange(ctx handle) (least, greatest int, err error)
	memAlloc(ctx handle, n int64) (uint64, error)
	memFree(ctx handle, p uint64) error
	hostAlloc(ctx handle, n int64) (host unsafe.Pointer, dev uint64, err error)
	hostFree(ctx handle, h unsafe.Pointer) error
	copyHtoD(ctx handle, dst uint64, src []byte, s handle) error
	copyDtoH(ctx handle, dst []byte, src uint64, s handle) error
	memset32(ctx handle, dst uint64, v uint32, words int64, s handle) error

	streamCreate(ctx handle, prio int) (handle, error)
	streamSync(ctx, s handle) error
	streamDestroy(ctx, s handle) error
	eventCreate(ctx handle) (handle, error)
	eventRecord(ctx, e, s handle) error
	eventElapsed(ctx, a, b handle) (float32, error) // waits for b
	eventDestroy(ctx, e handle) error

	moduleLoad(ctx handle, image string) (m handle, infoLog string, err error)
	moduleFunction(ctx, m handle, name string) (handle, error)
	moduleUnload(ctx, m handle) error
	funcAttr(ctx, f handle, a FuncAttribute) (int, error)
	funcSetAttr(ctx, f handle, a FuncAttribute, v int) error
	launch(ctx, f handle, grid, block [3]int, shared int, s handle, vals []uint64, start, stop handle) error
	// occupancy is cuOccupancyMaxActiveBlocksPerMultiprocessor: how many blocks of f with
	// threads threads and dynShared bytes of dynamic shared memory fit on one SM at once.
	occupancy(ctx, f handle, threads, dynShared int) (int, error)
}
