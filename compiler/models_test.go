package compiler_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// testModel is one model the compiler must handle.
type testModel struct {
	name   string
	zoo    string           // zoo model name, or "" for a real ONNX model
	opt    zoo.Options      // zoo options
	shapes map[string][]int // real models: input shapes
}

var zooModels = []testModel{
	{name: "mlp", zoo: "mlp", opt: zoo.Options{Batch: 1}},
	{name: "resnet18", zoo: "resnet18", opt: zoo.Options{Batch: 1}},
	{name: "resnet50", zoo: "resnet50", opt: zoo.Options{Batch: 1}},
	{name: "mobilenetv2", zoo: "mobilenetv2", opt: zoo.Options{Batch: 1}},
	{name: "vgg16", zoo: "vgg16", opt: zoo.Options{Batch: 1}},
	{name: "bert", zoo: "bert", opt: zoo.Options{Batch: 1, Layers: 2, SeqLen: 16}},
}

var realModels = []testModel{
	{name: "ppocr_cls", shapes: map[string][]int{"x": {1, 3, 48, 192}}},
	{name: "ppocrv4_rec", shapes: map[string][]int{"x": {1, 3, 48, 320}}},
	{name: "ppocrv4_det", shapes: map[string][]int{"x": {1, 3, 96, 128}}},
	{name: "oww_melspectrogram", shapes: map[string][]int{"input": {1, 16000}}},
	{name: "oww_embedding", shapes: map[string][]int{"input_1": {1, 76, 32, 1}}},
	{name: "oww_hey_jarvis", shapes: map[string][]int{"x.1": {1, 16, 96}}},
}

// graphs caches loaded models (building bert or vgg16 weights takes a while).
var graphs = map[string]*graph.Graph{}

func load(t testing.TB, m testModel) *graph.Graph {
	t.Helper()
	if g, ok := graphs[m.name]; ok {
		return g
	}
	var g *graph.Graph
	var err error
	if m.zoo != "" {
		g, err = zoo.Build(m.zoo, m.opt)
	} else {
		p := filepath.Join("..", ".cache", "models", "real", m.name+".onnx")
		if _, serr := os.Stat(p); serr != nil {
			if os.Getenv("ELASTICROOM_REQUIRE_REFS") == "1" {
				t.Fatalf("real model %s is missing: %v", m.name, serr)
			}
			t.Skipf("real model %s is absent (scripts/fetch-models fetches it)", m.name)
		}
		g, _, err = onnx.Load(p)
	}
	if err != nil {
		t.Fatalf("%s: %v", m.name, err)
	}
	graphs[m.name] = g
	return g
}

