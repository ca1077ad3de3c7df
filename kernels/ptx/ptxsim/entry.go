package ptxsim

import (
	"fmt"
	"strings"
)

// stmt is one instruction or label of a kernel body, before decoding.
type stmt struct {
	line  int
	label string    // a label definition (no instruction)
	guard string    // guard predicate register ("" when unguarded)
	gneg  bool      // @!p
	op    token     // the opcode with its modifiers, e.g. ld.global.v4.f32
	args  [][]token // operands, split at top-level commas
}

// regDecl is one declared register.
type regDecl struct {
	name string
	typ  ptype
}

// sharedVar is a function-scope .shared array.
type sharedVar struct {
	name        string
	align, size int
	off         int
}

func (p *parser) entry() error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if strings.HasPrefix(name.s, "%") || strings.HasPrefix(name.s, ".") {
		return p.errf(name, "bad kernel name %s", name)
	}
	if _, dup := p.mod.byName[name.s]; dup {
		return p.errf(name, "two kernels named %s", name.s)
	}
	k := &Kernel{mod: p.mod, name: name.s, line: name.line, paramIdx: map[string]int{},
		regByName: map[string]int32{}, sharedByName: map[string]int{}}
	if p.accept("(") {
		if err := p.params(k); err != nil {
			return err
		}
	}
	if err := p.perf(k); err != nil {
		return err
	}
	if err := p.body(k); err != nil {
		return err
	}
	p.mod.kernels = append(p.mod.kernels, k)
	p.mod.byName[k.name] = k
	return nil
}

// params reads `.param .u64 name, ... )`.
func (p *parser) params(k *Kernel) error {
	if p.accept(")") {
		return nil
	}
	for {
		t := p.next()
		if t.s != ".param" {
			return p.errf(t, "expected .param, found %s", t)
		}
		var typ ptype
		for {
			a := p.peek()
			if a.kind != tokIdent || !strings.HasPrefix(a.s, ".") {
				break
			}
			p.next()
			switch a.s {
			case ".ptr", ".global", ".shared", ".const", ".local":
			case ".align":
				if _, _, err := p.integer(); err != nil {
					return err
				}
			default:
				ty, ok := typeNames[a.s[1:]]
				if !ok || typ != tNone {
					return p.errf(a, "unexpected %s in a .param declaration", a)
				}
				typ = ty
			}
		}
		pn, err := p.ident()
		if err != nil {
			return err
		}
		if typ.size() != 4 && typ.size() != 8 {
			return p.errf(pn, "param %s has type %s: ptxsim models 4- and 8-byte scalar params", pn.s, typ)
		}
		if p.peek().s == "[" {
			return p.errf(pn, "param %s is an array: ptxsim models scalar params only", pn.s)
		}
		if _, dup := k.paramIdx[pn.s]; dup {
			return p.errf(pn, "param %s declared twice", pn.s)
		}
		k.paramIdx[pn.s] = len(k.params)
		k.params = append(k.params, Param{Name: pn.s, Size: typ.size()})
		if p.accept(")") {
			return nil
		}
		if err := p.expect(","); err != nil {
			return err
		}
	}
}

// perf reads the performance directives between the parameters and the body.
func (p *parser) perf(k *Kernel) error {
	for {
		t := p.peek()
		switch t.s {
		case "{":
			return nil
		case ".maxntid", ".reqntid":
			p.next()
			n := 1
			for i := 0; ; i++ {
				v, vt, err := p.integer()
				if err != nil {
					return err
				}
				if v <= 0 || i > 2 {
					return p.errf(vt, "bad %s", t.s)
				}
				n *= v
				if !p.accept(",") {
					break
				}
			}
			k.maxThreads = n
		case ".maxnreg", ".minnctapersm", ".maxnctapersm":
			p.next()
			v, _, err := p.integer()
			if err != nil {
				return err
			}
			if t.s == ".maxnreg" {
				k.maxRegs = v
			}
		case ".noreturn":
			p.next()
		case ".pragma":
			p.next()
			p.next()
			if err := p.expect(";"); err != nil {
				return err
			}
		default:
			return p.errf(t, "expected a performance directive or '{', found %s", t)
		}
	}
}

