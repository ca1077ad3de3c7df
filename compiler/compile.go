// Package compiler is ElasticRoom's resource-constrained compiler as one call: Compile takes an
// imported graph, a target GPU and a budget (SMs, registers per thread, shared memory, longest
// tile) and returns the plan (compiler/plan) the runtime executes: shapes specialized, the
// pass pipeline run (compiler/passes), every node lowered onto a budgeted kernel or a host step
// (compiler/lower), and the memory plan.
//
// compiler imports its subpackages (graph, passes, budget, lower, plan); it must never import
// runtime/ or models/: the constant-folding evaluator comes in through Options.Eval
// (runtime/cpu.EvalNode is the usual one, injected by cmd/ and by tests).
package compiler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/lower"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/compiler/plan"
)

// Options configure Compile.
type Options struct {
	Target budget.Target // from budget.LookupTarget
	Budget budget.Budget
	// Model names the plan; empty: the graph's name.
	Model string
	// Shapes gives concrete shapes of graph inputs. Inputs not named take their declared
	// shape with symbolic dims resolved by Dims (by dim name), and a symbolic first dim
	// otherwise by Batch; any other symbolic dim is an error naming the input and the dim.
	Shapes map[string][]int
	Dims   map[string]int
	Batch  int // 0 means 1
	// Eval evaluates nodes for constant folding (runtime/cpu.EvalNode); nil folds only what
	// shapes alone decide.
	Eval passes.Evaluator
	// Progress, when set, is called as stages advance: "specialize", "passes", "lower" (once
	// per node, done of total) and "plan".
	Progress func(stage string, done, total int)
	// DumpAfter names a pass (or "all") after which the IR is written to DumpTo.
	DumpAfter string
	DumpTo    io.Writer
	// Workers bounds the nodes lowered at once (0: GOMAXPROCS).
	Workers int
	// Report, when not nil, receives what the compilation did.
	Report *Report
}

// Report is what one compilation did, for the CLI and benchmarks.
type Report struct {
	Passes *passes.Report
	// Hosts maps each node run as a host step to the reason no kernel runs it.
	Hosts map[string]string
	// Configs[i] is the tile configuration of the plan's kernel i.
	Configs    []string
	AliasNodes int
	Stages     map[string]time.Duration // "specialize", "passes", "lower", "plan"
	Total      time.Duration
}

// Compile compiles g for opt.Target under opt.Budget. g is not changed.
func Compile(ctx context.Context, g *graph.Graph, opt Options) (*plan.Plan, error) {
	start := time.Now()
	if g == nil {
		return nil, errors.New("compile: nil graph")
	}
	if opt.Target.SMs == 0 {
		return nil, errors.New("compile: no target (use budget.LookupTarget)")
	}
	if err := opt.Budget.Validate(opt.Target); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	name := opt.Model
	if name == "" {
		name = g.Name
	}
	progress := func(stage string, done, total int) {
		if opt.Progress != nil {
			opt.Progress(stage, done, total)
		}
	}
	stages := map[string]time.Duration{}
	t0 := time.Now()
	progress("specialize", 0, 1)
	shapes, err := InputShapes(g, opt.Shapes, opt.Dims, opt.Batch)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	sg, err := graph.SpecializeShapes(g, shapes)
	if err != nil {
		return nil, fmt.Errorf("compile %s: specialize input shapes: %w", name, err)
	}
	stages["specialize"] = time.Since(t0)

	t0 = time.Now()
	progress("passes", 0, 1)
	og, prep, err := passes.Run(ctx, sg, passes.Options{Eval: opt.Eval, DumpAfter: opt.DumpAfter, DumpTo: opt.DumpTo})
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", name, err)
	}
	stages["passes"] = time.Since(t0)

	t0 = time.Now()
	lo := lower.Options{Target: opt.Target, Budget: opt.Budget, Workers: opt.Workers}
	lo.Progress = func(done, total int) { progress("lower", done, total) }
	res, err := lower.Lower(ctx, og, lo)
	if err != nil {
		return nil, fmt.Errorf("compile %s for %s (%v): %w", name, opt.Target.Name, opt.Budget, err)
	}
	stages["lower"] = time.Since(t0)

	t0 = time.Now()
	progress("plan", 0, 1)
	p := &plan.Plan{
		Version: plan.FormatVersion, Model: name, Key: opt.Budget.Key(opt.Target), Target: opt.Target,
		Budget: opt.Budget, Graph: og, Kernels: res.Kernels, Launches: res.Launches, Memory: *res.Memory,
	}
	for _, v := range og.Inputs {
		p.Inputs = append(p.Inputs, *v)
	}
	for _, v := range og.Outputs {
		p.Outputs = append(p.Outputs, *v)
	}
	stages["plan"] = time.Since(t0)
	if opt.Report != nil {
		*opt.Report = Report{Passes: prep, Hosts: res.Hosts, Configs: res.Configs, AliasNodes: res.AliasNodes,
			Stages: stages, Total: time.Since(start)}
	}
	return p, nil
}

// InputShapes resolves the concrete shape of every graph input: shapes[name] when given,
// else the declared shape with symbolic dims taken from dims (by name), a symbolic first dim
// from batch (0 means 1). Anything left open is an error naming the input and the dim.
func InputShapes(g *graph.Graph, shapes map[string][]int, dims map[string]int, batch int) (map[string][]int, error) {
	if batch <= 0 {
		batch = 1
	}
	known := map[string]bool{}
	out := map[string][]int{}
	for _, v := range g.Inputs {
		known[v.Name] = true
		if g.IsInitializer(v.Name) {
			continue // an input with a default value (old ONNX): the initializer's shape
		}
		if s, ok := shapes[v.Name]; ok {
			out[v.Name] = append([]int(nil), s...)
			continue
		}
		if !v.RankKnown {
			return nil, fmt.Errorf("input %q has unknown rank: give its shape", v.Name)
		}
		s := make([]int, len(v.Shape))
		for i, d := range v.Shape {
			switch {
			case d.Known():
				s[i] = int(d.Size)
			case d.Param != "" && dims[d.Param] > 0:
				s[i] = dims[d.Param]
			case i == 0:
				s[i] = batch
			default:
				name := d.Param
				if name == "" {
					name = "?"
				}
				return nil, fmt.Errorf("input %q: dim %d (%s) is symbolic: give its size (--dim %s=SIZE)", v.Name, i, name, name)
			}
		}
		out[v.Name] = s
	}
	for name := range shapes {
		if !known[name] {
			return nil, fmt.Errorf("a shape is given for %q, which is no input of the model", name)
		}
	}
	return out, nil
}