func target(t testing.TB, name string) budget.Target {
	t.Helper()
	tg, err := budget.LookupTarget(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func compile(t testing.TB, m testModel, tg budget.Target, b budget.Budget, rep *compiler.Report) (*plan.Plan, error) {
	t.Helper()
	return compiler.Compile(context.Background(), load(t, m), compiler.Options{
		Target: tg, Budget: b, Shapes: m.shapes, Model: m.name, Eval: cpu.EvalNode, Report: rep})
}

// TestModelsCompile compiles every zoo and real model at several budgets on sm_90 and sm_80,
// checks the plan's internal consistency and that it survives an encode/decode round trip.
func TestModelsCompile(t *testing.T) {
	for _, m := range append(append([]testModel{}, zooModels...), realModels...) {
		t.Run(m.name, func(t *testing.T) {
			for _, arch := range []string{"sm_90", "sm_80"} {
				tg := target(t, arch)
				for _, sms := range []int{8, 20, 66, 132} {
					b := budget.Budget{SMs: min(sms, tg.SMs)}
					var rep compiler.Report
					start := time.Now()
					p, err := compile(t, m, tg, b, &rep)
					if err != nil {
						t.Fatalf("%s %v: %v", arch, b, err)
					}
					elapsed := time.Since(start)
					checkPlan(t, p)
					if sms == 20 {
						var buf bytes.Buffer
						if err := plan.Encode(&buf, p); err != nil {
							t.Fatal(err)
						}
						size := buf.Len()
						q, err := plan.Decode(&buf)
						if err != nil {
							t.Fatalf("decode: %v", err)
						}
						if len(q.Kernels) != len(p.Kernels) || len(q.Launches) != len(p.Launches) || q.Key != p.Key {
							t.Fatalf("round trip changed the plan")
						}
						if arch == "sm_90" {
							t.Logf("%s %s %v: %d kernels, %d host steps, %d aliases, arena %d KiB, est %.0f µs, compiled in %v (%d bytes .erp)",
								m.name, arch, b, len(p.Kernels), len(rep.Hosts), rep.AliasNodes, p.Memory.ArenaBytes>>10,
								estMicros(p), elapsed.Round(time.Millisecond), size)
							for _, node := range sortedKeys(rep.Hosts) {
								t.Logf("  host %s: %s", node, rep.Hosts[node])
							}
						}
					}
				}
			}
		})
	}
}

func estMicros(p *plan.Plan) float64 {
	var s float64
	for _, k := range p.Kernels {
		s += k.EstMicros
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkPlan checks what the runtime relies on: every launch names a kernel or a graph node,
// every buffer argument names a value with a buffer (arena or weight), kernels fit the budget.
func checkPlan(t testing.TB, p *plan.Plan) {
	t.Helper()
	if err := p.Graph.Verify(); err != nil {
		t.Fatalf("plan graph: %v", err)
	}
	nodes := map[string]bool{}
	for _, n := range p.Graph.Nodes {
		nodes[n.Name] = true
	}
	regLimit := p.Budget.RegLimit(p.Target)
	used := make([]bool, len(p.Kernels))
	for i, l := range p.Launches {
		if l.Kernel == plan.HostStep {
			if !nodes[l.Host] {
				t.Fatalf("launch %d: host step of unknown node %q", i, l.Host)
			}
			continue
		}
		if l.Kernel < 0 || l.Kernel >= len(p.Kernels) {
			t.Fatalf("launch %d: kernel %d of %d", i, l.Kernel, len(p.Kernels))
		}
		used[l.Kernel] = true
		k := p.Kernels[l.Kernel]
		if len(l.Args) != len(k.Params) {
			t.Fatalf("launch %d (%s): %d args for %d params", i, k.Name, len(l.Args), len(k.Params))
		}
		for j, par := range k.Params {
			if par.Kind != plan.ParamBuffer {
				continue
			}
			v := l.Args[j].Value
			if _, ok := p.Memory.Offsets[v]; !ok && !p.Graph.IsInitializer(v) {
				t.Fatalf("launch %d (%s): param %s bound to %q, which has no buffer", i, k.Name, par.Name, v)
			}
		}
		if k.Registers > regLimit || k.Tiles < 1 || k.BlocksPerSM < 1 || k.Grid[0] != p.Target.SMs*k.BlocksPerSM {
			t.Fatalf("kernel %s: regs %d (limit %d), tiles %d, blocks/SM %d, grid %v", k.Name, k.Registers, regLimit, k.Tiles, k.BlocksPerSM, k.Grid)
		}
		if p.Budget.MaxTileMicros > 0 && k.EstTileMicros > p.Budget.MaxTileMicros {
			t.Fatalf("kernel %s: tile %.2f µs over the bound %g", k.Name, k.EstTileMicros, p.Budget.MaxTileMicros)
		}
		if !strings.Contains(k.PTX, ".entry "+k.Name) || k.IR == nil || k.IR.Name != k.Name {
			t.Fatalf("kernel %s: PTX or IR does not hold the entry", k.Name)
		}
	}
	for i, u := range used {
		if !u {
			t.Fatalf("kernel %d (%s) is never launched", i, p.Kernels[i].Name)
		}
	}
	for _, v := range append(append([]graph.Value{}, p.Inputs...), p.Outputs...) {
		if _, ok := p.Memory.Offsets[v.Name]; !ok {
			t.Fatalf("graph input/output %q has no buffer", v.Name)
		}
	}
}
