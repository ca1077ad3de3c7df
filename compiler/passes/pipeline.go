package passes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// pass is one step of the pipeline. fn rewrites s.g in place and returns how many rewrites it
// made. A required pass cannot be disabled.
type pass struct {
	name     string
	fn       func(s *state) (int, error)
	required bool
}

// pipeline is the pass list, in order. Change it together with constraints.
var pipeline = []pass{
	{"infer-shapes", inferPass, true},
	{"fold-constants", foldConstants, false},
	{"eliminate-identity", eliminateIdentity, false},
	{"dce", deadNodes, false},
	{"bn-fold", foldBatchNorm, false},
	{"fuse-layernorm", fuseLayerNorm, false},
	{"fuse-gelu", fuseGelu, false},
	{"fuse-attention", fuseAttention, false},
	{"fuse-conv", fuseLinearAct, false},
	{"fuse-elementwise", fuseElementwise, false},
	{"cleanup", deadNodes, false},
	{"final-infer", inferPass, true},
}

// constraint says pass before must run before pass after (when both run), and why.
type constraint struct{ before, after, reason string }

var constraints = []constraint{
	{"infer-shapes", "fold-constants", "folding Shape nodes and bounding folded sizes reads inferred shapes"},
	{"fold-constants", "bn-fold", "batch-norm parameters computed by constant subgraphs must be initializers first"},
	{"fold-constants", "dce", "folding leaves the producers of folded values dead"},
	{"eliminate-identity", "fuse-conv", "an Identity or Dropout between a conv and its activation hides the pattern"},
	{"bn-fold", "fuse-conv", "fusion needs BN folded into conv weights"},
	{"fuse-layernorm", "fuse-elementwise", "the layer-norm pattern is elementwise nodes the chain fuser would swallow"},
	{"fuse-gelu", "fuse-elementwise", "the GELU pattern is elementwise nodes the chain fuser would swallow"},
	{"fuse-attention", "fuse-elementwise", "the attention scale and mask are elementwise nodes"},
	{"fuse-attention", "fuse-conv", "the score MatMul must not become a FusedMatMul before attention is matched"},
	{"fuse-conv", "fuse-elementwise", "activations belong in conv/gemm epilogues before chains take them"},
	{"fuse-elementwise", "cleanup", "fusion leaves unused constants behind"},
	{"cleanup", "final-infer", "the final shapes describe the final graph"},
}

// checkPipeline verifies that every constraint names known passes in the right order and that
// pass names are unique.
func checkPipeline(ps []pass, cs []constraint) error {
	pos := map[string]int{}
	var errs []error
	for i, p := range ps {
		if _, dup := pos[p.name]; dup {
			errs = append(errs, fmt.Errorf("pass %q is listed twice", p.name))
		}
		pos[p.name] = i
		if p.fn == nil {
			errs = append(errs, fmt.Errorf("pass %q has no function", p.name))
		}
	}
	for _, c := range cs {
		b, ok1 := pos[c.before]
		a, ok2 := pos[c.after]
		switch {
		case !ok1 || !ok2:
			errs = append(errs, fmt.Errorf("constraint %q before %q names an unknown pass", c.before, c.after))
		case b >= a:
			errs = append(errs, fmt.Errorf("pass %q must run before %q: %s", c.before, c.after, c.reason))
		}
	}
	return errors.Join(errs...)
}

// PassNames lists the pipeline's passes in order.
func PassNames() []string {
	names := make([]string, len(pipeline))
	for i, p := range pipeline {
		names[i] = p.name
	}
	return names
}

