package eltwise

import (
	"fmt"

	"github.com/elasticroom/elasticroom/kernels"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/kir/protocol"
)

// layout is the collapsed iteration space of an expression.
type layout struct {
	n       int
	dims    []int   // collapsed output dims
	strides [][]int // per input, over dims
	vec     int     // 4 when every input allows 4-wide access, else 1
}

func (p *Params) layout() layout {
	all := make([][]int, len(p.Inputs)+1)
	all[0] = BroadcastStrides(p.Shape, p.Shape)
	for i, s := range p.Inputs {
		all[i+1] = BroadcastStrides(s, p.Shape)
	}
	dims, sts := Collapse(p.Shape, all...)
	l := layout{n: Prod(p.Shape), dims: dims, strides: sts[1:], vec: 1}
	last := len(dims) - 1
	if dims[last]%4 == 0 {
		l.vec = 4
		for _, st := range l.strides {
			if st[last] > 1 {
				l.vec = 1
			}
		}
	}
	return l
}

// Configs lists the tile configurations of p: threads, ThreadM vectors of Vec elements per
// thread per tile (TileM elements per tile).
func Configs(p Params) []kernels.Config {
	vec := p.layout().vec
	var out []kernels.Config
	for _, c := range [][2]int{{128, 1}, {256, 1}, {256, 4}, {256, 16}, {512, 8}} {
		out = append(out, kernels.Config{Threads: c[0], ThreadM: c[1], Vec: vec, TileM: c[0] * c[1] * vec})
	}
	return out
}

// Build instantiates the expression for one config: tile t covers output elements
// [t*TileM, (t+1)*TileM).
func Build(p Params, cfg kernels.Config, target kir.Target) (*kernels.Instance, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := p.layout()
	if l.n == 0 {
		return nil, fmt.Errorf("eltwise: empty output %v", p.Shape)
	}
	vec := cfg.Vec
	if vec != 1 && vec != 4 || vec > l.vec {
		return nil, fmt.Errorf("eltwise: vector width %d (shapes allow %d)", cfg.Vec, l.vec)
	}
	if cfg.Threads <= 0 || cfg.Threads > 1024 || cfg.ThreadM <= 0 || cfg.TileM != cfg.Threads*cfg.ThreadM*vec {
		return nil, fmt.Errorf("eltwise: config %v: want TileM = Threads*ThreadM*Vec", cfg)
	}
	name := fmt.Sprintf("eltwise_%d_%s", l.n, cfg)
	b := kir.NewKernel(name, target)
	ctl := b.ParamPtr("ctl")
	args := []kernels.Arg{{Kind: kernels.ArgControl, Name: "ctl"}}
	xs := make([]kir.Value, len(p.Inputs))
	for i := range xs {
		role := fmt.Sprintf("x%d", i)
		xs[i] = b.ParamPtr(role)
		args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: role})
	}
	y := b.ParamPtr("y")
	trace := b.ParamPtr("trace")
	args = append(args, kernels.Arg{Kind: kernels.ArgBuffer, Name: "y"}, kernels.Arg{Kind: kernels.ArgTrace, Name: "trace"})

	contig := make([]bool, len(xs))
	needCoords := false
	for i, st := range l.strides {
		contig[i] = Contiguous(l.dims, st)
		zero := true
		for _, s := range st {
			zero = zero && s == 0
		}
		needCoords = needCoords || !contig[i] && !zero
	}
	last := len(l.dims) - 1
	tid := b.Tid(0)
	var evalErr error
	protocol.Persistent(b, ctl, func(tile kir.Value) {
		base := b.Mul(tile, b.ConstU32(uint32(cfg.TileM)))
		end := b.Min(b.Add(base, b.ConstU32(uint32(cfg.TileM))), b.ConstU32(uint32(l.n)))
		start := b.Add(base, b.Mul(tid, b.ConstU32(uint32(vec))))
		b.For(start, end, b.ConstU32(uint32(cfg.Threads*vec)), func(e kir.Value) {
			var coords []kir.Value
			if needCoords {
				coords = Coords(b, e, l.dims)
			}
			lanes := make([][]kir.Value, vec)
			for i, x := range xs {
				var off kir.Value
				switch {
				case contig[i]:
					off = e
				default:
					off = Offset(b, coords, l.strides[i])
				}
				addr := b.Index(x, off, 4)
				var v []kir.Value
				if vec == 4 && l.strides[i][last] == 1 {
					v = b.LdVec(kir.Global, kir.F32, addr, 0, 4)
				} else {
					s := b.Ld(kir.Global, kir.F32, addr, 0)
					v = []kir.Value{s, s, s, s}
				}
				for j := 0; j < vec; j++ {
					lanes[j] = append(lanes[j], v[j])
				}
			}
			out := make([]kir.Value, vec)
			for j := range out {
				var err error
				if out[j], err = p.Eval(b, lanes[j]); err != nil && evalErr == nil {
					evalErr = err
				}
			}
			b.St(kir.Global, b.Index(y, e, 4), 0, out...)
		})
	}, protocol.Options{Trace: trace})
	if evalErr != nil {
		return nil, fmt.Errorf("eltwise: %w", evalErr)
	}
	k, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("eltwise: %w", err)
	}
	work := kernels.Work{FLOPs: int64(l.n) * int64(p.FLOPsPerElement()), BytesWritten: 4 * int64(l.n)}
	for _, s := range p.Inputs {
		work.BytesRead += 4 * int64(Prod(s))
	}
	in := &kernels.Instance{Name: name, Family: "eltwise", Kernel: k, Config: cfg, Threads: cfg.Threads,
		Tiles: (l.n + cfg.TileM - 1) / cfg.TileM, Args: args, Work: work}
	_, in.SharedBytes = k.SharedLayout()
	return in, in.Validate()
}
