package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/runtime/cuda"
)

// Without the NVIDIA libraries, `devices` lists the cpu device, says there is no driver and
// succeeds. It runs in a subprocess with the library paths pointed nowhere, so a driver on the
// machine (or one a test loaded) does not change the answer.
func TestDevicesWithoutDriver(t *testing.T) {
	if os.Getenv("ELASTICROOM_DEVICES_HELPER") == "1" {
		out, err := runCLI(t, "devices")
		if err != nil {
			t.Fatalf("devices: %v", err)
		}
		fmt.Print(out)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevicesWithoutDriver$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ELASTICROOM_DEVICES_HELPER=1",
		cuda.LibraryEnv+"=/nonexistent/libcuda.so.1", cuda.NVMLEnv+"=/nonexistent/libnvidia-ml.so.1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("devices failed: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, fmt.Sprintf("cpu   %d worker units", runtime.GOMAXPROCS(0))) {
		t.Errorf("no cpu line:\n%s", s)
	}
	want := noDriverLine
	if cuda.Available() != nil && errors.Is(cuda.Available(), cuda.ErrNoCgo) {
		want = "built without cgo"
	}
	if !strings.Contains(s, want) {
		t.Errorf("no %q line:\n%s", want, s)
	}
}

// The GPU lines, from a discovery made by hand.
func TestPrintCUDA(t *testing.T) {
	var b bytes.Buffer
	d := cuda.Discovery{Driver: "580.159.04", CUDAVersion: "13.0", GPUs: []cuda.GPU{{
		Index: 0, Ordinal: 0, Name: "NVIDIA H100 80GB HBM3", CC: "9.0", SMs: 132, MemTotal: 80 << 30, MemUsed: 1 << 30,
		SMClock: 1980, MaxSMClock: 1980, MemClock: 2619, UtilGPU: 7, PCI: "0000:1b:00",
		Info: &cuda.Info{RegsPerSM: 65536, SharedPerBlockOptin: 227 << 10, L2Bytes: 50 << 20, BusWidthBits: 5120},
	}}}
	printCUDA(&b, d)
	for _, s := range []string{"cuda  driver 580.159.04, CUDA 13.0, 1 GPU(s)", "cuda:0 NVIDIA H100 80GB HBM3  cc 9.0  132 SMs  1.0/80.0 GiB used",
		"clocks SM 1980/1980 MHz, memory 2619 MHz", "utilisation GPU 7%", "65536 regs/SM, 227 KiB shared/block opt-in, L2 50 MiB", "pci 0000:1b:00"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, b.String())
		}
	}
}
