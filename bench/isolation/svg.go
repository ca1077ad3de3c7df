package isolation

import (
	"fmt"
	"html"
	"io"
	"math"
)

// Palette colours policies in plots, in the order of sched.Policies().
var Palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"}

// Esc escapes s for SVG text and attributes.
func Esc(s string) string { return html.EscapeString(s) }

// LogTicks returns 1-2-5 ticks within [lo, hi] (both > 0).
func LogTicks(lo, hi float64) []float64 {
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				out = append(out, v)
			}
		}
	}
	return out
}

// WriteSVG draws two panels: the real-time tenant's latency CDF per policy in the together
// phase (log latency axis, the SLO dashed), and best-effort throughput per policy (together
// filled, alone outlined).
func WriteSVG(w io.Writer, rep *Report) {
	const W, H = 980, 470
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(w, `<text x="%d" y="20" font-size="14" text-anchor="middle">%s</text>`+"\n", W/2, Esc("isolation on "+rep.Device))
	writeCDF(w, rep, 70, 50, 480, 310)
	writeBars(w, rep, 660, 50, 290, 310)
	fmt.Fprintln(w, "</svg>")
}

func writeCDF(w io.Writer, rep *Report, x0, y0, pw, ph float64) {
	lo, hi := math.Inf(1), 0.0
	slo := 0.0
	for _, p := range rep.Policies {
		if n := len(p.RT.Latencies); n > 0 {
			lo = min(lo, MS(p.RT.Latencies[0]))
			hi = max(hi, MS(p.RT.Latencies[n-1]))
		}
		slo = p.RT.SLOMS
	}
	if slo > 0 {
		hi = max(hi, slo)
		lo = min(lo, slo)
	}
	if math.IsInf(lo, 1) || hi <= 0 {
		lo, hi = 0.1, 10
	}
	lo, hi = math.Max(lo*0.8, 1e-3), hi*1.25
	if hi <= lo {
		hi = lo * 10
	}
	lx := func(v float64) float64 {
		return x0 + pw*(math.Log10(math.Max(v, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	ly := func(f float64) float64 { return y0 + ph*(1-f) }
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">real-time latency CDF, together with best-effort</text>`+"\n", x0+pw/2, y0-12)
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", x0, y0, pw, ph)
	for _, t := range LogTicks(lo, hi) {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/><text x="%.1f" y="%g" text-anchor="middle">%g</text>`+"\n",
			lx(t), y0, lx(t), y0+ph, lx(t), y0+ph+16, t)
	}
	for _, f := range []float64{0, .25, .5, .75, .9, .99, 1} {
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/><text x="%g" y="%.1f" text-anchor="end">%g</text>`+"\n",
			x0, ly(f), x0+pw, ly(f), x0-4, ly(f)+4, f)
	}
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">latency from arrival (ms, log scale)</text>`+"\n", x0+pw/2, y0+ph+34)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle" transform="rotate(-90 %g %g)">fraction of requests</text>`+"\n", x0-40, y0+ph/2, x0-40, y0+ph/2)
	if slo > 0 {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#000" stroke-dasharray="5,4"/><text x="%.1f" y="%g">SLO</text>`+"\n",
			lx(slo), y0, lx(slo), y0+ph, lx(slo)+3, y0+12)
	}
	for i, p := range rep.Policies {
		col := Palette[i%len(Palette)]
		lat := p.RT.Latencies
		if len(lat) > 0 {
			fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="`, col)
			step := max(1, len(lat)/400)
			for j := 0; j < len(lat); j += step {
				fmt.Fprintf(w, "%.1f,%.1f ", lx(MS(lat[j])), ly(float64(j+1)/float64(len(lat))))
			}
			fmt.Fprintf(w, "%.1f,%.1f\"/>\n", lx(MS(lat[len(lat)-1])), ly(1))
		}
		ly0 := y0 + ph - 12 - 16*float64(len(rep.Policies)-1-i)
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3"/><text x="%g" y="%g">%s</text>`+"\n",
			x0+pw-150, ly0-4, x0+pw-130, ly0-4, col, x0+pw-125, ly0, Esc(p.Policy))
	}
}

func writeBars(w io.Writer, rep *Report, x0, y0, pw, ph float64) {
	top := 0.0
	for _, p := range rep.Policies {
		top = max(top, p.BE.ThroughputRPS, p.BE.AloneThroughputRPS)
	}
	if top <= 0 {
		top = 1
	}
	top *= 1.15
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">best-effort throughput (req/s)</text>`+"\n", x0+pw/2, y0-12)
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", x0, y0, pw, ph)
	n := max(len(rep.Policies), 1)
	slot := pw / float64(n)
	bw := slot * 0.35
	y := func(v float64) float64 { return y0 + ph*(1-v/top) }
	for i, p := range rep.Policies {
		col := Palette[i%len(Palette)]
		x := x0 + slot*float64(i) + slot*0.12
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>together %.2f req/s</title></rect>`+"\n",
			x, y(p.BE.ThroughputRPS), bw, y0+ph-y(p.BE.ThroughputRPS), col, p.BE.ThroughputRPS)
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" stroke-width="1.5"><title>alone %.2f req/s</title></rect>`+"\n",
			x+bw, y(p.BE.AloneThroughputRPS), bw, y0+ph-y(p.BE.AloneThroughputRPS), col, p.BE.AloneThroughputRPS)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="end" transform="rotate(-35 %.1f %.1f)">%s</text>`+"\n",
			x+bw, y0+ph+14, x+bw, y0+ph+14, Esc(p.Policy))
	}
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="end">%.3g</text><text x="%g" y="%g" text-anchor="end">0</text>`+"\n", x0-4, y(top/1.15)+4, top/1.15, x0-4, y0+ph+4)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">filled: together; outlined: alone</text>`+"\n", x0+pw/2, y0+ph+100)
}
