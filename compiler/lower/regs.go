package lower

import (
	"github.com/elasticroom/elasticroom/kernels"
)

// estimateRegs estimates the registers per thread ptxas allocates for an instance without a
// cap: templates do not report it, and ptxas is not available when users compile. The
// formulas are per template family, fitted to ptxas 11.8's figures for sm_80 over every
// configuration of every node of the zoo and real models (TestCalibrateRegisters prints the
// table; TestRegistersUnderBudget checks the plans), erring high: an estimate below the real
// figure would let a config through whose kernel then spills under .maxnreg.
//
// Measured (uncapped, sm_80 and sm_90, every config of every node of the zoo and real
// models): gemm 32-112 and implicit-GEMM conv 30-112 (accumulators ThreadM x ThreadN,
// fragments ThreadM + ThreadN, and the next K slice prefetched into registers, (TileM +
// TileN) x TileK / Threads values, each costing several registers with its address
// arithmetic); direct depthwise conv 40 + 8 per output row + the taps beyond 3x3; eltwise
// 20-32 (inputs, transcendental functions); move 16-26; pool 24; reduce 24-32; softmax 31-39;
// norm 27-32; attention 32 + the query's and output's features per lane ((D + Dv) /
// ThreadN), 40-168.
func estimateRegs(j *job, in *kernels.Instance) int {
	c := in.Config
	var r int
	switch j.family {
	case "gemm", "conv":
		if j.family == "conv" && c.TileK == 0 { // direct depthwise; hint: kernel taps
			r = 32 + 8*max(c.ThreadM, 1) + max(j.hint-9, 0)
			break
		}
		prefetch := 0
		if c.Threads > 0 {
			prefetch = (c.TileM + c.TileN) * c.TileK / c.Threads
		}
		// Each prefetched value costs registers for itself and its address arithmetic,
		// more with deeper K slices and with scalar loads.
		per := c.TileK/4 + 2
		if c.Vec <= 1 {
			per++
		}
		r = max(32, 20+c.ThreadM*c.ThreadN+c.ThreadM+c.ThreadN+per*prefetch)
		if j.family == "conv" || j.kind == "batched" {
			r += 8 // im2col coordinates, batch offsets
		}
	case "eltwise":
		inputs := 0
		for _, a := range in.Args {
			if a.Kind == kernels.ArgBuffer {
				inputs++
			}
		}
		inputs-- // the output
		r = 20
		if c.Vec > 1 {
			r = 22
		}
		r += 6 * max(inputs-1, 0)
		if j.hint >= 8 { // exp/erf/tanh polynomials
			r += 10
		}
	case "move":
		r = 24
		if j.kind == "resize" || j.kind == "pad" {
			r = 28
		}
	case "pool":
		r = 24
	case "reduce", "norm":
		r = 32
	case "softmax":
		r = 32
		if in.Threads >= 512 {
			r = 40
		}
	case "attention":
		tn := max(c.ThreadN, 1)
		f := j.hint / tn
		r = 32 + f + f/16
	default:
		r = 64
	}
	return min(max(r, 16), 255)
}
