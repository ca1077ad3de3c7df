package emu

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Ptr is a global memory address.
type Ptr uint64

// Add returns p advanced by n bytes.
func (p Ptr) Add(n int) Ptr { return p + Ptr(n) }

// maxAlloc bounds one allocation (addresses within an allocation are 32-bit offsets).
const maxAlloc = 1<<32 - 8

type alloc struct {
	words []uint32
	size  int
}

// memory is the global memory of a device; the allocation table is copy-on-write so that
// running kernels read it without locks.
type memory struct {
	mu     sync.Mutex
	allocs atomic.Pointer[[]*alloc]
}

// ErrAddress is wrapped by every error about a bad global or shared address.
var ErrAddress = errors.New("bad address")

func (m *memory) table() []*alloc {
	if t := m.allocs.Load(); t != nil {
		return *t
	}
	return nil
}

// Alloc allocates n bytes of zeroed global memory (8-byte aligned).
func (d *Device) Alloc(n int) (Ptr, error) {
	if n <= 0 || n > maxAlloc {
		return 0, fmt.Errorf("emu: alloc %d bytes: size out of range (1..%d)", n, maxAlloc)
	}
	m := &d.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.table()
	t := make([]*alloc, len(old), len(old)+1)
	copy(t, old)
	a := &alloc{words: make([]uint32, (n+7)/8*2), size: n}
	idx := len(t)
	for i, x := range t {
		if x == nil {
			idx = i
			break
		}
	}
	if idx == len(t) {
		t = append(t, a)
	} else {
		t[idx] = a
	}
	m.allocs.Store(&t)
	return Ptr(uint64(idx+1) << 32), nil
}

// Free releases the allocation at p (which must be the pointer Alloc returned).
func (d *Device) Free(p Ptr) error {
	m := &d.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.table()
	i := int(uint64(p)>>32) - 1
	if uint32(p) != 0 || i < 0 || i >= len(old) || old[i] == nil {
		return fmt.Errorf("emu: free %#x: %w: not an allocation", uint64(p), ErrAddress)
	}
	t := make([]*alloc, len(old))
	copy(t, old)
	t[i] = nil
	m.allocs.Store(&t)
	return nil
}

// resolve returns the words of the allocation holding [p, p+size) and the word index of p,
// checking bounds and alignment to align bytes.
func resolve(t []*alloc, p uint64, size, align uint32) ([]uint32, uint32, error) {
	i := int(p>>32) - 1
	off := uint32(p)
	if i < 0 || i >= len(t) || t[i] == nil {
		return nil, 0, fmt.Errorf("%w: %#x is not in an allocation", ErrAddress, p)
	}
	if off&(align-1) != 0 {
		return nil, 0, fmt.Errorf("%w: %#x is not aligned to %d bytes", ErrAddress, p, align)
	}
	if uint64(off)+uint64(size) > uint64(t[i].size+3)/4*4 {
		return nil, 0, fmt.Errorf("%w: [%#x, +%d) outside its allocation of %d bytes", ErrAddress, p, size, t[i].size)
	}
	return t[i].words, off >> 2, nil
}

func (d *Device) words(p Ptr, n int, what string) ([]uint32, error) {
	w, i, err := resolve(d.mem.table(), uint64(p), uint32(n*4), 4)
	if err != nil {
		return nil, fmt.Errorf("emu: %s %d words at %#x: %w", what, n, uint64(p), err)
	}
	return w[i : int(i)+n], nil
}

// WriteU32 copies vals to global memory at p. Not for words a running launch touches: use
// Store32 for those.
func (d *Device) WriteU32(p Ptr, vals []uint32) error {
	w, err := d.words(p, len(vals), "write")
	if err != nil {
		return err
	}
	copy(w, vals)
	return nil
}

// ReadU32 reads n u32 words from global memory at p.
func (d *Device) ReadU32(p Ptr, n int) ([]uint32, error) {
	w, err := d.words(p, n, "read")
	if err != nil {
		return nil, err
	}
	return append([]uint32(nil), w...), nil
}

// WriteF32 copies vals to global memory at p.
func (d *Device) WriteF32(p Ptr, vals []float32) error {
	w, err := d.words(p, len(vals), "write")
	if err != nil {
		return err
	}
	for i, v := range vals {
		w[i] = math.Float32bits(v)
	}
	return nil
}

// ReadF32 reads n f32 values from global memory at p.
func (d *Device) ReadF32(p Ptr, n int) ([]float32, error) {
	w, err := d.words(p, n, "read")
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i, x := range w {
		out[i] = math.Float32frombits(x)
	}
	return out, nil
}

// AllocF32 allocates global memory holding vals.
func (d *Device) AllocF32(vals []float32) (Ptr, error) {
	p, err := d.Alloc(max(4*len(vals), 4))
	if err != nil {
		return 0, err
	}
	return p, d.WriteF32(p, vals)
}

// AllocU32 allocates global memory holding vals.
func (d *Device) AllocU32(vals []uint32) (Ptr, error) {
	p, err := d.Alloc(max(4*len(vals), 4))
	if err != nil {
		return 0, err
	}
	return p, d.WriteU32(p, vals)
}

// Store32 atomically stores v at p; safe while launches run (host-written control words).
func (d *Device) Store32(p Ptr, v uint32) error {
	w, err := d.words(p, 1, "store")
	if err != nil {
		return err
	}
	atomic.StoreUint32(&w[0], v)
	return nil
}

// Load32 atomically loads the word at p; safe while launches run.
func (d *Device) Load32(p Ptr) (uint32, error) {
	w, err := d.words(p, 1, "load")
	if err != nil {
		return 0, err
	}
	return atomic.LoadUint32(&w[0]), nil
}
