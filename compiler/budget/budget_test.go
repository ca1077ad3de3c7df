package budget

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestLookupTarget(t *testing.T) {
	for _, c := range []struct {
		name, want, arch string
		sms              int
		gbs              float64
	}{
		{"sm_80", "a100", "sm_80", 108, 1555},
		{"A100", "a100", "sm_80", 108, 1555},
		{"a100-80gb", "a100-80gb", "sm_80", 108, 2039},
		{"sm_90", "h100", "sm_90", 132, 3350},
		{"h100", "h100", "sm_90", 132, 3350},
		{" H200 ", "h200", "sm_90", 132, 4800},
		{"9.0", "h100", "sm_90", 132, 3350},
	} {
		tgt, err := LookupTarget(c.name)
		if err != nil {
			t.Errorf("LookupTarget(%q): %v", c.name, err)
			continue
		}
		if tgt.Name != c.want || tgt.Arch != c.arch || tgt.SMs != c.sms || tgt.MemoryGBs != c.gbs {
			t.Errorf("LookupTarget(%q) = %s %s %d SMs %v GB/s, want %s %s %d %v", c.name, tgt.Name, tgt.Arch, tgt.SMs, tgt.MemoryGBs, c.want, c.arch, c.sms, c.gbs)
		}
	}
	_, err := LookupTarget("sm_75")
	if err == nil {
		t.Fatal("sm_75: no error")
	}
	for _, want := range []string{`"sm_75"`, "a100 (sm_80)", "h100 (sm_90)", "h200 (sm_90)", "sm_90=h100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// The registry's figures agree with each other and with the datasheets.
func TestTargetsConsistent(t *testing.T) {
	for _, tgt := range Targets() {
		// Peak fp32 = SMs x fp32 lanes x 2 (FMA) x boost clock, within 1% of the datasheet.
		peak := float64(tgt.SMs*tgt.FP32Lanes*2) * tgt.BoostClockMHz * 1e6 / 1e12
		if math.Abs(peak-tgt.FP32TFLOPS)/tgt.FP32TFLOPS > 0.01 {
			t.Errorf("%s: %d SMs x %d lanes x 2 x %v MHz = %.2f TFLOP/s, datasheet %v", tgt.Name, tgt.SMs, tgt.FP32Lanes, tgt.BoostClockMHz, peak, tgt.FP32TFLOPS)
		}
		if tgt.MaxWarpsPerSM*tgt.WarpSize != tgt.MaxThreadsPerSM {
			t.Errorf("%s: %d warps x %d != %d threads per SM", tgt.Name, tgt.MaxWarpsPerSM, tgt.WarpSize, tgt.MaxThreadsPerSM)
		}
		// The opt-in maximum plus the reserved KiB is exactly one SM's shared memory.
		if tgt.SharedPerBlockOptin+tgt.ReservedSharedPerBlock != tgt.SharedPerSM {
			t.Errorf("%s: %d + %d != %d shared bytes", tgt.Name, tgt.SharedPerBlockOptin, tgt.ReservedSharedPerBlock, tgt.SharedPerSM)
		}
		if got, err := LookupTarget(tgt.Name); err != nil || got != tgt {
			t.Errorf("LookupTarget(%q) does not return the registered target: %v", tgt.Name, err)
		}
	}
}

func TestBudgetValidate(t *testing.T) {
	a100 := mustTarget(t, "a100")
	h200 := mustTarget(t, "h200")
	good := []Budget{
		{SMs: 1}, {SMs: 108}, {SMs: 20, MaxRegs: 64, SharedPerBlock: 48 * KiB, MaxTileMicros: 50},
		{SMs: 54, MaxRegs: 16}, {SMs: 54, MaxRegs: 255}, {SMs: 54, SharedPerBlock: 163 * KiB},
		Full(a100),
	}
	for _, b := range good {
		if err := b.Validate(a100); err != nil {
			t.Errorf("%v: %v", b, err)
		}
	}
	bad := []struct {
		b    Budget
		tgt  Target
		want string
	}{
		{Budget{SMs: 0}, a100, "SMs = 0, want 1..108"},
		{Budget{SMs: 109}, a100, "SMs = 109"},
		{Budget{SMs: 133}, h200, "want 1..132"},
		{Budget{SMs: 8, MaxRegs: 15}, a100, "MaxRegs = 15"},
		{Budget{SMs: 8, MaxRegs: 256}, a100, "MaxRegs = 256"},
		{Budget{SMs: 8, MaxRegs: -1}, a100, "MaxRegs = -1"},
		{Budget{SMs: 8, SharedPerBlock: -1}, a100, "SharedPerBlock = -1"},
		{Budget{SMs: 8, SharedPerBlock: 163*KiB + 1}, a100, "1..166912"},
		{Budget{SMs: 8, MaxTileMicros: -1}, a100, "MaxTileMicros"},
		{Budget{SMs: 8, MaxTileMicros: math.NaN()}, a100, "MaxTileMicros"},
		{Budget{SMs: 8, MaxTileMicros: math.Inf(1)}, a100, "MaxTileMicros"},
	}
	for _, c := range bad {
		err := c.b.Validate(c.tgt)
		if !errors.Is(err, ErrInvalidBudget) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v on %s: err = %v, want ErrInvalidBudget mentioning %q", c.b, c.tgt.Name, err, c.want)
		}
	}
	// 200 KiB fits sm_90's 227 KiB but not sm_80's 163 KiB.
	b := Budget{SMs: 8, SharedPerBlock: 200 * KiB}
	if err := b.Validate(h200); err != nil {
		t.Errorf("200 KiB on h200: %v", err)
	}
	if err := b.Validate(a100); err == nil {
		t.Error("200 KiB on a100: no error")
	}
}

func TestBudgetLimits(t *testing.T) {
	h100 := mustTarget(t, "h100")
	// ptxas 11.8 raises a .maxnreg below 24 to 24 ("adjusting per thread register count of 16
	// to lower bound of 24"); 0 means the architecture's 255.
	for _, c := range []struct{ max, want int }{{0, 255}, {16, 24}, {23, 24}, {24, 24}, {64, 64}, {255, 255}} {
		if got := (Budget{SMs: 1, MaxRegs: c.max}).RegLimit(h100); got != c.want {
			t.Errorf("RegLimit(MaxRegs=%d) = %d, want %d", c.max, got, c.want)
		}
	}
	if got := (Budget{SMs: 1}).SharedLimit(h100); got != 232448 {
		t.Errorf("SharedLimit(0) = %d, want 227 KiB = 232448", got)
	}
	if got := (Budget{SMs: 1, SharedPerBlock: 1000}).SharedLimit(h100); got != 1000 {
		t.Errorf("SharedLimit(1000) = %d", got)
	}
	if got := (Budget{MaxTileMicros: 50}).MaxTile(); got.Microseconds() != 50 {
		t.Errorf("MaxTile() = %v, want 50µs", got)
	}
}

func TestBudgetKey(t *testing.T) {
	h100, h200 := mustTarget(t, "h100"), mustTarget(t, "h200")
	base := Budget{SMs: 20, MaxRegs: 64, SharedPerBlock: 48 * KiB, MaxTileMicros: 50}
	k := base.Key(h100)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(k) {
		t.Fatalf("key %q is not 32 hex digits", k)
	}
	same := base
	if same.Key(mustTarget(t, "sm_90")) != k {
		t.Error("equal inputs give different keys")
	}
	seen := map[string]string{k: "base"}
	add := func(what, key string) {
		if prev, dup := seen[key]; dup {
			t.Errorf("%s has the same key as %s", what, prev)
		}
		seen[key] = what
	}
	add("h200", base.Key(h200))
	add("SMs", Budget{SMs: 21, MaxRegs: 64, SharedPerBlock: 48 * KiB, MaxTileMicros: 50}.Key(h100))
	add("MaxRegs", Budget{SMs: 20, MaxRegs: 72, SharedPerBlock: 48 * KiB, MaxTileMicros: 50}.Key(h100))
	add("SharedPerBlock", Budget{SMs: 20, MaxRegs: 64, SharedPerBlock: 32 * KiB, MaxTileMicros: 50}.Key(h100))
	add("MaxTileMicros", Budget{SMs: 20, MaxRegs: 64, SharedPerBlock: 48 * KiB, MaxTileMicros: 50.5}.Key(h100))
	fixed := h100
	fixed.MemoryGBs = 3352
	add("target figure", base.Key(fixed))
	fixed = h100
	fixed.MinRegLimit = 16
	add("target limit", base.Key(fixed))
}
