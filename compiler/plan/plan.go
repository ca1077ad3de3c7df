// Package plan is THE CONTRACT between ElasticRoom's compiler and its runtime: a Plan is
// everything needed to run one model on one target under one budget, and the .erp file is
// its on-disk form.
//
// What a plan holds: the optimized, shape-specialized graph with its weights (Graph); the
// kernels chosen for it (PTX text, launch shape, resource use, estimated times, the graph
// nodes each implements); the launch sequence (Launches, each binding a kernel's parameters
// to buffers and immediates); the buffer plan (Memory: every intermediate value's offset and
// size in one arena); and the graph's inputs and outputs.
//
// What the runtime may rely on:
//   - Graph verifies (graph.Verify), its nodes are in topological order, and every value in
//     Memory.Offsets has a concrete shape in Graph.Values (or is a graph input or output).
//   - Executing Launches in order on a device computes Outputs from Inputs; a device without
//     kernels (runtime/cpu) may instead run Graph's nodes, which Kernel.Nodes maps to kernels.
//   - Buffers in Memory do not overlap while both are live (PlanMemory's invariant); offsets
//     are multiples of Memory.Alignment and end within Memory.ArenaBytes.
//   - Weights (Graph.Initializers) are not in the arena: a launch names them by value name.
//   - Fused operators are those of compiler/passes (domain "elasticroom"), with the semantics
//     documented there.
//
// Versions: FormatVersion numbers the .erp layout and the meaning of every field. Any change a
// reader of the previous version would misread (a new section kind it must understand, a
// field whose meaning changes, a new fused op or attribute the runtime must implement) bumps
// it; Decode refuses other versions with an error naming both. Adding an optional JSON field
// that old readers may ignore does not. Plan.Version is the version a decoded plan had.
//
// plan imports compiler/graph, compiler/budget, kernels/kir and kernels/tensor only; runtime/ imports it,
// so it must never import runtime/, compiler/passes, compiler/lower or models/.
package plan

import (
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/kir"
)

// FormatVersion is the .erp format version this build writes and reads.
const FormatVersion = 2

// Plan is one model compiled for one target under one budget.
type Plan struct {
	Version  uint32        // format version (set by Encode/Decode)
	Model    string        // model name
	Key      string        // budget.Budget.Key(Target): the plan's cache key
	Target   budget.Target // the GPU model compiled for
	Budget   budget.Budget // what the plan may use of it
	Graph    *graph.Graph  // optimized, specialized graph, weights included
	Kernels  []Kernel
	Launches []Launch
	Memory   MemoryPlan
	Inputs   []graph.Value
	Outputs  []graph.Value
}

// Kernel is one compiled GPU kernel.
type Kernel struct {
	Name          string   // PTX entry name
	Op            string   // the (fused) op it implements, e.g. "elasticroom.FusedConv"
	Nodes         []string // names of the graph nodes it implements, in order
	PTX           string   // PTX module text holding the entry
	Grid, Block   [3]int
	Registers     int     // registers per thread (ptxas)
	SharedBytes   int     // shared memory per block
	Tiles         int     // work tiles (the persistent protocol's ntiles)
	BlocksPerSM   int     // resident blocks per SM (occupancy calculator)
	Occupancy     float64 // resident warps / maximum warps per SM
	EstMicros     float64 // estimated run time on the budget's SMs, microseconds
	EstTileMicros float64 // estimated time of one tile, microseconds (preemption latency)
	Params        []Param // formal parameters, in PTX order
	// IR is the kernel in kernel IR, the form the emulator device runs; the PTX is rendered
	// from it. Devices that load PTX (cuda) ignore it.
	IR *kir.Kernel `json:",omitempty"`
}

// Param kinds.
const (
	ParamBuffer = "buffer" // pointer to a value (arena buffer, weight, graph input or output)
	ParamCtl    = "ctl"    // pointer to the persistent-kernel control block
	ParamU32    = "u32"
	ParamU64    = "u64"
	ParamF32    = "f32"
)

// Param is one formal kernel parameter.
type Param struct {
	Name string
	Kind string // one of the Param* kinds
}

// Launch is one step of the sequence: a kernel launch whose Args bind the kernel's Params in
// order, or a host step. A host step (Kernel == HostStep) runs the graph node named Host on
// the host with the reference semantics (kernels/ref through runtime/cpu): the lowering uses
// it for nodes no kernel template covers, such as int64 shape arithmetic or If, reading and
// writing the same buffers the kernels use.
type Launch struct {
	Kernel int    // index into Plan.Kernels, or HostStep
	Host   string `json:",omitempty"` // graph node name, for a host step
	Args   []Arg
}

// HostStep is Launch.Kernel for a step that runs a graph node on the host.
const HostStep = -1

// Arg is an actual parameter: a value name for buffer params (Offset bytes into it), an
// immediate for scalar params; ctl params take nothing (the runtime supplies the block).
type Arg struct {
	Value  string  `json:",omitempty"`
	Offset int64   `json:",omitempty"`
	Int    int64   `json:",omitempty"`
	Float  float64 `json:",omitempty"`
}

// DefaultAlignment is the byte alignment of arena offsets.
const DefaultAlignment = 256

// MemoryPlan places every intermediate value of a graph in one arena.
type MemoryPlan struct {
	Offsets    map[string]int64 // value name -> byte offset in the arena
	Sizes      map[string]int64 // value name -> bytes
	ArenaBytes int64            // arena size
	Alignment  int64            // offsets are multiples of this
	// Live is each value's live interval [first, last] in node indices of Graph.Nodes (-1 for
	// graph inputs, len(Nodes) for graph outputs): two values may overlap in memory only when
	// their intervals do not intersect.
	Live map[string][2]int
}
