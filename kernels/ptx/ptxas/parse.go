package ptxas

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The lines of `ptxas -v` (CUDA 11.8; later releases add fields such as "used N barriers",
// which are ignored):
//
//	ptxas info    : Compiling entry function 'vadd' for 'sm_80'
//	ptxas info    : Function properties for vadd
//	    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
//	ptxas info    : Used 14 registers, 1024 bytes smem, 380 bytes cmem[0]
//	ptxas warning : For entry k adjusting per thread register count of 17 to lower bound of 24
//
// A device function (.func) has a "Function properties" block but no "Compiling" line, and a
// "Used" line only when compiled separately.
var (
	compilingRE = regexp.MustCompile(`Compiling (entry )?function '([^']+)'`)
	propsRE     = regexp.MustCompile(`Function properties for (\S+)`)
	frameRE     = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	usedRE      = regexp.MustCompile(`Used (\d+) registers`)
	smemRE      = regexp.MustCompile(`(\d+) bytes smem`)
	mentionRE   = regexp.MustCompile(`(?:entry|function) '?([A-Za-z_$%][\w$]*)'?`)
)

// ParseVerbose reads the output of `ptxas -v` into one Result per function. Lines that belong
// to no function (e.g. "0 bytes gmem") are ignored; a figure that is not a number is an error.
func ParseVerbose(log string) (map[string]Result, error) {
	res := map[string]Result{}
	var order []string
	logs := map[string]*strings.Builder{}
	cur := ""
	touch := func(name string) {
		if _, ok := res[name]; !ok {
			res[name] = Result{}
			logs[name] = &strings.Builder{}
			order = append(order, name)
		}
		cur = name
	}
	atoi := func(s, line string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("ptxas -v: bad number %q in %q", s, line)
		}
		return n, nil
	}
	var pending []string // warnings naming a function before its block starts
	for _, line := range strings.Split(log, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if m := compilingRE.FindStringSubmatch(line); m != nil {
			touch(m[2])
			r := res[cur]
			r.Entry = m[1] != ""
			res[cur] = r
		} else if m := propsRE.FindStringSubmatch(line); m != nil {
			touch(m[1])
		} else if strings.Contains(line, "warning") || strings.Contains(line, "error") {
			pending = append(pending, trimmed)
			continue
		} else if cur == "" {
			continue
		}
		r := res[cur]
		if m := frameRE.FindStringSubmatch(line); m != nil {
			var err error
			if r.StackBytes, err = atoi(m[1], line); err != nil {
				return nil, err
			}
			if r.SpillStores, err = atoi(m[2], line); err != nil {
				return nil, err
			}
			if r.SpillLoads, err = atoi(m[3], line); err != nil {
				return nil, err
			}
		}
		if m := usedRE.FindStringSubmatch(line); m != nil {
			var err error
			if r.Registers, err = atoi(m[1], line); err != nil {
				return nil, err
			}
			if m := smemRE.FindStringSubmatch(line); m != nil {
				if r.SharedBytes, err = atoi(m[1], line); err != nil {
					return nil, err
				}
			}
		}
		res[cur] = r
		logs[cur].WriteString(trimmed + "\n")
	}
	// Attach each warning to the function it names, or to every function if it names none.
	for _, w := range pending {
		named := false
		for _, m := range mentionRE.FindAllStringSubmatch(w, -1) {
			if b, ok := logs[m[1]]; ok {
				b.WriteString(w + "\n")
				named = true
			}
		}
		if !named {
			for _, name := range order {
				logs[name].WriteString(w + "\n")
			}
		}
	}
	for name, b := range logs {
		r := res[name]
		r.Log = b.String()
		res[name] = r
	}
	return res, nil
}
