// Package ptxas runs NVIDIA's PTX assembler on generated PTX so that tests (and the compiler's
// checks) can see what each kernel really uses: registers, shared memory, stack and spills.
// ptxas is a tool of the CUDA toolkit, not of the driver; scripts/install-ptxas puts the one
// from CUDA 11.8 into .cache/bin/ptxas. Nothing at run time needs it: the driver JIT-compiles
// PTX itself.
//
// The package imports only the standard library and must never import compiler/ or runtime/
// (kernels/ is the ground floor).
package ptxas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// EnvPath names the environment variable that points at the ptxas binary to use.
const EnvPath = "ELASTICROOM_PTXAS"

// ErrNotFound is wrapped by Find's error when no ptxas is available.
var ErrNotFound = errors.New("ptxas not found")

// Find locates ptxas: $ELASTICROOM_PTXAS if set (it must then exist), else
// $ELASTICROOM_CACHE/bin/ptxas, else .cache/bin/ptxas in the repository holding the current
// directory (the nearest parent with a go.mod), else ptxas on PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s=%s is not an executable file", ErrNotFound, EnvPath, p)
	}
	var tried []string
	if c := os.Getenv("ELASTICROOM_CACHE"); c != "" {
		p := filepath.Join(c, "bin", "ptxas")
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if root, ok := repoRoot(); ok {
		p := filepath.Join(root, ".cache", "bin", "ptxas")
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath("ptxas"); err == nil {
		return p, nil
	}
	tried = append(tried, "ptxas on PATH")
	return "", fmt.Errorf("%w (%s unset; tried %s): run scripts/install-ptxas", ErrNotFound, EnvPath, strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// repoRoot is the nearest directory at or above the working directory holding a go.mod.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Version returns ptxas's release, e.g. "11.8", from `ptxas --version`.
func Version(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", path, err, bytes.TrimSpace(out))
	}
	m := regexp.MustCompile(`release (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: no release in %q", path, bytes.TrimSpace(out))
	}
	return string(m[1]), nil
}

// Options tune one Assemble call.
type Options struct {
	Path      string   // ptxas binary; "" = Find()
	MaxRegs   int      // --maxrregcount for the whole module; 0 = none (.maxnreg still applies)
	OptLevel  int      // -O level 0..3; 0 here means ptxas's default (3); use -1 for -O0
	ExtraArgs []string // further ptxas arguments, placed before the input file
}

// Result is what ptxas -v reports for one function.
type Result struct {
	Entry       bool   // a kernel (.entry), not a device function (.func)
	Registers   int    // registers per thread
	SharedBytes int    // static shared memory per block ("bytes smem")
	StackBytes  int    // stack frame per thread
	SpillStores int    // bytes of spill stores per thread
	SpillLoads  int    // bytes of spill loads per thread
	Log         string // ptxas's lines about this function (info and warnings)
}

var archRE = regexp.MustCompile(`^sm_\d+a?$`)

// Assemble runs `ptxas -v --gpu-name <arch> -o /dev/null <file>` on ptxText and returns what
// it reports per function (kernel or device function), keyed by name. On failure the error is
// an *Error carrying ptxas's message, the PTX lines around each line it names, and a one-line
// repro command (the PTX is then kept in a file under the system temp directory).
func Assemble(ctx context.Context, ptxText, arch string, opts Options) (map[string]Result, error) {
	if !archRE.MatchString(arch) {
		return nil, fmt.Errorf("ptxas: arch %q is not of the form sm_XX", arch)
	}
	bin := opts.Path
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "elasticroom-ptxas-")
	if err != nil {
		return nil, fmt.Errorf("ptxas: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "kernel.ptx")
	if err := os.WriteFile(file, []byte(ptxText), 0o644); err != nil {
		return nil, fmt.Errorf("ptxas: %w", err)
	}
	args := []string{"-v", "--gpu-name", arch}
	switch {
	case opts.OptLevel < 0:
		args = append(args, "-O0")
	case opts.OptLevel > 0:
		args = append(args, "-O"+strconv.Itoa(min(opts.OptLevel, 3)))
	}
	if opts.MaxRegs > 0 {
		args = append(args, "--maxrregcount", strconv.Itoa(opts.MaxRegs))
	}
	args = append(args, opts.ExtraArgs...)
	args = append(args, "-o", os.DevNull)

	cmd := exec.CommandContext(ctx, bin, append(args, file)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	log := strings.ReplaceAll(out.String(), file, "kernel.ptx")
	if runErr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ptxas %s: %w", arch, ctx.Err())
		}
		return nil, newError(bin, args, arch, ptxText, log, runErr)
	}
	return ParseVerbose(log)
}

// Error is a failed ptxas run.
type Error struct {
	Arch    string // --gpu-name
	Message string // ptxas's output
	Context string // the PTX lines around each line ptxas names, numbered, ">" marking them
	Repro   string // a shell command that reruns ptxas on the kept PTX file
	Err     error  // the exec error (exit status)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ptxas %s failed (%v):\n%s", e.Arch, e.Err, strings.TrimRight(e.Message, "\n"))
	if e.Context != "" {
		fmt.Fprintf(&b, "\nPTX:\n%s", strings.TrimRight(e.Context, "\n"))
	}
	fmt.Fprintf(&b, "\nrepro: %s", e.Repro)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

var lineRE = regexp.MustCompile(`, line (\d+);`)

func newError(bin string, args []string, arch, ptxText, log string, runErr error) *Error {
	e := &Error{Arch: arch, Message: log, Err: runErr}
	// Keep the PTX so the repro command works after the temp directory is gone.
	sum := sha256.Sum256([]byte(ptxText))
	kept := filepath.Join(os.TempDir(), "elasticroom-ptxas-"+hex.EncodeToString(sum[:6])+".ptx")
	if err := os.WriteFile(kept, []byte(ptxText), 0o644); err != nil {
		kept = "<PTX could not be kept: " + err.Error() + ">"
	}
	quoted := make([]string, 0, len(args)+2)
	for _, a := range append(append([]string{bin}, args...), kept) {
		quoted = append(quoted, shellQuote(a))
	}
	e.Repro = strings.Join(quoted, " ")
	e.Message = strings.ReplaceAll(log, "kernel.ptx", kept)

	var marked []int
	for _, m := range lineRE.FindAllStringSubmatch(log, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			marked = append(marked, n)
		}
	}
	e.Context = excerpt(strings.Split(ptxText, "\n"), marked, 2)
	return e
}

// excerpt returns the lines within radius of each marked (1-based) line, numbered, with
// ">" before the marked ones and "..." between separate runs.
func excerpt(lines []string, marked []int, radius int) string {
	if len(marked) == 0 {
		return ""
	}
	isMarked := map[int]bool{}
	show := map[int]bool{}
	for _, n := range marked {
		if n < 1 || n > len(lines) {
			continue
		}
		isMarked[n] = true
		for i := max(1, n-radius); i <= min(len(lines), n+radius); i++ {
			show[i] = true
		}
	}
	var b strings.Builder
	last := 0
	for i := 1; i <= len(lines); i++ {
		if !show[i] {
			continue
		}
		if last != 0 && i != last+1 {
			b.WriteString("  ...\n")
		}
		mark := " "
		if isMarked[i] {
			mark = ">"
		}
		fmt.Fprintf(&b, "%s %5d  %s\n", mark, i, lines[i-1])
		last = i
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
