package cpu

import (
	"runtime"
	"sync"
	"weak"

	"github.com/elasticroom/elasticroom/kernels/ref"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Constant convolution weights (initializers, and weights with a BatchNormalization folded
// in) are packed for kernels/ref's blocked GEMM once, on their first run, instead of on every
// call: the packed panels are cached per weight tensor for the life of the tensor.

// packedW is a weight tensor's packing and what it was computed from.
type packedW struct {
	data  *float32 // the tensor's data when packed (the entry is stale if it changes)
	n     int
	group int
	pc    *ref.PackedConv
}

var packCache sync.Map // weak.Pointer[tensor.Tensor] -> *packedW

// constIn reports whether input i is a constant: the graph's initializer itself, or (input
// 1 of a conv) weights with a BatchNormalization folded in.
func (c *opCtx) constIn(i int) bool {
	if i == 1 && c.folded {
		return true
	}
	if c.g == nil || i >= len(c.in) || c.in[i] == nil {
		return false
	}
	t, ok := c.g.Initializers[c.node.Input(i)]
	return ok && t == c.in[i]
}

// packedConv returns p's weights w (input 1 of c) packed by ref.PackConv when they are a
// constant, from the cache after the first call; nil otherwise or when nothing is packed.
func packedConv(c *opCtx, p ref.ConvParams, w *tensor.Tensor) *ref.PackedConv {
	d := w.Float32s()
	if len(d) == 0 || !c.constIn(1) {
		return nil
	}
	key := weak.Make(w)
	if v, ok := packCache.Load(key); ok {
		if e := v.(*packedW); e.data == &d[0] && e.n == len(d) && e.group == p.Group {
			return e.pc
		}
	}
	pc, err := ref.PackConv(p, d)
	if err != nil {
		return nil // the convolution reports the error
	}
	e := &packedW{data: &d[0], n: len(d), group: p.Group, pc: pc}
	if _, loaded := packCache.Swap(key, e); !loaded {
		runtime.AddCleanup(w, func(k weak.Pointer[tensor.Tensor]) { packCache.Delete(k) }, key)
	}
	return pc
}
