package budget

import (
	"math"
	"testing"
	"time"
)

// toy has round figures so the expected times can be worked by hand: per SM 10e12/100 x 0.5 =
// 5e10 FLOP/s and 1e12/100 x 0.5 = 5e9 B/s under toyModel.
var (
	toy      = Target{Name: "toy", SMs: 100, WarpSize: 32, FP32TFLOPS: 10, MemoryGBs: 1000, LaunchLatency: 5 * time.Microsecond}
	toyModel = CostModel{ComputeEfficiency: 0.5, MemoryEfficiency: 0.5, SaturatingWarps: 16}
)

func TestEstimateByHand(t *testing.T) {
	us := time.Microsecond
	for _, c := range []struct {
		name           string
		k              KernelCost
		total, perTile time.Duration
	}{
		// 5e6 FLOPs per tile, 2 blocks of 8 warps share an SM (16 warps: fully hidden):
		// 5e6 x 2 / 5e10 = 200 µs; 200 tiles = 1 wave on 100 SMs x 2; + 5 µs launch.
		{"compute one wave", KernelCost{FLOPs: 1e9, Tiles: 200, SMs: 100, BlocksPerSM: 2, ThreadsPerBlock: 256}, 205 * us, 200 * us},
		// Half the SMs: 2 waves of 200 µs.
		{"compute half the SMs", KernelCost{FLOPs: 1e9, Tiles: 200, SMs: 50, BlocksPerSM: 2, ThreadsPerBlock: 256}, 405 * us, 200 * us},
		// 250 tiles of 4e6: one full wave (4e6 x 2 / 5e10 = 160 µs), then 50 tiles alone on
		// their SMs: 8 warps hide half, 4e6 x 1 / (5e10 x 0.5) = 160 µs. 320 + 5.
		{"partial wave", KernelCost{FLOPs: 1e9, Tiles: 250, SMs: 100, BlocksPerSM: 2, ThreadsPerBlock: 256}, 325 * us, 160 * us},
		// 1e7 bytes per tile / 5e9 = 2 ms beats 1e6 FLOPs / 5e10 = 20 µs.
		{"memory bound", KernelCost{FLOPs: 1e8, BytesRead: 8e8, BytesWritten: 2e8, Tiles: 100, SMs: 100, BlocksPerSM: 1, ThreadsPerBlock: 512}, 2005 * us, 2000 * us},
		// 4 one-warp blocks: 4 warps hide a quarter; 1e6 x 4 / (5e10 x 0.25) = 320 µs.
		{"latency bound", KernelCost{FLOPs: 4e8, Tiles: 400, SMs: 100, BlocksPerSM: 4, ThreadsPerBlock: 32}, 325 * us, 320 * us},
		// Clamping: SMs 0 = all 100, BlocksPerSM 0 = 1, Tiles 0 = 1, 0 threads = 1 warp:
		// 1e6 FLOPs / (5e10 / 16) = 320 µs.
		{"clamped", KernelCost{FLOPs: 1e6}, 325 * us, 320 * us},
		{"no work", KernelCost{Tiles: 10, SMs: 10, BlocksPerSM: 1, ThreadsPerBlock: 128}, 5 * us, 0},
	} {
		total, perTile := toyModel.Estimate(toy, c.k)
		if total != c.total || perTile != c.perTile {
			t.Errorf("%s: total %v per tile %v, want %v and %v", c.name, total, perTile, c.total, c.perTile)
		}
	}
}

func TestEstimateA100Copy(t *testing.T) {
	// Copying 1 GB on a whole A100 at 80% of 1555 GB/s: 2e9 / 1.244e12 s = 1607.7 µs, in 10 full
	// waves of 108 x 4 blocks, plus the 4 µs launch.
	a100 := mustTarget(t, "a100")
	total, _ := EstimateKernel(a100, KernelCost{BytesRead: 1e9, BytesWritten: 1e9, Tiles: 4320, SMs: 108, BlocksPerSM: 4, ThreadsPerBlock: 256})
	want := 2e9/(1555e9*0.8) + 4e-6
	if math.Abs(total.Seconds()-want) > 1e-9 {
		t.Errorf("total %v, want %.4f µs", total, want*1e6)
	}
}

func TestEstimateMonotoneInSMs(t *testing.T) {
	h100 := mustTarget(t, "h100")
	k := KernelCost{FLOPs: 3e9, BytesRead: 4e8, BytesWritten: 1e8, Tiles: 1000, BlocksPerSM: 2, ThreadsPerBlock: 128}
	prev := time.Duration(math.MaxInt64)
	for sms := 1; sms <= h100.SMs; sms++ {
		k.SMs = sms
		total, _ := EstimateKernel(h100, k)
		if total > prev {
			t.Fatalf("%d SMs: %v, slower than %d SMs: %v", sms, total, sms-1, prev)
		}
		prev = total
	}
}

func TestWaves(t *testing.T) {
	for _, c := range []struct{ tiles, sms, blocks, want int }{
		{0, 108, 4, 0}, {1, 108, 4, 1}, {432, 108, 4, 1}, {433, 108, 4, 2},
		{1000, 20, 2, 25}, {1001, 20, 2, 26}, {5, 0, 0, 5}, {-3, 4, 4, 0},
	} {
		if got := Waves(c.tiles, c.sms, c.blocks); got != c.want {
			t.Errorf("Waves(%d, %d, %d) = %d, want %d", c.tiles, c.sms, c.blocks, got, c.want)
		}
	}
}
