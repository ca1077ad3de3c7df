package ptxsim

import (
	"fmt"
	"strings"
)

// dec decodes one statement.
type dec struct {
	k    *Kernel
	s    *stmt
	base string    // the opcode without modifiers
	mods []string  // the modifiers, without their dots
	used []bool    // which modifiers a decoder consumed
	args []operand // parsed operands
	g    int32
	gneg bool
	fix  *[]fixup
}

// fixup is a branch whose target label is resolved after the whole body is decoded.
type fixup struct {
	at    int
	label string
	line  int
}

type decoder func(d *dec) error

// decoders maps an opcode's base name to its decoder (decode_alu.go, decode_mem.go).
var decoders map[string]decoder

func init() {
	decoders = map[string]decoder{}
	for name, f := range aluDecoders {
		decoders[name] = f
	}
	for name, f := range memDecoders {
		decoders[name] = f
	}
}

// decode turns the kernel's statements into code.
func (k *Kernel) decode() error {
	k.template = make([]uint64, 1+len(k.regs)+numSregs)
	k.consts = map[uint64]int32{0: 0}
	k.dynBase = alignUp(k.static, k.mod.dynAlign)
	labels := map[string]int{}
	n := 0
	for _, s := range k.body {
		if s.label == "" {
			n++
			continue
		}
		if _, dup := labels[s.label]; dup {
			return fmt.Errorf("ptxsim: kernel %s: %s: label %s defined twice", k.name, k.mod.where(s.line), s.label)
		}
		labels[s.label] = n
	}
	var fixes []fixup
	for i := range k.body {
		s := &k.body[i]
		if s.label != "" {
			continue
		}
		if err := k.decodeStmt(s, &fixes); err != nil {
			return err
		}
	}
	last := k.line
	if len(k.body) > 0 {
		last = k.body[len(k.body)-1].line
	}
	k.code = append(k.code, inst{op: opExit, line: int32(last)})
	for _, f := range fixes {
		target, ok := labels[f.label]
		if !ok {
			return fmt.Errorf("ptxsim: kernel %s: %s: no label %s", k.name, k.mod.where(f.line), f.label)
		}
		k.code[f.at].imm = int64(target)
	}
	k.body = nil
	return nil
}

func (k *Kernel) decodeStmt(s *stmt, fixes *[]fixup) error {
	parts := strings.Split(s.op.s, ".")
	d := &dec{k: k, s: s, base: parts[0], mods: parts[1:], used: make([]bool, len(parts)-1), fix: fixes}
	for _, m := range d.mods {
		if m == "" {
			return d.errf("malformed opcode %s", s.op.s)
		}
	}
	for _, a := range s.args {
		o, err := parseOperand(a)
		if err != nil {
			if a[len(a)-1].line != a[0].line {
				return d.errf("%v (a missing ';'?)", err)
			}
			return d.errf("%v", err)
		}
		d.args = append(d.args, o)
	}
	if s.guard != "" {
		g, err := d.reg(operand{kind: oReg, name: s.guard, tok: s.op}, tPred, compatible, false)
		if err != nil {
			return err
		}
		d.g, d.gneg = g, s.gneg
	}
	f, ok := decoders[d.base]
	if !ok {
		return d.errf("unknown or unsupported instruction %s", s.op.s)
	}
	if err := f(d); err != nil {
		return err
	}
	for i, u := range d.used {
		if !u {
			return d.errf("unsupported modifier .%s in %s", d.mods[i], s.op.s)
		}
	}
	return nil
}

func (d *dec) errf(format string, args ...any) error {
	return fmt.Errorf("ptxsim: kernel %s: %s: %s", d.k.name, d.k.mod.where(d.s.line), fmt.Sprintf(format, args...))
}

// emit appends in with the statement's guard and line.
func (d *dec) emit(in inst) {
	in.g, in.gneg, in.line = d.g, d.gneg, int32(d.s.line)
	d.k.code = append(d.k.code, in)
}

