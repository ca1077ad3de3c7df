package ref

import (
	"runtime"
	"sync"
)

// workers resolves a requested worker count: 0 (or less) means GOMAXPROCS.
func workers(w int) int {
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return w
}

// parallelFor runs body over [0, n) in contiguous chunks on up to w goroutines. grain is the
// smallest chunk worth a goroutine; below 2*grain the body runs on the caller's goroutine.
func parallelFor(n, grain, w int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w = workers(w)
	if grain < 1 {
		grain = 1
	}
	if maxW := n / grain; maxW < w {
		w = maxW
	}
	if w <= 1 {
		body(0, n)
		return
	}
	chunk := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			body(lo, hi)
		}(lo, hi)
	}
	body(0, min(chunk, n))
	wg.Wait()
}

// elemGrain is the number of elements of a cheap elementwise op worth one goroutine.
const elemGrain = 1 << 15
