// Package kerneltest runs kernel template instances (kernels.Instance) on the kernels/emu
// interpreter for the templates' tests: it binds buffers to the instance's argument roles,
// builds the persistent protocol's control block, launches one block per resident slot of every
// virtual SM, and reads outputs back. It also runs an instance preempted (restricted SM mask,
// yield mid-run, relaunch) so every template family can check that the protocol resumes to a
// bit-identical result, and compares outputs with a relative (norm-based) error.
//
// It is test support, like net/http/httptest: only tests import it. It imports kernels,
// kernels/emu, kernels/kir and kernels/kir/protocol, never compiler/ or runtime/ packages.
package kerneltest

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"time"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/emu"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// Device shape of the test runs: a few small SMs, so that multi-SM scheduling happens while
// the interpreter's register files stay small.
const (
	SMs          = 3
	BlocksPerSM  = 2
	launchTimout = 60 * time.Second
)

// Buffers maps an instance's buffer roles to their initial contents: []float32, []uint32,
// []int32 or []int64 (int64 is stored as two little-endian u32 words per element), or an int
// giving the size in 32-bit words of a zeroed output buffer.
type Buffers map[string]any

type rig struct {
	d    *emu.Device
	in   *kernels.Instance
	ptrs map[string]emu.Ptr
	ctl  emu.Ptr
}

func words(v any) ([]uint32, error) {
	switch x := v.(type) {
	case []float32:
		w := make([]uint32, len(x))
		for i, f := range x {
			w[i] = math.Float32bits(f)
		}
		return w, nil
	case []uint32:
		return append([]uint32(nil), x...), nil
	case []int32:
		w := make([]uint32, len(x))
		for i, f := range x {
			w[i] = uint32(f)
		}
		return w, nil
	case []int64:
		w := make([]uint32, 2*len(x))
		for i, f := range x {
			w[2*i], w[2*i+1] = uint32(uint64(f)), uint32(uint64(f)>>32)
		}
		return w, nil
	case int:
		return make([]uint32, x), nil
	}
	return nil, fmt.Errorf("buffer of type %T", v)
}

func newRig(in *kernels.Instance, bufs Buffers, sms ...int) (*rig, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	d, err := emu.NewDevice(emu.Config{SMs: SMs, MaxBlocksPerSM: BlocksPerSM, TimeSlice: 512})
	if err != nil {
		return nil, err
	}
	r := &rig{d: d, in: in, ptrs: map[string]emu.Ptr{}}
	names := make([]string, 0, len(bufs))
	for name := range bufs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w, err := words(bufs[name])
		if err != nil {
			return nil, fmt.Errorf("buffer %q: %w", name, err)
		}
		if r.ptrs[name], err = d.AllocU32(w); err != nil {
			return nil, fmt.Errorf("buffer %q: %w", name, err)
		}
	}
	c, err := protocol.NewControl(in.Tiles, SMs, sms...)
	if err != nil {
		return nil, err
	}
	if r.ctl, err = d.AllocU32(c.Words()); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rig) launch() error {
	args := make([]any, len(r.in.Args))
	for i, a := range r.in.Args {
		switch a.Kind {
		case kernels.ArgControl:
			args[i] = r.ctl
		case kernels.ArgBuffer:
			p, ok := r.ptrs[a.Name]
			if !ok {
				return fmt.Errorf("kernel %s: no buffer for role %q", r.in.Name, a.Name)
			}
			args[i] = p
		case kernels.ArgTrace:
			args[i] = 0
		case kernels.ArgU32:
			args[i] = a.U32
		case kernels.ArgS32:
			args[i] = a.S32
		case kernels.ArgF32:
			args[i] = a.F32
		default:
			return fmt.Errorf("kernel %s: argument %d of kind %d", r.in.Name, i, a.Kind)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), launchTimout)
	defer cancel()
	_, err := r.d.LaunchWith(ctx, r.in.Kernel, emu.LaunchConfig{
		Grid: [3]int{SMs * BlocksPerSM}, Block: [3]int{r.in.Threads}, SharedBytes: r.in.DynamicShared}, args...)
	return err
}

func (r *rig) word(i int) uint32 {
	v, _ := r.d.Load32(r.ctl.Add(4 * i))
	return v
}

