package loadgen

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Stats are one target's figures over a run.
type Stats struct {
	Target
	Load string `json:"load"` // "poisson 100/s" or "closed x4"
	// Sent counts requests sent; Answered those that got an HTTP answer (any status); OK
	// those answered 200; Errors those that got no answer; Dropped open-loop arrivals not
	// sent because MaxInFlight requests were outstanding.
	Sent, Answered, OK, Errors, Dropped int
	Status                              map[int]int `json:"status"`
	// Latency percentiles (nearest rank), mean and max over the OK answers.
	P50, P99, P999, Mean, Max time.Duration
	// SLOMisses counts OK answers past the SLO plus requests that failed (another status or
	// no answer); Late only the former. Both 0 without an SLO.
	SLOMisses, Late int
	// Goodput is OK answers within the SLO per second of the run (all OK answers without
	// an SLO); Throughput is OK answers per second.
	Goodput, Throughput float64
}

func summarize(i int, t Target, recs []Record, dropped int, elapsed time.Duration) Stats {
	st := Stats{Target: t, Status: map[int]int{}, Dropped: dropped}
	if t.Rate > 0 {
		st.Load = fmt.Sprintf("poisson %g/s", t.Rate)
	} else {
		st.Load = fmt.Sprintf("closed x%d", t.Concurrency)
	}
	var lat []time.Duration
	var sum time.Duration
	onTime := 0
	for _, r := range recs {
		if r.Target != i {
			continue
		}
		st.Sent++
		if r.Status == 0 {
			st.Errors++
			continue
		}
		st.Answered++
		st.Status[r.Status]++
		if r.Status != http.StatusOK {
			continue
		}
		st.OK++
		lat = append(lat, r.Latency)
		sum += r.Latency
		if t.SLO > 0 && r.Latency > t.SLO {
			st.Late++
		} else {
			onTime++
		}
	}
	if t.SLO > 0 {
		st.SLOMisses = st.Late + (st.Sent - st.OK)
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	st.P50, st.P99, st.P999 = Percentile(lat, 0.50), Percentile(lat, 0.99), Percentile(lat, 0.999)
	if len(lat) > 0 {
		st.Mean = sum / time.Duration(len(lat))
		st.Max = lat[len(lat)-1]
	}
	if s := elapsed.Seconds(); s > 0 {
		st.Goodput = float64(onTime) / s
		st.Throughput = float64(st.OK) / s
	}
	return st
}

// Percentile is the nearest-rank p-quantile (0 < p <= 1) of sorted latencies; 0 when empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// WriteTable prints one line per target of each result, labelled (e.g. "alone", "shared").
func WriteTable(w io.Writer, labels []string, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tmodel\tload\tsent\tok\tother\tp50\tp99\tp99.9\tSLO\tmisses\tgoodput/s\tthroughput/s\t")
	for i, res := range results {
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		for _, st := range res.Targets {
			slo, misses := "-", "-"
			if st.SLO > 0 {
				slo, misses = fmtMs(st.SLO), fmt.Sprint(st.SLOMisses)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t\n", label, st.Model, st.Load, st.Sent, st.OK,
				other(st), fmtMs(st.P50), fmtMs(st.P99), fmtMs(st.P999), slo, misses, st.Goodput, st.Throughput)
		}
	}
	return tw.Flush()
}

// other summarises what was not a 200: statuses, transport errors, drops.
func other(st Stats) string {
	var parts []string
	codes := make([]int, 0, len(st.Status))
	for c := range st.Status {
		if c != http.StatusOK {
			codes = append(codes, c)
		}
	}
	sort.Ints(codes)
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d:%d", c, st.Status[c]))
	}
	if st.Errors > 0 {
		parts = append(parts, fmt.Sprintf("err:%d", st.Errors))
	}
	if st.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("drop:%d", st.Dropped))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, " ")
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// ParseTarget reads a target written as comma-separated key=value pairs:
//
//	model=rt,rate=100,slo=20ms        open loop, Poisson arrivals at 100 requests/s
//	model=be,concurrency=4            closed loop, 4 requests outstanding
//
// Other keys: token=T, seed=N, max=N (requests), max-in-flight=N.
func ParseTarget(text string) (Target, error) {
	var t Target
	for part := range strings.SplitSeq(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return t, fmt.Errorf("%q: want key=value", part)
		}
		var err error
		switch k {
		case "model":
			t.Model = v
		case "rate":
			if _, err = fmt.Sscan(v, &t.Rate); err != nil || t.Rate <= 0 || math.IsInf(t.Rate, 0) {
				return t, fmt.Errorf("rate=%q: want requests per second > 0", v)
			}
		case "concurrency", "c":
			err = scanInt(v, &t.Concurrency)
		case "slo":
			if t.SLO, err = time.ParseDuration(v); err != nil || t.SLO < 0 {
				return t, fmt.Errorf("slo=%q: want a duration such as 20ms", v)
			}
		case "token":
			t.Token = v
		case "seed":
			if _, err = fmt.Sscan(v, &t.Seed); err != nil {
				return t, fmt.Errorf("seed=%q: want an unsigned integer", v)
			}
		case "max":
			err = scanInt(v, &t.MaxRequests)
		case "max-in-flight":
			err = scanInt(v, &t.MaxInFlight)
		default:
			return t, fmt.Errorf("unknown key %q (known: model, rate, concurrency, slo, token, seed, max, max-in-flight)", k)
		}
		if err != nil {
			return t, fmt.Errorf("%s=%q: %w", k, v, err)
		}
	}
	switch {
	case t.Model == "":
		return t, fmt.Errorf("no model (model=NAME)")
	case t.Rate == 0 && t.Concurrency == 0:
		return t, fmt.Errorf("target %q: give rate=R (open loop) or concurrency=N (closed loop)", t.Model)
	case t.Rate > 0 && t.Concurrency > 0:
		return t, fmt.Errorf("target %q: give rate or concurrency, not both", t.Model)
	}
	return t, nil
}

func scanInt(s string, p *int) error {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n < 1 || fmt.Sprint(n) != s {
		return fmt.Errorf("want an integer >= 1")
	}
	*p = n
	return nil
}
