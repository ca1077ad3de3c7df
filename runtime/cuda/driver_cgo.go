//go:build cgo && linux

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The CUDA driver API's types, declared here (no cuda.h): handles are opaque pointers,
// device addresses 64-bit integers, results and devices ints.
typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;

// Enum values of cuda.h the wrappers use (pinned by the tests through cConstants).
#define ER_JIT_INFO_LOG_BUFFER 3
#define ER_JIT_INFO_LOG_BUFFER_SIZE_BYTES 4
#define ER_JIT_ERROR_LOG_BUFFER 5
#define ER_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6
#define ER_JIT_LOG_VERBOSE 12
#define ER_MEMHOSTALLOC_PORTABLE 0x01
#define ER_MEMHOSTALLOC_DEVICEMAP 0x02
#define ER_STREAM_NON_BLOCKING 0x1
#define ER_EVENT_DEFAULT 0x0
#define ER_ERROR_INVALID_VALUE 1

// ER_NOSYM is returned by a wrapper whose driver symbol was not found in the library.
#define ER_NOSYM (-1)

typedef struct {
	void *handle;
	CUresult (*cuInit)(unsigned int);
	CUresult (*cuDriverGetVersion)(int *);
	CUresult (*cuGetErrorName)(CUresult, const char **);
	CUresult (*cuGetErrorString)(CUresult, const char **);
	CUresult (*cuDeviceGetCount)(int *);
	CUresult (*cuDeviceGet)(CUdevice *, int);
	CUresult (*cuDeviceGetName)(char *, int, CUdevice);
	CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
	CUresult (*cuDeviceTotalMem_v2)(size_t *, CUdevice);
	CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
	CUresult (*cuDevicePrimaryCtxRelease_v2)(CUdevice);
	CUresult (*cuCtxSetCurrent)(CUcontext);
	CUresult (*cuCtxGetStreamPriorityRange)(int *, int *);
	CUresult (*cuMemAlloc_v2)(CUdeviceptr *, size_t);
	CUresult (*cuMemFree_v2)(CUdeviceptr);
	CUresult (*cuMemHostAlloc)(void **, size_t, unsigned int);
	CUresult (*cuMemHostGetDevicePointer_v2)(CUdeviceptr *, void *, unsigned int);
	CUresult (*cuMemFreeHost)(void *);
	CUresult (*cuMemcpyHtoDAsync_v2)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*cuMemcpyDtoHAsync_v2)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned int, size_t, CUstream);
	CUresult (*cuStreamCreateWithPriority)(CUstream *, unsigned int, int);
	CUresult (*cuStreamSynchronize)(CUstream);
	CUresult (*cuStreamDestroy_v2)(CUstream);
	CUresult (*cuEventCreate)(CUevent *, unsigned int);
	CUresult (*cuEventRecord)(CUevent, CUstream);
	CUresult (*cuEventSynchronize)(CUevent);
	CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
	CUresult (*cuEventDestroy_v2)(CUevent);
	CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned int, int *, void **);
	CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
	CUresult (*cuModuleUnload)(CUmodule);
	CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
	CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
	CUresult (*cuLaunchKernel)(CUfunction, unsigned int, unsigned int, unsigned int,
		unsigned int, unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
	CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *, CUfunction, int, size_t);
	// Green contexts (driver >= 12.4): only looked up, never required.
	void *cuGreenCtxCreate;
	void *cuDevSmResourceSplitByCount;
	void *cuDeviceGetDevResource;
	void *cuDevResourceGenerateDesc;
} er_lib;

#define ER_SYM(l, name) (l)->name = dlsym((l)->handle, #name)

