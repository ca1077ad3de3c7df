package tenants

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Config is a tenants.yaml file: the tenants and, optionally, server settings that the
// command line may override.
type Config struct {
	Listen string // "listen": the listen address
	Device string // "device": auto, cpu, cuda, emu
	Policy string // "policy"
	Units  int    // "units": cpu device units (0: unset)
	// Tenants, each with the keys of ParseSpec.
	Tenants []Spec
}

// ConfigKeys are the top-level keys of a tenants.yaml file.
var ConfigKeys = []string{"tenants", "listen", "device", "policy", "units"}

// LoadConfig reads and parses a tenants.yaml file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a tenants.yaml file named name (for messages). The format is a subset
// of YAML: top-level "key: value" lines and a "tenants:" block holding a list of mappings,
// one "- key: value" line opening each tenant and its other keys on the following lines,
// indented to the column of the first key. Values are scalars: plain, "double-quoted" (with
// \" \\ \n \t escapes) or 'single-quoted' (a quote inside is doubled). A # starts a comment at the start
// of a line or after a space, outside quotes. Tabs may not indent. Flow collections ([...],
// {...}), anchors, tags, block scalars (| >) and multiple documents are not supported and
// are refused with the line that uses them.
//
//	# tenants.yaml
//	listen: 127.0.0.1:8000
//	tenants:
//	  - name: rt
//	    model: zoo:mlp
//	    class: realtime
//	    sms: 20
//	    slo: 20ms
//	    token: "rt-secret"   # quoted or not
//	  - name: be
//	    model: models/resnet18.erp
//	    class: besteffort
//	    batch: 4
func ParseConfig(name string, data []byte) (*Config, error) {
	doc, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	cfg := &Config{}
	sawTenants := false
	for _, k := range doc.top.order {
		e := doc.top.vals[k]
		at := fmt.Sprintf("%s:%d", name, e.line)
		switch k {
		case "tenants":
			sawTenants = true
		case "listen":
			cfg.Listen = e.value
		case "device":
			cfg.Device = e.value
		case "policy":
			cfg.Policy = e.value
		case "units":
			n, err := strconv.Atoi(e.value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s: units=%q: want an integer >= 0", at, e.value)
			}
			cfg.Units = n
		default:
			return nil, fmt.Errorf("%s: unknown key %q (known: %s)", at, k, strings.Join(ConfigKeys, ", "))
		}
	}
	if !sawTenants || len(doc.items) == 0 {
		return nil, fmt.Errorf("%s: no tenants (want a \"tenants:\" list of mappings, e.g.\n  tenants:\n    - name: rt\n      model: zoo:mlp\n      class: realtime\n      sms: 1)", name)
	}
	for i, it := range doc.items {
		s := Spec{Source: fmt.Sprintf("%s:%d", name, it.line)}
		for _, k := range it.order {
			e := it.vals[k]
			if err := s.Set(k, e.value); err != nil {
				return nil, fmt.Errorf("%s:%d: tenant %d: %w", name, e.line, i+1, err)
			}
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: tenant %d: %w", name, it.line, i+1, err)
		}
		cfg.Tenants = append(cfg.Tenants, s)
	}
	return cfg, nil
}

// entry is a scalar value and the line it is on.
type entry struct {
	value string
	line  int
}

// mapping is an ordered string mapping.
type mapping struct {
	vals  map[string]entry
	order []string
	line  int // where it starts
}

func (m *mapping) set(k string, e entry) error {
	if m.vals == nil {
		m.vals = map[string]entry{}
	}
	if first, dup := m.vals[k]; dup {
		return fmt.Errorf("%d: duplicate key %q (first at line %d)", e.line, k, first.line)
	}
	m.vals[k] = e
	m.order = append(m.order, k)
	return nil
}

// yamlDoc is a parsed file: top-level scalars and the tenants list.
type yamlDoc struct {
	top   mapping
	items []*mapping
}

