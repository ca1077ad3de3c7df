package ref

import "sync"

// bufPool recycles float32 scratch buffers (im2col columns, packed GEMM panels) so the
// heavy ops do not allocate per call.
var bufPool sync.Pool

func getBuf(n int) []float32 {
	if v, ok := bufPool.Get().(*[]float32); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]float32, n)
}

func putBuf(b []float32) {
	bufPool.Put(&b)
}
