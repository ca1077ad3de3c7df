package lower

import (
	"fmt"
	"math"
	"time"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

// choice is the configuration picked for a job, with what it costs.
type choice struct {
	inst        *kernels.Instance
	regs        int // estimated registers per thread
	occ         budget.Occ
	total, tile time.Duration
}

// hostError says that no configuration of a template builds for a node's parameters (an
// unsupported geometry, say): the node then runs as a host step.
type hostError struct{ msg string }

func (e *hostError) Error() string { return e.msg }

// nearBest is how much slower than the fastest a config may be estimated and still win by
// coming first in the template's list (the templates order them best guess first, and the
// cost model does not see every effect of tile shape).
const nearBest = 0.03

// choose builds every configuration of j, drops those that do not fit the budget and returns
// the fastest of the rest. With no fitting config the error wraps ErrNoConfig and says which
// limit failed and what the smallest config needs; when no config builds at all it is a
// *hostError.
func choose(j *job, opt Options) (*choice, error) {
	t, b := opt.Target, opt.Budget
	regLimit, sharedLimit := b.RegLimit(t), b.SharedLimit(t)
	target := kir.Target{Arch: t.Arch, MaxRegs: regLimit}
	if regLimit >= t.MaxRegsPerThread {
		target.MaxRegs = 0 // no cap: ptxas's own maximum
	}
	var (
		cands     []*choice
		buildErrs []string
		tried     int
		minRegs   = math.MaxInt
		minShared = math.MaxInt
		minTile   = time.Duration(math.MaxInt64)
		fitRegs   bool // some config passed the register check
		fitShared bool
		fitOcc    bool
		occErr    error
	)
	try := func(cfg kernels.Config) {
		tried++
		in, err := j.build(cfg, target)
		if err == nil {
			err = in.Validate()
		}
		if err != nil {
			buildErrs = append(buildErrs, fmt.Sprintf("%v: %v", cfg, err))
			return
		}
		regs := regCap(estimateRegs(j, in), t)
		minRegs = min(minRegs, regs)
		if regs > regLimit {
			return
		}
		fitRegs = true
		shared := in.SharedBytes + in.DynamicShared
		minShared = min(minShared, shared)
		if shared > sharedLimit {
			return
		}
		fitShared = true
		occ, err := budget.Occupancy(t, in.Threads, regs, shared)
		if err != nil || occ.BlocksPerSM < 1 {
			occErr = err
			return
		}
		fitOcc = true
		estimate := func(blocks int) (total, tile time.Duration) {
			return opt.Cost.Estimate(t, budget.KernelCost{
				FLOPs: float64(in.Work.FLOPs), BytesRead: float64(in.Work.BytesRead),
				BytesWritten: float64(in.Work.BytesWritten), Tiles: in.Tiles, BlocksPerSM: blocks,
				SMs: b.SMs, ThreadsPerBlock: in.Threads,
			})
		}
		total, tile := estimate(occ.BlocksPerSM)
		// Blocks resident on one SM share it, so each tile takes longer; when a tile is over
		// the bound, fewer blocks per SM (a smaller grid) may bring it under.
		for blocks := occ.BlocksPerSM / 2; b.MaxTileMicros > 0 && micros(tile) > b.MaxTileMicros && blocks >= 1; blocks /= 2 {
			tt, ti := estimate(blocks)
			if ti < tile {
				total, tile = tt, ti
				occ.WarpsPerSM = occ.WarpsPerSM / occ.BlocksPerSM * blocks
				occ.Fraction = float64(occ.WarpsPerSM) / float64(t.MaxWarpsPerSM)
				occ.BlocksPerSM = blocks
			}
		}
		minTile = min(minTile, tile)
		if b.MaxTileMicros > 0 && micros(tile) > b.MaxTileMicros {
			return
		}
		cands = append(cands, &choice{inst: in, regs: regs, occ: occ, total: total, tile: tile})
	}
	for _, cfg := range j.configs {
		try(cfg)
	}
	// The lean fallback tiles are tried when no template config fits, and when the best one
	// has fewer tiles than the budget has SMs (a GEMV's few wide tiles leave SMs idle).
	if len(cands) == 0 || pick(cands).inst.Tiles < b.SMs {
		for _, cfg := range j.fallback {
			try(cfg)
		}
	}
	if len(cands) > 0 {
		return pick(cands), nil
	}
	switch {
	case len(buildErrs) == tried:
		msg := "no kernel template config builds"
		if len(buildErrs) > 0 {
			msg += ": " + buildErrs[0]
		}
		return nil, &hostError{msg: msg}
	case !fitRegs:
		return nil, fmt.Errorf("%w: %s needs >= %d registers per thread, budget allows %d (--max-regs)",
			ErrNoConfig, j.family, minRegs, regLimit)
	case !fitShared:
		return nil, fmt.Errorf("%w: %s needs >= %d bytes of shared memory per block, budget allows %d (--shared-kb)",
			ErrNoConfig, j.family, minShared, sharedLimit)
	case !fitOcc:
		return nil, fmt.Errorf("%w: %s: no block fits on an SM: %v", ErrNoConfig, j.family, occErr)
	default:
		return nil, fmt.Errorf("%w: the shortest %s tile takes an estimated %.2f µs on %d SMs, budget allows %g µs (--max-tile-us)",
			ErrNoConfig, j.family, micros(minTile), b.SMs, b.MaxTileMicros)
	}
}

// regCap is the .maxnreg a kernel is emitted with for a register estimate: the estimate
// rounded up to the hardware's allocation granularity (8 per thread), and at least the
// smallest cap ptxas honours. ptxas given a cap tends to use all of it, so capping at the
// estimate (which is at least what ptxas allocates uncapped) rather than at the budget's limit
// keeps the registers, and so the occupancy, the plan records exact upper bounds.
func regCap(est int, t budget.Target) int {
	unit := max(t.RegAllocUnit/max(t.WarpSize, 1), 1)
	r := (est + unit - 1) / unit * unit
	return min(max(r, t.MinRegLimit), t.MaxRegsPerThread)
}

// pick returns the fastest candidate, or the earliest (the template's better guess) of those
// within nearBest of it.
func pick(cands []*choice) *choice {
	best := cands[0]
	for _, c := range cands[1:] {
		if c.total < best.total {
			best = c
		}
	}
	limit := time.Duration(float64(best.total) * (1 + nearBest))
	for _, c := range cands {
		if c.total <= limit {
			return c
		}
	}
	return best
}
