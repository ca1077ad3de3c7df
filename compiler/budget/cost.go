package budget

import (
	"math"
	"time"
)

// KernelCost describes one kernel launch for the cost model.
type KernelCost struct {
	FLOPs           float64 // floating-point operations of the whole kernel (FMA = 2)
	BytesRead       float64 // bytes read from DRAM (each input byte once: caches are not modelled)
	BytesWritten    float64 // bytes written to DRAM
	Tiles           int     // work items the persistent blocks share; each tile is run by one block
	BlocksPerSM     int     // resident blocks per SM (from Occupancy)
	SMs             int     // SMs the kernel runs on
	ThreadsPerBlock int     // threads per block
}

// CostModel holds the constants of the roofline model below. Its figures are first guesses,
// to be calibrated against measurements on a GPU (bench suite "kernels"); DefaultCostModel is
// what EstimateKernel uses.
//
// The model, for a kernel on k = min(SMs, Target.SMs) SMs:
//
//   - One SM's share of the device is 1/Target.SMs of the peak fp32 rate and of the peak DRAM
//     bandwidth (so a kernel given k SMs gets k/Target.SMs of each), derated by
//     ComputeEfficiency and MemoryEfficiency (what generated SIMT kernels reach at best), and
//     by latency hiding: min(1, resident warps on the SM / SaturatingWarps).
//   - The c blocks resident on one SM share its rates evenly, so one tile takes
//     max(tile FLOPs / SM FLOP rate, tile bytes / SM bandwidth) x c / hiding(c), with
//     tile FLOPs = FLOPs / Tiles and tile bytes = (BytesRead + BytesWritten) / Tiles.
//   - Tiles run in waves of k x BlocksPerSM; the last wave may be partial, with
//     ceil(remaining / k) blocks per SM. Total = the sum of the waves' tile times + Launch.
//
// perTile is a tile's time in a full wave: the longest a block holds an SM, which bounds the
// preemption latency and is what Budget.MaxTileMicros limits.
type CostModel struct {
	ComputeEfficiency float64       // fraction of peak fp32 a well-tuned generated kernel reaches
	MemoryEfficiency  float64       // fraction of peak DRAM bandwidth a streaming kernel reaches
	SaturatingWarps   int           // resident warps per SM that hide memory/pipeline latency
	Launch            time.Duration // fixed cost per kernel launch; 0 = Target.LaunchLatency
}

// DefaultCostModel: SIMT fp32 at half of peak (no tensor cores), 80% of DRAM bandwidth
// (what a copy kernel reaches on A100/H100), 16 warps (4 per scheduler) to hide latency, and
// the target's launch latency.
var DefaultCostModel = CostModel{ComputeEfficiency: 0.5, MemoryEfficiency: 0.8, SaturatingWarps: 16}

// EstimateKernel estimates a kernel's total time and one tile's time with DefaultCostModel.
func EstimateKernel(t Target, k KernelCost) (total, perTile time.Duration) {
	return DefaultCostModel.Estimate(t, k)
}

// Estimate applies the model (see CostModel) to one kernel. Out-of-range inputs are clamped,
// not rejected (the estimate must never fail): SMs to 1..Target.SMs (0 = all), BlocksPerSM and
// Tiles to at least 1, ThreadsPerBlock to at least one warp, negative work to 0.
func (m CostModel) Estimate(t Target, k KernelCost) (total, perTile time.Duration) {
	launch := m.Launch
	if launch == 0 {
		launch = t.LaunchLatency
	}
	sms := k.SMs
	if sms <= 0 || sms > t.SMs {
		sms = t.SMs
	}
	blocks := max(k.BlocksPerSM, 1)
	tiles := max(k.Tiles, 1)
	warpSize := max(t.WarpSize, 1)
	warpsPerBlock := max(ceilDiv(max(k.ThreadsPerBlock, 1), warpSize), 1)
	flops := math.Max(k.FLOPs, 0) / float64(tiles)
	bytes := (math.Max(k.BytesRead, 0) + math.Max(k.BytesWritten, 0)) / float64(tiles)

	// Per-SM rates in FLOP/s and B/s.
	nSM := float64(max(t.SMs, 1))
	smFlops := t.FP32TFLOPS * 1e12 / nSM * m.ComputeEfficiency
	smBytes := t.MemoryGBs * 1e9 / nSM * m.MemoryEfficiency

	// tileSeconds: one tile's time when c blocks share an SM.
	tileSeconds := func(c int) float64 {
		hide := 1.0
		if m.SaturatingWarps > 0 {
			hide = math.Min(1, float64(c*warpsPerBlock)/float64(m.SaturatingWarps))
		}
		var s float64
		if flops > 0 && smFlops > 0 {
			s = flops * float64(c) / (smFlops * hide)
		}
		if bytes > 0 && smBytes > 0 {
			s = math.Max(s, bytes*float64(c)/(smBytes*hide))
		}
		return s
	}

	perWave := sms * blocks
	full := tiles / perWave
	seconds := float64(full) * tileSeconds(blocks)
	if rest := tiles % perWave; rest > 0 {
		seconds += tileSeconds(ceilDiv(rest, sms))
	}
	return launch + seconds2d(seconds), seconds2d(tileSeconds(blocks))
}

// Waves is how many rounds the tiles need when SMs x blocksPerSM blocks run at once:
// ceil(tiles / (SMs x blocksPerSM)); 0 for no tiles. SMs and blocksPerSM below 1 count as 1.
func Waves(tiles, sms, blocksPerSM int) int {
	if tiles <= 0 {
		return 0
	}
	return ceilDiv(tiles, max(sms, 1)*max(blocksPerSM, 1))
}

func seconds2d(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
