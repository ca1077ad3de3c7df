package emu

import (
	"errors"
	"testing"

	"github.com/elasticroom/elasticroom/kernels/kir"
)

// sampleInst builds one instruction of op at type t with operands following the op table.
func sampleInst(op kir.Op, t kir.Type, src kir.Type, sp kir.Space) *kir.Inst {
	info := op.Info()
	id := int32(1)
	val := func(ty kir.Type) kir.Value { id++; return kir.Value{ID: id, T: ty} }
	typeOf := func(o kir.Operand) kir.Type {
		switch o {
		case kir.OperT, kir.OperVec:
			return t
		case kir.OperPred:
			return kir.Pred
		case kir.OperU32:
			return kir.U32
		case kir.OperWide:
			return t.Wide()
		case kir.OperAddr:
			return sp.AddrType()
		case kir.OperAny:
			return src
		}
		return kir.Invalid
	}
	in := &kir.Inst{Op: op, T: t, Space: sp}
	for _, o := range info.Args {
		in.Args = append(in.Args, val(typeOf(o)))
	}
	if info.Result != kir.OperNone {
		in.Dst = []kir.Value{val(typeOf(info.Result))}
	}
	return in
}

// TestEveryOpHasAnEmulatorCase fails when a row of the kir op table (at any type it allows)
// has no emulator implementation.
func TestEveryOpHasAnEmulatorCase(t *testing.T) {
	for _, op := range kir.Ops() {
		types := op.Info().Types
		if len(types) == 0 {
			types = []kir.Type{kir.Invalid}
		}
		for _, ty := range types {
			srcs := []kir.Type{kir.Invalid}
			switch op {
			case kir.OpCvt:
				srcs = []kir.Type{kir.U32, kir.S32, kir.U64, kir.S64, kir.F32}
			case kir.OpBitcast:
				srcs = nil
				for _, s := range kir.Types() {
					if s.Size() == ty.Size() && s != kir.Pred {
						srcs = append(srcs, s)
					}
				}
			}
			for _, src := range srcs {
				for _, sp := range []kir.Space{kir.Global, kir.Shared} {
					in := sampleInst(op, ty, src, sp)
					c := &compiler{p: &Program{sharedOff: []int{0}}, nregs: 64,
						loops: []*loopCtx{{}}}
					c.inst(in)
					if c.err != nil {
						if errors.Is(c.err, ErrUnsupported) {
							t.Errorf("%s at %s (source %s, %s): %v", op, ty, src, sp, c.err)
						} else {
							t.Errorf("%s at %s: unexpected error %v", op, ty, c.err)
						}
					}
				}
			}
		}
	}
}