// Evaluator runs one node on concrete inputs (nil where an optional input is omitted) and
// returns its outputs. runtime/cpu.EvalNode is one.
type Evaluator func(ctx context.Context, n *graph.Node, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// Options tune Run.
type Options struct {
	// Eval evaluates nodes for constant folding; nil folds only what shapes alone decide.
	Eval Evaluator
	// DumpAfter names a pass (or "all") after which Format(g) is written to DumpTo.
	DumpAfter string
	DumpTo    io.Writer // default os.Stderr
	// Disable names passes to skip; a required pass cannot be disabled.
	Disable []string
	// Verify checks the IR (Verify and shape inference) after every pass.
	Verify bool
	// FoldLimit bounds the bytes of one folded value beyond the size of its inputs; 0 = 1 MiB.
	FoldLimit int64
}

// PassReport is what one pass did.
type PassReport struct {
	Name     string
	Changes  int // rewrites made
	Nodes    int // nodes in the graph after the pass
	Duration time.Duration
	Skipped  bool
}

// Report summarizes a Run.
type Report struct {
	NodesBefore, NodesAfter int
	Passes                  []PassReport
	// Ops counts the nodes of the final graph per op ("elasticroom.FusedConv" for fused ops).
	Ops map[string]int
	// Fused counts the rewrites of each fusion pass (pass name -> rewrites).
	Fused    map[string]int
	Duration time.Duration
}

// Summary is a one-line description: node counts and fused ops.
func (r *Report) Summary() string {
	var parts []string
	for op, n := range r.Ops {
		if strings.HasPrefix(op, Domain+".") || op == "Gelu" || op == "LayerNormalization" {
			parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(op, Domain+"."), n))
		}
	}
	sort.Strings(parts)
	return fmt.Sprintf("nodes %d -> %d in %v; %s", r.NodesBefore, r.NodesAfter, r.Duration.Round(time.Microsecond), strings.Join(parts, " "))
}

// state is what a pass sees.
type state struct {
	ctx context.Context
	g   *graph.Graph
	opt Options
}

// Run optimizes a copy of g (g is not changed) and returns it with a report. A failing or
// panicking pass is reported by name; with opt.Verify the IR is checked after every pass.
func Run(ctx context.Context, g *graph.Graph, opt Options) (*graph.Graph, *Report, error) {
	if g == nil {
		return nil, nil, errors.New("passes: nil graph")
	}
	if err := checkPipeline(pipeline, constraints); err != nil {
		return nil, nil, fmt.Errorf("passes: the pipeline table is inconsistent: %w", err)
	}
	disabled := map[string]bool{}
	for _, name := range opt.Disable {
		found := false
		for _, p := range pipeline {
			if p.name == name {
				found = true
				if p.required {
					return nil, nil, fmt.Errorf("passes: pass %q is required and cannot be disabled", name)
				}
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("passes: no pass named %q (passes: %s)", name, strings.Join(PassNames(), ", "))
		}
		disabled[name] = true
	}
	if opt.DumpAfter != "" && opt.DumpAfter != "all" && !contains(PassNames(), opt.DumpAfter) {
		return nil, nil, fmt.Errorf("passes: --dump-after names no pass %q (passes: %s, or all)", opt.DumpAfter, strings.Join(PassNames(), ", "))
	}
	dump := opt.DumpTo
	if dump == nil {
		dump = os.Stderr
	}
	start := time.Now()
	s := &state{ctx: ctx, g: cloneGraph(g), opt: opt}
	rep := &Report{NodesBefore: len(g.Nodes), Fused: map[string]int{}}
	for _, p := range pipeline {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("passes: stopped before pass %q: %w", p.name, err)
		}
		pr := PassReport{Name: p.name, Skipped: disabled[p.name]}
		if !pr.Skipped {
			t0 := time.Now()
			n, err := runPass(p, s)
			pr.Changes, pr.Duration = n, time.Since(t0)
			if err != nil {
				return nil, nil, err
			}
			if strings.HasPrefix(p.name, "fuse-") || p.name == "bn-fold" {
				rep.Fused[p.name] += n
			}
			if opt.Verify {
				if err := verify(s.g); err != nil {
					return nil, nil, fmt.Errorf("passes: the IR is invalid after pass %q: %w", p.name, err)
				}
			}
		}
		pr.Nodes = len(s.g.Nodes)
		rep.Passes = append(rep.Passes, pr)
		if opt.DumpAfter == p.name || opt.DumpAfter == "all" {
			fmt.Fprintf(dump, "// after %s\n%s", p.name, Format(s.g))
		}
	}
	rep.NodesAfter = len(s.g.Nodes)
	rep.Ops = map[string]int{}
	for _, n := range s.g.Nodes {
		op := n.Op
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		rep.Ops[op]++
	}
	rep.Duration = time.Since(start)
	return s.g, rep, nil
}

func runPass(p pass, s *state) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("passes: pass %q panicked: %v\n%s", p.name, r, debug.Stack())
		}
	}()
	n, err = p.fn(s)
	if err != nil {
		err = fmt.Errorf("passes: pass %q: %w", p.name, err)
	}
	return n, err
}

// verify checks structure and shapes.
func verify(g *graph.Graph) error {
	if err := g.Verify(); err != nil {
		return err
	}
	return InferShapes(g)
}

func inferPass(s *state) (int, error) { return 0, InferShapes(s.g) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
