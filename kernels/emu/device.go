package emu

import (
	"fmt"
	"sync"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// Config describes the virtual hardware. Zero limits take the defaults below (roughly an
// sm_90 SM); compiler/budget supplies real figures.
type Config struct {
	SMs                int // virtual SMs (%nsmid); required
	MaxBlocksPerSM     int // resident blocks per SM (default 32)
	MaxThreadsPerSM    int // resident threads per SM (default 2048)
	MaxThreadsPerBlock int // default 1024
	SharedPerSM        int // bytes of shared memory per SM (default 228 KiB)
	SharedPerBlock     int // bytes of shared memory one block may use (default 227 KiB)
	RegsPerSM          int // 32-bit registers per SM (default 65536)
	// TimeSlice is how many steps a thread runs before the block scheduler moves on to the
	// next thread (default 4096); it lets spin loops progress.
	TimeSlice int
}

// Device is a virtual GPU: SMs, global memory and compiled kernels. Its methods are safe for
// concurrent use; several launches may run at once (they share the SMs' goroutine pool only
// logically: each launch sees every SM with its full occupancy).
type Device struct {
	cfg   Config
	mem   memory
	mu    sync.Mutex
	progs map[*kir.Kernel]*Program
	regs  sync.Pool // *[]uint64: register files of finished blocks, reused by later launches
}

// getRegs returns a register file of n slots (not zeroed when reused).
func (d *Device) getRegs(n int) []uint64 {
	if p, ok := d.regs.Get().(*[]uint64); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]uint64, n)
}

func (d *Device) putRegs(r []uint64) { d.regs.Put(&r) }

// NewDevice makes a device with the given configuration.
func NewDevice(c Config) (*Device, error) {
	if c.SMs <= 0 || c.SMs > 4096 {
		return nil, fmt.Errorf("emu: device with %d SMs (want 1..4096)", c.SMs)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxBlocksPerSM, 32)
	def(&c.MaxThreadsPerSM, 2048)
	def(&c.MaxThreadsPerBlock, 1024)
	def(&c.SharedPerSM, 228<<10)
	def(&c.SharedPerBlock, 227<<10)
	def(&c.RegsPerSM, 65536)
	def(&c.TimeSlice, 4096)
	return &Device{cfg: c, progs: map[*kir.Kernel]*Program{}}, nil
}

// Config returns the device's configuration with defaults filled in.
func (d *Device) Config() Config { return d.cfg }

// Occupancy is how many blocks of threads threads, sharedBytes of shared memory and
// regsPerThread registers (0: not limiting) fit on one SM at once; 0 when one does not fit.
func (d *Device) Occupancy(threads, sharedBytes, regsPerThread int) int {
	c := d.cfg
	if threads <= 0 || threads > c.MaxThreadsPerBlock || sharedBytes > c.SharedPerBlock {
		return 0
	}
	n := min(c.MaxBlocksPerSM, c.MaxThreadsPerSM/threads)
	if sharedBytes > 0 {
		n = min(n, c.SharedPerSM/sharedBytes)
	}
	if regsPerThread > 0 {
		n = min(n, c.RegsPerSM/(regsPerThread*threads))
	}
	return max(n, 0)
}

// Compile compiles (and caches) k for this device. Launch calls it; calling it first reports
// compile errors early.
func (d *Device) Compile(k *kir.Kernel) (*Program, error) {
	d.mu.Lock()
	p := d.progs[k]
	d.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := Compile(k)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.progs[k] = p
	d.mu.Unlock()
	return p, nil
}