// er_open dlopens path and resolves every symbol; a missing symbol leaves its pointer NULL
// (the wrapper then answers ER_NOSYM). It returns NULL with *err set when dlopen fails.
static er_lib *er_open(const char *path, char **err) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		*err = strdup(e ? e : "dlopen failed");
		return NULL;
	}
	er_lib *l = calloc(1, sizeof(er_lib));
	l->handle = h;
	ER_SYM(l, cuInit);
	ER_SYM(l, cuDriverGetVersion);
	ER_SYM(l, cuGetErrorName);
	ER_SYM(l, cuGetErrorString);
	ER_SYM(l, cuDeviceGetCount);
	ER_SYM(l, cuDeviceGet);
	ER_SYM(l, cuDeviceGetName);
	ER_SYM(l, cuDeviceGetAttribute);
	ER_SYM(l, cuDeviceTotalMem_v2);
	ER_SYM(l, cuDevicePrimaryCtxRetain);
	ER_SYM(l, cuDevicePrimaryCtxRelease_v2);
	ER_SYM(l, cuCtxSetCurrent);
	ER_SYM(l, cuCtxGetStreamPriorityRange);
	ER_SYM(l, cuMemAlloc_v2);
	ER_SYM(l, cuMemFree_v2);
	ER_SYM(l, cuMemHostAlloc);
	ER_SYM(l, cuMemHostGetDevicePointer_v2);
	ER_SYM(l, cuMemFreeHost);
	ER_SYM(l, cuMemcpyHtoDAsync_v2);
	ER_SYM(l, cuMemcpyDtoHAsync_v2);
	ER_SYM(l, cuMemsetD32Async);
	ER_SYM(l, cuStreamCreateWithPriority);
	ER_SYM(l, cuStreamSynchronize);
	ER_SYM(l, cuStreamDestroy_v2);
	ER_SYM(l, cuEventCreate);
	ER_SYM(l, cuEventRecord);
	ER_SYM(l, cuEventSynchronize);
	ER_SYM(l, cuEventElapsedTime);
	ER_SYM(l, cuEventDestroy_v2);
	ER_SYM(l, cuModuleLoadDataEx);
	ER_SYM(l, cuModuleGetFunction);
	ER_SYM(l, cuModuleUnload);
	ER_SYM(l, cuFuncGetAttribute);
	ER_SYM(l, cuFuncSetAttribute);
	ER_SYM(l, cuLaunchKernel);
	ER_SYM(l, cuOccupancyMaxActiveBlocksPerMultiprocessor);
	ER_SYM(l, cuGreenCtxCreate);
	ER_SYM(l, cuDevSmResourceSplitByCount);
	ER_SYM(l, cuDeviceGetDevResource);
	ER_SYM(l, cuDevResourceGenerateDesc);
	return l;
}

// er_missing returns the name of the first required symbol the library lacks, or NULL.
static const char *er_missing(er_lib *l) {
#define ER_REQ(name) if (!l->name) return #name;
	ER_REQ(cuInit) ER_REQ(cuDriverGetVersion) ER_REQ(cuDeviceGetCount) ER_REQ(cuDeviceGet)
	ER_REQ(cuDeviceGetName) ER_REQ(cuDeviceGetAttribute) ER_REQ(cuDeviceTotalMem_v2)
	ER_REQ(cuDevicePrimaryCtxRetain) ER_REQ(cuDevicePrimaryCtxRelease_v2) ER_REQ(cuCtxSetCurrent)
	ER_REQ(cuCtxGetStreamPriorityRange) ER_REQ(cuMemAlloc_v2) ER_REQ(cuMemFree_v2)
	ER_REQ(cuMemHostAlloc) ER_REQ(cuMemHostGetDevicePointer_v2) ER_REQ(cuMemFreeHost)
	ER_REQ(cuMemcpyHtoDAsync_v2) ER_REQ(cuMemcpyDtoHAsync_v2) ER_REQ(cuMemsetD32Async)
	ER_REQ(cuStreamCreateWithPriority) ER_REQ(cuStreamSynchronize) ER_REQ(cuStreamDestroy_v2)
	ER_REQ(cuEventCreate) ER_REQ(cuEventRecord) ER_REQ(cuEventSynchronize)
	ER_REQ(cuEventElapsedTime) ER_REQ(cuEventDestroy_v2) ER_REQ(cuModuleLoadDataEx)
	ER_REQ(cuModuleGetFunction) ER_REQ(cuModuleUnload) ER_REQ(cuFuncGetAttribute)
	ER_REQ(cuFuncSetAttribute) ER_REQ(cuLaunchKernel)
#undef ER_REQ
	return NULL;
}

static int er_green(er_lib *l) {
	return l->cuGreenCtxCreate && l->cuDevSmResourceSplitByCount && l->cuDeviceGetDevResource &&
		l->cuDevResourceGenerateDesc;
}

