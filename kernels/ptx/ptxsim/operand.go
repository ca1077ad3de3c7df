package ptxsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

type okind uint8

const (
	oReg  okind = iota // %r1 (or a special register); optionally d|p
	oImm               // 42, -7, 0f3F800000, 1.5
	oSym               // name or name+off (a shared array, a param, a label)
	oAddr              // [reg+off], [sym+off], [imm]
	oVec               // {%r1, %r2}
)

// operand is one parsed instruction operand.
type operand struct {
	kind  okind
	tok   token
	name  string // register or symbol
	num   string // immediate text with its sign
	off   int64  // symbol or address offset
	pred  string // the p of d|p
	base  *operand
	elems []operand
}

func (o operand) String() string { return o.tok.s }

// parseOperand parses the tokens of one operand.
func parseOperand(ts []token) (operand, error) {
	o := operand{tok: ts[0]}
	bad := func() (operand, error) {
		var sb strings.Builder
		for _, t := range ts {
			sb.WriteString(t.s)
		}
		return o, fmt.Errorf("cannot parse operand %q", sb.String())
	}
	switch {
	case ts[0].s == "{":
		if ts[len(ts)-1].s != "}" {
			return bad()
		}
		o.kind = oVec
		var cur []token
		for _, t := range ts[1 : len(ts)-1] {
			if t.s == "," {
				if len(cur) == 0 {
					return bad()
				}
				e, err := parseOperand(cur)
				if err != nil || e.kind != oReg {
					return bad()
				}
				o.elems, cur = append(o.elems, e), nil
				continue
			}
			cur = append(cur, t)
		}
		if len(cur) == 0 {
			return bad()
		}
		e, err := parseOperand(cur)
		if err != nil || e.kind != oReg {
			return bad()
		}
		o.elems = append(o.elems, e)
		return o, nil
	case ts[0].s == "[":
		if ts[len(ts)-1].s != "]" || len(ts) < 3 {
			return bad()
		}
		o.kind = oAddr
		in := ts[1 : len(ts)-1]
		if in[0].kind == tokNum || in[0].s == "-" {
			o.num = joinToks(in)
			return o, nil
		}
		b, err := parseOperand(in)
		if err != nil || b.kind != oReg && b.kind != oSym || b.pred != "" {
			return bad()
		}
		o.off, b.off = b.off, 0
		o.base = &b
		return o, nil
	case ts[0].kind == tokNum || ts[0].s == "-" && len(ts) == 2 && ts[1].kind == tokNum:
		if len(ts) > 2 || len(ts) == 2 && ts[0].s != "-" {
			return bad()
		}
		o.kind, o.num = oImm, joinToks(ts)
		return o, nil
	case ts[0].kind == tokIdent:
		o.name = ts[0].s
		rest := ts[1:]
		if strings.HasPrefix(o.name, "%") {
			o.kind = oReg
			if len(rest) == 2 && rest[0].s == "|" && rest[1].kind == tokIdent {
				o.pred = rest[1].s
				return o, nil
			}
		} else {
			o.kind = oSym
		}
		// an offset: +N, -N or +-N
		if len(rest) == 0 {
			return o, nil
		}
		if rest[0].s != "+" && rest[0].s != "-" {
			return bad()
		}
		text := joinToks(rest)
		text = strings.TrimPrefix(strings.ReplaceAll(text, "+-", "-"), "+")
		v, err := parseInt(text)
		if err != nil {
			return bad()
		}
		o.off = int64(v)
		return o, nil
	}
	return bad()
}

func joinToks(ts []token) string {
	var sb strings.Builder
	for _, t := range ts {
		sb.WriteString(t.s)
	}
	return sb.String()
}

// parseInt parses a PTX integer literal: decimal, 0x hex, 0b binary, 0-prefixed octal, an
// optional minus sign and U suffix. The value is returned as 64 bits (negative values two's
// complement).
func parseInt(s string) (uint64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	s = strings.TrimSuffix(s, "U")
	var v uint64
	var err error
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err = strconv.ParseUint(s[2:], 16, 64)
	case strings.HasPrefix(s, "0b") || strings.HasPrefix(s, "0B"):
		v, err = strconv.ParseUint(s[2:], 2, 64)
	case len(s) > 1 && s[0] == '0':
		v, err = strconv.ParseUint(s[1:], 8, 64)
	default:
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("bad integer literal %q", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// parseFloatBits parses an immediate for an f32 operand and returns its bits: 0fXXXXXXXX is the
// single-precision bit pattern, 0dXXXXXXXXXXXXXXXX a double rounded to f32, a decimal with a
// '.' or exponent a double rounded to f32; an integer literal converts to its value.
func parseFloatBits(s string) (uint32, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	var f float32
	switch {
	case len(body) == 10 && (strings.HasPrefix(body, "0f") || strings.HasPrefix(body, "0F")):
		b, err := strconv.ParseUint(body[2:], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("bad f32 literal %q", s)
		}
		f = math.Float32frombits(uint32(b))
	case len(body) == 18 && (strings.HasPrefix(body, "0d") || strings.HasPrefix(body, "0D")):
		b, err := strconv.ParseUint(body[2:], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("bad f64 literal %q", s)
		}
		f = float32(math.Float64frombits(b))
	case strings.ContainsAny(body, ".eE") && !strings.HasPrefix(body, "0x"):
		v, err := strconv.ParseFloat(body, 64)
		if err != nil {
			return 0, fmt.Errorf("bad floating-point literal %q", s)
		}
		f = float32(v)
	default:
		v, err := parseInt(body)
		if err != nil {
			return 0, err
		}
		f = float32(int64(v))
	}
	if neg {
		f = -f
	}
	return math.Float32bits(f), nil
}

// immValue is the register-slot value of literal s used as type t.
func immValue(s string, t ptype) (uint64, error) {
	switch {
	case t == tF32:
		b, err := parseFloatBits(s)
		return uint64(b), err
	case t == tPred:
		v, err := parseInt(s)
		if err != nil {
			return 0, err
		}
		if v > 1 {
			return 0, fmt.Errorf("predicate literal %s is not 0 or 1", s)
		}
		return v, nil
	case t.intOrBits():
		body := strings.TrimPrefix(s, "-")
		if t.size() == 4 && len(body) == 10 && (strings.HasPrefix(body, "0f") || strings.HasPrefix(body, "0F")) {
			b, err := parseFloatBits(s)
			return uint64(b), err
		}
		v, err := parseInt(s)
		if err != nil {
			return 0, err
		}
		return v & mask(t.size()), nil
	}
	return 0, fmt.Errorf("no literal of type %s", t)
}
