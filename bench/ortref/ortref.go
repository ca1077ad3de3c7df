// Package ortref runs ONNX models in onnxruntime (the CPU build of the npm package
// onnxruntime-node, driven through node) as ElasticRoom's reference: the numerical ground
// truth of the conformance tests and the speed baseline of `elasticroom bench cpu`. It also
// finds the repository's cache of reference models. It talks to onnxruntime only through
// .npy files and the script ort-run.mjs (embedded here, also reachable as
// scripts/ort-run.mjs). It imports only kernels/tensor; it must never import runtime/ or
// compiler/ packages, so that the reference stays independent of what it checks.
package ortref

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

//go:embed ort-run.mjs
var script []byte

// ErrUnavailable is wrapped by the errors of Available and RealModelsDir when the reference
// (node, onnxruntime-node, the models) is not installed.
var ErrUnavailable = errors.New("onnxruntime reference not installed")

const fetchHint = "run scripts/fetch-models (needs node and npm)"

// RepoRoot is the directory of the module's go.mod, found by walking up from the working
// directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/elasticroom/elasticroom")) {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no ElasticRoom go.mod in %s or above it (run from the repository, or set ELASTICROOM_CACHE)", dir)
		}
		d = up
	}
}

// CacheDir is $ELASTICROOM_CACHE, else <repo>/.cache: where scripts/fetch-models puts
// onnxruntime-node and the real models.
func CacheDir() (string, error) {
	if c := os.Getenv("ELASTICROOM_CACHE"); c != "" {
		return filepath.Abs(c)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache"), nil
}

// RealModelsDir is the directory of the real ONNX models (<cache>/models/real). It is an
// error wrapping ErrUnavailable when the directory holds no .onnx file.
func RealModelsDir() (string, error) {
	c, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	dir := filepath.Join(c, "models", "real")
	if m, _ := filepath.Glob(filepath.Join(dir, "*.onnx")); len(m) == 0 {
		return "", fmt.Errorf("%w: no real models in %s: %s", ErrUnavailable, dir, fetchHint)
	}
	return dir, nil
}

// ORTDir is the onnxruntime-node package directory: $ELASTICROOM_ORT_DIR, else
// <cache>/ort/node_modules/onnxruntime-node.
func ORTDir() (string, error) {
	if d := os.Getenv("ELASTICROOM_ORT_DIR"); d != "" {
		return filepath.Abs(d)
	}
	c, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "ort", "node_modules", "onnxruntime-node"), nil
}

// Available reports whether node and onnxruntime-node are installed; its error (wrapping
// ErrUnavailable) says what is missing and how to install it.
func Available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node not found in PATH: install nodejs, then %s", ErrUnavailable, fetchHint)
	}
	dir, err := ORTDir()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return fmt.Errorf("%w: onnxruntime-node not found at %s: %s (or set ELASTICROOM_ORT_DIR)", ErrUnavailable, dir, fetchHint)
	}
	return nil
}

// job is one invocation of the script in a fresh temporary directory.
type job struct {
	dir  string
	args []string
}

// newJob writes the script and the inputs as .npy files into a temporary directory.
func newJob(modelPath string, inputs map[string]*tensor.Tensor) (*job, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	model, err := filepath.Abs(modelPath)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ortref-")
	if err != nil {
		return nil, err
	}
	j := &job{dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "ort-run.mjs"), script, 0o644); err != nil {
		j.close()
		return nil, err
	}
	j.args = []string{filepath.Join(dir, "ort-run.mjs"), model, filepath.Join(dir, "out")}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if strings.Contains(name, "=") {
			j.close()
			return nil, fmt.Errorf("input %q: names containing '=' cannot be passed to onnxruntime-node", name)
		}
		p := filepath.Join(dir, fmt.Sprintf("in%d.npy", i))
		if err := tensor.SaveNPY(p, inputs[name]); err != nil {
			j.close()
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		j.args = append(j.args, name+"="+p)
	}
	return j, nil
}

func (j *job) close() { os.RemoveAll(j.dir) }

