package reduce

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// Combine merges two partial reduction states (one or more registers each) into one.
type Combine func(a, b []kir.Value) []kir.Value

// GroupReduce combines the states of the g consecutive lanes of every aligned group of g
// threads (g a power of two <= 32) by a butterfly of warp shuffles, so that every lane of the
// group ends with the group's result. Every lane of the warp must execute it together.
func GroupReduce(b *kir.Builder, st []kir.Value, g int, comb Combine) []kir.Value {
	for m := g / 2; m >= 1; m /= 2 {
		other := make([]kir.Value, len(st))
		for i, v := range st {
			if v.T == kir.F32 || v.T == kir.U32 || v.T == kir.S32 || v.T == kir.B32 {
				other[i] = b.ShflBfly(v, m)
			} else {
				b.Errorf("group reduce: state register of type %s", v.T)
				other[i] = v
			}
		}
		st = comb(st, other)
	}
	return st
}

// Scratch is the shared memory BlockReduce needs: one array of (threads/32) slots per state
// register.
type Scratch []kir.SharedArray

// NewScratch declares the scratch arrays for states of the given register types and a block of
// threads threads (a multiple of 32).
func NewScratch(b *kir.Builder, name string, threads int, types ...kir.Type) Scratch {
	s := make(Scratch, len(types))
	for i, t := range types {
		s[i] = b.Shared(fmt.Sprintf("%s%d", name, i), t, max(threads/32, 1))
	}
	return s
}

// BlockReduce combines the states of all threads of the block (threads a multiple of 32, every
// thread executing it): a warp butterfly, one slot per warp in shared memory, then every thread
// combines the warps' partials in order, so all threads get the same result. It starts and ends
// with a barrier, so the scratch may be reused right after.
func BlockReduce(b *kir.Builder, st []kir.Value, threads int, sc Scratch, comb Combine) []kir.Value {
	st = GroupReduce(b, st, 32, comb)
	warps := threads / 32
	if warps <= 1 {
		return st
	}
	tid := b.Tid(0)
	warp := b.Shr(tid, b.ConstU32(5))
	b.Barrier()
	b.If(b.Eq(b.And(tid, b.ConstU32(31)), b.ConstU32(0)), func() {
		for i, v := range st {
			b.StoreShared(sc[i], warp, v)
		}
	})
	b.Barrier()
	res := make([]kir.Value, len(st))
	for i := range st {
		res[i] = b.Var(b.LoadShared(sc[i], b.ConstU32(0)))
	}
	for w := 1; w < warps; w++ {
		other := make([]kir.Value, len(st))
		for i := range st {
			other[i] = b.LoadShared(sc[i], b.ConstU32(uint32(w)))
		}
		next := comb(res, other)
		for i := range res {
			b.Set(res[i], next[i])
		}
	}
	b.Barrier()
	return res
}

// Reduce reduces st over groups of g threads: GroupReduce for g <= 32, BlockReduce for g equal
// to the block's threads.
func Reduce(b *kir.Builder, st []kir.Value, g, threads int, sc Scratch, comb Combine) []kir.Value {
	if g <= 32 {
		return GroupReduce(b, st, g, comb)
	}
	return BlockReduce(b, st, threads, sc, comb)
}

// CheckGroup checks a group size against a block size: a power of two <= 32 dividing threads,
// or threads itself when threads is a multiple of 32.
func CheckGroup(g, threads int) error {
	switch {
	case threads <= 0 || threads > 1024:
		return fmt.Errorf("%d threads per block", threads)
	case g >= 1 && g <= 32 && g&(g-1) == 0 && threads%g == 0:
		return nil
	case g == threads && threads%32 == 0:
		return nil
	}
	return fmt.Errorf("group of %d threads in a block of %d (want a power of two <= 32 dividing the block, or the whole block in multiples of 32)", g, threads)
}
