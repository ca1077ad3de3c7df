package tensor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parseNPYHeader reads the Python dict literal of a .npy header: exactly the keys 'descr',
// 'fortran_order' and 'shape', as numpy requires. Only the literal forms numpy writes (and
// Python's eval would accept for them) are understood; anything else is an error.
func parseNPYHeader(s string) (npyHeader, error) {
	p := &npyParser{s: s}
	var h npyHeader
	var haveDescr, haveOrder, haveShape bool
	p.space()
	if !p.eat('{') {
		return h, errors.New("header is not a dict literal")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, fmt.Errorf("dict key: %w", err)
		}
		p.space()
		if !p.eat(':') {
			return h, fmt.Errorf("missing ':' after key %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if haveDescr {
				return h, errors.New("key 'descr' given twice")
			}
			haveDescr = true
			if p.peek() == '[' {
				return h, errors.New("structured element types are not supported")
			}
			d, err := p.str()
			if err != nil {
				return h, fmt.Errorf("'descr': %w", err)
			}
			if h.dtype, h.bigEndian, err = parseNPYDescr(d); err != nil {
				return h, err
			}
		case "fortran_order":
			if haveOrder {
				return h, errors.New("key 'fortran_order' given twice")
			}
			haveOrder = true
			switch {
			case p.word("False"):
			case p.word("True"):
				return h, errors.New("fortran_order True (column-major) arrays are not supported: save the array in C order (numpy.ascontiguousarray)")
			default:
				return h, fmt.Errorf("'fortran_order' is not True or False at offset %d", p.i)
			}
		case "shape":
			if haveShape {
				return h, errors.New("key 'shape' given twice")
			}
			haveShape = true
			if h.shape, err = p.shape(); err != nil {
				return h, fmt.Errorf("'shape': %w", err)
			}
		default:
			return h, fmt.Errorf("unexpected key %q (want 'descr', 'fortran_order' and 'shape')", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if p.eat('}') {
			break
		}
		return h, fmt.Errorf("expected ',' or '}' at offset %d", p.i)
	}
	p.space()
	if p.i != len(p.s) {
		return h, fmt.Errorf("unexpected text after the dict at offset %d", p.i)
	}
	if !haveDescr || !haveOrder || !haveShape {
		return h, errors.New("header lacks one of the keys 'descr', 'fortran_order', 'shape'")
	}
	return h, nil
}

// parseNPYDescr reads a simple numpy type string such as "<f4", "|b1" or ">i8".
func parseNPYDescr(d string) (DType, bool, error) {
	order, code := byte('='), d
	if len(d) > 0 && strings.IndexByte("<>|=", d[0]) >= 0 {
		order, code = d[0], d[1:]
	}
	dt, ok := npyDescrs[code]
	if !ok {
		return Undefined, false, fmt.Errorf("element type %q is not supported (want one of <f2 <f4 <f8 |i1 |u1 <i2 <i4 <i8 |b1, or big-endian forms)", d)
	}
	if order == '|' && dt.Size() > 1 {
		return Undefined, false, fmt.Errorf("element type %q: byte order '|' is only for 1-byte types", d)
	}
	// '=' is the writer's native order; every platform we build for is little endian.
	return dt, order == '>' && dt.Size() > 1, nil
}

// npyParser is a cursor over a header.
type npyParser struct {
	s string
	i int
}

func (p *npyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *npyParser) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *npyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// word consumes the identifier w when it stands whole at the cursor.
func (p *npyParser) word(w string) bool {
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	if j := p.i + len(w); j < len(p.s) && isIdentByte(p.s[j]) {
		return false
	}
	p.i += len(w)
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// str reads a quoted string without escapes (numpy's keys and descrs never need them).
func (p *npyParser) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", fmt.Errorf("expected a quoted string at offset %d", p.i)
	}
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", fmt.Errorf("unterminated string at offset %d", p.i)
	}
	v := p.s[p.i+1 : p.i+1+j]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", fmt.Errorf("escapes in strings are not supported (offset %d)", p.i)
	}
	p.i += j + 2
	return v, nil
}

// shape reads a tuple of non-negative ints: (), (3,), (2, 3) or (2, 3,).
func (p *npyParser) shape() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("expected a tuple at offset %d", p.i)
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == start {
			return nil, fmt.Errorf("expected a non-negative integer at offset %d", p.i)
		}
		d, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil || d > 1<<40 {
			return nil, fmt.Errorf("dim %q is too large", p.s[start:p.i])
		}
		p.eat('L') // Python 2 long literal, as old numpy versions wrote.
		if len(shape) == npyMaxRank {
			return nil, fmt.Errorf("more than %d dims", npyMaxRank)
		}
		shape = append(shape, int(d))
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		return nil, fmt.Errorf("expected ',' or ')' at offset %d", p.i)
	}
}