// er_cur makes ctx current on the calling OS thread (every wrapper that works in a context
// starts with it, so goroutines may move between threads freely).
#define ER_CUR(l, ctx) do { if (ctx) { CUresult r_ = (l)->cuCtxSetCurrent(ctx); if (r_) return r_; } } while (0)
#define ER_CALL(l, name, ...) ((l)->name ? (l)->name(__VA_ARGS__) : ER_NOSYM)

static CUresult er_init(er_lib *l) { return ER_CALL(l, cuInit, 0); }
static CUresult er_driver_version(er_lib *l, int *v) { return ER_CALL(l, cuDriverGetVersion, v); }
static CUresult er_error_name(er_lib *l, CUresult r, const char **s) { return ER_CALL(l, cuGetErrorName, r, s); }
static CUresult er_error_string(er_lib *l, CUresult r, const char **s) { return ER_CALL(l, cuGetErrorString, r, s); }
static CUresult er_device_count(er_lib *l, int *n) { return ER_CALL(l, cuDeviceGetCount, n); }
static CUresult er_device_get(er_lib *l, CUdevice *d, int ord) { return ER_CALL(l, cuDeviceGet, d, ord); }
static CUresult er_device_name(er_lib *l, char *buf, int n, CUdevice d) { return ER_CALL(l, cuDeviceGetName, buf, n, d); }
static CUresult er_device_attr(er_lib *l, int *v, int a, CUdevice d) { return ER_CALL(l, cuDeviceGetAttribute, v, a, d); }
static CUresult er_device_mem(er_lib *l, size_t *v, CUdevice d) { return ER_CALL(l, cuDeviceTotalMem_v2, v, d); }
static CUresult er_ctx_retain(er_lib *l, CUcontext *c, CUdevice d) { return ER_CALL(l, cuDevicePrimaryCtxRetain, c, d); }
static CUresult er_ctx_release(er_lib *l, CUdevice d) { return ER_CALL(l, cuDevicePrimaryCtxRelease_v2, d); }

static CUresult er_prio_range(er_lib *l, CUcontext c, int *least, int *greatest) {
	ER_CUR(l, c);
	return l->cuCtxGetStreamPriorityRange(least, greatest);
}
static CUresult er_mem_alloc(er_lib *l, CUcontext c, CUdeviceptr *p, size_t n) {
	ER_CUR(l, c);
	return l->cuMemAlloc_v2(p, n);
}
static CUresult er_mem_free(er_lib *l, CUcontext c, CUdeviceptr p) {
	ER_CUR(l, c);
	return l->cuMemFree_v2(p);
}
// er_host_alloc allocates portable, mapped pinned memory and returns its host and device addresses.
static CUresult er_host_alloc(er_lib *l, CUcontext c, void **h, CUdeviceptr *d, size_t n) {
	ER_CUR(l, c);
	CUresult r = l->cuMemHostAlloc(h, n, ER_MEMHOSTALLOC_PORTABLE | ER_MEMHOSTALLOC_DEVICEMAP);
	if (r) return r;
	memset(*h, 0, n);
	r = l->cuMemHostGetDevicePointer_v2(d, *h, 0);
	if (r) l->cuMemFreeHost(*h);
	return r;
}
static CUresult er_host_free(er_lib *l, CUcontext c, void *h) {
	ER_CUR(l, c);
	return l->cuMemFreeHost(h);
}
// The copies and the memset are asynchronous on stream s and waited for here, so the host
// buffer (Go memory) is used only while this call runs.
static CUresult er_htod(er_lib *l, CUcontext c, CUdeviceptr dst, const void *src, size_t n, CUstream s) {
	ER_CUR(l, c);
	CUresult r = l->cuMemcpyHtoDAsync_v2(dst, src, n, s);
	if (r) return r;
	return l->cuStreamSynchronize(s);
}
static CUresult er_dtoh(er_lib *l, CUcontext c, void *dst, CUdeviceptr src, size_t n, CUstream s) {
	ER_CUR(l, c);
	CUresult r = l->cuMemcpyDtoHAsync_v2(dst, src, n, s);
	if (r) return r;
	return l->cuStreamSynchronize(s);
}
static CUresult er_memset32(er_lib *l, CUcontext c, CUdeviceptr dst, unsigned int v, size_t words, CUstream s) {
	ER_CUR(l, c);
	CUresult r = l->cuMemsetD32Async(dst, v, words, s);
	if (r) return r;
	return l->cuStreamSynchronize(s);
}
static CUresult er_stream_create(er_lib *l, CUcontext c, CUstream *s, int prio) {
	ER_CUR(l, c);
	return l->cuStreamCreateWithPriority(s, ER_STREAM_NON_BLOCKING, prio);
}
static CUresult er_stream_sync(er_lib *l, CUcontext c, CUstream s) {
	ER_CUR(l, c);
	return l->cuStreamSynchronize(s);
}
static CUresult er_stream_destroy(er_lib *l, CUcontext c, CUstream s) {
	ER_CUR(l, c);
	return l->cuStreamDestroy_v2(s);
}
static CUresult er_event_create(er_lib *l, CUcontext c, CUevent *e) {
	ER_CUR(l, c);
	return l->cuEventCreate(e, ER_EVENT_DEFAULT); // timing enabled
}
static CUresult er_event_record(er_lib *l, CUcontext c, CUevent e, CUstream s) {
	ER_CUR(l, c);
	return l->cuEventRecord(e, s);
}
static CUresult er_event_elapsed(er_lib *l, CUcontext c, float *ms, CUevent a, CUevent b) {
	ER_CUR(l, c);
	CUresult r = l->cuEventSynchronize(b);
	if (r) return r;
	return l->cuEventElapsedTime(ms, a, b);
}
static CUresult er_event_destroy(er_lib *l, CUcontext c, CUevent e) {
	ER_CUR(l, c);
	return l->cuEventDestroy_v2(e);
}

