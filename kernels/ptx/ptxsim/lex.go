package ptxsim

import (
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokIdent          // directives (.reg), opcodes (ld.global.f32), registers (%r1), labels, symbols
	tokNum            // 42, 0x1F, 0f3F800000, 1.5
	tokPunct          // , ; : [ ] { } ( ) + - @ ! < > | =
	tokString         // "..." (only in .pragma and .file)
)

type token struct {
	kind tokKind
	s    string
	line int
}

func (t token) String() string {
	if t.kind == tokEOF {
		return "end of input"
	}
	return fmt.Sprintf("%q", t.s)
}

func identStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c == '%' || c == '.'
}

func identChar(c byte) bool {
	return identStart(c) || c >= '0' && c <= '9'
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits PTX source into tokens, dropping // and /* */ comments.
func lex(src string) ([]token, error) {
	var out []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			out = append(out, token{tokString, src[i+1 : j], line})
			i = j + 1
		case digit(c):
			j := i + 1
			hex := c == '0' && j < len(src) && strings.IndexByte("xXfFdD", src[j]) >= 0
			for j < len(src) {
				d := src[j]
				if identChar(d) && d != '%' && d != '$' {
					j++
					continue
				}
				// a decimal exponent sign: 1.5e-3
				if (d == '-' || d == '+') && !hex && (src[j-1] == 'e' || src[j-1] == 'E') && j+1 < len(src) && digit(src[j+1]) {
					j++
					continue
				}
				break
			}
			out = append(out, token{tokNum, src[i:j], line})
			i = j
		case identStart(c):
			j := i + 1
			for j < len(src) && identChar(src[j]) {
				j++
			}
			out = append(out, token{tokIdent, src[i:j], line})
			i = j
		case strings.IndexByte(",;:[]{}()+-@!<>|=", c) >= 0:
			out = append(out, token{tokPunct, src[i : i+1], line})
			i++
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	out = append(out, token{tokEOF, "", line})
	return out, nil
}
