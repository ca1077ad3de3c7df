package isolation

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Goals of ElasticRoom on this bench (the issue's): real-time p99 within 5% of alone,
// best-effort at least 80% of its alone throughput on the units real-time leaves, and
// goodput at least every baseline's.
const (
	GoalP99Overhead = 0.05
	GoalBENorm      = 0.80
)

// WriteFiles writes the markdown report (isolation.md) and the plot (isolation.svg) into dir.
func WriteFiles(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench isolation: --out: %w", err)
	}
	var md, svg strings.Builder
	WriteMarkdown(&md, rep, "isolation.svg")
	WriteSVG(&svg, rep)
	if err := os.WriteFile(filepath.Join(dir, "isolation.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("bench isolation: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "isolation.svg"), []byte(svg.String()), 0o644); err != nil {
		return fmt.Errorf("bench isolation: %w", err)
	}
	return nil
}

// BEOnUnitsLeft is the best-effort tenant's alone throughput on the units the real-time
// guarantee leaves: static-partition's alone phase, when that policy was measured (0 otherwise).
func (r *Report) BEOnUnitsLeft() float64 {
	for _, p := range r.Policies {
		if p.Policy == "static-partition" {
			return p.BE.AloneThroughputRPS
		}
	}
	return 0
}

// WriteMarkdown writes the report as markdown; svgName, when not empty, is linked as the plot.
func WriteMarkdown(w io.Writer, rep *Report, svgName string) {
	c := rep.Config
	fmt.Fprintf(w, "# Isolation: real-time beside best-effort, per sharing policy\n\n")
	fmt.Fprintf(w, "Device: %s, %d %s", rep.Device, rep.Units, c.UnitName)
	if c.TileTime > 0 {
		fmt.Fprintf(w, ", tile time %v", c.TileTime)
	}
	fmt.Fprintf(w, ". Started %s.\n\n", c.Started.UTC().Format(time.RFC3339))
	if len(rep.Policies) > 0 {
		p := rep.Policies[0]
		fmt.Fprintf(w, "- real-time tenant: %s, Poisson arrivals at %g req/s (seed %d), SLO %.3g ms, %d %s guaranteed%s\n",
			p.RT.Model, c.RTRate, c.Seed, p.RT.SLOMS, c.RTUnits, c.UnitName, map[bool]string{true: " (may borrow idle units)"}[c.RTBorrow])
		fmt.Fprintf(w, "- best-effort tenant: %s, closed loop with %d request(s) always outstanding\n", p.BE.Model, c.BESlots)
	}
	fmt.Fprintf(w, "- every policy runs three phases of %v each on the same device: real-time alone, best-effort alone, both together; \"alone\" is the same policy and scheduler with the other tenant idle\n", c.Duration)
	if c.Rounds > 1 {
		fmt.Fprintf(w, "- the phases run in %d rounds of %v slices, interleaved over policies and phases (each slice on a fresh scheduler; round r's arrival times are the same for every policy), so drifts of the machine's background load hit all alike\n", c.Rounds, c.Slice)
	}
	fmt.Fprintf(w, "- latency is from arrival (queueing counts); percentiles are nearest-rank order statistics; goodput = real-time requests completed within the SLO per second of the phase\n\n")

	fmt.Fprintf(w, "| policy | rt p50 ms | rt p99 ms | rt p99.9 ms | alone p99 ms | p99 overhead | goodput req/s | SLO miss | be req/s | be alone req/s | be norm |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range rep.Policies {
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.2f | %s | %.1f | %.1f%% | %.2f | %.2f | %s |\n",
			p.Policy, p.RT.P50MS, p.RT.P99MS, p.RT.P999MS, p.RT.AloneP99MS, pct(p.RT.P99Overhead, p.RT.AloneP99MS > 0),
			p.RT.GoodputRPS, 100*p.RT.SLOMissRate, p.BE.ThroughputRPS, p.BE.AloneThroughputRPS,
			num(p.BE.ThroughputNorm, p.BE.AloneThroughputRPS > 0))
	}
	fmt.Fprintf(w, "\nRequests in the together phase: ")
	for i, p := range rep.Policies {
		if i > 0 {
			fmt.Fprintf(w, "; ")
		}
		fmt.Fprintf(w, "%s rt %d arrived / %d completed / %d on time, be %d", p.Policy, p.RT.Arrived, p.RT.Completed, p.RT.OnTime, p.BE.Completed)
	}
	fmt.Fprintf(w, ".\n\n")
	writeGoals(w, rep)
	if svgName != "" {
		fmt.Fprintf(w, "\n![real-time latency CDF and best-effort throughput per policy](%s)\n", svgName)
	}
}

// writeGoals states ElasticRoom's goals against the measured figures.
func writeGoals(w io.Writer, rep *Report) {
	var er *PolicyResult
	for i := range rep.Policies {
		if rep.Policies[i].Policy == "elasticroom" {
			er = &rep.Policies[i]
		}
	}
	if er == nil {
		return
	}
	fmt.Fprintf(w, "## ElasticRoom against its goals\n\n")
	yes := map[bool]string{true: "met", false: "NOT met"}
	fmt.Fprintf(w, "- real-time p99 within %.0f%% of alone: %s (%s)\n", 100*GoalP99Overhead,
		yes[er.RT.AloneP99MS > 0 && er.RT.P99Overhead <= GoalP99Overhead], pct(er.RT.P99Overhead, er.RT.AloneP99MS > 0))
	if left := rep.BEOnUnitsLeft(); left > 0 {
		n := er.BE.ThroughputRPS / left
		fmt.Fprintf(w, "- best-effort at least %.0f%% of its alone throughput on the units left (%.2f req/s, static-partition's alone phase): %s (%.2fx)\n",
			100*GoalBENorm, left, yes[n >= GoalBENorm], n)
	} else {
		fmt.Fprintf(w, "- best-effort on the units left: not measured (needs static-partition in the run); throughput vs alone on the whole device %.2fx\n", er.BE.ThroughputNorm)
	}
	var worse []string
	for _, p := range rep.Policies {
		if p.Policy != "elasticroom" && p.RT.GoodputRPS > er.RT.GoodputRPS {
			worse = append(worse, fmt.Sprintf("%s %.1f", p.Policy, p.RT.GoodputRPS))
		}
	}
	if len(worse) == 0 {
		fmt.Fprintf(w, "- goodput at least every baseline's: met (%.1f req/s)\n", er.RT.GoodputRPS)
	} else {
		fmt.Fprintf(w, "- goodput at least every baseline's: NOT met (%.1f req/s; higher: %s)\n", er.RT.GoodputRPS, strings.Join(worse, ", "))
	}
}

func pct(v float64, ok bool) string {
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*v)
}

func num(v float64, ok bool) string {
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}
