package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/emu"
	"github.com/elasticroom/elasticroom/runtime/exec"
)

// emuBudgets are the SM budgets every model is compiled for and run at on the emulator.
var emuBudgets = []int{8, 20, 66, 132}

// emuCase is one model run through compiler.Compile and the emu device.
type emuCase struct {
	name    string
	graph   func(t *testing.T) *graph.Graph
	inputs  func(t *testing.T, g *graph.Graph) map[string]*tensor.Tensor
	budgets []int // nil: emuBudgets
	long    bool  // only with ELASTICROOM_LONG=1 (and not -short)
}

// zooCase runs a zoo model; image > 0 re-declares an image model's input as
// [batch, 3, image, image] (the convolutional models end in a global average pool, so any size
// works; vgg16's classifier needs 224).
func zooCase(name string, opt zoo.Options, image int, budgets []int, long bool) emuCase {
	label := name
	if image > 0 {
		label = fmt.Sprintf("%s/%dx%d", name, image, image)
	}
	return emuCase{name: label, budgets: budgets, long: long,
		graph: func(t *testing.T) *graph.Graph {
			g, err := zoo.Build(name, opt)
			if err != nil {
				t.Fatal(err)
			}
			if image > 0 {
				v := g.Inputs[0]
				g.Inputs[0] = graph.NewValue(v.Name, v.DType, graph.Dims(max(opt.Batch, 1), 3, image, image))
				g.Values = map[string]*graph.Value{}
			}
			return g
		},
		inputs: func(t *testing.T, g *graph.Graph) map[string]*tensor.Tensor {
			if image > 0 {
				rng := rand.New(rand.NewPCG(1, 9))
				return map[string]*tensor.Tensor{g.Inputs[0].Name: normal(rng, 0, 1, max(opt.Batch, 1), 3, image, image)}
			}
			in, err := zoo.RandomInputs(name, g, max(opt.Batch, 1), 1)
			if err != nil {
				t.Fatal(err)
			}
			return in
		}}
}

func realEmuCase(model, label string, budgets []int, inputs func() map[string]*tensor.Tensor) emuCase {
	return emuCase{name: model + "/" + label, budgets: budgets,
		graph: func(t *testing.T) *graph.Graph {
			g, _, err := onnx.Load(realModel(t, model))
			if err != nil {
				t.Fatal(err)
			}
			return g
		},
		inputs: func(*testing.T, *graph.Graph) map[string]*tensor.Tensor { return inputs() }}
}

// emuCases sizes every model so that the whole test takes a few minutes on 2 cores: the
// interpreter runs some 10^8 kernel instructions per second. The convolutional zoo models run
// at 64x64 at every budget and at 224x224 at one budget (all budgets, and vgg16, whose
// classifier needs 224x224, only with ELASTICROOM_LONG=1); the bigger real models run at
// fewer budgets.
func emuCases() []emuCase {
	rng := func(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }
	b1 := zoo.Options{Batch: 1}
	return []emuCase{
		zooCase("mlp", b1, 0, nil, false),
		zooCase("bert", zoo.Options{Batch: 1, Layers: 2, SeqLen: 16}, 0, nil, false),
		zooCase("mobilenetv2", b1, 64, nil, false),
		zooCase("resnet18", b1, 64, []int{8, 66}, false),
		zooCase("resnet50", b1, 64, []int{20}, false),
		zooCase("mobilenetv2", b1, 0, []int{132}, false),
		zooCase("resnet18", b1, 0, nil, true),
		zooCase("resnet50", b1, 0, nil, true),
		zooCase("vgg16", b1, 0, nil, true),
		realEmuCase("ppocr_cls", "1x3x48x192", nil, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(1), 48, 192)}
		}),
		realEmuCase("ppocrv4_det", "1x3x64x64", []int{8, 132}, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(3), 64, 64)}
		}),
		realEmuCase("ppocrv4_rec", "1x3x48x160", []int{20, 132}, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x": textImage(rng(4), 48, 160)}
		}),
		realEmuCase("oww_melspectrogram", "1x16000", nil, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"input": audio(rng(5), 16000)}
		}),
		realEmuCase("oww_embedding", "1x76x32x1", nil, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"input_1": normal(rng(6), 8, 1, 1, 76, 32, 1)}
		}),
		realEmuCase("oww_hey_jarvis", "1x16x96", nil, func() map[string]*tensor.Tensor {
			return map[string]*tensor.Tensor{"x.1": normal(rng(8), 0, 1, 1, 16, 96)}
		}),
	}
}

