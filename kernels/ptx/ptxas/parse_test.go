package ptxas

import (
	"strings"
	"testing"
)

// sampleLog is ptxas 11.8 output for a module with two kernels and a device function; the
// figures are the ones the expectations below check.
const sampleLog = `ptxas warning : For entry k adjusting per thread register count of 17 to lower bound of 24
ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'vadd' for 'sm_80'
ptxas info    : Function properties for vadd
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 14 registers, 1024 bytes smem, 380 bytes cmem[0]
ptxas info    : Compiling entry function 'k' for 'sm_80'
ptxas info    : Function properties for k
    640 bytes stack frame, 724 bytes spill stores, 716 bytes spill loads
ptxas info    : Used 24 registers, 360 bytes cmem[0]
ptxas info    : Function properties for sq
    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
`

func TestParseVerbose(t *testing.T) {
	got, err := ParseVerbose(sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Result{
		"vadd": {Entry: true, Registers: 14, SharedBytes: 1024},
		"k":    {Entry: true, Registers: 24, StackBytes: 640, SpillStores: 724, SpillLoads: 716},
		"sq":   {StackBytes: 16, SpillStores: 8, SpillLoads: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d functions %v, want %d", len(got), got, len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no result for %s", name)
			continue
		}
		log := g.Log
		g.Log = ""
		if g != w {
			t.Errorf("%s: got %+v, want %+v", name, g, w)
		}
		if !strings.Contains(log, "Function properties for "+name) {
			t.Errorf("%s: log %q lacks its own lines", name, log)
		}
	}
	if !strings.Contains(got["k"].Log, "lower bound of 24") {
		t.Errorf("k's log lacks its warning: %q", got["k"].Log)
	}
	if strings.Contains(got["vadd"].Log, "lower bound") || strings.Contains(got["vadd"].Log, "Function properties for k") {
		t.Errorf("vadd's log holds k's lines: %q", got["vadd"].Log)
	}
}

func TestParseVerboseSM90(t *testing.T) {
	// sm_90 output has no cmem figure; newer releases add "used N barriers".
	got, err := ParseVerbose(`ptxas info    : Compiling entry function 'vadd' for 'sm_90'
ptxas info    : Function properties for vadd
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 1 barriers, 49152 bytes smem
`)
	if err != nil {
		t.Fatal(err)
	}
	if r := got["vadd"]; r.Registers != 40 || r.SharedBytes != 49152 || !r.Entry {
		t.Errorf("got %+v", r)
	}
}

func TestParseVerboseEmpty(t *testing.T) {
	got, err := ParseVerbose("ptxas info    : 0 bytes gmem\n")
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v; want no functions", got, err)
	}
}

func TestExcerpt(t *testing.T) {
	lines := strings.Split("a\nb\nc\nd\ne\nf\ng\nh\ni\nj", "\n")
	got := excerpt(lines, []int{2, 9, 42}, 1)
	want := "      1  a\n>     2  b\n      3  c\n  ...\n      8  h\n>     9  i\n     10  j\n"
	if got != want {
		t.Errorf("excerpt:\n%s\nwant:\n%s", got, want)
	}
}
