// Package kernels holds ElasticRoom's GPU kernel templates, one subpackage per op family
// (kernels/gemm, kernels/conv, kernels/eltwise, ...), and the contract they share: a template
// takes a plain parameter struct (kernels/ref's ConvParams, GemmParams, ...; never graph
// nodes) and a tile configuration, and builds a kir kernel wrapped in the SM-aware persistent
// protocol (kernels/kir/protocol) together with what the compiler needs to schedule it.
//
// kernels/ is the ground floor of the compiler: this package imports only kernels/kir;
// templates import kernels/kir, kernels/kir/protocol, kernels/ref (for parameter types) and
// this package. Nothing here imports compiler/ or runtime/.
package kernels

import (
	"fmt"
	"strings"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// ArgKind says how the runtime binds one kernel parameter.
type ArgKind uint8

// Parameter kinds, in the order a kernel declares them: the control block always comes first.
const (
	ArgControl ArgKind = iota // pointer to the persistent protocol's control block
	ArgBuffer                 // pointer to a tensor buffer named by Arg.Name (a role: "x", "w", "y", ...)
	ArgTrace                  // pointer to a u32-per-tile SM trace buffer, or 0 (tests, GPU checks)
	ArgU32                    // scalar, value in Arg.U32
	ArgS32                    // scalar, value in Arg.S32
	ArgF32                    // scalar, value in Arg.F32
)

// Arg describes one kernel parameter. Buffers are named by role; the lowering maps roles to
// graph values (the template documents its roles), scalars carry their value.
type Arg struct {
	Kind ArgKind
	Name string
	U32  uint32
	S32  int32
	F32  float32
}

// Config is one tile configuration of a template. Templates read the fields that apply to
// them and ignore the rest; String names the config in plans and reports.
type Config struct {
	Threads int // threads per block
	TileM   int // output rows (or elements) per tile
	TileN   int // output columns per tile
	TileK   int // reduction slice staged in shared memory per step
	ThreadM int // register blocking: outputs per thread along M
	ThreadN int // register blocking: outputs per thread along N
	Vec     int // vector width of global loads/stores (1, 2 or 4)
}

func (c Config) String() string {
	var parts []string
	add := func(name string, v int) {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s%d", name, v))
		}
	}
	add("t", c.Threads)
	add("m", c.TileM)
	add("n", c.TileN)
	add("k", c.TileK)
	add("tm", c.ThreadM)
	add("tn", c.ThreadN)
	add("v", c.Vec)
	return strings.Join(parts, "_")
}

// Work is what one launch does, for the cost model.
type Work struct {
	FLOPs        int64
	BytesRead    int64
	BytesWritten int64
}

// Instance is a template instantiated for one parameter set and one Config: a verified kir
// kernel, its launch shape (the grid is chosen by the runtime: device SMs x blocks per SM) and
// the work it does.
type Instance struct {
	Name          string
	Family        string // "gemm", "conv", "eltwise", ...
	Kernel        *kir.Kernel
	Config        Config
	Threads       int // threads per block
	SharedBytes   int // static shared memory per block
	DynamicShared int // dynamic shared memory per block
	Tiles         int // work tiles of one launch
	Args          []Arg
	Work          Work
}

// Validate checks the instance's internal consistency: a kernel, a positive block and tile
// count, and a control block as the first argument matching the kernel's first parameter.
func (in *Instance) Validate() error {
	switch {
	case in == nil || in.Kernel == nil:
		return fmt.Errorf("kernel instance has no kernel")
	case in.Threads <= 0 || in.Threads > 1024:
		return fmt.Errorf("kernel %s: %d threads per block", in.Name, in.Threads)
	case in.Tiles <= 0:
		return fmt.Errorf("kernel %s: %d tiles", in.Name, in.Tiles)
	case len(in.Args) == 0 || in.Args[0].Kind != ArgControl:
		return fmt.Errorf("kernel %s: the first argument must be the control block", in.Name)
	case len(in.Args) != len(in.Kernel.Params):
		return fmt.Errorf("kernel %s: %d arguments for %d kernel parameters", in.Name, len(in.Args), len(in.Kernel.Params))
	}
	return nil
}