// run executes node on the script with extra arguments and returns its stdout.
func (j *job) run(ctx context.Context, model string, extra ...string) ([]byte, error) {
	ortDir, err := ORTDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", append(append([]string{}, j.args...), extra...)...)
	cmd.Env = append(os.Environ(), "ELASTICROOM_ORT_DIR="+ortDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("onnxruntime on %s: %s", model, msg)
	}
	return stdout.Bytes(), nil
}

// Run runs the model once in onnxruntime on the given inputs and returns every output,
// keyed by the model's output names.
func Run(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	j, err := newJob(modelPath, inputs)
	if err != nil {
		return nil, err
	}
	defer j.close()
	if _, err := j.run(ctx, modelPath); err != nil {
		return nil, err
	}
	return readOutputs(filepath.Join(j.dir, "out"))
}

// readOutputs reads the outputs the script listed in outputs.json.
func readOutputs(dir string) (map[string]*tensor.Tensor, error) {
	b, err := os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		return nil, fmt.Errorf("onnxruntime outputs: %w", err)
	}
	var manifest []struct{ Name, File string }
	if err := json.Unmarshal(b, &manifest); err != nil {
		return nil, fmt.Errorf("onnxruntime outputs.json: %w", err)
	}
	outs := map[string]*tensor.Tensor{}
	for _, m := range manifest {
		if filepath.Base(m.File) != m.File {
			return nil, fmt.Errorf("onnxruntime outputs.json: bad file name %q", m.File)
		}
		t, err := tensor.LoadNPY(filepath.Join(dir, m.File))
		if err != nil {
			return nil, fmt.Errorf("onnxruntime output %q: %w", m.Name, err)
		}
		outs[m.Name] = t
	}
	return outs, nil
}

// Timing is the result of a benchmark: the median and every timed run.
type Timing struct {
	Median  time.Duration
	Runs    []time.Duration
	Threads int // onnxruntime's intra-op threads
}

// BenchRuns times runs executions of the model in onnxruntime after one warm-up run, in one
// session (model loading and input conversion are not timed).
func BenchRuns(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor, runs int) (*Timing, error) {
	if runs < 1 {
		return nil, fmt.Errorf("benchmark needs at least one run, got %d", runs)
	}
	j, err := newJob(modelPath, inputs)
	if err != nil {
		return nil, err
	}
	defer j.close()
	j.args[2] = "-" // no output files
	out, err := j.run(ctx, modelPath, "--bench", fmt.Sprint(runs))
	if err != nil {
		return nil, err
	}
	var r struct {
		MedianMS float64   `json:"median_ms"`
		Runs     []float64 `json:"runs"`
		Threads  int       `json:"threads"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return nil, fmt.Errorf("onnxruntime benchmark output %q: %w", out, err)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	t := &Timing{Median: ms(r.MedianMS), Threads: r.Threads}
	for _, v := range r.Runs {
		t.Runs = append(t.Runs, ms(v))
	}
	return t, nil
}

// Bench is BenchRuns's median.
func Bench(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor, runs int) (time.Duration, error) {
	t, err := BenchRuns(ctx, modelPath, inputs, runs)
	if err != nil {
		return 0, err
	}
	return t.Median, nil
}

// IO is a model's input or output as onnxruntime reports it. Shape entries are numbers or,
// for symbolic dims, strings.
type IO struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Shape []any  `json:"shape"`
}

// List returns the model's inputs and outputs as onnxruntime sees them.
func List(ctx context.Context, modelPath string) (inputs, outputs []IO, err error) {
	j, err := newJob(modelPath, nil)
	if err != nil {
		return nil, nil, err
	}
	defer j.close()
	j.args = []string{j.args[0], "--list", j.args[1]}
	out, err := j.run(ctx, modelPath)
	if err != nil {
		return nil, nil, err
	}
	var r struct{ Inputs, Outputs []IO }
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, nil, fmt.Errorf("onnxruntime --list output: %w", err)
	}
	return r.Inputs, r.Outputs, nil
}
