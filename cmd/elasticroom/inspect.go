package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show the kernels, budgets, registers and memory plan of a compiled .erp plan",
		ArgsUsage: "PLAN.erp",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON (no weights, PTX or kernel IR)"},
		},
		Action: inspectAction,
	}
}

// inspectKernel is one kernel as inspect shows it.
type inspectKernel struct {
	Name          string   `json:"name"`
	Op            string   `json:"op"`
	Nodes         []string `json:"nodes"`
	Grid          [3]int   `json:"grid"`
	Block         [3]int   `json:"block"`
	Registers     int      `json:"registers"`
	SharedBytes   int      `json:"shared_bytes"`
	Tiles         int      `json:"tiles"`
	BlocksPerSM   int      `json:"blocks_per_sm"`
	Occupancy     float64  `json:"occupancy"`
	EstMicros     float64  `json:"est_us"`
	EstTileMicros float64  `json:"est_tile_us"`
}

// inspectLaunch is one step of the launch sequence.
type inspectLaunch struct {
	Kernel string   `json:"kernel,omitempty"` // kernel name, for a launch
	Host   string   `json:"host,omitempty"`   // graph node, for a host step
	Args   []string `json:"args,omitempty"`   // buffers the launch binds
}

type inspectValue struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape string `json:"shape"`
}

// inspectPlan is inspect's view of a plan: everything but weights, PTX and IR.
type inspectPlan struct {
	Model      string          `json:"model"`
	Version    uint32          `json:"format_version"`
	Target     string          `json:"target"`
	Arch       string          `json:"arch"`
	TargetSMs  int             `json:"target_sms"`
	Budget     budget.Budget   `json:"budget"`
	RegLimit   int             `json:"reg_limit"`
	Key        string          `json:"key"`
	Inputs     []inspectValue  `json:"inputs"`
	Outputs    []inspectValue  `json:"outputs"`
	Kernels    []inspectKernel `json:"kernels"`
	Launches   []inspectLaunch `json:"launches"`
	HostSteps  int             `json:"host_steps"`
	ArenaBytes int64           `json:"arena_bytes"`
	Buffers    int             `json:"buffers"`
	Weights    int             `json:"weights"`
	WeightSize int64           `json:"weight_bytes"`
	EstMicros  float64         `json:"est_us"`
}

func inspectAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("inspect needs exactly one PLAN.erp argument, got %d", c.NArg())
	}
	p, err := plan.Load(c.Args().First())
	if err != nil {
		return err
	}
	v := viewPlan(p)
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	printPlan(w, v)
	return nil
}

func viewPlan(p *plan.Plan) *inspectPlan {
	v := &inspectPlan{Model: p.Model, Version: p.Version, Target: p.Target.Name, Arch: p.Target.Arch,
		TargetSMs: p.Target.SMs, Budget: p.Budget, RegLimit: p.Budget.RegLimit(p.Target), Key: p.Key,
		ArenaBytes: p.Memory.ArenaBytes, Buffers: len(p.Memory.Offsets)}
	for _, x := range p.Inputs {
		v.Inputs = append(v.Inputs, inspectValue{x.Name, x.DType.String(), x.Shape.String()})
	}
	for _, x := range p.Outputs {
		v.Outputs = append(v.Outputs, inspectValue{x.Name, x.DType.String(), x.Shape.String()})
	}
	if p.Graph != nil {
		for _, t := range p.Graph.Initializers {
			v.Weights++
			v.WeightSize += int64(t.Len() * t.DType.Size())
		}
	}
	for _, k := range p.Kernels {
		v.Kernels = append(v.Kernels, inspectKernel{Name: k.Name, Op: k.Op, Nodes: k.Nodes, Grid: k.Grid, Block: k.Block,
			Registers: k.Registers, SharedBytes: k.SharedBytes, Tiles: k.Tiles, BlocksPerSM: k.BlocksPerSM,
			Occupancy: k.Occupancy, EstMicros: k.EstMicros, EstTileMicros: k.EstTileMicros})
		v.EstMicros += k.EstMicros
	}
	for _, l := range p.Launches {
		if l.Kernel == plan.HostStep {
			v.HostSteps++
			v.Launches = append(v.Launches, inspectLaunch{Host: l.Host})
			continue
		}
		il := inspectLaunch{Kernel: fmt.Sprintf("#%d", l.Kernel)}
		if l.Kernel >= 0 && l.Kernel < len(p.Kernels) {
			il.Kernel = p.Kernels[l.Kernel].Name
		}
		for _, a := range l.Args {
			if a.Value != "" {
				il.Args = append(il.Args, a.Value)
			}
		}
		v.Launches = append(v.Launches, il)
	}
	return v
}

func printPlan(w io.Writer, v *inspectPlan) {
	fmt.Fprintf(w, "plan %s (format v%d)\n", v.Model, v.Version)
	fmt.Fprintf(w, "target  %s (%s, %d SMs)\n", v.Target, v.Arch, v.TargetSMs)
	fmt.Fprintf(w, "budget  %v (register limit %d)\n", v.Budget, v.RegLimit)
	fmt.Fprintf(w, "key     %s\n", v.Key)
	for _, x := range v.Inputs {
		fmt.Fprintf(w, "input   %s %s%s\n", x.Name, x.DType, x.Shape)
	}
	for _, x := range v.Outputs {
		fmt.Fprintf(w, "output  %s %s%s\n", x.Name, x.DType, x.Shape)
	}
	fmt.Fprintf(w, "memory  arena %s, %d buffers; weights %d tensors, %s\n", fmtBytes(v.ArenaBytes), v.Buffers, v.Weights, fmtBytes(v.WeightSize))
	fmt.Fprintf(w, "%d kernels, %d host steps, estimated %.1f µs on %d SMs (kernels only)\n\n",
		len(v.Kernels), v.HostSteps, v.EstMicros, v.Budget.SMs)
	fmt.Fprintf(w, "%-4s %-44s %-28s %6s %5s %5s %7s %6s %4s %5s %9s %8s  %s\n",
		"#", "kernel", "op", "grid", "block", "regs", "smem", "tiles", "b/SM", "occ", "est µs", "tile µs", "nodes")
	for i, k := range v.Kernels {
		fmt.Fprintf(w, "%-4d %-44s %-28s %6d %5d %5d %7d %6d %4d %4.0f%% %9.2f %8.2f  %s\n",
			i, k.Name, k.Op, k.Grid[0], k.Block[0], k.Registers, k.SharedBytes, k.Tiles, k.BlocksPerSM,
			100*k.Occupancy, k.EstMicros, k.EstTileMicros, strings.Join(k.Nodes, ","))
	}
	fmt.Fprintf(w, "\nlaunch sequence:\n")
	for i, l := range v.Launches {
		if l.Host != "" {
			fmt.Fprintf(w, "%4d  host   %s\n", i, l.Host)
			continue
		}
		fmt.Fprintf(w, "%4d  kernel %s (%s)\n", i, l.Kernel, strings.Join(l.Args, ", "))
	}
}

// sortedNames returns m's keys in order.
func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
