package isolation

import (
	"math"
	"slices"
	"time"
)

// Percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted latencies: the smallest
// sample at or above a fraction q of them, sorted[ceil(q*n)-1]. It is an order statistic,
// never an interpolation, so p99.9 of fewer than 1000 samples is the maximum. 0 when empty.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(n))) - 1
	return sorted[min(max(k, 0), n-1)]
}

// Sorted returns a sorted copy of d.
func Sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratio is a/b, or 0 when b is 0 (so reports stay finite; the markdown says n/a).
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}
