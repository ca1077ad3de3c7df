package ptxsim

import (
	"fmt"
	"strconv"
	"strings"
)

// Module is a parsed PTX module: its kernels, decoded and ready to Run.
type Module struct {
	lines    []string
	version  string
	target   string
	kernels  []*Kernel
	byName   map[string]*Kernel
	externs  map[string]int // module-scope .extern .shared arrays and their alignment
	dynAlign int            // the largest of those alignments (1 when none)
}

// Param is one kernel parameter.
type Param struct {
	Name string
	Size int // 4 or 8 bytes
}

// parser walks the tokens of one module.
type parser struct {
	toks []token
	pos  int
	mod  *Module
}

// Parse parses a PTX module and decodes every kernel in it. Errors name the line number and
// its text.
func Parse(src string) (*Module, error) {
	toks, err := lex(src)
	m := &Module{lines: strings.Split(src, "\n"), byName: map[string]*Kernel{},
		externs: map[string]int{}, dynAlign: 1}
	if err != nil {
		return nil, fmt.Errorf("ptxsim: %w", err)
	}
	p := &parser{toks: toks, mod: m}
	if err := p.module(); err != nil {
		return nil, err
	}
	for _, k := range m.kernels {
		if err := k.decode(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Kernel returns the entry of the given name.
func (m *Module) Kernel(name string) (*Kernel, error) {
	k, ok := m.byName[name]
	if !ok {
		return nil, fmt.Errorf("ptxsim: module has no kernel %q (it has %v)", name, m.Kernels())
	}
	return k, nil
}

// Kernels returns the names of the module's entries in source order.
func (m *Module) Kernels() []string {
	out := make([]string, len(m.kernels))
	for i, k := range m.kernels {
		out[i] = k.name
	}
	return out
}

// Target returns the module's .target (e.g. "sm_80").
func (m *Module) Target() string { return m.target }

// where names a source line and its text.
func (m *Module) where(line int) string {
	text := ""
	if line >= 1 && line <= len(m.lines) {
		text = strings.TrimSpace(m.lines[line-1])
	}
	return fmt.Sprintf("line %d %q", line, text)
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) errf(t token, format string, args ...any) error {
	return fmt.Errorf("ptxsim: %s: %s", p.mod.where(t.line), fmt.Sprintf(format, args...))
}

// accept consumes the next token when its text is s.
func (p *parser) accept(s string) bool {
	if t := p.peek(); t.s == s && t.kind != tokString {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(s string) error {
	if t := p.next(); t.s != s || t.kind == tokString {
		return p.errf(t, "expected %q, found %s", s, t)
	}
	return nil
}

func (p *parser) ident() (token, error) {
	t := p.next()
	if t.kind != tokIdent {
		return t, p.errf(t, "expected a name, found %s", t)
	}
	return t, nil
}

// integer reads a non-negative decimal or hex integer token.
func (p *parser) integer() (int, token, error) {
	t := p.next()
	if t.kind != tokNum {
		return 0, t, p.errf(t, "expected a number, found %s", t)
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(t.s, "U"), 0, 64)
	if err != nil || v < 0 || v > 1<<31 {
		return 0, t, p.errf(t, "bad number %s", t)
	}
	return int(v), t, nil
}

// skipLine drops the rest of the tokens on t's line (directives without a terminator).
func (p *parser) skipLine(line int) {
	for p.peek().kind != tokEOF && p.peek().line == line {
		p.pos++
	}
}

func (p *parser) module() error {
	for {
		t := p.next()
		switch t.s {
		case "":
			if t.kind == tokEOF {
				if len(p.mod.kernels) == 0 {
					return fmt.Errorf("ptxsim: the module has no .entry")
				}
				return nil
			}
		case ".version":
			v := p.next()
			p.mod.version = v.s
			p.skipLine(t.line)
			continue
		case ".target":
			p.mod.target = p.next().s
			p.skipLine(t.line)
			continue
		case ".address_size":
			n, nt, err := p.integer()
			if err != nil {
				return err
			}
			if n != 64 {
				return p.errf(nt, ".address_size %d: only 64-bit addressing is modelled", n)
			}
			continue
		case ".file", ".loc", ".section":
			p.skipLine(t.line)
			continue
		case ".pragma":
			p.next()
			if err := p.expect(";"); err != nil {
				return err
			}
			continue
		case ".extern":
			if err := p.externShared(); err != nil {
				return err
			}
			continue
		case ".visible", ".weak":
			if p.peek().s == ".entry" {
				p.next()
				if err := p.entry(); err != nil {
					return err
				}
				continue
			}
		case ".entry":
			if err := p.entry(); err != nil {
				return err
			}
			continue
		}
		return p.errf(t, "unsupported module-scope statement %s (ptxsim models .version, .target, .address_size, .extern .shared and .entry)", t)
	}
}

// declHead reads `.align N .type` (either order, align optional) of a variable declaration;
// align is the type size when not given.
func (p *parser) declHead() (align int, typ ptype, err error) {
	for typ == tNone || p.peek().s == ".align" {
		t := p.next()
		if t.s == ".align" {
			n, nt, err := p.integer()
			if err != nil {
				return 0, 0, err
			}
			if n <= 0 || n&(n-1) != 0 {
				return 0, 0, p.errf(nt, ".align %d is not a power of two", n)
			}
			align = n
			continue
		}
		ty, ok := typeNames[strings.TrimPrefix(t.s, ".")]
		if !ok || !strings.HasPrefix(t.s, ".") || ty == tPred {
			return 0, 0, p.errf(t, "expected a type or .align, found %s", t)
		}
		typ = ty
	}
	if align == 0 {
		align = typ.size()
	}
	return align, typ, nil
}

// externShared: `.extern .shared .align N .b8 name[];` (the dynamic shared array).
func (p *parser) externShared() error {
	if t := p.next(); t.s != ".shared" {
		return p.errf(t, "unsupported .extern %s (only .extern .shared arrays are modelled)", t)
	}
	align, _, err := p.declHead()
	if err != nil {
		return err
	}
	name, err := p.ident()
	if err != nil {
		return err
	}
	if err := p.expect("["); err != nil {
		return err
	}
	if err := p.expect("]"); err != nil {
		return err
	}
	if err := p.expect(";"); err != nil {
		return err
	}
	if _, dup := p.mod.externs[name.s]; dup {
		return p.errf(name, "%s declared twice", name.s)
	}
	p.mod.externs[name.s] = align
	p.mod.dynAlign = max(p.mod.dynAlign, align)
	return nil
}
