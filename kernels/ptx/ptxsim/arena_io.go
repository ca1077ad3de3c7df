package ptxsim

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// AllocU32 allocates memory holding words (at least 4 bytes).
func (a *Arena) AllocU32(words []uint32) (uint64, error) {
	p, err := a.Alloc(max(4*len(words), 4))
	if err != nil {
		return 0, err
	}
	return p, a.WriteU32(p, words)
}

// WriteU32 copies words to memory at addr. Not for words a running launch touches: use
// Store32 for those.
func (a *Arena) WriteU32(addr uint64, words []uint32) error {
	if len(words) == 0 {
		return nil
	}
	b, err := a.Bytes(addr, 4*len(words))
	if err != nil {
		return err
	}
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return nil
}

// ReadU32 reads n words at addr.
func (a *Arena) ReadU32(addr uint64, n int) ([]uint32, error) {
	b, err := a.Bytes(addr, 4*n)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out, nil
}

func (a *Arena) word(addr uint64) (*uint32, error) {
	if addr%4 != 0 {
		return nil, fmt.Errorf("ptxsim: word address %#x is not 4-byte aligned", addr)
	}
	b, err := a.Bytes(addr, 4)
	if err != nil {
		return nil, err
	}
	return ptr32(b), nil
}

// Store32 atomically stores v at addr; safe while a launch runs (host-written control words).
func (a *Arena) Store32(addr uint64, v uint32) error {
	p, err := a.word(addr)
	if err != nil {
		return err
	}
	atomic.StoreUint32(p, v)
	return nil
}

// Load32 atomically loads the word at addr; safe while a launch runs.
func (a *Arena) Load32(addr uint64) (uint32, error) {
	p, err := a.word(addr)
	if err != nil {
		return 0, err
	}
	return atomic.LoadUint32(p), nil
}
