package sweep

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/elasticroom/elasticroom/bench/isolation"
)

// WriteFiles writes the markdown report (budget-sweep.md) and the plot (budget-sweep.svg) into dir.
func WriteFiles(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench budget-sweep: --out: %w", err)
	}
	var md, svg strings.Builder
	WriteMarkdown(&md, rep, "budget-sweep.svg")
	WriteSVG(&svg, rep)
	for name, body := range map[string]string{"budget-sweep.md": md.String(), "budget-sweep.svg": svg.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("bench budget-sweep: %w", err)
		}
	}
	return nil
}

// WriteMarkdown writes the report as markdown; svgName, when not empty, is linked as the plot.
func WriteMarkdown(w io.Writer, rep *Report, svgName string) {
	fmt.Fprintf(w, "# Budget sweep: %s on %s\n\n", rep.Model, rep.Device)
	fmt.Fprintf(w, "Started %s. Per budget: one warm-up request, then requests back to back (one outstanding) for %v; "+
		"latency percentiles are nearest-rank order statistics, throughput is requests per second of the loop.\n\n",
		rep.Started.UTC().Format(time.RFC3339), rep.Duration)
	var full *Point
	for i := range rep.Budgets {
		if rep.Budgets[i].Budget == rep.Units {
			full = &rep.Budgets[i]
		}
	}
	fmt.Fprintf(w, "| budget (%s) | requests | p50 ms | p99 ms | req/s | vs whole device |\n|---:|---:|---:|---:|---:|---:|\n", rep.UnitName)
	for _, p := range rep.Budgets {
		rel := "n/a"
		if full != nil && full.ThroughputRPS > 0 {
			rel = fmt.Sprintf("%.2fx", p.ThroughputRPS/full.ThroughputRPS)
		}
		fmt.Fprintf(w, "| %d | %d | %.2f | %.2f | %.2f | %s |\n", p.Budget, p.Requests, p.P50MS, p.P99MS, p.ThroughputRPS, rel)
	}
	if svgName != "" {
		fmt.Fprintf(w, "\n![latency and throughput against the budget](%s)\n", svgName)
	}
}

// WriteSVG draws latency (p50 solid, p99 dashed) and throughput (bars) against the budget.
func WriteSVG(w io.Writer, rep *Report) {
	const W, H = 900, 400
	const x0, y0, pw, ph = 70.0, 50.0, 330.0, 290.0
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(w, `<text x="%d" y="20" font-size="14" text-anchor="middle">%s</text>`+"\n", W/2,
		isolation.Esc(fmt.Sprintf("budget sweep: %s on %s", rep.Model, rep.Device)))
	n := max(len(rep.Budgets), 1)
	slot := pw / float64(n)
	cx := func(i int, left float64) float64 { return left + slot*(float64(i)+0.5) }
	var maxLat, maxThr float64
	for _, p := range rep.Budgets {
		maxLat, maxThr = max(maxLat, p.P99MS, p.P50MS), max(maxThr, p.ThroughputRPS)
	}
	maxLat, maxThr = max(maxLat, 1e-3)*1.15, max(maxThr, 1e-3)*1.15
	panel := func(left float64, title, unit string, top float64) {
		fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, y0-12, title)
		fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, y0, pw, ph)
		for _, f := range []float64{0, .25, .5, .75, 1} {
			y := y0 + ph*(1-f)
			fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/><text x="%g" y="%.1f" text-anchor="end">%.3g</text>`+"\n",
				left, y, left+pw, y, left-4, y+4, f*top/1.15)
		}
		for i, p := range rep.Budgets {
			fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%d</text>`+"\n", cx(i, left), y0+ph+16, p.Budget)
		}
		fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">budget (%s); y: %s</text>`+"\n", left+pw/2, y0+ph+36, isolation.Esc(rep.UnitName), unit)
	}
	panel(x0, "latency", "ms", maxLat)
	ly := func(v float64) float64 { return y0 + ph*(1-v/maxLat) }
	for k, line := range []struct {
		col, dash string
		get       func(Point) float64
	}{{"#1f77b4", "", func(p Point) float64 { return p.P50MS }}, {"#d62728", "6,4", func(p Point) float64 { return p.P99MS }}} {
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="`, line.col, line.dash)
		for i, p := range rep.Budgets {
			fmt.Fprintf(w, "%.1f,%.1f ", cx(i, x0), ly(line.get(p)))
		}
		fmt.Fprintln(w, `"/>`)
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%g" y="%g">%s</text>`+"\n",
			x0+pw-90, y0+16+16*float64(k), x0+pw-70, y0+16+16*float64(k), line.col, line.dash, x0+pw-65, y0+20+16*float64(k), []string{"p50", "p99"}[k])
	}
	left := x0 + pw + 100
	panel(left, "throughput", "req/s", maxThr)
	for i, p := range rep.Budgets {
		h := ph * p.ThroughputRPS / maxThr
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2ca02c"><title>%.2f req/s</title></rect>`+"\n",
			cx(i, left)-slot*0.3, y0+ph-h, slot*0.6, h, p.ThroughputRPS)
	}
	fmt.Fprintln(w, "</svg>")
}
