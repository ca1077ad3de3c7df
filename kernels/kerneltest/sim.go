package kerneltest

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
	"github.com/elasticroom/elasticroom/kernels/ptx"
	"github.com/elasticroom/elasticroom/kernels/ptx/ptxsim"
)

// SimEnv names an environment variable: "0" turns off the PTX cross-check of Run.
const SimEnv = "ELASTICROOM_KERNELTEST_SIM"

// RunSim runs in as a GPU would receive it: its kernel rendered to PTX by kernels/ptx and
// interpreted by kernels/ptx/ptxsim (which reads the PTX text only), on the device shape, with
// the buffers, control block and launch shape of Run. It returns every buffer's contents.
func RunSim(in *kernels.Instance, bufs Buffers) (map[string][]uint32, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	src, err := ptx.Render(in.Kernel)
	if err != nil {
		return nil, err
	}
	mod, err := ptxsim.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: the rendered PTX: %w", in.Name, err)
	}
	k, err := mod.Kernel(in.Kernel.Name)
	if err != nil {
		return nil, err
	}
	mem := ptxsim.NewArena()
	addrs := map[string]uint64{}
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
		if len(w) == 0 {
			w = []uint32{0}
		}
		if addrs[name], err = mem.AllocU32(w); err != nil {
			return nil, fmt.Errorf("buffer %q: %w", name, err)
		}
	}
	c, err := protocol.NewControl(in.Tiles, SMs)
	if err != nil {
		return nil, err
	}
	ctl, err := mem.AllocU32(c.Words())
	if err != nil {
		return nil, err
	}
	params := make([]uint64, len(in.Args))
	for i, a := range in.Args {
		switch a.Kind {
		case kernels.ArgControl:
			params[i] = ctl
		case kernels.ArgBuffer:
			p, ok := addrs[a.Name]
			if !ok {
				return nil, fmt.Errorf("kernel %s: no buffer for role %q", in.Name, a.Name)
			}
			params[i] = p
		case kernels.ArgTrace:
			params[i] = 0
		case kernels.ArgU32:
			params[i] = uint64(a.U32)
		case kernels.ArgS32:
			params[i] = uint64(uint32(a.S32))
		case kernels.ArgF32:
			params[i] = uint64(math.Float32bits(a.F32))
		default:
			return nil, fmt.Errorf("kernel %s: argument %d of kind %d", in.Name, i, a.Kind)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), launchTimout)
	defer cancel()
	if _, err := ptxsim.Run(ctx, k, mem, ptxsim.Config{SMs: SMs, BlocksPerSM: BlocksPerSM, TimeSlice: 512},
		ptxsim.Launch{Grid: [3]int{SMs * BlocksPerSM}, Block: [3]int{in.Threads}, DynShared: in.DynamicShared, Params: params}); err != nil {
		return nil, err
	}
	out := map[string][]uint32{}
	for _, name := range names {
		w, _ := words(bufs[name])
		if out[name], err = mem.ReadU32(addrs[name], len(w)); err != nil {
			return nil, err
		}
	}
	if done, _ := mem.Load32(ctl + 4*protocol.WordDone); int(done) != in.Tiles {
		return nil, fmt.Errorf("kernel %s on ptxsim: done %d of %d tiles", in.Name, done, in.Tiles)
	}
	return out, nil
}

// crossCheck runs in on ptxsim and compares every buffer with emu's result bit for bit (two
// NaNs of any payload are equal: the hardware's canonical NaN is not Go's).
func crossCheck(in *kernels.Instance, bufs Buffers, emuOut map[string][]uint32) error {
	if os.Getenv(SimEnv) == "0" {
		return nil
	}
	simOut, err := RunSim(in, bufs)
	if err != nil {
		return fmt.Errorf("kernel %s on ptxsim (the emulator ran it): %w", in.Name, err)
	}
	for name, want := range emuOut {
		got := simOut[name]
		for i := range want {
			if got[i] != want[i] && !(isNaN32(got[i]) && isNaN32(want[i])) {
				return fmt.Errorf("kernel %s: its PTX (ptxsim) and its kir (emu) disagree: buffer %q word %d: %#08x vs %#08x (%v vs %v)",
					in.Name, name, i, got[i], want[i], math.Float32frombits(got[i]), math.Float32frombits(want[i]))
			}
		}
	}
	return nil
}

func isNaN32(w uint32) bool { return w&0x7f800000 == 0x7f800000 && w&0x007fffff != 0 }
