package cuda

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// helperEnv marks a run of the test binary as a helper subprocess: the tests that load a real
// driver library do it in a subprocess, because once a library whose soname is libcuda.so.1
// (or libnvidia-ml.so.1) is loaded, the dynamic loader hands it out for the default name too,
// which would change what every other test of the process sees.
const helperEnv = "ELASTICROOM_CUDA_TEST_HELPER"

func helper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper: runs in a subprocess of another test")
	}
}

// runHelper runs test name in a subprocess with env added and returns its output.
func runHelper(t *testing.T, name string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", name, out)
	if err != nil {
		t.Fatalf("%s failed: %v", name, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s did not pass", name)
	}
}

// debianLibDir is where scripts/fetch-libcuda unpacks Debian's libcuda1 and libnvidia-ml1.
func debianLibDir(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("ELASTICROOM_CACHE")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	dir := filepath.Join(cache, "libcuda", "usr", "lib", "x86_64-linux-gnu", "nvidia", "current")
	if _, err := os.Stat(filepath.Join(dir, "libcuda.so.1")); err != nil {
		if os.Getenv("ELASTICROOM_REQUIRE_LIBCUDA") == "1" {
			t.Fatalf("no unpacked libcuda.so.1 in %s (run scripts/fetch-libcuda): %v", dir, err)
		}
		t.Skipf("no unpacked libcuda.so.1 in %s: run scripts/fetch-libcuda", dir)
	}
	if !cgoEnabled {
		t.Skip("built without cgo: no driver library can be loaded")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestOpenMissingLibrary(t *testing.T) {
	_, err := OpenLibrary("/nonexistent/libcuda.so.1", 0)
	if err == nil {
		t.Fatal("opened a library that does not exist")
	}
	if cgoEnabled {
		if !errors.Is(err, ErrNoDriver) {
			t.Fatalf("not ErrNoDriver: %v", err)
		}
		for _, s := range []string{"NVIDIA driver (libcuda.so.1) not found", "/nonexistent/libcuda.so.1"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	} else if !errors.Is(err, ErrNoCgo) || !strings.Contains(err.Error(), "cgo") {
		t.Fatalf("without cgo: %v", err)
	}
	if errors.Is(err, ErrNoDevice) {
		t.Errorf("a missing library is ErrNoDevice: %v", err)
	}
}

// On a machine without the driver (CI), Open, Available and Discover say so; where a driver
// library loads, the test has nothing to check.
func TestOpenWithoutDriver(t *testing.T) {
	helper(t)
	if _, err := loadDriver(LibraryPath()); err == nil {
		t.Skipf("%s loads on this machine", LibraryPath())
	}
	_, err := Open(0)
	if err == nil || !(errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoCgo)) {
		t.Fatalf("Open(0) = %v, want ErrNoDriver", err)
	}
	if cgoEnabled && !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Errorf("error does not name libcuda.so.1: %v", err)
	}
	if err := Available(); err == nil || !(errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoCgo)) {
		t.Errorf("Available() = %v", err)
	}
	if _, err := DriverVersion(); err == nil {
		t.Error("DriverVersion without a driver")
	}
	d := Discover()
	if !d.NoDriver() || len(d.GPUs) != 0 {
		t.Errorf("Discover: %+v", d)
	}
}

func TestOpenWithoutDriverSubprocess(t *testing.T) {
	runHelper(t, "TestOpenWithoutDriver", LibraryEnv+"=/nonexistent/libcuda.so.1", NVMLEnv+"=/nonexistent/libnvidia-ml.so.1")
}

// Debian's libcuda.so.1 on a machine with no NVIDIA kernel module: cuInit answers
// CUDA_ERROR_NO_DEVICE, which must come back as ErrNoDevice naming the code; NVML loads, its
// init fails, and discovery must not call anything else in it (that would crash).
func TestDebianLibcudaNoDevice(t *testing.T) {
	dir := debianLibDir(t)
	// Run as root, the driver library creates /dev/nvidiactl (and nvidia-uvm nodes) while it
	// looks for the kernel module; remove what it created.
	nodes := []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0"}
	had := map[string]bool{}
	for _, n := range nodes {
		_, err := os.Lstat(n)
		had[n] = err == nil
	}
	defer func() {
		for _, n := range nodes {
			if _, err := os.Lstat(n); err == nil && !had[n] {
				os.Remove(n)
			}
		}
	}()
	runHelper(t, "TestDebianLibcudaHelper", LibraryEnv+"="+filepath.Join(dir, "libcuda.so.1"),
		NVMLEnv+"="+filepath.Join(dir, "libnvidia-ml.so.1"))
}

func TestDebianLibcudaHelper(t *testing.T) {
	helper(t)
	dev, err := Open(0)
	if err == nil {
		dev.Close()
		t.Skip("a GPU answers: nothing to check")
	}
	if err == nil || !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Open(0) = %v, want ErrNoDevice", err)
	}
	if errors.Is(err, ErrNoDriver) {
		t.Errorf("a loadable driver is ErrNoDriver: %v", err)
	}
	for _, s := range []string{"cuInit", "CUDA_ERROR_NO_DEVICE (100)", "libcuda.so.1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if err := Available(); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Available() = %v", err)
	}
	if v, err := DriverVersion(); err != nil || !strings.Contains(v, ".") {
		t.Errorf("DriverVersion() = %q, %v", v, err)
	}
	d := Discover()
	if d.NoDriver() || d.NVMLErr == nil || errors.Is(d.NVMLErr, ErrNoNVML) || !errors.Is(d.CUDAErr, ErrNoDevice) || len(d.GPUs) != 0 {
		t.Errorf("Discover: %+v", d)
	}
	t.Logf("open: %v\nnvml: %v", err, d.NVMLErr)
}
