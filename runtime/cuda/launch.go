package cuda

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/runtime/device"
)

// module is a loaded PTX module.
type module struct {
	h       handle
	infoLog string
	funcs   map[string]*Function
}

// FuncInfo is what the driver reports of a loaded kernel.
type FuncInfo struct {
	Registers        int // per thread
	StaticShared     int // bytes of static shared memory per block
	LocalBytes       int // local memory per thread (spills, stack)
	MaxThreads       int // largest block the kernel can launch with
	PTXVersion       int // e.g. 78
	BinaryVersion    int // e.g. 90
	JITInfoLog       string
	DynamicSharedMax int // dynamic shared memory the launch may ask for (raised by Load when needed)
}

// paramKind is how one launch argument is passed: its size in bytes and, for checks, its type.
type paramKind struct {
	name string
	t    kir.Type // Invalid: taken from the Go value
	ctl  bool     // the persistent protocol's control block
}

// Function is a kernel loaded on the device.
type Function struct {
	name   string
	h      handle
	info   FuncInfo
	params []paramKind // nil: inferred from the arguments
	ctl    int         // index of the control-block parameter, -1 if none
}

// Name is the kernel's entry name.
func (f *Function) Name() string { return f.name }

// Info is what the driver reports of the kernel.
func (f *Function) Info() FuncInfo { return f.info }