func (r *rig) read(name string, n int) ([]uint32, error) {
	p, ok := r.ptrs[name]
	if !ok {
		return nil, fmt.Errorf("no buffer %q", name)
	}
	return r.d.ReadU32(p, n)
}

func (r *rig) outputs(bufs Buffers) (map[string][]uint32, error) {
	out := map[string][]uint32{}
	for name, v := range bufs {
		w, err := words(v)
		if err != nil {
			return nil, err
		}
		if out[name], err = r.read(name, len(w)); err != nil {
			return nil, err
		}
	}
	if done, n := r.word(protocol.WordDone), r.in.Tiles; int(done) != n {
		return nil, fmt.Errorf("kernel %s: %d of %d tiles done", r.in.Name, done, n)
	}
	return out, nil
}

// Run launches in once on a fresh emu device with every buffer of bufs bound to its role and
// returns every buffer's contents afterwards, as u32 words.
func Run(in *kernels.Instance, bufs Buffers) (map[string][]uint32, error) {
	r, err := newRig(in, bufs)
	if err != nil {
		return nil, err
	}
	if err := r.launch(); err != nil {
		return nil, err
	}
	return r.outputs(bufs)
}

// RunPreempted launches in restricted to SM 1, sets yield once the first tile is done, then
// clears yield, opens every SM and relaunches on the same control block until all tiles are
// done. It returns the buffers' contents and how many tiles the first launch ran. The yield
// races the kernel, so it tries up to 10 times (on fresh buffers) until the first launch stops
// part-way.
func RunPreempted(in *kernels.Instance, bufs Buffers) (map[string][]uint32, int, error) {
	for try := 0; ; try++ {
		out, first, err := runPreempted(in, bufs)
		if err != nil || first < in.Tiles || try == 9 {
			return out, first, err
		}
	}
}

func runPreempted(in *kernels.Instance, bufs Buffers) (map[string][]uint32, int, error) {
	r, err := newRig(in, bufs, 1)
	if err != nil {
		return nil, 0, err
	}
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for r.word(protocol.WordDone) < 1 {
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
		_ = r.d.Store32(r.ctl.Add(4*protocol.WordYield), 1)
	}()
	err = r.launch()
	close(stop)
	<-flipped
	if err != nil {
		return nil, 0, err
	}
	first := int(r.word(protocol.WordDone))
	if err := r.d.Store32(r.ctl.Add(4*protocol.WordYield), 0); err != nil {
		return nil, 0, err
	}
	for s := 0; s < SMs; s++ {
		w, bit := protocol.MaskWord(s)
		if err := r.d.Store32(r.ctl.Add(4*w), r.word(w)|bit); err != nil {
			return nil, 0, err
		}
	}
	if err := r.launch(); err != nil {
		return nil, 0, err
	}
	out, err := r.outputs(bufs)
	return out, first, err
}

// F32 converts u32 words to float32 values.
func F32(w []uint32) []float32 {
	out := make([]float32, len(w))
	for i, x := range w {
		out[i] = math.Float32frombits(x)
	}
	return out
}

// I64 converts pairs of little-endian u32 words to int64 values.
func I64(w []uint32) []int64 {
	out := make([]int64, len(w)/2)
	for i := range out {
		out[i] = int64(uint64(w[2*i]) | uint64(w[2*i+1])<<32)
	}
	return out
}

// RelErr is ||got-want|| / ||want|| (2-norms, in float64); NaN or Inf in got where want is
// finite, or a length mismatch, gives +Inf. Positions where want is NaN must be NaN in got.
func RelErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) {
			if !math.IsNaN(g) {
				return math.Inf(1)
			}
			continue
		}
		if math.IsInf(w, 0) {
			if g != w {
				return math.Inf(1)
			}
			continue
		}
		d := g - w
		num += d * d
		den += w * w
	}
	if math.IsNaN(num) || math.IsInf(num, 0) {
		return math.Inf(1)
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// MaxAbsErr is max |got-want| (Inf for a length mismatch or NaN where want is not NaN).
func MaxAbsErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		d := math.Abs(g - w)
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

// Rand fills n float32 values in [lo, hi) from a simple deterministic generator.
func Rand(n int, seed uint64, lo, hi float32) []float32 {
	out := make([]float32, n)
	s := seed*6364136223846793005 + 1442695040888963407
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		u := float32(s>>40) / float32(1<<24)
		out[i] = lo + (hi-lo)*u
	}
	return out
}
