// Package emu is the emulator device: runtime/device's Device over the kernels/emu
// interpreter, with the target's SM count and per-SM occupancy limits, host-visible memory
// (every allocation may be written with Store32 while kernels run) and launches that run a
// plan kernel's kir (Kernel.IR) on virtual SMs. It is slow (an interpreter); it exists so
// that tests run the real persistent protocol (masks, yield, resume) and every kernel's logic.
//
// Importing the package registers the device as "emu". emu imports runtime/device,
// compiler/plan, compiler/budget (target figures), kernels/emu and kernels/kir; never
// runtime/exec or other devices.
package emu

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	kemu "github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/runtime/device"
)

func init() {
	device.Register("emu", func(o device.Options) (device.Device, error) {
		return New(Config{Target: o.Target, Units: o.Units})
	})
}

// DefaultTarget is the target an emu device models when none is given.
const DefaultTarget = "sm_90"

// DefaultBlocksPerSM is the default cap on resident blocks per virtual SM.
const DefaultBlocksPerSM = 1

// Config describes the emulated GPU.
type Config struct {
	Target budget.Target // SM count and per-SM limits; zero: DefaultTarget
	Units  int           // SMs; 0: Target.SMs
	// MaxBlocksPerSM caps the blocks resident on one virtual SM at once (0: DefaultBlocksPerSM;
	// negative: no cap beyond the target's limit). Whether a block fits an SM at all is still
	// decided by the target's limits. Every resident block holds its threads' register files
	// in host memory, and the interpreter gains nothing from more concurrency than the host has
	// cores; persistent kernels are correct with any residency.
	MaxBlocksPerSM int
	TimeSlice      int // interpreter steps per thread turn (0: kernels/emu's default)
}

// Device is an emulated GPU.
type Device struct {
	d      *kemu.Device
	units  int
	blocks int // resident blocks per SM at most
	name   string
}

// New opens an emulated GPU.
func New(c Config) (*Device, error) {
	t := c.Target
	if t.SMs == 0 {
		var err error
		if t, err = budget.LookupTarget(DefaultTarget); err != nil {
			return nil, fmt.Errorf("emu: %w", err)
		}
	}
	units := c.Units
	if units <= 0 {
		units = t.SMs
	}
	blocks := t.MaxBlocksPerSM
	capBlocks := c.MaxBlocksPerSM
	if capBlocks == 0 {
		capBlocks = DefaultBlocksPerSM
	}
	if capBlocks > 0 && (blocks == 0 || capBlocks < blocks) {
		blocks = capBlocks
	}
	d, err := kemu.NewDevice(kemu.Config{SMs: units, MaxBlocksPerSM: blocks, MaxThreadsPerSM: t.MaxThreadsPerSM,
		MaxThreadsPerBlock: t.MaxThreadsPerBlock, SharedPerSM: t.SharedPerSM, SharedPerBlock: t.SharedPerBlockOptin,
		RegsPerSM: t.RegsPerSM, TimeSlice: c.TimeSlice})
	if err != nil {
		return nil, err
	}
	return &Device{d: d, units: units, blocks: d.Config().MaxBlocksPerSM, name: fmt.Sprintf("emu (%s, %d SMs)", t.Name, units)}, nil
}

// Name describes the device.
func (d *Device) Name() string { return d.name }

// Units is the number of virtual SMs.
func (d *Device) Units() int { return d.units }

// Close releases nothing: memory is garbage collected with the device.
func (d *Device) Close() error { return nil }

// Emulator is the underlying interpreter device (tests read its statistics).
func (d *Device) Emulator() *kemu.Device { return d.d }

// Alloc allocates zeroed memory; allocations are aligned to 2^32 bytes.
func (d *Device) Alloc(n int64) (device.Ptr, error) {
	if n <= 0 || n > math.MaxInt32*2 {
		return 0, fmt.Errorf("emu: alloc %d bytes: size out of range", n)
	}
	p, err := d.d.Alloc(int(n))
	return device.Ptr(p), err
}

// AllocMapped is Alloc: all emulator memory is host-visible.
func (d *Device) AllocMapped(n int64) (device.Ptr, error) { return d.Alloc(n) }

// Free releases an allocation.
func (d *Device) Free(p device.Ptr) error { return d.d.Free(kemu.Ptr(p)) }

// Store32 atomically stores a word; safe while kernels run.
func (d *Device) Store32(p device.Ptr, v uint32) error { return d.d.Store32(kemu.Ptr(p), v) }

// Load32 atomically loads a word; safe while kernels run.
func (d *Device) Load32(p device.Ptr) (uint32, error) { return d.d.Load32(kemu.Ptr(p)) }

// CopyToDevice copies src to dst, which must be 4-byte aligned; a partial last word keeps its
// other bytes.
func (d *Device) CopyToDevice(dst device.Ptr, src []byte) error {
	if dst%4 != 0 {
		return fmt.Errorf("emu: copy to %#x: not 4-byte aligned", uint64(dst))
	}
	full := len(src) / 4
	w := make([]uint32, full)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(src[4*i:])
	}
	if full > 0 {
		if err := d.d.WriteU32(kemu.Ptr(dst), w); err != nil {
			return err
		}
	}
	if rest := src[4*full:]; len(rest) > 0 {
		p := kemu.Ptr(dst) + kemu.Ptr(4*full)
		old, err := d.d.Load32(p)
		if err != nil {
			return err
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], old)
		copy(b[:], rest)
		return d.d.Store32(p, binary.LittleEndian.Uint32(b[:]))
	}
	return nil
}

