package budget

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Budget is what one compiled plan may use of a target: it is the compiler's input next to the
// Target, and (with it) the cache key of a compiled plan.
type Budget struct {
	// SMs is how many SMs the plan's kernels are sized for (grid = SMs x blocks per SM, tile
	// counts chosen to fill whole waves on them); 1..Target.SMs.
	SMs int
	// MaxRegs caps registers per thread (PTX .maxnreg); 0 = no cap (the target's 255).
	// ptxas raises a cap below Target.MinRegLimit (24) to it; RegLimit reports that value.
	MaxRegs int
	// SharedPerBlock caps shared memory per block in bytes; 0 = the target's opt-in maximum.
	SharedPerBlock int
	// MaxTileMicros bounds one tile's estimated time in microseconds (the preemption latency
	// of a best-effort kernel); 0 = unbounded.
	MaxTileMicros float64
}

// ErrInvalidBudget is wrapped by every error of Budget.Validate.
var ErrInvalidBudget = errors.New("invalid budget")

// MinMaxRegs is the smallest nonzero MaxRegs Validate accepts (the smallest value nvcc's
// --maxrregcount documents); ptxas then raises anything below Target.MinRegLimit to it.
const MinMaxRegs = 16

// Full returns the budget that gives a plan the whole target: every SM, no register cap,
// the opt-in shared memory maximum and no tile-time bound.
func Full(t Target) Budget { return Budget{SMs: t.SMs} }

// Validate checks the budget against the target; the error names the field, the value and
// the accepted range.
func (b Budget) Validate(t Target) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w for %s: %s", ErrInvalidBudget, t.Name, fmt.Sprintf(format, args...))
	}
	if b.SMs < 1 || b.SMs > t.SMs {
		return bad("SMs = %d, want 1..%d", b.SMs, t.SMs)
	}
	if b.MaxRegs != 0 && (b.MaxRegs < MinMaxRegs || b.MaxRegs > t.MaxRegsPerThread) {
		return bad("MaxRegs = %d, want 0 (no cap) or %d..%d", b.MaxRegs, MinMaxRegs, t.MaxRegsPerThread)
	}
	if b.SharedPerBlock < 0 || b.SharedPerBlock > t.SharedPerBlockOptin {
		return bad("SharedPerBlock = %d bytes, want 0 (target maximum) or 1..%d", b.SharedPerBlock, t.SharedPerBlockOptin)
	}
	if math.IsNaN(b.MaxTileMicros) || math.IsInf(b.MaxTileMicros, 0) || b.MaxTileMicros < 0 {
		return bad("MaxTileMicros = %v, want 0 (unbounded) or a positive number of microseconds", b.MaxTileMicros)
	}
	return nil
}

// RegLimit is the register cap per thread ptxas will actually apply for this budget: the
// target's maximum when MaxRegs is 0, MaxRegs raised to Target.MinRegLimit otherwise.
// ptxas allocates exactly up to the cap (no rounding; the hardware then allocates registers
// in units of 8 per thread, which Occupancy accounts for).
func (b Budget) RegLimit(t Target) int {
	switch {
	case b.MaxRegs == 0:
		return t.MaxRegsPerThread
	case b.MaxRegs < t.MinRegLimit:
		return t.MinRegLimit
	}
	return b.MaxRegs
}

// SharedLimit is the shared memory per block, in bytes, a kernel of this plan may use.
func (b Budget) SharedLimit(t Target) int {
	if b.SharedPerBlock == 0 {
		return t.SharedPerBlockOptin
	}
	return b.SharedPerBlock
}

// MaxTile is MaxTileMicros as a duration; 0 means unbounded.
func (b Budget) MaxTile() time.Duration {
	return time.Duration(b.MaxTileMicros * float64(time.Microsecond))
}

func (b Budget) String() string {
	s := fmt.Sprintf("sms=%d max-regs=%d smem=%d", b.SMs, b.MaxRegs, b.SharedPerBlock)
	if b.MaxTileMicros > 0 {
		s += " max-tile-us=" + strconv.FormatFloat(b.MaxTileMicros, 'g', -1, 64)
	}
	return s
}

// keyVersion changes whenever the meaning of a key's inputs changes.
const keyVersion = "elasticroom/budget-key/v1"

// Key is the stable cache key of a plan compiled for target t under budget b: a hex SHA-256
// (first 16 bytes) over a canonical text of every Target field (so a corrected datasheet
// figure invalidates cached plans) and every Budget field. Equal inputs give equal keys in
// every process and on every machine; changing any field changes the key.
func (b Budget) Key(t Target) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", keyVersion)
	// Floats are written with strconv's shortest exact form, so equal values give equal text.
	fmt.Fprintf(h, "target %s %s %d.%d sms=%d\n", t.Name, t.Arch, t.Major, t.Minor, t.SMs)
	for _, v := range []int{t.WarpSize, t.MaxThreadsPerBlock, t.MaxThreadsPerSM, t.MaxWarpsPerSM,
		t.MaxBlocksPerSM, t.RegsPerSM, t.RegsPerBlock, t.RegAllocUnit, t.SubPartitions,
		t.MaxRegsPerThread, t.MinRegLimit, t.SharedPerSM, t.SharedPerBlockOptin,
		t.StaticSharedPerBlock, t.ReservedSharedPerBlock, t.SharedAllocUnit, t.FP32Lanes,
		int(t.LaunchLatency)} {
		fmt.Fprintf(h, "%d ", v)
	}
	for _, f := range []float64{t.FP32TFLOPS, t.TensorTFLOPS, t.MemoryGBs, t.BoostClockMHz} {
		fmt.Fprintf(h, "%s ", strconv.FormatFloat(f, 'g', -1, 64))
	}
	fmt.Fprintf(h, "\nbudget %d %d %d %s\n", b.SMs, b.MaxRegs, b.SharedPerBlock,
		strconv.FormatFloat(b.MaxTileMicros, 'g', -1, 64))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
