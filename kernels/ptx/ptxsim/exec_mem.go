package ptxsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"
)

var le = binary.LittleEndian

// window is a resolved piece of global memory: a whole allocation (Regions) or the bytes of
// one earlier access (Bytes).
type window struct {
	base uint64
	b    []byte
}

const maxWindows = 8

// global returns the n bytes of global memory at addr, which must be n-aligned.
func (s *slot) global(addr, n uint64) ([]byte, error) {
	if addr&(n-1) != 0 {
		return nil, fmt.Errorf("global address %#x is not aligned to %d bytes", addr, n)
	}
	if len(s.wins) > 0 {
		w := &s.wins[0]
		if off := addr - w.base; off < uint64(len(w.b)) && n <= uint64(len(w.b))-off {
			return w.b[off : off+n : off+n], nil
		}
	}
	return s.globalSlow(addr, n)
}

func (s *slot) globalSlow(addr, n uint64) ([]byte, error) {
	for i := 1; i < len(s.wins); i++ {
		w := s.wins[i]
		if off := addr - w.base; off < uint64(len(w.b)) && n <= uint64(len(w.b))-off {
			copy(s.wins[1:i+1], s.wins[:i])
			s.wins[0] = w
			return w.b[off : off+n : off+n], nil
		}
	}
	if s.l.mem == nil {
		return nil, fmt.Errorf("global access [%#x, +%d) without a Memory", addr, n)
	}
	var w window
	if s.l.regions != nil {
		base, b, err := s.l.regions.Region(addr)
		if err != nil {
			return nil, fmt.Errorf("global access [%#x, +%d): %w", addr, n, err)
		}
		if off := addr - base; addr < base || off >= uint64(len(b)) || n > uint64(len(b))-off {
			return nil, fmt.Errorf("global access [%#x, +%d) outside its allocation [%#x, +%d)", addr, n, base, len(b))
		}
		w = window{base, b}
	} else {
		b, err := s.l.mem.Bytes(addr, int(n))
		if err != nil {
			return nil, fmt.Errorf("global access [%#x, +%d): %w", addr, n, err)
		}
		if uint64(len(b)) != n {
			return nil, fmt.Errorf("global access [%#x, +%d): Memory returned %d bytes", addr, n, len(b))
		}
		w = window{addr, b}
	}
	if len(s.wins) < maxWindows {
		s.wins = append(s.wins, window{})
	}
	copy(s.wins[1:], s.wins)
	s.wins[0] = w
	off := addr - w.base
	return w.b[off : off+n : off+n], nil
}

// sharedAt returns the n bytes of the block's shared memory at addr (n-aligned).
func (s *slot) sharedAt(addr, n uint64) ([]byte, error) {
	if addr&(n-1) != 0 {
		return nil, fmt.Errorf("shared address %#x is not aligned to %d bytes", addr, n)
	}
	if addr >= uint64(len(s.shared)) || n > uint64(len(s.shared))-addr {
		return nil, fmt.Errorf("shared access [%#x, +%d) outside the block's %d bytes", addr, n, len(s.shared))
	}
	return s.shared[addr : addr+n : addr+n], nil
}

// hostAligned checks that b can be accessed with sync/atomic.
func hostAligned(b []byte, n uintptr) error {
	if uintptr(unsafe.Pointer(&b[0]))%n != 0 {
		return fmt.Errorf("the Memory's bytes at this address are not %d-byte aligned on the host, which atomics need", n)
	}
	return nil
}

func ptr32(b []byte) *uint32 { return (*uint32)(unsafe.Pointer(&b[0])) }
func ptr64(b []byte) *uint64 { return (*uint64)(unsafe.Pointer(&b[0])) }

// access resolves the bytes of a general load, store or atomic.
func (s *slot) access(t *thread, in *inst, global bool) ([]byte, error) {
	addr := t.r[in.r[4]] + uint64(in.imm)
	n := uint64(in.n) * uint64(max(in.cnt, 1))
	if global {
		b, err := s.global(addr, n)
		if err == nil && (in.sub&memVolatile != 0 && in.n >= 4 || in.op == opAtomG) {
			err = hostAligned(b, uintptr(in.n))
		}
		return b, err
	}
	return s.sharedAt(addr, n)
}

