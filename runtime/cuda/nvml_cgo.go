//go:build cgo && linux

package cuda

import (
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlSession is an NVML library whose nvmlInit succeeded. It is the only way this package
// reaches NVML: go-nvml's calls jump through symbols resolved by a successful load, and a call
// made after a failed Init crashes the process instead of returning an error.
type nvmlSession struct{ lib nvml.Interface }

// openNVML loads NVML from path and initialises it; every failure is an error.
func openNVML(path string) (*nvmlSession, error) {
	lib := nvml.New(nvml.WithLibraryPath(path))
	r := lib.Init()
	switch r {
	case nvml.SUCCESS:
		return &nvmlSession{lib: lib}, nil
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return nil, fmt.Errorf("%w: %s not loadable", ErrNoNVML, path)
	}
	// The library loaded, so its error string is safe to ask for (r.Error uses it).
	return nil, fmt.Errorf("nvmlInit (%s): %s (%d)", path, r.Error(), int(r))
}

func (s *nvmlSession) close() { s.lib.Shutdown() }

// nvmlGPUs lists the GPUs NVML reports with their live state.
func nvmlGPUs(path string) (gpus []GPU, driver, cudaVersion string, err error) {
	s, err := openNVML(path)
	if err != nil {
		return nil, "", "", err
	}
	defer s.close()
	if v, r := s.lib.SystemGetDriverVersion(); r == nvml.SUCCESS {
		driver = v
	}
	if v, r := s.lib.SystemGetCudaDriverVersion(); r == nvml.SUCCESS {
		cudaVersion = versionString(v)
	}
	n, r := s.lib.DeviceGetCount()
	if r != nvml.SUCCESS {
		return nil, driver, cudaVersion, fmt.Errorf("nvmlDeviceGetCount: %s", r.Error())
	}
	for i := 0; i < n; i++ {
		gpus = append(gpus, s.gpu(i))
	}
	return gpus, driver, cudaVersion, nil
}

func (s *nvmlSession) gpu(i int) GPU {
	g := GPU{Index: i, Ordinal: -1}
	bad := func(call string, r nvml.Return) {
		g.Problems = append(g.Problems, fmt.Sprintf("%s: %s", call, r.Error()))
	}
	dev, r := s.lib.DeviceGetHandleByIndex(i)
	if r != nvml.SUCCESS {
		bad("nvmlDeviceGetHandleByIndex", r)
		return g
	}
	if g.Name, r = dev.GetName(); r != nvml.SUCCESS {
		bad("nvmlDeviceGetName", r)
	}
	if g.UUID, r = dev.GetUUID(); r != nvml.SUCCESS {
		bad("nvmlDeviceGetUUID", r)
	}
	if p, r := dev.GetPciInfo(); r == nvml.SUCCESS {
		g.PCI = fmt.Sprintf("%04x:%02x:%02x", p.Domain, p.Bus, p.Device)
	} else {
		bad("nvmlDeviceGetPciInfo", r)
	}
	if ma, mi, r := dev.GetCudaComputeCapability(); r == nvml.SUCCESS {
		g.CC = fmt.Sprintf("%d.%d", ma, mi)
	} else {
		bad("nvmlDeviceGetCudaComputeCapability", r)
	}
	if m, r := dev.GetMemoryInfo(); r == nvml.SUCCESS {
		g.MemTotal, g.MemUsed = m.Total, m.Used
	} else {
		bad("nvmlDeviceGetMemoryInfo", r)
	}
	// Clocks and utilisation are not reported by every GPU (or in every VM): a missing one
	// stays 0, noted among the problems only when it failed for another reason.
	opt := func(call string, r nvml.Return) {
		if r != nvml.SUCCESS && r != nvml.ERROR_NOT_SUPPORTED {
			bad(call, r)
		}
	}
	var r2 nvml.Return
	g.SMClock, r2 = dev.GetClockInfo(nvml.CLOCK_SM)
	opt("nvmlDeviceGetClockInfo(SM)", r2)
	g.MemClock, r2 = dev.GetClockInfo(nvml.CLOCK_MEM)
	opt("nvmlDeviceGetClockInfo(MEM)", r2)
	g.MaxSMClock, r2 = dev.GetMaxClockInfo(nvml.CLOCK_SM)
	opt("nvmlDeviceGetMaxClockInfo(SM)", r2)
	if u, r := dev.GetUtilizationRates(); r == nvml.SUCCESS {
		g.UtilGPU, g.UtilMem = u.Gpu, u.Memory
	} else {
		opt("nvmlDeviceGetUtilizationRates", r)
	}
	g.Name = strings.TrimSpace(g.Name)
	return g
}
