package isolation

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/runtime/sched"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	// 1..100 ms: nearest rank p50 = 50, p99 = 99, p99.9 = 100
	var hundred []int
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, i)
	}
	cases := []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, .5, 0},
		{ms(7), .5, 7 * time.Millisecond},
		{ms(7), .999, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), .5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), .51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), .99, 4 * time.Millisecond},
		{ms(hundred...), .5, 50 * time.Millisecond},
		{ms(hundred...), .99, 99 * time.Millisecond},
		{ms(hundred...), .999, 100 * time.Millisecond},
	}
	for _, c := range cases {
		if got := Percentile(c.in, c.q); got != c.want {
			t.Errorf("Percentile(%v, %g) = %v, want %v", c.in, c.q, got, c.want)
		}
	}
	if got := Sorted(ms(3, 1, 2)); got[0] != time.Millisecond || got[2] != 3*time.Millisecond {
		t.Errorf("Sorted = %v", got)
	}
}

// smallOptions is a quick run on the cpu device with small models (MLPs).
func smallOptions(pols []sched.Policy, d time.Duration) Options {
	return Options{
		Device:   DeviceOptions{Kind: "cpu", Units: 2},
		Policies: pols, Duration: d,
		RTModel: "zoo:mlp", RTBatch: 4, BEModel: "zoo:mlp", BEBatch: 128,
		RTRate: 150, SLO: 50 * time.Millisecond, Seed: 3,
	}
}

