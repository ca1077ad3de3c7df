package kir

import (
	"strings"
	"testing"
)

func relu(t *testing.T) *Builder {
	b := NewKernel("relu", Target{Arch: "sm_90"})
	x, y, n := b.ParamPtr("x"), b.ParamPtr("y"), b.ParamU32("n")
	i := b.Add(b.Mul(b.CtaID(0), b.NTid(0)), b.Tid(0))
	b.If(b.Lt(i, n), func() {
		v := b.LoadF32(x, i)
		b.Store(y, i, b.Max(v, b.ConstF32(0)))
	})
	return b
}

func TestBuildRelu(t *testing.T) {
	k, err := relu(t).Build()
	if err != nil {
		t.Fatal(err)
	}
	s := k.String()
	for _, want := range []string{"kernel relu(x *u64, y *u64, n u32)", "max.f32", "st.global.f32", "%ctaid.x", "if ["} {
		if !strings.Contains(s, want) {
			t.Errorf("dump lacks %q:\n%s", want, s)
		}
	}
}

func verifyErr(t *testing.T, k *Kernel, want string) {
	t.Helper()
	err := Verify(k)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify = %v, want an error containing %q\n%s", err, want, k)
	}
}

func TestBuilderRejectsTypeMismatch(t *testing.T) {
	b := NewKernel("bad", Target{})
	b.Add(b.ConstU32(1), b.ConstF32(1))
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "types differ") {
		t.Fatalf("Build = %v, want a type error", err)
	}
	b = NewKernel("bad", Target{})
	b.Sqrt(b.ConstU32(4))
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "sqrt: not defined for u32") {
		t.Fatalf("Build = %v, want sqrt on u32 rejected", err)
	}
	b = NewKernel("bad", Target{})
	b.Break()
	if _, err := b.Build(); err == nil {
		t.Fatal("break outside a loop accepted")
	}
}

func TestVerifyUseBeforeDef(t *testing.T) {
	b := NewKernel("ubd", Target{})
	p := b.ParamPtr("p")
	later := b.NewReg(U32)
	b.Store(p, later, b.ConstU32(1)) // index register never written
	verifyErr(t, b.Kernel(), "used before it is defined")

	// a value defined inside an If is out of scope after it
	b = NewKernel("scope", Target{})
	p = b.ParamPtr("p")
	var inner Value
	b.If(b.Eq(b.Tid(0), b.ConstU32(0)), func() { inner = b.ConstU32(3) })
	b.Store(p, b.ConstU32(0), inner)
	verifyErr(t, b.Kernel(), "used before it is defined")

	// ... but assigning an outer register inside it is fine
	b = NewKernel("scope_ok", Target{})
	p = b.ParamPtr("p")
	v := b.Var(b.ConstU32(0))
	b.If(b.Eq(b.Tid(0), b.ConstU32(0)), func() { b.Set(v, b.ConstU32(3)) })
	b.For(b.ConstU32(0), b.ConstU32(4), b.ConstU32(1), func(i Value) { b.Set(v, b.Add(v, i)) })
	b.Store(p, b.ConstU32(0), v)
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyTypes(t *testing.T) {
	k, err := relu(t).Build()
	if err != nil {
		t.Fatal(err)
	}
	// find the max and break its operand's type
	Walk(k.Body, func(in *Inst, _ int) {
		if in.Op == OpMax {
			in.Args[1] = Value{ID: in.Args[1].ID, T: U32}
		}
	})
	verifyErr(t, k, "has type f32")

	k, _ = relu(t).Build()
	Walk(k.Body, func(in *Inst, _ int) {
		if in.Op == OpMax {
			in.T = U32
		}
	})
	verifyErr(t, k, "want u32")

	// a param read at the wrong type
	k = &Kernel{Name: "p", Params: []Param{{Name: "n", T: U32}}, Regs: []Type{Invalid, F32},
		Body: []*Inst{{Op: OpParam, T: F32, Dst: []Value{{1, F32}}}}}
	verifyErr(t, k, `param "n" has type u32, read as f32`)

	// an unknown op and a result count mismatch
	k = &Kernel{Name: "x", Regs: []Type{Invalid, U32}, Body: []*Inst{{Op: Op(250)}, {Op: OpConst, T: U32}}}
	verifyErr(t, k, "unknown op")
	verifyErr(t, k, "has 0 results, want 1")
}

func TestVerifySharedBounds(t *testing.T) {
	b := NewKernel("smem", Target{})
	s := b.Shared("buf", F32, 256)
	b.StoreShared(s, b.ConstU32(255), b.ConstF32(1))
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
	b.StoreShared(s, b.ConstU32(256), b.ConstF32(1))
	verifyErr(t, b.Kernel(), `outside shared "buf" of 1024 bytes`)
}

func TestVerifyDivergentBarrier(t *testing.T) {
	b := NewKernel("bar", Target{})
	p := b.ParamPtr("p")
	lane := b.Rem(b.Tid(0), b.ConstU32(32))                       // derived from tid: divergent
	b.If(b.Eq(b.CtaID(0), b.ConstU32(0)), func() { b.Barrier() }) // uniform: fine
	b.If(b.Lt(lane, b.ConstU32(16)), func() { b.Barrier() })
	b.Store(p, lane, lane)
	verifyErr(t, b.Kernel(), "[10] if.then[0] bar.sync: barrier under control flow that diverges")
	if strings.Contains(Verify(b.Kernel()).Error(), "[7] if") {
		t.Error("the uniform if was reported")
	}

	// divergence through a register assigned under a divergent if
	b = NewKernel("bar2", Target{})
	v := b.Var(b.ConstU32(0))
	b.If(b.Eq(b.Tid(0), b.ConstU32(0)), func() { b.Set(v, b.ConstU32(1)) })
	b.If(b.Eq(v, b.ConstU32(1)), func() { b.Barrier() })
	verifyErr(t, b.Kernel(), "barrier under control flow that diverges")

	// loads through a uniform address of shared memory are uniform (the persistent protocol)
	b = NewKernel("bar3", Target{})
	s := b.Shared("slot", U32, 1)
	b.If(b.Eq(b.Tid(0), b.ConstU32(0)), func() { b.StoreShared(s, b.ConstU32(0), b.ConstU32(5)) })
	b.Barrier()
	t0 := b.LoadShared(s, b.ConstU32(0))
	b.If(b.Gt(t0, b.ConstU32(1)), func() { b.Barrier() })
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}

func TestOpTable(t *testing.T) {
	names := map[string]Op{}
	for _, op := range Ops() {
		info := op.Info()
		if info.Name == "" {
			t.Errorf("op %d has no name", op)
		}
		if o, dup := names[info.Name]; dup {
			t.Errorf("ops %d and %d are both %q", o, op, info.Name)
		}
		names[info.Name] = op
		usesT := info.Result == OperT || info.Result == OperVec || info.Result == OperWide
		for _, a := range info.Args {
			usesT = usesT || a == OperT || a == OperVec || a == OperWide
		}
		if usesT != (len(info.Types) > 0) && op != OpConst && op != OpParam && op != OpSReg && op != OpSharedAddr {
			t.Errorf("%s: types %v but operands %v -> %v", op, info.Types, info.Args, info.Result)
		}
	}
	if len(Ops()) != int(numOps)-1 {
		t.Errorf("Ops lists %d ops, the table has %d", len(Ops()), numOps-1)
	}
}
