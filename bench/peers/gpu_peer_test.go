//go:build gpu && cgo && linux

package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cuda"
	rexec "github.com/elasticroom/elasticroom/runtime/exec"
)

// torchResult is one row of torch_zoo.py's JSON.
type torchResult struct {
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	MedianMs   float64 `json:"median_ms"`
	HostMedian float64 `json:"host_median_ms"`
	Skipped    string  `json:"skipped"`
	Failed     string  `json:"failed"`
}

// peerScript is torch_zoo.py: $ELASTICROOM_TORCH_PEER (run.sh sets it), else the package's own.
func peerScript() string {
	if p := os.Getenv("ELASTICROOM_TORCH_PEER"); p != "" {
		return p
	}
	return "torch_zoo.py"
}

// runTorch exports the zoo models (the same seeded weights) to dir and times them in PyTorch
// eager on the same GPU; it returns results by model and batch, or why there are none.
func runTorch(t *testing.T, names []string, batches string) (map[string]torchResult, error) {
	dir := t.TempDir()
	var paths []string
	for _, n := range names {
		g, err := zoo.Build(n, zoo.Options{})
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, n+".onnx")
		if err := onnx.Save(g, p); err != nil {
			return nil, fmt.Errorf("export %s: %w", n, err)
		}
		paths = append(paths, p)
	}
	out := filepath.Join(dir, "torch.json")
	py := os.Getenv("ELASTICROOM_PYTHON")
	if py == "" {
		py = "python3"
	}
	args := append([]string{peerScript()}, paths...)
	args = append(args, "--batches", batches, "--json", out)
	cmd := exec.Command(py, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", py, peerScript(), err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var res struct{ Results []torchResult }
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	m := map[string]torchResult{}
	for _, r := range res.Results {
		m[fmt.Sprintf("%s/%d", r.Model, r.Batch)] = r
	}
	return m, nil
}

// TestGPUVsPyTorch prints every zoo model's latency at batch 1 and 32 on all SMs, host to
// host (inputs in, outputs out, median of 20), next to PyTorch eager fp32 on the same weights
// and GPU in the same run, and the ratio (the first goal: within 2x).
func TestGPUVsPyTorch(t *testing.T) {
	d := openCUDA(t)
	tg := target(t, d)
	def := []string{"mlp", "resnet18", "resnet50", "mobilenetv2"}
	if os.Getenv("ELASTICROOM_GPU_BIG") == "1" {
		def = append(def, "vgg16", "bert")
	}
	var names []string
	for _, m := range timed(d, def...) {
		names = append(names, strings.TrimPrefix(m.spec, "zoo:"))
	}
	batches := []int{1, 32}
	torch, terr := runTorch(t, names, "1,32")
	if terr != nil {
		t.Logf("PyTorch peer unavailable: %v", terr)
	}
	tab := newTable(t, "peer", "ElasticRoom vs PyTorch eager (fp32, same weights, same GPU, one run; host to host)")
	tab.f("%-12s %5s %12s %12s %12s %8s %s\n", "MODEL", "BATCH", "ER ms", "TORCH ms", "TORCH GPU ms", "ER/TORCH", "NOTE")
	for _, name := range names {
		for _, b := range batches {
			g, in := load(t, model{spec: "zoo:" + name}, b)
			p := compile(t, g, tg, tg.SMs, in)
			inst, err := rexec.Load(context.Background(), d, p)
			if err != nil {
				t.Fatalf("%s batch %d: %v", name, b, err)
			}
			var ts []time.Duration
			for i := range 3 + reps(d, 20) {
				start := time.Now()
				if _, err := inst.Run(context.Background(), in, rexec.RunOptions{}); err != nil {
					t.Fatalf("%s batch %d: %v", name, b, err)
				}
				if i >= 3 { // warm-up: JIT, first touch
					ts = append(ts, time.Since(start))
				}
			}
			inst.Close()
			sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
			er := float64(ts[len(ts)/2].Microseconds()) / 1000
			tr, ok := torch[fmt.Sprintf("%s/%d", name, b)]
			switch {
			case !ok || tr.HostMedian == 0:
				note := "no peer result"
				if tr.Skipped != "" || tr.Failed != "" {
					note = "peer: " + tr.Skipped + tr.Failed
				}
				tab.f("%-12s %5d %12.3f %12s %12s %8s %s\n", name, b, er, "-", "-", "-", note)
			default:
				ratio := er / tr.HostMedian
				note := "within 2x"
				if ratio > 2 {
					note = "OVER 2x"
				} else if ratio < 1 {
					note = "faster"
				}
				tab.f("%-12s %5d %12.3f %12.3f %12.3f %8.2f %s\n", name, b, er, tr.HostMedian, tr.MedianMs, ratio, note)
			}
		}
	}
}

// report also writes a table to $ELASTICROOM_GPU_REPORT/<name>.txt, for run.sh's summary.
func report(t *testing.T, name, text string) {
	dir := os.Getenv("ELASTICROOM_GPU_REPORT")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(text), 0o644); err != nil {
		t.Errorf("report %s: %v", name, err)
	}
}

// TestGPUControlPlacement times models with their signal block (the yield flag and unit mask
// every kernel of an instance reads once per tile) in mapped host memory (the default: host
// stores reach running kernels with no copy, but each read crosses PCIe) and in device memory
// (ELASTICROOM_CUDA_CTL=device: reads stay in L2, host stores are 4-byte copies on the
// highest-priority stream), to choose the default. The control blocks' counters live in device
// memory either way (runtime/exec).
func TestGPUControlPlacement(t *testing.T) {
	d := openCUDA(t)
	tg := target(t, d)
	tab := newTable(t, "control", "Signal block in mapped host memory vs device memory (ms, median, batch 1, all SMs)")
	tab.f("%-16s %10s %10s %8s\n", "MODEL", "MAPPED", "DEVICE", "DEV/MAP")
	for _, m := range timed(d, "mlp", "resnet18", "mobilenetv2") {
		g, in := load(t, m, 1)
		p := compile(t, g, tg, tg.SMs, in)
		var ms [2]float64
		for i, place := range []string{"", "device"} {
			t.Setenv(cuda.ControlEnv, place)
			inst, err := rexec.Load(context.Background(), d, p)
			if err != nil {
				t.Fatalf("%s (%q): %v", m.spec, place, err)
			}
			var ts []time.Duration
			for j := range 3 + reps(d, 20) {
				start := time.Now()
				if _, err := inst.Run(context.Background(), in, rexec.RunOptions{}); err != nil {
					t.Fatalf("%s (%q): %v", m.spec, place, err)
				}
				if j >= 3 {
					ts = append(ts, time.Since(start))
				}
			}
			inst.Close()
			sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
			ms[i] = float64(ts[len(ts)/2].Microseconds()) / 1000
		}
		tab.f("%-16s %10.3f %10.3f %8.2f\n", m.spec, ms[0], ms[1], ms[1]/ms[0])
	}
}