// Load loads a plan kernel: its PTX module is JIT-compiled once per device (kernels sharing
// a module share the load), its entry looked up, and its dynamic shared memory limit raised
// when the plan asks for more than the default 48 KiB. Arguments are checked against the
// kernel's parameters (Kernel.Params, else the kir's).
func (d *Device) Load(k *plan.Kernel) (device.Function, error) {
	if k == nil {
		return nil, fmt.Errorf("cuda: load of a nil kernel")
	}
	if k.PTX == "" {
		return nil, fmt.Errorf("cuda: kernel %q carries no PTX", k.Name)
	}
	f, err := d.LoadPTX(k.PTX, k.Name)
	if err != nil {
		return nil, err
	}
	params, err := planParams(k)
	if err != nil {
		return nil, fmt.Errorf("cuda: kernel %q: %w", k.Name, err)
	}
	g := *f // per-plan-kernel copy: same handle, the plan's parameter kinds
	g.params, g.ctl = params, -1
	for i, p := range params {
		if p.ctl {
			g.ctl = i
		}
	}
	if k.SharedBytes > g.info.DynamicSharedMax {
		if err := d.setDynamicShared(&g, k.SharedBytes); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

// planParams reads the parameter kinds of a plan kernel.
func planParams(k *plan.Kernel) ([]paramKind, error) {
	if len(k.Params) > 0 {
		out := make([]paramKind, len(k.Params))
		for i, p := range k.Params {
			pk := paramKind{name: p.Name}
			switch p.Kind {
			case plan.ParamBuffer, plan.ParamU64:
				pk.t = kir.U64
			case plan.ParamCtl:
				pk.t, pk.ctl = kir.U64, true
			case plan.ParamU32:
				pk.t = kir.U32
			case plan.ParamF32:
				pk.t = kir.F32
			default:
				return nil, fmt.Errorf("param %d %q: unknown kind %q", i, p.Name, p.Kind)
			}
			out[i] = pk
		}
		return out, nil
	}
	if k.IR != nil {
		out := make([]paramKind, len(k.IR.Params))
		for i, p := range k.IR.Params {
			out[i] = paramKind{name: p.Name, t: p.T, ctl: p.Name == "ctl"}
		}
		return out, nil
	}
	return nil, nil
}

// LoadPTX loads (or finds already loaded) the PTX module text and returns its entry name.
// A module the JIT rejects is an *Error carrying the JIT's error log. The function's
// arguments are typed by their Go values at launch (see Launch).
func (d *Device) LoadPTX(ptx, name string) (*Function, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errClosed
	}
	m, ok := d.modules[ptx]
	d.mu.Unlock()
	if !ok {
		h, info, err := d.drv.moduleLoad(d.ctx, ptx)
		if err != nil {
			return nil, fmt.Errorf("cuda: kernel %q: %w", name, err)
		}
		m = &module{h: h, infoLog: info, funcs: map[string]*Function{}}
		d.mu.Lock()
		if old, dup := d.modules[ptx]; dup { // loaded concurrently: keep one
			d.mu.Unlock()
			d.drv.moduleUnload(d.ctx, h)
			m = old
		} else {
			d.modules[ptx] = m
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	f, ok := m.funcs[name]
	d.mu.Unlock()
	if ok {
		return f, nil
	}
	h, err := d.drv.moduleFunction(d.ctx, m.h, name)
	if err != nil {
		return nil, fmt.Errorf("cuda: kernel %q: %w", name, err)
	}
	f = &Function{name: name, h: h, ctl: -1, info: FuncInfo{JITInfoLog: m.infoLog}}
	for _, a := range []struct {
		attr FuncAttribute
		dst  *int
	}{
		{FuncNumRegs, &f.info.Registers}, {FuncSharedSizeBytes, &f.info.StaticShared},
		{FuncLocalSizeBytes, &f.info.LocalBytes}, {FuncMaxThreadsPerBlock, &f.info.MaxThreads},
		{FuncPTXVersion, &f.info.PTXVersion}, {FuncBinaryVersion, &f.info.BinaryVersion},
	} {
		if *a.dst, err = d.drv.funcAttr(d.ctx, h, a.attr); err != nil {
			return nil, fmt.Errorf("cuda: kernel %q: %w", name, err)
		}
	}
	// Without opt-in a block gets SharedPerBlock (48 KiB) in all, static and dynamic.
	f.info.DynamicSharedMax = max(0, d.info.SharedPerBlock-f.info.StaticShared)
	d.mu.Lock()
	m.funcs[name] = f
	d.mu.Unlock()
	return f, nil
}

// setDynamicShared raises f's dynamic shared memory limit to n bytes.
func (d *Device) setDynamicShared(f *Function, n int) error {
	if limit := d.info.SharedPerBlockOptin - f.info.StaticShared; n > limit {
		return fmt.Errorf("cuda: kernel %q: %d bytes of dynamic shared memory, the GPU allows %d beside its %d static", f.name, n, limit, f.info.StaticShared)
	}
	if err := d.drv.funcSetAttr(d.ctx, f.h, FuncMaxDynamicShared, n); err != nil {
		return fmt.Errorf("cuda: kernel %q: %w", f.name, err)
	}
	f.info.DynamicSharedMax = n
	return nil
}

// BlocksPerUnit asks the driver how many blocks of fn, with threads threads and
// dynamicShared bytes of dynamic shared memory, are resident on one SM at once
// (cuOccupancyMaxActiveBlocksPerMultiprocessor: from the registers and shared memory the JIT
// gave the function, which the plan only estimated).
func (d *Device) BlocksPerUnit(fn device.Function, threads, dynamicShared int) (int, error) {
	f, ok := fn.(*Function)
	if !ok {
		return 0, fmt.Errorf("cuda: occupancy of a function this device did not load (%T)", fn)
	}
	n, err := d.drv.occupancy(d.ctx, f.h, threads, dynamicShared)
	if err != nil {
		return 0, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
	}
	return n, nil
}

var _ device.Resident = (*Device)(nil)

// cudaPriority maps a device.LaunchConfig priority (higher runs first, 0 the default) to a
// CUDA stream priority (lower numbers run first, Least the default), clamped to the device's
// range.
func (d *Device) cudaPriority(p int) int {
	c := d.info.PriorityLeast - p
	return min(max(c, d.info.PriorityGreatest), d.info.PriorityLeast)
}

// stream takes an idle launch stream of CUDA priority prio, creating one when none is idle:
// each concurrent launch runs on its own stream.
func (d *Device) stream(prio int) (handle, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errClosed
	}
	if ss := d.streams[prio]; len(ss) > 0 {
		s := ss[len(ss)-1]
		d.streams[prio] = ss[:len(ss)-1]
		d.mu.Unlock()
		return s, nil
	}
	d.mu.Unlock()
	return d.newStream(prio)
}

func (d *Device) release(prio int, s handle) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.streams[prio] = append(d.streams[prio], s)
	}
}