// parseYAML parses the subset described at ParseConfig. Errors start with the line number
// ("12: ...") so that the caller can prefix the file name.
func parseYAML(data []byte) (*yamlDoc, error) {
	doc := &yamlDoc{}
	inList := false  // under "tenants:"
	listIndent := -1 // column of the list's "-"
	var cur *mapping // the list item being read
	keyIndent := -1  // column of cur's keys
	started := false // content seen (a "---" after it is a second document)
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimRight(stripComment(strings.TrimSuffix(raw, "\r")), " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line == "---" || line == "..." {
			if started {
				return nil, fmt.Errorf("%d: only one YAML document is supported", n)
			}
			continue
		}
		started = true
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.HasPrefix(line[indent:], "\t") {
			return nil, fmt.Errorf("%d: a tab indents this line; YAML indents with spaces", n)
		}
		content := line[indent:]
		if content == "-" || strings.HasPrefix(content, "- ") {
			if !inList {
				return nil, fmt.Errorf("%d: a list item outside \"tenants:\"", n)
			}
			if listIndent < 0 {
				listIndent = indent
			} else if indent != listIndent {
				return nil, fmt.Errorf("%d: list item at column %d, the list's items are at column %d", n, indent+1, listIndent+1)
			}
			cur = &mapping{line: n}
			doc.items = append(doc.items, cur)
			rest := strings.TrimLeft(content[1:], " ")
			if rest == "" {
				keyIndent = -1 // the keys start on the next line
				continue
			}
			keyIndent = indent + (len(content) - len(rest))
			if err := parseKV(cur, rest, n); err != nil {
				return nil, err
			}
			continue
		}
		if indent == 0 {
			inList, cur = false, nil
			k, v, err := splitKV(content, n)
			if err != nil {
				return nil, err
			}
			if k == "tenants" {
				if v != "" {
					return nil, fmt.Errorf("%d: \"tenants:\" holds a list on the following lines, not a value on its own line", n)
				}
				inList, listIndent = true, -1
			}
			if err := doc.top.set(k, entry{value: v, line: n}); err != nil {
				return nil, err
			}
			continue
		}
		if !inList {
			return nil, fmt.Errorf("%d: unexpected indentation (only \"tenants:\" holds nested lines)", n)
		}
		if cur == nil || indent <= listIndent {
			return nil, fmt.Errorf("%d: want a list item (\"- name: ...\") under \"tenants:\"", n)
		}
		if keyIndent < 0 {
			keyIndent = indent
		}
		if indent != keyIndent {
			return nil, fmt.Errorf("%d: key at column %d, this tenant's keys are at column %d", n, indent+1, keyIndent+1)
		}
		if err := parseKV(cur, content, n); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func parseKV(m *mapping, content string, n int) error {
	k, v, err := splitKV(content, n)
	if err != nil {
		return err
	}
	return m.set(k, entry{value: v, line: n})
}

// splitKV reads "key: value" (a plain key; the value a scalar).
func splitKV(content string, n int) (string, string, error) {
	if strings.ContainsAny(content[:1], "[{&*!|>") {
		return "", "", fmt.Errorf("%d: %q: flow collections, anchors, aliases, tags and block scalars are not supported", n, content)
	}
	i := strings.Index(content, ":")
	for i >= 0 && i+1 < len(content) && content[i+1] != ' ' {
		j := strings.Index(content[i+1:], ":")
		if j < 0 {
			i = -1
			break
		}
		i += 1 + j
	}
	if i <= 0 {
		return "", "", fmt.Errorf("%d: want \"key: value\", got %q", n, content)
	}
	k := content[:i]
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "", "", fmt.Errorf("%d: key %q: keys are plain words (letters, digits, _ - .)", n, k)
		}
	}
	v, err := scalar(strings.TrimSpace(content[i+1:]), n)
	if err != nil {
		return "", "", fmt.Errorf("%w (key %q)", err, k)
	}
	return k, v, nil
}

// scalar reads a plain, double- or single-quoted scalar.
func scalar(s string, n int) (string, error) {
	if s == "" {
		return "", nil
	}
	switch s[0] {
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '"':
				if strings.TrimSpace(s[i+1:]) != "" {
					return "", fmt.Errorf("%d: text after the closing quote: %q", n, s[i+1:])
				}
				return b.String(), nil
			case c == '\\' && i+1 < len(s):
				i++
				switch s[i] {
				case '"', '\\', '/':
					b.WriteByte(s[i])
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					return "", fmt.Errorf("%d: unsupported escape \\%c (supported: \\\" \\\\ \\/ \\n \\t)", n, s[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("%d: unterminated double-quoted string", n)
	case '\'':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '\'' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			if strings.TrimSpace(s[i+1:]) != "" {
				return "", fmt.Errorf("%d: text after the closing quote: %q", n, s[i+1:])
			}
			return b.String(), nil
		}
		return "", fmt.Errorf("%d: unterminated single-quoted string", n)
	case '[', '{', '&', '*', '!', '|', '>', '%', '@', '`':
		return "", fmt.Errorf("%d: %q: flow collections, anchors, aliases, tags and block scalars are not supported; quote the value if it is text", n, s)
	}
	if strings.Contains(s, ": ") {
		return "", fmt.Errorf("%d: %q: a plain value may not contain \": \"; quote it", n, s)
	}
	return s, nil
}

// stripComment cuts a # comment (at the line's start or after a space, outside quotes).
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || line[i-1] == ' ' || line[i-1] == ':' || line[i-1] == '-' {
				quote = c
			}
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}
