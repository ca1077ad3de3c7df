package cuda

import (
	"fmt"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// simMemory is the simulated GPU's address space: device allocations and mapped host
// allocations, each a Go byte slice at a device address. Allocations are 256-byte aligned
// with a 4 KiB gap between them, so an access that runs off the end of one is an error
// rather than a silent read of its neighbour (as it is on hardware most of the time).
type simMemory struct {
	mu     sync.RWMutex
	next   uint64
	allocs []simAlloc // sorted by base
}

type simAlloc struct {
	base uint64
	buf  []byte
	host bool // mapped host memory (cuMemHostAlloc)
}

const simBase = 0x7f00_0000_0000

func (m *simMemory) alloc(n int64, host bool) (uint64, []byte) {
	n = max(n, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == 0 {
		m.next = simBase
	}
	// Words, so that the buffer is 8-aligned in Go memory: sync/atomic needs aligned words.
	words := make([]uint64, (n+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	p := m.next
	m.next += (uint64(n)+255)&^255 + 4096
	m.allocs = append(m.allocs, simAlloc{base: p, buf: buf, host: host})
	return p, buf
}

func (m *simMemory) free(p uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, a := range m.allocs {
		if a.base == p {
			m.allocs = append(m.allocs[:i], m.allocs[i+1:]...)
			return true
		}
	}
	return false
}

// freeHost frees the mapped allocation whose host memory starts at h.
func (m *simMemory) freeHost(h unsafe.Pointer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, a := range m.allocs {
		if a.host && unsafe.Pointer(&a.buf[0]) == h {
			m.allocs = append(m.allocs[:i], m.allocs[i+1:]...)
			return true
		}
	}
	return false
}

// Bytes implements ptxsim.Memory: the n bytes at addr, inside one allocation.
func (m *simMemory) Bytes(addr uint64, n int) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i := sort.Search(len(m.allocs), func(i int) bool { return m.allocs[i].base > addr }) - 1
	if i >= 0 {
		a := m.allocs[i]
		if off := addr - a.base; n >= 0 && off+uint64(n) <= uint64(len(a.buf)) {
			return a.buf[off : off+uint64(n) : off+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("address %#x (+%d bytes) is outside every allocation", addr, n)
}

// simStream runs its operations in order on one goroutine at a time: each operation waits for
// the one before it. The first failure of a stream is kept and reported by sync.
type simStream struct {
	prio int
	mu   sync.Mutex
	tail chan struct{} // closed when the last enqueued operation has finished
	err  error
}

func newSimStream(prio int) *simStream {
	done := make(chan struct{})
	close(done)
	return &simStream{prio: prio, tail: done}
}

// enqueue runs op after every operation enqueued before it and returns a channel closed when
// op has finished.
func (s *simStream) enqueue(op func() error) chan struct{} {
	done := make(chan struct{})
	s.mu.Lock()
	prev := s.tail
	s.tail = done
	s.mu.Unlock()
	go func() {
		<-prev
		if err := op(); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
		close(done)
	}()
	return done
}

// sync waits for every operation enqueued so far and returns the stream's first failure.
func (s *simStream) sync() error {
	s.mu.Lock()
	tail := s.tail
	s.mu.Unlock()
	<-tail
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// simEvent is a CUevent: the time its last recording ran on its stream.
type simEvent struct {
	mu   sync.Mutex
	at   time.Time
	done chan struct{}
}

func (e *simEvent) record(s *simStream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = s.enqueue(func() error {
		now := time.Now()
		e.mu.Lock()
		e.at = now
		e.mu.Unlock()
		return nil
	})
}

// wait returns the time of the event's last recording once it has run (ok false: never
// recorded).
func (e *simEvent) wait() (time.Time, bool) {
	e.mu.Lock()
	done := e.done
	e.mu.Unlock()
	if done == nil {
		return time.Time{}, false
	}
	<-done
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.at, true
}