// has reports (and consumes) modifier m.
func (d *dec) has(m string) bool {
	found := false
	for i, x := range d.mods {
		if x == m {
			d.used[i] = true
			found = true
		}
	}
	return found
}

// oneOf returns the modifier of set that is present ("" when none); two of them is an error.
func (d *dec) oneOf(set ...string) (string, error) {
	got := ""
	for _, m := range set {
		if d.has(m) {
			if got != "" {
				return "", d.errf("both .%s and .%s in %s", got, m, d.s.op.s)
			}
			got = m
		}
	}
	return got, nil
}

// types consumes and returns the type modifiers in order.
func (d *dec) types() []ptype {
	var out []ptype
	for i, m := range d.mods {
		if t, ok := typeNames[m]; ok {
			d.used[i] = true
			out = append(out, t)
		}
	}
	return out
}

// typ is the instruction's single type, which must be one of allowed.
func (d *dec) typ(allowed ...ptype) (ptype, error) {
	ts := d.types()
	if len(ts) != 1 {
		return tNone, d.errf("%s: want one type modifier", d.s.op.s)
	}
	for _, a := range allowed {
		if ts[0] == a {
			return a, nil
		}
	}
	return tNone, d.errf("%s: type %s is not supported here", d.s.op.s, ts[0])
}

// nargs checks the operand count.
func (d *dec) nargs(n int) error {
	if len(d.args) != n {
		return d.errf("%s takes %d operands, found %d", d.base, n, len(d.args))
	}
	return nil
}

// reg resolves a register operand used at instruction type t under rule; special registers
// are read-only .u32 values.
func (d *dec) reg(o operand, t ptype, rule func(reg, inst ptype) bool, write bool) (int32, error) {
	if o.kind != oReg || o.pred != "" {
		return 0, d.errf("operand %s: want a register", o)
	}
	if i, ok := sregIndex[o.name]; ok {
		if write {
			return 0, d.errf("cannot write special register %s", o.name)
		}
		if !rule(tU32, t) {
			return 0, d.errf("special register %s is .u32, the instruction wants %s", o.name, t)
		}
		return d.k.sregSlot(i), nil
	}
	s, ok := d.k.regByName[o.name]
	if !ok {
		if strings.HasPrefix(o.name, "%") && strings.ContainsAny(o.name, ".") || o.name == "%tid" || o.name == "%ntid" {
			return 0, d.errf("unsupported special register %s", o.name)
		}
		return 0, d.errf("undeclared register %s", o.name)
	}
	if rt := d.k.regType(s); !rule(rt, t) {
		return 0, d.errf("register %s is %s, the instruction wants %s", o.name, rt, t)
	}
	return s, nil
}

// dst is a destination register of type t.
func (d *dec) dst(i int, t ptype) (int32, error) { return d.reg(d.args[i], t, compatible, true) }

// src is a source register or immediate of type t.
func (d *dec) src(i int, t ptype) (int32, error) { return d.srcRule(d.args[i], t, compatible) }

func (d *dec) srcRule(o operand, t ptype, rule func(reg, inst ptype) bool) (int32, error) {
	if o.kind == oImm {
		v, err := immValue(o.num, t)
		if err != nil {
			return 0, d.errf("operand %s: %v", o.num, err)
		}
		return d.k.constSlot(v), nil
	}
	return d.reg(o, t, rule, false)
}

// alu emits op with a destination of type dt and sources of types st.
func (d *dec) alu(op opcode, dt ptype, st ...ptype) error {
	if err := d.nargs(1 + len(st)); err != nil {
		return err
	}
	in := inst{op: op}
	r, err := d.dst(0, dt)
	if err != nil {
		return err
	}
	in.r[0] = r
	for i, t := range st {
		if in.r[i+1], err = d.src(i+1, t); err != nil {
			return err
		}
	}
	d.emit(in)
	return nil
}
