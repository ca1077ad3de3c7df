package budget

import (
	"errors"
	"math"
	"testing"
)

// Every expected figure below is worked by hand from the published rules (CUDA occupancy
// calculator, cuda_occupancy.h; see Occupancy's doc comment), not taken from the code:
//
//	sm_80 / sm_90: 65536 registers per SM in 4 sub-partitions of 16384; registers per warp =
//	regs x 32 rounded up to 256; 64 warps, 32 blocks per SM; shared per block = bytes + 1024
//	rounded up to 128; shared per SM 167936 (sm_80, 164 KiB) or 233472 (sm_90, 228 KiB).
func TestOccupancyTable(t *testing.T) {
	a100 := mustTarget(t, "sm_80")
	h100 := mustTarget(t, "sm_90")
	cases := []struct {
		name                   string
		tgt                    Target
		threads, regs, shared  int
		blocks, warps          int
		limiter                string
		byRegs, byShared, byTh int
	}{
		// 8 warps; 64x32 = 2048 regs/warp; 16384/2048 = 8 warps per sub-partition -> 32 per SM
		// -> 32/8 = 4 blocks. Threads: 64/8 = 8. Shared: 167936/1024 = 164.
		{"256x64 regs", a100, 256, 64, 0, 4, 32, LimitRegisters, 4, 164, 8},
		// 4 warps; 255x32 = 8160 -> 8192 regs/warp; launch check 8192x4 = 32768 <= 65536;
		// 16384/8192 = 2 per sub-partition -> 8 warps -> 2 blocks. Threads: 64/4 = 16.
		{"128x255 regs", a100, 128, 255, 0, 2, 8, LimitRegisters, 2, 164, 16},
		// 32 warps; 1024 regs/warp; 16384/1024 = 16 -> 64 warps -> 2 blocks; threads 64/32 = 2:
		// a tie, reported as threads.
		{"1024x32 regs", a100, 1024, 32, 0, 2, 64, LimitThreads, 2, 164, 2},
		// 32 warps; 2048 regs/warp; block needs 2048x32 = 65536 <= 65536; 16384/2048 = 8 -> 32
		// warps -> 1 block.
		{"1024x64 regs", a100, 1024, 64, 0, 1, 32, LimitRegisters, 1, 164, 2},
		// Sub-partitions matter: 2 warps of 40x32 = 1280 regs; 16384/1280 = 12 (not 12.8) -> 48
		// warps -> 24 blocks (a single pool of 65536 would give floor(65536/2560) = 25).
		{"64x40 regs sub-partitions", a100, 64, 40, 0, 24, 48, LimitRegisters, 24, 164, 32},
		// Per-warp rounding matters: 33x32 = 1056 -> 1280; 16384/1280 = 12 -> 48 warps -> 12
		// blocks of 4 warps (unrounded: 16384/1056 = 15 -> 15 blocks).
		{"128x33 regs rounding", a100, 128, 33, 0, 12, 48, LimitRegisters, 12, 164, 16},
		// 48 KiB: 49152+1024 = 50176 (a multiple of 128); 167936/50176 = 3.3 -> 3 blocks.
		// Registers 32: 16384/1024 = 16 -> 64 warps -> 16 blocks; threads 16.
		{"128 threads 48KiB", a100, 128, 32, 48 * KiB, 3, 12, LimitShared, 16, 3, 16},
		// Reserved bytes and rounding matter: 32516+1024 = 33540 -> 33664 (263x128);
		// 167936/33664 = 4.99 -> 4 (without rounding 5.007 -> 5, without the reserve
		// 167936/32640 -> 5).
		{"shared rounding", a100, 128, 32, 32516, 4, 16, LimitShared, 16, 4, 16},
		// 100 KiB: 102400+1024 = 103424; sm_80: 167936/103424 = 1.6 -> 1; sm_90: 233472/103424
		// = 2.26 -> 2. Registers 32 over 8 warps: 64/8 = 8 blocks; threads 8.
		{"100KiB sm_80", a100, 256, 32, 100 * KiB, 1, 8, LimitShared, 8, 1, 8},
		{"100KiB sm_90", h100, 256, 32, 100 * KiB, 2, 16, LimitShared, 8, 2, 8},
		// Opt-in maxima: 163 KiB + 1 KiB = 164 KiB = all of sm_80's; 227+1 = 228 KiB on sm_90.
		{"163KiB sm_80", a100, 128, 32, 163 * KiB, 1, 4, LimitShared, 16, 1, 16},
		{"227KiB sm_90", h100, 128, 32, 227 * KiB, 1, 4, LimitShared, 16, 1, 16},
		// One warp of 16x32 = 512 regs: 16384/512 = 32 per sub-partition -> 128 warps -> 128
		// blocks; threads 64; the 32 block slots limit.
		{"32x16 blocks", h100, 32, 16, 0, 32, 32, LimitBlocks, 128, 228, 64},
		// No registers: no register limit. 2 warps: threads 64/2 = 32 = block slots: a tie,
		// reported as threads.
		{"64x0 regs", h100, 64, 0, 0, 32, 64, LimitThreads, math.MaxInt, 228, 32},
		// 100 threads are 4 warps: 2048 regs/warp -> 8 per sub-partition -> 32 warps -> 8 blocks.
		{"100 threads partial warp", h100, 100, 64, 0, 8, 32, LimitRegisters, 8, 228, 16},
		// 2 warps x 255 regs (8192/warp): the launch check rounds 2 warps up to 4: 32768 <=
		// 65536. 16384/8192 = 2 -> 8 warps -> 4 blocks.
		{"64x255 regs", h100, 64, 255, 0, 4, 8, LimitRegisters, 4, 228, 32},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := Occupancy(c.tgt, c.threads, c.regs, c.shared)
			if err != nil {
				t.Fatalf("Occupancy(%s, %d, %d, %d): %v", c.tgt.Name, c.threads, c.regs, c.shared, err)
			}
			if o.BlocksPerSM != c.blocks || o.WarpsPerSM != c.warps || o.Limiter != c.limiter {
				t.Errorf("got %d blocks, %d warps, limiter %s; want %d, %d, %s", o.BlocksPerSM, o.WarpsPerSM, o.Limiter, c.blocks, c.warps, c.limiter)
			}
			if o.ByRegisters != c.byRegs || o.ByShared != c.byShared || o.ByThreads != c.byTh || o.ByBlocks != 32 {
				t.Errorf("limits regs/shared/threads/blocks = %d/%d/%d/%d, want %d/%d/%d/32", o.ByRegisters, o.ByShared, o.ByThreads, o.ByBlocks, c.byRegs, c.byShared, c.byTh)
			}
			if want := float64(c.warps) / 64; o.Fraction != want {
				t.Errorf("fraction %v, want %v", o.Fraction, want)
			}
		})
	}
}