// CopyToHost fills dst from src, which must be 4-byte aligned.
func (d *Device) CopyToHost(dst []byte, src device.Ptr) error {
	if src%4 != 0 {
		return fmt.Errorf("emu: copy from %#x: not 4-byte aligned", uint64(src))
	}
	n := (len(dst) + 3) / 4
	if n == 0 {
		return nil
	}
	w, err := d.d.ReadU32(kemu.Ptr(src), n)
	if err != nil {
		return err
	}
	var b [4]byte
	for i, x := range w {
		if 4*i+4 <= len(dst) {
			binary.LittleEndian.PutUint32(dst[4*i:], x)
			continue
		}
		binary.LittleEndian.PutUint32(b[:], x)
		copy(dst[4*i:], b[:])
	}
	return nil
}

// function is a plan kernel compiled for the interpreter.
type function struct {
	k  *plan.Kernel
	ir *kir.Kernel
}

func (f *function) Name() string { return f.k.Name }

// Load compiles the kernel's kir (Kernel.IR), which the emulator runs instead of its PTX.
func (d *Device) Load(k *plan.Kernel) (device.Function, error) {
	if k == nil || k.IR == nil {
		name := "<nil>"
		if k != nil {
			name = k.Name
		}
		return nil, fmt.Errorf("emu: kernel %q carries no kernel IR (the emulator runs kir, not PTX)", name)
	}
	if _, err := d.d.Compile(k.IR); err != nil {
		return nil, fmt.Errorf("emu: kernel %q: %w", k.Name, err)
	}
	return &function{k: k, ir: k.IR}, nil
}

// clampGrid bounds a launch's grid. Plan kernels are persistent (DESIGN.md section 4):
// resident blocks take tiles until none is left, so a block that would start only after every
// resident block has left finds nothing to do (it reads the same control block: next_tile
// exhausted, or yield set). A 1-D grid larger
// than Units x MaxBlocksPerSM is therefore run as that many blocks, which saves the interpreter
// thousands of blocks that would only run the protocol's prologue.
func (d *Device) clampGrid(grid [3]int) [3]int {
	if grid[1] <= 1 && grid[2] <= 1 && grid[0] > d.units*d.blocks {
		grid[0] = d.units * d.blocks
	}
	return grid
}

// Launch runs fn to completion (or until ctx is done), its grid bounded by clampGrid.
// Priority is ignored: the interpreter shares the host's cores between concurrent launches.
func (d *Device) Launch(ctx context.Context, fn device.Function, c device.LaunchConfig, args ...any) error {
	f, ok := fn.(*function)
	if !ok {
		return fmt.Errorf("emu: launch of a function this device did not load (%T)", fn)
	}
	if len(args) != len(f.ir.Params) {
		return fmt.Errorf("emu: kernel %q: %d arguments for %d parameters", f.k.Name, len(args), len(f.ir.Params))
	}
	conv := make([]any, len(args))
	for i, a := range args {
		v, err := convert(f.ir.Params[i].T, a)
		if err != nil {
			return fmt.Errorf("emu: kernel %q param %d %q: %w", f.k.Name, i, f.ir.Params[i].Name, err)
		}
		conv[i] = v
	}
	_, err := d.d.LaunchWith(ctx, f.ir, kemu.LaunchConfig{Grid: d.clampGrid(c.Grid), Block: c.Block, SharedBytes: c.SharedBytes,
		RegsPerThread: c.RegsPerThread}, conv...)
	return err
}

// convert turns a device argument into the interpreter's form for a parameter of type t.
func convert(t kir.Type, a any) (any, error) {
	var u uint64
	var s int64
	signed := false
	switch v := a.(type) {
	case device.Ptr:
		u = uint64(v)
	case uint64:
		u = v
	case uint32:
		u = uint64(v)
	case int64:
		s, signed = v, true
	case int32:
		s, signed = int64(v), true
	case int:
		s, signed = int64(v), true
	case float32:
		if t != kir.F32 {
			return nil, fmt.Errorf("float argument %v for a %s parameter", v, t)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("argument %v of type %T", a, a)
	}
	if signed {
		u = uint64(s)
	}
	switch t {
	case kir.U64:
		if signed && s < 0 {
			return nil, fmt.Errorf("negative argument %d for a u64 parameter", s)
		}
		return u, nil
	case kir.S64:
		return int64(u), nil
	case kir.U32, kir.B32:
		if signed && (s < 0 || s > math.MaxUint32) || !signed && u > math.MaxUint32 {
			return nil, fmt.Errorf("argument %v out of u32 range", a)
		}
		return uint32(u), nil
	case kir.S32:
		if signed && (s < math.MinInt32 || s > math.MaxInt32) || !signed && u > math.MaxUint32 {
			return nil, fmt.Errorf("argument %v out of s32 range", a)
		}
		return int32(uint32(u)), nil
	}
	return nil, fmt.Errorf("argument %v for a %s parameter", a, t)
}
