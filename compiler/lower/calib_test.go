package lower

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxas"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// TestCalibrateRegisters (ELASTICROOM_CALIBRATE=1) builds every configuration of every node
// of a few models, assembles them uncapped and prints estimate vs ptxas per family.
func TestCalibrateRegisters(t *testing.T) {
	if os.Getenv("ELASTICROOM_CALIBRATE") != "1" {
		t.Skip("set ELASTICROOM_CALIBRATE=1")
	}
	path, err := ptxas.Find()
	if err != nil {
		t.Skip(err)
	}
	var gs []*graph.Graph
	for _, name := range []string{"mobilenetv2", "resnet50", "bert"} {
		g, err := zoo.Build(name, zoo.Options{Batch: 1, Layers: 1, SeqLen: 16})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	for name, shape := range map[string][]int{"ppocrv4_rec": {1, 3, 48, 320}, "oww_embedding": {1, 76, 32, 1}, "oww_melspectrogram": {1, 16000}, "ppocr_cls": {1, 3, 48, 192}, "ppocrv4_det": {1, 3, 96, 128}, "oww_hey_jarvis": {1, 16, 96}} {
		g, _, err := onnx.Load(filepath.Join("..", "..", ".cache", "models", "real", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		g, err = graph.SpecializeShapes(g, map[string][]int{g.Inputs[0].Name: shape})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	type row struct {
		family, cfg string
		est         int
		in          *kernels.Instance
	}
	var rows []row
	seen := map[string]bool{}
	for _, g := range gs {
		og, _, err := passes.Run(context.Background(), g, passes.Options{Eval: cpu.EvalNode})
		if err != nil {
			t.Fatal(err)
		}
		legalize(og)
		m := &mapper{g: og}
		for _, n := range og.Nodes {
			j, err := m.mapNode(n)
			if err != nil {
				continue
			}
			for _, cfg := range append(append([]kernels.Config{}, j.configs...), j.fallback...) {
				in, err := j.build(cfg, kir.Target{Arch: "sm_80"})
				if err != nil {
					continue
				}
				k := j.key + cfg.String()
				if seen[k] {
					continue
				}
				seen[k] = true
				kc := *in.Kernel
				kc.Name = fmt.Sprintf("c%04d", len(rows))
				in.Kernel = &kc
				rows = append(rows, row{j.family + "/" + j.kind + "/" + fmt.Sprint(j.hint), cfg.String(), estimateRegs(j, in), in})
			}
		}
	}
	var ks []*kir.Kernel
	for _, r := range rows {
		ks = append(ks, r.in.Kernel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res := map[string]ptxas.Result{}
	for _, arch := range []string{"sm_80", "sm_90"} {
		for _, k := range ks {
			k.Target.Arch = arch
		}
		text, err := ptx.RenderModule(ks, arch)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ptxas.Assemble(ctx, text, arch, ptxas.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		for name, x := range r {
			if x.Registers > res[name].Registers {
				res[name] = x
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].family < rows[j].family })
	for _, r := range rows {
		got := res[r.in.Kernel.Name]
		flag := ""
		if got.Registers > r.est {
			flag = " UNDER"
		} else if os.Getenv("ELASTICROOM_CALIBRATE_ALL") == "" {
			continue
		}
		t.Logf("%-24s %-28s est %3d ptxas %3d spill %d args %d%s", r.family, r.cfg, r.est, got.Registers, got.SpillStores, len(r.in.Args), flag)
	}
}