// TestRunReport runs every policy for a few hundred milliseconds per phase and checks the
// report's form: every policy present, every number finite, percentiles ordered, the derived
// figures consistent with their definitions, and the seeded arrivals the same for every
// policy. It asserts no performance figure.
func TestRunReport(t *testing.T) {
	const d = 250 * time.Millisecond
	pols := sched.Policies()
	var progress strings.Builder
	opt := smallOptions(pols, d)
	opt.Slice = d / 2 // two rounds, interleaved
	opt.Progress = &progress
	rep, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("report does not marshal: %v", err)
	}
	var doc struct {
		Suite    string `json:"suite"`
		Device   string `json:"device"`
		Units    int    `json:"units"`
		Policies []struct {
			Policy string         `json:"policy"`
			RT     map[string]any `json:"rt"`
			BE     map[string]any `json:"be"`
		} `json:"policies"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Suite != "isolation" || doc.Units != 2 || !strings.HasPrefix(doc.Device, "cpu") {
		t.Errorf("header: suite %q device %q units %d", doc.Suite, doc.Device, doc.Units)
	}
	if len(doc.Policies) != len(pols) {
		t.Fatalf("%d policies in the report, want %d", len(doc.Policies), len(pols))
	}
	rtKeys := []string{"p50_ms", "p99_ms", "p999_ms", "alone_p99_ms", "p99_overhead", "slo_ms", "goodput_rps", "slo_miss_rate"}
	beKeys := []string{"throughput_rps", "alone_throughput_rps", "throughput_norm"}
	for i, p := range doc.Policies {
		if p.Policy != string(pols[i]) {
			t.Errorf("policy %d is %q, want %q", i, p.Policy, pols[i])
		}
		for _, part := range []struct {
			m    map[string]any
			keys []string
		}{{p.RT, rtKeys}, {p.BE, beKeys}} {
			if m, ok := part.m["model"].(string); !ok || !strings.HasPrefix(m, "zoo:mlp") {
				t.Errorf("%s: model %v", p.Policy, part.m["model"])
			}
			if len(part.m) != len(part.keys)+1 {
				t.Errorf("%s: fields %v, want model and %v", p.Policy, part.m, part.keys)
			}
			for _, k := range part.keys {
				v, ok := part.m[k].(float64)
				if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("%s: %s = %v", p.Policy, k, part.m[k])
				}
			}
		}
	}
	sec := d.Seconds()
	for _, p := range rep.Policies {
		rt, be := p.RT, p.BE
		if !(rt.P50MS > 0 && rt.P50MS <= rt.P99MS && rt.P99MS <= rt.P999MS) {
			t.Errorf("%s: percentiles not ordered: p50 %g p99 %g p99.9 %g", p.Policy, rt.P50MS, rt.P99MS, rt.P999MS)
		}
		if rt.AloneP99MS <= 0 || math.Abs(rt.P99Overhead-(rt.P99MS/rt.AloneP99MS-1)) > 1e-9 {
			t.Errorf("%s: p99 overhead %g, p99 %g, alone %g", p.Policy, rt.P99Overhead, rt.P99MS, rt.AloneP99MS)
		}
		if rt.Arrived == 0 || rt.OnTime > rt.Completed || rt.Completed > rt.Arrived {
			t.Errorf("%s: rt arrived %d completed %d on time %d", p.Policy, rt.Arrived, rt.Completed, rt.OnTime)
		}
		if rt.GoodputRPS > float64(rt.Completed)/sec+1e-9 || math.Abs(rt.GoodputRPS*sec-float64(rt.OnTime)) > 1e-6 {
			t.Errorf("%s: goodput %g with %d on time, %d completed in %v", p.Policy, rt.GoodputRPS, rt.OnTime, rt.Completed, d)
		}
		if want := float64(rt.Arrived-rt.OnTime) / float64(rt.Arrived); math.Abs(rt.SLOMissRate-want) > 1e-9 {
			t.Errorf("%s: SLO miss rate %g, want %g", p.Policy, rt.SLOMissRate, want)
		}
		if rt.SLOMS != 50 {
			t.Errorf("%s: slo_ms %g", p.Policy, rt.SLOMS)
		}
		// the arrival process is seeded: every policy sees the same number of arrivals
		if rt.Arrived != rep.Policies[0].RT.Arrived {
			t.Errorf("%s: %d arrivals, %s had %d", p.Policy, rt.Arrived, rep.Policies[0].Policy, rep.Policies[0].RT.Arrived)
		}
		if be.AloneCompleted == 0 || math.Abs(be.AloneThroughputRPS*sec-float64(be.AloneCompleted)) > 1e-6 ||
			math.Abs(be.ThroughputRPS*sec-float64(be.Completed)) > 1e-6 ||
			math.Abs(be.ThroughputNorm-be.ThroughputRPS/be.AloneThroughputRPS) > 1e-9 {
			t.Errorf("%s: be %+v", p.Policy, be)
		}
	}
	if rep.Config.Rounds != 2 || !strings.Contains(progress.String(), "round  2/2") {
		t.Errorf("rounds %d; progress:\n%s", rep.Config.Rounds, progress.String())
	}
	for _, pol := range pols {
		if !strings.Contains(progress.String(), string(pol)+": rt p50") {
			t.Errorf("no progress summary for %s in:\n%s", pol, progress.String())
		}
	}

	dir := t.TempDir()
	if err := WriteFiles(dir, rep); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "isolation.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range pols {
		if !strings.Contains(string(md), "| "+string(pol)+" |") {
			t.Errorf("markdown has no row for %s", pol)
		}
	}
	checkSVG(t, filepath.Join(dir, "isolation.svg"), 5)
}

// checkSVG parses path as XML, and checks the root is an svg element with at least
// minPolylines polylines or rects beyond the frame.
func checkSVG(t *testing.T, path string, minShapes int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root, shapes := "", 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" || se.Name.Local == "rect" {
				shapes++
			}
		}
	}
	if root != "svg" || shapes < minShapes {
		t.Errorf("%s: root %q, %d shapes", path, root, shapes)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	opt := smallOptions([]sched.Policy{sched.ElasticRoom}, 50*time.Millisecond)
	opt.RTUnits = 2
	if _, err := Run(ctx, opt); err == nil || !strings.Contains(err.Error(), "leaves no room") {
		t.Errorf("a guarantee of every unit: %v", err)
	}
	opt = smallOptions(nil, 50*time.Millisecond)
	opt.RTModel = "zoo:nosuchmodel"
	if _, err := Run(ctx, opt); err == nil || !strings.Contains(err.Error(), "nosuchmodel") {
		t.Errorf("unknown model: %v", err)
	}
	opt = smallOptions(nil, 50*time.Millisecond)
	opt.Device.Kind = "tpu"
	if _, err := Run(ctx, opt); err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Errorf("unknown device: %v", err)
	}
	opt = smallOptions(nil, -time.Second)
	if _, err := Run(ctx, opt); err == nil {
		t.Error("negative duration accepted")
	}
}