// er_module_load JIT-compiles a PTX image with error and info log buffers; the logs are
// NUL-terminated on return.
static CUresult er_module_load(er_lib *l, CUcontext c, CUmodule *m, const char *image,
		char *elog, unsigned int elogn, char *ilog, unsigned int ilogn) {
	ER_CUR(l, c);
	int opts[5] = {ER_JIT_ERROR_LOG_BUFFER, ER_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, ER_JIT_INFO_LOG_BUFFER,
		ER_JIT_INFO_LOG_BUFFER_SIZE_BYTES, ER_JIT_LOG_VERBOSE};
	void *vals[5] = {elog, (void *)(uintptr_t)elogn, ilog, (void *)(uintptr_t)ilogn, (void *)(uintptr_t)1};
	elog[0] = 0;
	ilog[0] = 0;
	CUresult r = l->cuModuleLoadDataEx(m, image, 5, opts, vals);
	elog[elogn - 1] = 0;
	ilog[ilogn - 1] = 0;
	return r;
}
static CUresult er_module_function(er_lib *l, CUcontext c, CUfunction *f, CUmodule m, const char *name) {
	ER_CUR(l, c);
	return l->cuModuleGetFunction(f, m, name);
}
static CUresult er_module_unload(er_lib *l, CUcontext c, CUmodule m) {
	ER_CUR(l, c);
	return l->cuModuleUnload(m);
}
static CUresult er_func_attr(er_lib *l, CUcontext c, int *v, int a, CUfunction f) {
	ER_CUR(l, c);
	return l->cuFuncGetAttribute(v, a, f);
}
static CUresult er_func_set_attr(er_lib *l, CUcontext c, CUfunction f, int a, int v) {
	ER_CUR(l, c);
	return l->cuFuncSetAttribute(f, a, v);
}

static CUresult er_occupancy(er_lib *l, CUcontext c, int *n, CUfunction f, int threads, size_t dyn) {
	if (!l->cuOccupancyMaxActiveBlocksPerMultiprocessor) return ER_NOSYM;
	ER_CUR(l, c);
	return l->cuOccupancyMaxActiveBlocksPerMultiprocessor(n, f, threads, dyn);
}