// TestEmuModels compiles every zoo and real model for several SM budgets and runs each plan on
// the emulator device, comparing with runtime/cpu on the original graph.
func TestEmuModels(t *testing.T) {
	only := os.Getenv("ELASTICROOM_EMU_MODELS") // comma-separated subset, for measuring
	long := os.Getenv("ELASTICROOM_LONG") == "1" && !testing.Short()
	target, err := budget.LookupTarget("sm_90")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := emu.New(emu.Config{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range emuCases() {
		t.Run(c.name, func(t *testing.T) {
			if only != "" && !slices.Contains(strings.Split(only, ","), strings.Split(c.name, "/")[0]) {
				t.Skip("not in ELASTICROOM_EMU_MODELS")
			}
			if c.long && !long {
				t.Skip("long: set ELASTICROOM_LONG=1 (without -short) to run it")
			}
			if testing.Short() && c.name != "mlp" && !strings.HasPrefix(c.name, "oww_hey_jarvis/") {
				t.Skip("-short: only mlp and oww_hey_jarvis run on the emulator")
			}
			g := c.graph(t)
			ins := c.inputs(t, g)
			want, err := cpu.Run(context.Background(), g, ins, cpu.Options{})
			if err != nil {
				t.Fatalf("cpu reference: %v", err)
			}
			shapes := map[string][]int{}
			for name, x := range ins {
				shapes[name] = x.Shape
			}
			budgets := c.budgets
			if budgets == nil {
				budgets = emuBudgets
			}
			if b := os.Getenv("ELASTICROOM_EMU_BUDGETS"); b != "" { // comma-separated, for measuring
				budgets = nil
				for _, f := range strings.Split(b, ",") {
					n, err := strconv.Atoi(f)
					if err != nil {
						t.Fatalf("ELASTICROOM_EMU_BUDGETS: %v", err)
					}
					budgets = append(budgets, n)
				}
			}
			var times []string
			ran := map[string]int{} // plan signature -> budget it ran at
			for _, sms := range budgets {
				t0 := time.Now()
				p, err := compiler.Compile(t.Context(), g, compiler.Options{Target: target, Budget: budget.Budget{SMs: sms},
					Shapes: shapes, Eval: cpu.EvalNode})
				if err != nil {
					t.Fatalf("compile at %d SMs: %v", sms, err)
				}
				tc := time.Since(t0)
				sig := planSignature(p)
				if at, ok := ran[sig]; ok {
					times = append(times, fmt.Sprintf("%d SMs: compile %v, the kernels of %d SMs (not run again)", sms, tc.Round(time.Millisecond), at))
					continue
				}
				ran[sig] = sms
				in, err := exec.Load(t.Context(), dev, p)
				if err != nil {
					t.Fatalf("load at %d SMs: %v", sms, err)
				}
				t0 = time.Now()
				got, err := in.Run(t.Context(), ins, exec.RunOptions{})
				in.Close()
				if err != nil {
					t.Fatalf("run at %d SMs: %v", sms, err)
				}
				times = append(times, fmt.Sprintf("%d SMs: compile %v run %v (%d kernels, %d host steps)", sms,
					tc.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), len(p.Kernels), len(p.Launches)-countKernelLaunches(p.Launches)))
				worst := compareAll(t, got, want)
				if t.Failed() {
					t.Fatalf("at %d SMs: outputs differ (worst relative error %.3g)", sms, worst)
				}
			}
			t.Logf("%s: %s", c.name, strings.Join(times, "; "))
		})
	}
}

func countKernelLaunches(ls []plan.Launch) int {
	n := 0
	for _, l := range ls {
		if l.Kernel != plan.HostStep {
			n++
		}
	}
	return n
}

// planSignature identifies a plan's kernels and launches: plans compiled for different budgets
// that pick the same kernels compute the same thing, and the emulator runs only one of them.
func planSignature(p *plan.Plan) string {
	h := sha256.New()
	for _, k := range p.Kernels {
		fmt.Fprintf(h, "%s\x00%d %v\n", k.PTX, k.Tiles, k.Block)
	}
	for _, l := range p.Launches {
		fmt.Fprintf(h, "%d %s %v\n", l.Kernel, l.Host, l.Args)
	}
	return hex.EncodeToString(h.Sum(nil))
}
