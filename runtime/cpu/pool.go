package cpu

import (
	"sync"
	"unsafe"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Buffer reuse. Ops that write every element of their float32 output take it from
// opCtx.alloc, which draws on process-wide pools keyed by length. The runner counts, per
// such buffer, the values in scope that hold it (a Reshape or Identity output shares its
// input's buffer); when the last of them dies (liveness drops it) the buffer goes back to the
// pool for the next op or the next run. Buffers that are graph outputs or escape any other
// way are never counted down to zero and are left to the garbage collector.

// minPooled is the smallest buffer worth pooling (smaller ones are cheap to allocate).
const minPooled = 256

// maxPoolSizes bounds the number of distinct lengths pooled (dynamic shapes).
const maxPoolSizes = 4096

var (
	poolMu sync.Mutex
	pools  = map[int]*sync.Pool{}
)

func poolFor(n int, create bool) *sync.Pool {
	poolMu.Lock()
	defer poolMu.Unlock()
	p := pools[n]
	if p == nil && create && len(pools) < maxPoolSizes {
		p = &sync.Pool{}
		pools[n] = p
	}
	return p
}

func getF32(n int) []float32 {
	if p := poolFor(n, false); p != nil {
		if v, ok := p.Get().(*[]float32); ok {
			return *v
		}
	}
	return make([]float32, n)
}

func putF32(b []float32) {
	if p := poolFor(len(b), true); p != nil {
		p.Put(&b)
	}
}

// owned is a pooled buffer handed out in this run and the number of live values holding it.
type owned struct {
	buf  []float32
	refs int
}

// buffers tracks the pooled buffers of one run.
type buffers struct {
	byStart map[uintptr]*owned
}

func f32Start(t *tensor.Tensor) (uintptr, int, bool) {
	if t == nil {
		return 0, 0, false
	}
	d, ok := t.Data.([]float32)
	if !ok || len(d) == 0 {
		return 0, 0, false
	}
	return uintptr(unsafe.Pointer(&d[0])), len(d), true
}

// alloc returns a float32 buffer of n elements with arbitrary contents.
func (b *buffers) alloc(n int) []float32 {
	if n < minPooled {
		return make([]float32, n)
	}
	d := getF32(n)
	if b.byStart == nil {
		b.byStart = map[uintptr]*owned{}
	}
	b.byStart[uintptr(unsafe.Pointer(&d[0]))] = &owned{buf: d}
	return d
}

// owner finds the pooled buffer t's data lies in, if any.
func (b *buffers) owner(t *tensor.Tensor) *owned {
	if len(b.byStart) == 0 {
		return nil
	}
	p, n, ok := f32Start(t)
	if !ok {
		return nil
	}
	if o := b.byStart[p]; o != nil {
		return o
	}
	for s, o := range b.byStart { // a view into the middle of a buffer
		if p >= s && p+uintptr(n)*4 <= s+uintptr(len(o.buf))*4 {
			return o
		}
	}
	return nil
}

// hold notes a value in scope holding t.
func (b *buffers) hold(t *tensor.Tensor) {
	if o := b.owner(t); o != nil {
		o.refs++
	}
}

// drop notes a value holding t went out of scope; the buffer is recycled at zero holders.
func (b *buffers) drop(t *tensor.Tensor) {
	o := b.owner(t)
	if o == nil {
		return
	}
	o.refs--
	if o.refs <= 0 {
		delete(b.byStart, uintptr(unsafe.Pointer(&o.buf[0])))
		putF32(o.buf)
	}
}