// er_launch launches f with n parameters whose values sit in vals (one 8-byte slot each; a
// 4-byte parameter is the slot's low half, the machine being little-endian). The driver copies
// the values during the call. With start/stop non-NULL the launch is bracketed by events.
static CUresult er_launch(er_lib *l, CUcontext c, CUfunction f, unsigned int gx, unsigned int gy,
		unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
		CUstream s, uint64_t *vals, int n, CUevent start, CUevent stop) {
	ER_CUR(l, c);
	void *params[64];
	if (n > 64) return ER_ERROR_INVALID_VALUE;
	for (int i = 0; i < n; i++) params[i] = &vals[i];
	CUresult r;
	if (start && (r = l->cuEventRecord(start, s))) return r;
	r = l->cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, NULL);
	if (r) return r;
	if (stop && (r = l->cuEventRecord(stop, s))) return r;
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// cgoDriver is the driver reached through dlopen/dlsym.
type cgoDriver struct {
	l    *C.er_lib
	path string
}

// cgoEnabled reports whether this build can reach the driver.
const cgoEnabled = true

// loadDriver dlopens path and resolves the driver API. A library that cannot be opened is
// ErrNoDriver; one that lacks a symbol the binding needs is an error naming it.
func loadDriver(path string) (driver, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	l := C.er_open(cpath, &cerr)
	if l == nil {
		msg := C.GoString(cerr)
		C.free(unsafe.Pointer(cerr))
		return nil, fmt.Errorf("%w: dlopen %s: %s", ErrNoDriver, path, msg)
	}
	if miss := C.er_missing(l); miss != nil {
		return nil, fmt.Errorf("%s: the driver library lacks %s (driver too old?)", path, C.GoString(miss))
	}
	return &cgoDriver{l: l, path: path}, nil
}

// cConstants are the enum values the C wrappers pass to the driver, for the tests.
func cConstants() map[string]int {
	return map[string]int{
		"CU_JIT_INFO_LOG_BUFFER": C.ER_JIT_INFO_LOG_BUFFER, "CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES": C.ER_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
		"CU_JIT_ERROR_LOG_BUFFER": C.ER_JIT_ERROR_LOG_BUFFER, "CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES": C.ER_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
		"CU_JIT_LOG_VERBOSE": C.ER_JIT_LOG_VERBOSE, "CU_MEMHOSTALLOC_PORTABLE": C.ER_MEMHOSTALLOC_PORTABLE,
		"CU_MEMHOSTALLOC_DEVICEMAP": C.ER_MEMHOSTALLOC_DEVICEMAP, "CU_STREAM_NON_BLOCKING": C.ER_STREAM_NON_BLOCKING,
		"CU_EVENT_DEFAULT": C.ER_EVENT_DEFAULT, "CUDA_ERROR_INVALID_VALUE": C.ER_ERROR_INVALID_VALUE,
	}
}

func (d *cgoDriver) libraryPath() string { return d.path }

// check turns a CUresult into nil or an *Error naming the call.
func (d *cgoDriver) check(call string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	if r == C.ER_NOSYM {
		return fmt.Errorf("%s: not exported by %s", call, d.path)
	}
	code := Result(r)
	e := &Error{Call: call, Code: code}
	var s *C.char
	if C.er_error_name(d.l, r, &s) == 0 && s != nil {
		e.Name = C.GoString(s)
	}
	if C.er_error_string(d.l, r, &s) == 0 && s != nil {
		e.Message = C.GoString(s)
	}
	if e.Name == "" {
		e.Name = code.Name()
	}
	return e
}

func (d *cgoDriver) init() error { return d.check("cuInit", C.er_init(d.l)) }

func (d *cgoDriver) driverVersion() (int, error) {
	var v C.int
	err := d.check("cuDriverGetVersion", C.er_driver_version(d.l, &v))
	return int(v), err
}

func (d *cgoDriver) deviceCount() (int, error) {
	var n C.int
	err := d.check("cuDeviceGetCount", C.er_device_count(d.l, &n))
	return int(n), err
}

func (d *cgoDriver) deviceGet(ordinal int) (int, error) {
	var dev C.CUdevice
	err := d.check("cuDeviceGet", C.er_device_get(d.l, &dev, C.int(ordinal)))
	return int(dev), err
}

func (d *cgoDriver) deviceName(dev int) (string, error) {
	buf := (*C.char)(C.calloc(256, 1))
	defer C.free(unsafe.Pointer(buf))
	if err := d.check("cuDeviceGetName", C.er_device_name(d.l, buf, 256, C.CUdevice(dev))); err != nil {
		return "", err
	}
	return C.GoString(buf), nil
}

