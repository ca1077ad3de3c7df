package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/runtime/cuda"
)

// noDriverLine is what `devices` prints for cuda on a machine without the NVIDIA driver.
const noDriverLine = "cuda  no NVIDIA driver found (libnvidia-ml.so.1 / libcuda.so.1 not loadable)"

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "list the devices this machine offers (GPUs through NVML and the CUDA driver; the CPU device)",
		Description: `Prints the cpu device, then what the NVIDIA stack reports: driver and CUDA versions, and for
each GPU its name, compute capability, SMs (from the CUDA driver), memory, clocks and
utilisation (from NVML). Without a driver it says so and exits 0. ELASTICROOM_LIBCUDA and
ELASTICROOM_LIBNVML name other driver libraries to load.`,
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "cpu   %d worker units (GOMAXPROCS), %s/%s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
			printCUDA(w, cuda.Discover())
			return nil
		},
	}
}

// printCUDA writes the cuda lines of `devices`.
func printCUDA(w io.Writer, d cuda.Discovery) {
	if errors.Is(d.CUDAErr, cuda.ErrNoCgo) {
		fmt.Fprintln(w, "cuda  not available: this binary was built without cgo (CGO_ENABLED=0), which the CUDA device needs to load libcuda.so.1")
		return
	}
	if d.NoDriver() {
		fmt.Fprintln(w, noDriverLine)
		return
	}
	var head []string
	if d.Driver != "" {
		head = append(head, "driver "+d.Driver)
	}
	if d.CUDAVersion != "" {
		head = append(head, "CUDA "+d.CUDAVersion)
	}
	head = append(head, fmt.Sprintf("%d GPU(s)", len(d.GPUs)))
	fmt.Fprintf(w, "cuda  %s\n", strings.Join(head, ", "))
	if d.NVMLErr != nil {
		fmt.Fprintf(w, "      NVML: %v\n", d.NVMLErr)
	}
	if d.CUDAErr != nil {
		fmt.Fprintf(w, "      CUDA driver: %v\n", d.CUDAErr)
	}
	for _, g := range d.GPUs {
		id := fmt.Sprintf("nvml:%d", g.Index)
		if g.Ordinal >= 0 {
			id = fmt.Sprintf("cuda:%d", g.Ordinal)
		}
		sms := "SMs unknown (CUDA driver did not answer)"
		if g.SMs > 0 {
			sms = fmt.Sprintf("%d SMs", g.SMs)
		}
		mem := fmt.Sprintf("%.1f GiB", gib(g.MemTotal))
		if g.Index >= 0 {
			mem = fmt.Sprintf("%.1f/%.1f GiB used", gib(g.MemUsed), gib(g.MemTotal))
		}
		fmt.Fprintf(w, "%-5s %s  cc %s  %s  %s\n", id, g.Name, g.CC, sms, mem)
		var more []string
		if g.Index >= 0 {
			more = append(more, fmt.Sprintf("clocks SM %d/%d MHz, memory %d MHz", g.SMClock, g.MaxSMClock, g.MemClock),
				fmt.Sprintf("utilisation GPU %d%%, memory %d%%", g.UtilGPU, g.UtilMem))
		}
		if in := g.Info; in != nil {
			more = append(more, fmt.Sprintf("%d regs/SM, %d KiB shared/block opt-in, L2 %d MiB, bus %d bits",
				in.RegsPerSM, in.SharedPerBlockOptin>>10, in.L2Bytes>>20, in.BusWidthBits))
			if in.GreenContexts {
				more = append(more, "green contexts")
			}
		}
		if g.PCI != "" {
			more = append(more, "pci "+g.PCI)
		}
		if len(more) > 0 {
			fmt.Fprintf(w, "      %s\n", strings.Join(more, "; "))
		}
		for _, p := range g.Problems {
			fmt.Fprintf(w, "      problem: %s\n", p)
		}
	}
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }
