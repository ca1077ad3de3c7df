package emu

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// resolver finds the words of [addr, addr+size) in one state space.
type resolver func(t *thread, addr uint64, size uint32) ([]uint32, uint32, error)

func globalWords(t *thread, addr uint64, size uint32) ([]uint32, uint32, error) {
	return resolve(t.blk.l.mem, addr, size, size)
}

func sharedWords(t *thread, addr uint64, size uint32) ([]uint32, uint32, error) {
	bk := t.blk
	if addr > math.MaxUint32 {
		return nil, 0, fmt.Errorf("%w: shared address %#x above 32 bits", ErrAddress, addr)
	}
	off := uint32(addr)
	if off&(size-1) != 0 {
		return nil, 0, fmt.Errorf("%w: shared address %#x is not aligned to %d bytes", ErrAddress, off, size)
	}
	if uint64(off)+uint64(size) > uint64(bk.sharedBytes) {
		return nil, 0, fmt.Errorf("%w: shared bytes [%#x, +%d) outside the block's %d bytes", ErrAddress, off, size, bk.sharedBytes)
	}
	return bk.shared, off >> 2, nil
}

func (t *thread) fault(in *kir.Inst, err error) { t.err = fmt.Errorf("%s: %w", in, err) }

// memFunc compiles loads, stores and atomics.
func memFunc(in *kir.Inst) func(*thread) {
	res := resolver(globalWords)
	if in.Space == kir.Shared {
		res = sharedWords
	}
	off := in.Imm
	a := in.Args[0].ID
	size := uint32(in.T.Size())
	if size != 4 && size != 8 {
		return nil
	}
	switch in.Op {
	case kir.OpLd:
		dst := make([]int32, len(in.Dst))
		for j, v := range in.Dst {
			dst[j] = v.ID
		}
		total := size * uint32(len(dst))
		vol := in.Volatile
		return func(t *thread) {
			w, i, err := res(t, t.r[a]+off, total)
			if err != nil {
				t.fault(in, err)
				return
			}
			for j, d := range dst {
				if size == 4 {
					if vol {
						t.r[d] = uint64(atomic.LoadUint32(&w[i+uint32(j)]))
					} else {
						t.r[d] = uint64(w[i+uint32(j)])
					}
					continue
				}
				k := i + 2*uint32(j)
				if vol {
					t.r[d] = uint64(atomic.LoadUint32(&w[k])) | uint64(atomic.LoadUint32(&w[k+1]))<<32
				} else {
					t.r[d] = uint64(w[k]) | uint64(w[k+1])<<32
				}
			}
		}
	case kir.OpSt:
		src := make([]int32, len(in.Args)-1)
		for j, v := range in.Args[1:] {
			src[j] = v.ID
		}
		total := size * uint32(len(src))
		vol := in.Volatile
		return func(t *thread) {
			w, i, err := res(t, t.r[a]+off, total)
			if err != nil {
				t.fault(in, err)
				return
			}
			for j, s := range src {
				v := t.r[s]
				if size == 4 {
					if vol {
						atomic.StoreUint32(&w[i+uint32(j)], uint32(v))
					} else {
						w[i+uint32(j)] = uint32(v)
					}
					continue
				}
				k := i + 2*uint32(j)
				if vol {
					atomic.StoreUint32(&w[k], uint32(v))
					atomic.StoreUint32(&w[k+1], uint32(v>>32))
				} else {
					w[k], w[k+1] = uint32(v), uint32(v>>32)
				}
			}
		}
	}
	if size != 4 {
		return nil
	}
	d, b := in.Dst[0].ID, in.Args[1].ID
	var c int32
	if len(in.Args) > 2 {
		c = in.Args[2].ID
	}
	var rmw func(w *uint32, x, y uint32) uint32 // returns the old value
	switch in.Op {
	case kir.OpAtomAdd:
		if in.T == kir.F32 {
			rmw = casLoop(func(old, x, _ uint32) uint32 {
				return math.Float32bits(math.Float32frombits(old) + math.Float32frombits(x))
			})
		} else {
			rmw = func(w *uint32, x, _ uint32) uint32 { return atomic.AddUint32(w, x) - x }
		}
	case kir.OpAtomExch:
		rmw = func(w *uint32, x, _ uint32) uint32 { return atomic.SwapUint32(w, x) }
	case kir.OpAtomCAS:
		rmw = func(w *uint32, cmp, nv uint32) uint32 {
			for {
				old := atomic.LoadUint32(w)
				if old != cmp || atomic.CompareAndSwapUint32(w, old, nv) {
					return old
				}
			}
		}
	case kir.OpAtomMin, kir.OpAtomMax:
		f := binTable[kir.OpMin][in.T]
		if in.Op == kir.OpAtomMax {
			f = binTable[kir.OpMax][in.T]
		}
		if f == nil {
			return nil
		}
		rmw = casLoop(func(old, x, _ uint32) uint32 { return uint32(f(uint64(old), uint64(x))) })
	default:
		return nil
	}
	return func(t *thread) {
		w, i, err := res(t, t.r[a]+off, 4)
		if err != nil {
			t.fault(in, err)
			return
		}
		var y uint32
		if c != 0 {
			y = uint32(t.r[c])
		}
		t.r[d] = uint64(rmw(&w[i], uint32(t.r[b]), y))
	}
}

func casLoop(f func(old, x, y uint32) uint32) func(w *uint32, x, y uint32) uint32 {
	return func(w *uint32, x, y uint32) uint32 {
		for {
			old := atomic.LoadUint32(w)
			if atomic.CompareAndSwapUint32(w, old, f(old, x, y)) {
				return old
			}
		}
	}
}