// Launch runs fn and waits for it (see LaunchTimed).
func (d *Device) Launch(ctx context.Context, fn device.Function, cfg device.LaunchConfig, args ...any) error {
	_, err := d.launch(ctx, fn, cfg, false, args)
	return err
}

// LaunchTimed runs fn on a stream of cfg.Priority and waits for it; it returns the kernel's
// time measured by events recorded around it on the GPU. Arguments bind the parameters in
// order: device.Ptr, uint64, int64 (8 bytes), uint32, int32, float32 (4 bytes), int (the
// parameter's size; 8 when the function has no parameter types). When ctx is done before the
// kernel finishes, the kernel is told to stop through its control block (yield = 1; the
// persistent protocol finishes the tiles in flight) and ctx's error is returned once it left.
func (d *Device) LaunchTimed(ctx context.Context, fn device.Function, cfg device.LaunchConfig, args ...any) (time.Duration, error) {
	return d.launch(ctx, fn, cfg, true, args)
}

// check resolves and checks a launch: its function, packed arguments and dimensions.
func (d *Device) check(fn device.Function, cfg device.LaunchConfig, args []any) (f *Function, vals []uint64, grid, block [3]int, err error) {
	f, ok := fn.(*Function)
	if !ok {
		return nil, nil, grid, block, fmt.Errorf("cuda: launch of a function this device did not load (%T)", fn)
	}
	if vals, err = packArgs(f, args); err != nil {
		return nil, nil, grid, block, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
	}
	grid, block = dims(cfg.Grid), dims(cfg.Block)
	if t := block[0] * block[1] * block[2]; t > f.info.MaxThreads {
		return nil, nil, grid, block, fmt.Errorf("cuda: kernel %q: %d threads per block, the kernel allows %d (%d registers)", f.name, t, f.info.MaxThreads, f.info.Registers)
	}
	if cfg.SharedBytes > f.info.DynamicSharedMax {
		return nil, nil, grid, block, fmt.Errorf("cuda: kernel %q: %d bytes of dynamic shared memory, limit %d", f.name, cfg.SharedBytes, f.info.DynamicSharedMax)
	}
	return f, vals, grid, block, nil
}