func (d *cgoDriver) deviceAttr(dev int, a Attribute) (int, error) {
	var v C.int
	err := d.check("cuDeviceGetAttribute("+a.String()+")", C.er_device_attr(d.l, &v, C.int(a), C.CUdevice(dev)))
	return int(v), err
}

func (d *cgoDriver) deviceTotalMem(dev int) (uint64, error) {
	var v C.size_t
	err := d.check("cuDeviceTotalMem_v2", C.er_device_mem(d.l, &v, C.CUdevice(dev)))
	return uint64(v), err
}

func (d *cgoDriver) primaryCtxRetain(dev int) (handle, error) {
	var c C.CUcontext
	err := d.check("cuDevicePrimaryCtxRetain", C.er_ctx_retain(d.l, &c, C.CUdevice(dev)))
	return handle(c), err
}

func (d *cgoDriver) primaryCtxRelease(dev int) error {
	return d.check("cuDevicePrimaryCtxRelease_v2", C.er_ctx_release(d.l, C.CUdevice(dev)))
}

func (d *cgoDriver) greenContexts() bool { return C.er_green(d.l) != 0 }

func (d *cgoDriver) streamPriorityRange(ctx handle) (least, greatest int, err error) {
	var lo, hi C.int
	err = d.check("cuCtxGetStreamPriorityRange", C.er_prio_range(d.l, C.CUcontext(ctx), &lo, &hi))
	return int(lo), int(hi), err
}

func (d *cgoDriver) memAlloc(ctx handle, n int64) (uint64, error) {
	var p C.CUdeviceptr
	err := d.check("cuMemAlloc_v2", C.er_mem_alloc(d.l, C.CUcontext(ctx), &p, C.size_t(n)))
	return uint64(p), err
}

func (d *cgoDriver) memFree(ctx handle, p uint64) error {
	return d.check("cuMemFree_v2", C.er_mem_free(d.l, C.CUcontext(ctx), C.CUdeviceptr(p)))
}

func (d *cgoDriver) hostAlloc(ctx handle, n int64) (unsafe.Pointer, uint64, error) {
	var h unsafe.Pointer
	var p C.CUdeviceptr
	err := d.check("cuMemHostAlloc", C.er_host_alloc(d.l, C.CUcontext(ctx), &h, &p, C.size_t(n)))
	return h, uint64(p), err
}

func (d *cgoDriver) hostFree(ctx handle, h unsafe.Pointer) error {
	return d.check("cuMemFreeHost", C.er_host_free(d.l, C.CUcontext(ctx), h))
}

func (d *cgoDriver) copyHtoD(ctx handle, dst uint64, src []byte, s handle) error {
	if len(src) == 0 {
		return nil
	}
	return d.check("cuMemcpyHtoDAsync_v2", C.er_htod(d.l, C.CUcontext(ctx), C.CUdeviceptr(dst),
		unsafe.Pointer(&src[0]), C.size_t(len(src)), C.CUstream(s)))
}

func (d *cgoDriver) copyDtoH(ctx handle, dst []byte, src uint64, s handle) error {
	if len(dst) == 0 {
		return nil
	}
	return d.check("cuMemcpyDtoHAsync_v2", C.er_dtoh(d.l, C.CUcontext(ctx), unsafe.Pointer(&dst[0]),
		C.CUdeviceptr(src), C.size_t(len(dst)), C.CUstream(s)))
}

func (d *cgoDriver) memset32(ctx handle, dst uint64, v uint32, words int64, s handle) error {
	return d.check("cuMemsetD32Async", C.er_memset32(d.l, C.CUcontext(ctx), C.CUdeviceptr(dst), C.uint(v),
		C.size_t(words), C.CUstream(s)))
}

func (d *cgoDriver) streamCreate(ctx handle, prio int) (handle, error) {
	var s C.CUstream
	err := d.check("cuStreamCreateWithPriority", C.er_stream_create(d.l, C.CUcontext(ctx), &s, C.int(prio)))
	return handle(s), err
}

func (d *cgoDriver) streamSync(ctx, s handle) error {
	return d.check("cuStreamSynchronize", C.er_stream_sync(d.l, C.CUcontext(ctx), C.CUstream(s)))
}