// body reads the kernel's `{ ... }`: declarations go into k, instructions and labels into
// k.body.
func (p *parser) body(k *Kernel) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	depth := 1
	for depth > 0 {
		t := p.peek()
		switch {
		case t.kind == tokEOF:
			return p.errf(t, "kernel %s: missing '}'", k.name)
		case t.s == "{":
			p.next()
			depth++
		case t.s == "}":
			p.next()
			depth--
		case t.s == ".reg":
			p.next()
			if err := p.regDecl(k); err != nil {
				return err
			}
		case t.s == ".shared":
			p.next()
			if err := p.sharedDecl(k); err != nil {
				return err
			}
		case t.s == ".loc" || t.s == ".file":
			p.next()
			p.skipLine(t.line)
		case t.s == ".pragma":
			p.next()
			p.next()
			if err := p.expect(";"); err != nil {
				return err
			}
		case t.kind == tokIdent && strings.HasPrefix(t.s, ".") && t.s != ".":
			return p.errf(t, "unsupported declaration %s in kernel %s (ptxsim models .reg and .shared)", t.s, k.name)
		default:
			if err := p.statement(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// regDecl: `.reg .b32 %r<220>;` or `.reg .f32 %f1, %f2;`.
func (p *parser) regDecl(k *Kernel) error {
	tt := p.next()
	typ, ok := typeNames[strings.TrimPrefix(tt.s, ".")]
	if !ok || !strings.HasPrefix(tt.s, ".") {
		return p.errf(tt, "expected a register type, found %s", tt)
	}
	if !typ.regType() {
		return p.errf(tt, "registers of type %s are not modelled (ptxsim has .pred, 32- and 64-bit integers and .f32)", typ)
	}
	for {
		nt, err := p.ident()
		if err != nil {
			return err
		}
		if p.accept("<") {
			n, ct, err := p.integer()
			if err != nil {
				return err
			}
			if n > 1<<20 {
				return p.errf(ct, "%d registers", n)
			}
			if err := p.expect(">"); err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if err := k.declare(fmt.Sprintf("%s%d", nt.s, i), typ); err != nil {
					return p.errf(nt, "%v", err)
				}
			}
		} else if err := k.declare(nt.s, typ); err != nil {
			return p.errf(nt, "%v", err)
		}
		if p.accept(";") {
			return nil
		}
		if err := p.expect(","); err != nil {
			return err
		}
	}
}

// sharedDecl: `.shared .align N .b8 name[N];` (function scope).
func (p *parser) sharedDecl(k *Kernel) error {
	align, typ, err := p.declHead()
	if err != nil {
		return err
	}
	name, err := p.ident()
	if err != nil {
		return err
	}
	n := 1
	if p.accept("[") {
		var nt token
		if n, nt, err = p.integer(); err != nil {
			return err
		}
		if n <= 0 {
			return p.errf(nt, "shared array %s of %d elements", name.s, n)
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	}
	if err := p.expect(";"); err != nil {
		return err
	}
	if _, dup := k.sharedByName[name.s]; dup {
		return p.errf(name, "%s declared twice", name.s)
	}
	off := alignUp(k.static, align)
	k.sharedByName[name.s] = len(k.shared)
	k.shared = append(k.shared, sharedVar{name: name.s, align: align, size: n * typ.size(), off: off})
	k.static = off + n*typ.size()
	k.sharedAlign = max(k.sharedAlign, align)
	return nil
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// statement reads a label or an instruction.
func (p *parser) statement(k *Kernel) error {
	t := p.next()
	if t.kind == tokIdent && p.peek().s == ":" {
		p.next()
		k.body = append(k.body, stmt{line: t.line, label: t.s})
		return nil
	}
	s := stmt{line: t.line}
	if t.s == "@" {
		s.gneg = p.accept("!")
		g, err := p.ident()
		if err != nil {
			return err
		}
		s.guard = g.s
		t = p.next()
	}
	if t.kind != tokIdent {
		return p.errf(t, "expected an instruction, found %s", t)
	}
	s.op = t
	var cur []token
	nest := 0
	for {
		a := p.next()
		switch {
		case a.kind == tokEOF:
			return p.errf(t, "missing ';'")
		case a.s == ";" && a.kind == tokPunct:
			if len(cur) > 0 {
				s.args = append(s.args, cur)
			} else if len(s.args) > 0 {
				return p.errf(a, "empty operand")
			}
			k.body = append(k.body, s)
			return nil
		case a.s == "," && nest == 0:
			if len(cur) == 0 {
				return p.errf(a, "empty operand")
			}
			s.args = append(s.args, cur)
			cur = nil
			continue
		case a.s == "{" || a.s == "[":
			nest++
		case a.s == "}" || a.s == "]":
			nest--
		}
		cur = append(cur, a)
	}
}