// load is a general ld: vectors, sub-word types (extended to the register), .volatile.
func (s *slot) load(t *thread, in *inst, global bool) error {
	b, err := s.access(t, in, global)
	if err != nil {
		return err
	}
	n := int(in.n)
	vol := global && in.sub&memVolatile != 0
	if n == 4 && !vol && in.sub&memSigned == 0 { // the common vector case
		for j := 0; j < int(in.cnt); j++ {
			t.r[in.r[j]] = uint64(le.Uint32(b[4*j:]))
		}
		return nil
	}
	for j := 0; j < int(in.cnt); j++ {
		e := b[j*n : (j+1)*n]
		var v uint64
		switch n {
		case 1:
			v = uint64(e[0])
		case 2:
			v = uint64(le.Uint16(e))
		case 4:
			if vol {
				v = uint64(atomic.LoadUint32(ptr32(e)))
			} else {
				v = uint64(le.Uint32(e))
			}
		default:
			if vol {
				v = atomic.LoadUint64(ptr64(e))
			} else {
				v = le.Uint64(e)
			}
		}
		v = extend(v, n, in.sub&memSigned != 0)
		if in.sub&memDst64 == 0 {
			v &= math.MaxUint32
		}
		t.r[in.r[j]] = v
	}
	return nil
}

// store is a general st (the low bytes of each register).
func (s *slot) store(t *thread, in *inst, global bool) error {
	b, err := s.access(t, in, global)
	if err != nil {
		return err
	}
	n := int(in.n)
	vol := global && in.sub&memVolatile != 0
	for j := 0; j < int(in.cnt); j++ {
		e := b[j*n : (j+1)*n]
		v := t.r[in.r[j]]
		switch n {
		case 1:
			e[0] = byte(v)
		case 2:
			le.PutUint16(e, uint16(v))
		case 4:
			if vol {
				atomic.StoreUint32(ptr32(e), uint32(v))
			} else {
				le.PutUint32(e, uint32(v))
			}
		default:
			if vol {
				atomic.StoreUint64(ptr64(e), v)
			} else {
				le.PutUint64(e, v)
			}
		}
	}
	return nil
}

// rmw is the new value of an atomic read-modify-write (all but exch and cas).
func rmw(op uint8, old, x uint64, size uint8) uint64 {
	switch op {
	case atomAdd:
		return (old + x) & mask(int(size))
	case atomAddF:
		return fb(f32(old) + f32(x))
	case atomMinU:
		return min(old, x)
	case atomMaxU:
		return max(old, x)
	case atomMinS:
		return uint64(uint32(min(int32(old), int32(x))))
	case atomMaxS:
		return uint64(uint32(max(int32(old), int32(x))))
	case atomAnd:
		return old & x
	case atomOr:
		return old | x
	case atomXor:
		return old ^ x
	case atomInc:
		if old >= x {
			return 0
		}
		return old + 1
	case atomDec:
		if old == 0 || old > x {
			return x
		}
		return old - 1
	}
	return x // exch
}

// atom performs an atomic on global memory (with sync/atomic: the host and other blocks may
// touch the word concurrently) or on shared memory (the block runs on one goroutine).
func (s *slot) atom(t *thread, in *inst, global bool) error {
	b, err := s.access(t, in, global)
	if err != nil {
		return err
	}
	x, y := t.r[in.r[1]], t.r[in.r[2]]
	var old uint64
	switch {
	case !global && in.n == 4:
		old = uint64(le.Uint32(b))
		if in.sub != atomCAS || old == x {
			nv := rmw(in.sub, old, x, 4)
			if in.sub == atomCAS {
				nv = y
			}
			le.PutUint32(b, uint32(nv))
		}
	case !global:
		old = le.Uint64(b)
		if in.sub != atomCAS || old == x {
			nv := rmw(in.sub, old, x, 8)
			if in.sub == atomCAS {
				nv = y
			}
			le.PutUint64(b, nv)
		}
	case in.n == 4:
		p := ptr32(b)
		switch in.sub {
		case atomAdd:
			old = uint64(atomic.AddUint32(p, uint32(x)) - uint32(x))
		case atomExch:
			old = uint64(atomic.SwapUint32(p, uint32(x)))
		default:
			for {
				o := atomic.LoadUint32(p)
				nv := uint32(rmw(in.sub, uint64(o), x, 4))
				if in.sub == atomCAS {
					if o != uint32(x) {
						old = uint64(o)
						break
					}
					nv = uint32(y)
				}
				if atomic.CompareAndSwapUint32(p, o, nv) {
					old = uint64(o)
					break
				}
			}
		}
	default:
		p := ptr64(b)
		switch in.sub {
		case atomAdd:
			old = atomic.AddUint64(p, x) - x
		case atomExch:
			old = atomic.SwapUint64(p, x)
		default: // cas
			for {
				o := atomic.LoadUint64(p)
				if o != x || atomic.CompareAndSwapUint64(p, o, y) {
					old = o
					break
				}
			}
		}
	}
	if in.r[0] != 0 {
		t.r[in.r[0]] = old
	}
	return nil
}