func (d *Device) launch(ctx context.Context, fn device.Function, cfg device.LaunchConfig, timed bool, args []any) (time.Duration, error) {
	f, vals, grid, block, err := d.check(fn, cfg, args)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	prio := d.cudaPriority(cfg.Priority)
	s, err := d.stream(prio)
	if err != nil {
		return 0, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
	}
	var start, stop handle
	if timed {
		if start, err = d.drv.eventCreate(d.ctx); err != nil {
			d.release(prio, s)
			return 0, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
		}
		defer d.drv.eventDestroy(d.ctx, start)
		if stop, err = d.drv.eventCreate(d.ctx); err != nil {
			d.release(prio, s)
			return 0, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
		}
		defer d.drv.eventDestroy(d.ctx, stop)
	}
	if err := d.drv.launch(d.ctx, f.h, grid, block, cfg.SharedBytes, s, vals, start, stop); err != nil {
		// The stream may hold a partial record; let it drain before reuse.
		d.drv.streamSync(d.ctx, s)
		d.release(prio, s)
		return 0, fmt.Errorf("cuda: kernel %q grid %v block %v: %w", f.name, grid, block, err)
	}
	err = d.wait(ctx, f, vals, s)
	d.release(prio, s)
	if err != nil {
		return 0, err
	}
	if !timed {
		return 0, nil
	}
	ms, err := d.drv.eventElapsed(d.ctx, start, stop)
	if err != nil {
		return 0, fmt.Errorf("cuda: kernel %q: %w", f.name, err)
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// wait waits for stream s; when ctx is done first, it sets the kernel's yield word and waits
// for the kernel to leave.
func (d *Device) wait(ctx context.Context, f *Function, vals []uint64, s handle) error {
	sync := func() error {
		if err := d.drv.streamSync(d.ctx, s); err != nil {
			return fmt.Errorf("cuda: kernel %q: %w", f.name, err)
		}
		return nil
	}
	if ctx.Done() == nil {
		return sync()
	}
	done := make(chan error, 1)
	go func() { done <- sync() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if f.ctl >= 0 {
		if err := d.Store32(device.Ptr(vals[f.ctl]).Add(4*protocol.WordYield), 1); err != nil {
			return fmt.Errorf("cuda: kernel %q: stop on %v: %w", f.name, ctx.Err(), err)
		}
	}
	if err := <-done; err != nil {
		return err
	}
	return ctx.Err()
}

func dims(v [3]int) [3]int {
	for i := range v {
		if v[i] <= 0 {
			v[i] = 1
		}
	}
	return v
}

// packArgs encodes the arguments in 8-byte slots (4-byte values in the low half).
func packArgs(f *Function, args []any) ([]uint64, error) {
	if f.params != nil && len(args) != len(f.params) {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(args), len(f.params))
	}
	if len(args) > 64 {
		return nil, fmt.Errorf("%d arguments: at most 64", len(args))
	}
	out := make([]uint64, len(args))
	for i, a := range args {
		t := kir.Invalid
		name := fmt.Sprintf("%d", i)
		if f.params != nil {
			t, name = f.params[i].t, fmt.Sprintf("%d %q", i, f.params[i].name)
		}
		v, err := encodeArg(t, a)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", name, err)
		}
		out[i] = v
	}
	return out, nil
}

// encodeArg encodes a for a parameter of type t (Invalid: by a's own type).
func encodeArg(t kir.Type, a any) (uint64, error) {
	var u uint64
	var s int64
	var signed, is32 bool
	switch v := a.(type) {
	case device.Ptr:
		u = uint64(v)
	case uint64:
		u = v
	case int64:
		s, signed = v, true
	case int:
		s, signed = int64(v), true
	case uint32:
		u, is32 = uint64(v), true
	case int32:
		s, signed, is32 = int64(v), true, true
	case float32:
		if t != kir.Invalid && t != kir.F32 {
			return 0, fmt.Errorf("float argument %v for a %s parameter", v, t)
		}
		return uint64(math.Float32bits(v)), nil
	default:
		return 0, fmt.Errorf("argument %v of type %T", a, a)
	}
	if signed {
		u = uint64(s)
	}
	if t == kir.Invalid {
		if is32 {
			return u & math.MaxUint32, nil
		}
		return u, nil
	}
	switch t {
	case kir.U64:
		if signed && s < 0 {
			return 0, fmt.Errorf("negative argument %d for a u64 parameter", s)
		}
		return u, nil
	case kir.S64:
		return u, nil
	case kir.U32, kir.B32:
		if signed && (s < 0 || s > math.MaxUint32) || !signed && u > math.MaxUint32 {
			return 0, fmt.Errorf("argument %v out of u32 range", a)
		}
		return u, nil
	case kir.S32:
		if signed && (s < math.MinInt32 || s > math.MaxInt32) || !signed && u > math.MaxUint32 {
			return 0, fmt.Errorf("argument %v out of s32 range", a)
		}
		return u & math.MaxUint32, nil
	case kir.F32:
		return 0, fmt.Errorf("integer argument %v for an f32 parameter", a)
	}
	return 0, fmt.Errorf("argument %v for a %s parameter", a, t)
}
