package cuda

import (
	"errors"
	"fmt"
	"os"
)

// DefaultNVML is the NVML library discovery loads when ELASTICROOM_LIBNVML names none.
const DefaultNVML = "libnvidia-ml.so.1"

// NVMLEnv names an environment variable that, when set, is the path of the NVML library.
const NVMLEnv = "ELASTICROOM_LIBNVML"

// ErrNoNVML is wrapped by discovery's NVML error when the library cannot be loaded.
var ErrNoNVML = errors.New("NVML (libnvidia-ml.so.1) not found")

// NVMLPath is the NVML library discovery loads: $ELASTICROOM_LIBNVML or DefaultNVML.
func NVMLPath() string {
	if p := os.Getenv(NVMLEnv); p != "" {
		return p
	}
	return DefaultNVML
}

// GPU is one GPU as discovery sees it: NVML's figures (live state) joined with the CUDA
// driver's (SMs and the per-SM limits, which NVML does not report) by PCI address.
type GPU struct {
	Index      int    // NVML index (-1: seen by the CUDA driver only)
	Ordinal    int    // CUDA ordinal (-1: the driver did not answer for it)
	Name       string // product name
	UUID       string
	PCI        string // domain:bus:device
	CC         string // compute capability, e.g. "9.0"
	SMs        int    // 0 when the CUDA driver did not answer
	MemTotal   uint64 // bytes
	MemUsed    uint64 // bytes (NVML)
	SMClock    uint32 // MHz now (NVML)
	MemClock   uint32 // MHz now (NVML)
	MaxSMClock uint32 // MHz (NVML; else the driver's typical clock)
	UtilGPU    uint32 // percent of time a kernel ran, last sample (NVML)
	UtilMem    uint32 // percent of time memory was read or written (NVML)
	Info       *Info  // the CUDA driver's description; nil when it did not answer
	Problems   []string
}

// Discovery is what the machine's NVIDIA stack reports.
type Discovery struct {
	NVMLErr     error  // nil: NVML answered
	Driver      string // driver version from NVML, e.g. "580.159.04"
	CUDAErr     error  // nil: the CUDA driver answered
	CUDAVersion string // CUDA version the driver supports, e.g. "13.0" (either source)
	GPUs        []GPU
}

// NoDriver reports whether neither NVML nor the CUDA driver library could be loaded at all.
func (d Discovery) NoDriver() bool {
	return errors.Is(d.NVMLErr, ErrNoNVML) && (errors.Is(d.CUDAErr, ErrNoDriver) || errors.Is(d.CUDAErr, ErrNoCgo))
}

// Discover asks NVML (NVMLPath) and the CUDA driver (LibraryPath) what GPUs the machine has.
// It never fails: what could not be read is in NVMLErr, CUDAErr and each GPU's Problems.
func Discover() Discovery {
	var d Discovery
	var nv []GPU
	nv, d.Driver, d.CUDAVersion, d.NVMLErr = nvmlGPUs(NVMLPath())
	cu, ver, err := cudaGPUs()
	d.CUDAErr = err
	if ver != "" {
		d.CUDAVersion = ver
	}
	used := map[int]bool{}
	for _, g := range nv {
		for i, c := range cu {
			if !used[i] && c.PCI == g.PCI {
				used[i] = true
				g.Ordinal, g.SMs, g.Info = c.Ordinal, c.SMs, c.Info
				if g.CC == "" {
					g.CC = c.CC
				}
			}
		}
		d.GPUs = append(d.GPUs, g)
	}
	for i, c := range cu {
		if !used[i] {
			d.GPUs = append(d.GPUs, c)
		}
	}
	return d
}

// cudaGPUs lists the GPUs the CUDA driver reports, without creating contexts.
func cudaGPUs() ([]GPU, string, error) {
	l, err := loadLibrary(LibraryPath())
	if l == nil || l.drv == nil {
		return nil, "", err
	}
	ver := versionString(l.version)
	if err != nil {
		return nil, ver, err
	}
	n, err := l.drv.deviceCount()
	if err != nil {
		return nil, ver, err
	}
	var out []GPU
	for i := 0; i < n; i++ {
		g := GPU{Index: -1, Ordinal: i}
		dev, err := l.drv.deviceGet(i)
		if err == nil {
			var in Info
			in, err = readInfo(l, dev, i)
			if err == nil {
				g.Info = &in
				g.Name, g.PCI, g.SMs, g.MemTotal = in.Name, in.PCI, in.SMs, in.TotalMemory
				g.CC = fmt.Sprintf("%d.%d", in.CCMajor, in.CCMinor)
				g.MaxSMClock = uint32(in.ClockKHz / 1000)
			}
		}
		if err != nil {
			g.Problems = append(g.Problems, err.Error())
		}
		out = append(out, g)
	}
	return out, ver, nil
}