func (d *cgoDriver) streamDestroy(ctx, s handle) error {
	return d.check("cuStreamDestroy_v2", C.er_stream_destroy(d.l, C.CUcontext(ctx), C.CUstream(s)))
}

func (d *cgoDriver) eventCreate(ctx handle) (handle, error) {
	var e C.CUevent
	err := d.check("cuEventCreate", C.er_event_create(d.l, C.CUcontext(ctx), &e))
	return handle(e), err
}

func (d *cgoDriver) eventRecord(ctx, e, s handle) error {
	return d.check("cuEventRecord", C.er_event_record(d.l, C.CUcontext(ctx), C.CUevent(e), C.CUstream(s)))
}

func (d *cgoDriver) eventElapsed(ctx, a, b handle) (float32, error) {
	var ms C.float
	err := d.check("cuEventElapsedTime", C.er_event_elapsed(d.l, C.CUcontext(ctx), &ms, C.CUevent(a), C.CUevent(b)))
	return float32(ms), err
}

func (d *cgoDriver) eventDestroy(ctx, e handle) error {
	return d.check("cuEventDestroy_v2", C.er_event_destroy(d.l, C.CUcontext(ctx), C.CUevent(e)))
}

const jitLogBytes = 16 << 10

func (d *cgoDriver) moduleLoad(ctx handle, image string) (handle, string, error) {
	cimg := C.CString(image)
	defer C.free(unsafe.Pointer(cimg))
	elog := (*C.char)(C.calloc(jitLogBytes, 1))
	defer C.free(unsafe.Pointer(elog))
	ilog := (*C.char)(C.calloc(jitLogBytes, 1))
	defer C.free(unsafe.Pointer(ilog))
	var m C.CUmodule
	r := C.er_module_load(d.l, C.CUcontext(ctx), &m, cimg, elog, jitLogBytes, ilog, jitLogBytes)
	info := C.GoString(ilog)
	if err := d.check("cuModuleLoadDataEx", r); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Log = C.GoString(elog)
			if e.Log == "" {
				e.Log = info
			}
		}
		return nil, info, err
	}
	return handle(m), info, nil
}

func (d *cgoDriver) moduleFunction(ctx, m handle, name string) (handle, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f C.CUfunction
	err := d.check("cuModuleGetFunction("+name+")", C.er_module_function(d.l, C.CUcontext(ctx), &f, C.CUmodule(m), cname))
	return handle(f), err
}

func (d *cgoDriver) moduleUnload(ctx, m handle) error {
	return d.check("cuModuleUnload", C.er_module_unload(d.l, C.CUcontext(ctx), C.CUmodule(m)))
}

func (d *cgoDriver) funcAttr(ctx, f handle, a FuncAttribute) (int, error) {
	var v C.int
	err := d.check("cuFuncGetAttribute("+a.String()+")", C.er_func_attr(d.l, C.CUcontext(ctx), &v, C.int(a), C.CUfunction(f)))
	return int(v), err
}

func (d *cgoDriver) funcSetAttr(ctx, f handle, a FuncAttribute, v int) error {
	return d.check("cuFuncSetAttribute("+a.String()+")", C.er_func_set_attr(d.l, C.CUcontext(ctx), C.CUfunction(f), C.int(a), C.int(v)))
}

func (d *cgoDriver) launch(ctx, f handle, grid, block [3]int, shared int, s handle, vals []uint64, start, stop handle) error {
	var p *C.uint64_t
	if len(vals) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&vals[0]))
	}
	return d.check("cuLaunchKernel", C.er_launch(d.l, C.CUcontext(ctx), C.CUfunction(f),
		C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		C.uint(shared), C.CUstream(s), p, C.int(len(vals)), C.CUevent(start), C.CUevent(stop)))
}

func (d *cgoDriver) occupancy(ctx, f handle, threads, dynShared int) (int, error) {
	var n C.int
	err := d.check("cuOccupancyMaxActiveBlocksPerMultiprocessor", C.er_occupancy(d.l, C.CUcontext(ctx), &n, C.CUfunction(f), C.int(threads), C.size_t(dynShared)))
	return int(n), err
}
