package ptxsim

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Memory is the global address space of a launch.
type Memory interface {
	// Bytes returns the n bytes at addr, aliasing the memory (writes go through), or an error
	// when [addr, addr+n) is not inside one allocation.
	Bytes(addr uint64, n int) ([]byte, error)
}

// Regions is an optional interface of a Memory: Region returns the whole allocation holding
// addr (its base address and bytes, aliasing the memory). Run resolves each allocation once
// per block slot through it instead of calling Bytes on every access, which is much faster.
// Allocations must stay put while a launch runs.
type Regions interface {
	Region(addr uint64) (base uint64, b []byte, err error)
}

// Arena is a simple Memory (with Regions): allocation i lives at (i+1)<<32, so an address
// past an allocation's end is in no allocation. Its memory is 8-byte aligned on the host, as
// atomics need. It is safe for concurrent use; Free must not race with a launch using the
// allocation.
type Arena struct {
	mu     sync.Mutex
	allocs atomic.Pointer[[][]byte]
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{} }

func (a *Arena) table() [][]byte {
	if t := a.allocs.Load(); t != nil {
		return *t
	}
	return nil
}

// Alloc returns the address of n zeroed bytes (1 <= n < 4 GiB).
func (a *Arena) Alloc(n int) (uint64, error) {
	if n <= 0 || n >= 1<<32 {
		return 0, fmt.Errorf("ptxsim: arena alloc of %d bytes: want 1 .. 4 GiB-1", n)
	}
	words := make([]uint64, (n+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.table()
	t := make([][]byte, len(old), len(old)+1)
	copy(t, old)
	idx := len(t)
	for i, x := range t {
		if x == nil {
			idx = i
			break
		}
	}
	if idx == len(t) {
		t = append(t, b)
	} else {
		t[idx] = b
	}
	a.allocs.Store(&t)
	return uint64(idx+1) << 32, nil
}

// Free releases the allocation at addr (an address Alloc returned).
func (a *Arena) Free(addr uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.table()
	i := int(addr>>32) - 1
	if uint32(addr) != 0 || i < 0 || i >= len(old) || old[i] == nil {
		return fmt.Errorf("ptxsim: arena free %#x: not an allocation", addr)
	}
	t := append([][]byte(nil), old...)
	t[i] = nil
	a.allocs.Store(&t)
	return nil
}

// Region implements Regions.
func (a *Arena) Region(addr uint64) (uint64, []byte, error) {
	t := a.table()
	i := int(addr>>32) - 1
	if i < 0 || i >= len(t) || t[i] == nil || uint64(uint32(addr)) >= uint64(len(t[i])) {
		return 0, nil, fmt.Errorf("ptxsim: address %#x is in no allocation", addr)
	}
	return uint64(i+1) << 32, t[i], nil
}

// Bytes implements Memory.
func (a *Arena) Bytes(addr uint64, n int) ([]byte, error) {
	base, b, err := a.Region(addr)
	if err != nil {
		return nil, err
	}
	off := addr - base
	if n < 0 || uint64(n) > uint64(len(b))-off {
		return nil, fmt.Errorf("ptxsim: [%#x, +%d) runs past its allocation of %d bytes at %#x", addr, n, len(b), base)
	}
	return b[off : off+uint64(n) : off+uint64(n)], nil
}