func TestOccupancyAllocated(t *testing.T) {
	// 96 threads = 3 warps of 33 regs: 1056 -> 1280 per warp, 3840 per block; 1000 shared
	// bytes: 1000+1024 = 2024 -> 2048.
	o, err := Occupancy(mustTarget(t, "a100"), 96, 33, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if o.RegsPerBlock != 3840 || o.SharedPerBlock != 2048 {
		t.Errorf("allocated %d registers, %d shared bytes; want 3840, 2048", o.RegsPerBlock, o.SharedPerBlock)
	}
}

func TestOccupancyNoFit(t *testing.T) {
	// 32 warps x 72 regs: 2304 per warp x 32 = 73728 > 65536 registers per block.
	o, err := Occupancy(mustTarget(t, "sm_80"), 1024, 72, 0)
	if !errors.Is(err, ErrNoFit) {
		t.Fatalf("err = %v, want ErrNoFit", err)
	}
	if o.BlocksPerSM != 0 || o.Limiter != LimitRegisters {
		t.Errorf("got %d blocks limited by %s, want 0 by registers", o.BlocksPerSM, o.Limiter)
	}
	// 25 warps x 80 regs: 2560 per warp x 25 = 64000 <= 65536, but 16384/2560 = 6 warps per
	// sub-partition, 24 per SM < 25 (the launch check agrees: 25 warps round to 28, 71680).
	if _, err := Occupancy(mustTarget(t, "sm_90"), 800, 80, 0); !errors.Is(err, ErrNoFit) {
		t.Errorf("800x80: err = %v, want ErrNoFit", err)
	}
}

func TestOccupancyBadInput(t *testing.T) {
	a100 := mustTarget(t, "a100")
	for _, c := range []struct{ threads, regs, shared int }{
		{0, 32, 0}, {1025, 32, 0}, {-1, 32, 0}, {128, 256, 0}, {128, -1, 0},
		{128, 32, -1}, {128, 32, 163*KiB + 1},
	} {
		if _, err := Occupancy(a100, c.threads, c.regs, c.shared); err == nil || errors.Is(err, ErrNoFit) {
			t.Errorf("Occupancy(%d, %d, %d): err = %v, want an argument error", c.threads, c.regs, c.shared, err)
		}
	}
	// 227 KiB is fine on sm_90 but not on sm_80.
	if _, err := Occupancy(mustTarget(t, "h100"), 128, 32, 227*KiB+1); err == nil {
		t.Error("227 KiB + 1 on sm_90: no error")
	}
	if _, err := Occupancy(Target{}, 128, 32, 0); err == nil {
		t.Error("zero Target: no error")
	}
}

func mustTarget(t *testing.T, name string) Target {
	t.Helper()
	tgt, err := LookupTarget(name)
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}
