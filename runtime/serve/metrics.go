package serve

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// unknownModel is the model label of requests for a model the backend does not serve:
// names taken from requests never become label values, so a client cannot grow the
// metric set without bound.
const unknownModel = "_unknown"

// LatencyBuckets are the bounds (seconds) of the request latency histogram: 100 us to 10 s.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	failures *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge

	mu    sync.RWMutex
	cache map[metricKey]*labelled
}

type metricKey struct {
	model, tenant string
	code          int
}

type labelled struct {
	requests prometheus.Counter
	failures prometheus.Counter // nil for a success
	latency  prometheus.Observer
}

func newMetrics(reg *prometheus.Registry, stats StatsSource) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elasticroom_requests_total",
			Help: "Inference requests answered, by model, tenant and HTTP status code.",
		}, []string{"model", "tenant", "code"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elasticroom_request_failures_total",
			Help: "Inference requests answered with an error, by model, tenant and reason.",
		}, []string{"model", "tenant", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "elasticroom_request_duration_seconds",
			Help:    "Time from the request's arrival to its answer, seconds.",
			Buckets: LatencyBuckets,
		}, []string{"model", "tenant"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "elasticroom_inflight_requests",
			Help: "Inference requests being served now.",
		}),
		cache: map[metricKey]*labelled{},
	}
	cs := []prometheus.Collector{m.requests, m.failures, m.latency, m.inflight}
	if stats != nil {
		cs = append(cs, newStatsCollector(stats))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The process's own metrics; a registry given by the caller may have them already.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &are) {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe records one answered inference request.
func (m *metrics) observe(model, tenant string, code int, d time.Duration) {
	k := metricKey{model, tenant, code}
	m.mu.RLock()
	l := m.cache[k]
	m.mu.RUnlock()
	if l == nil {
		l = &labelled{
			requests: m.requests.WithLabelValues(model, tenant, strconv.Itoa(code)),
			latency:  m.latency.WithLabelValues(model, tenant),
		}
		if code >= 400 {
			l.failures = m.failures.WithLabelValues(model, tenant, failureReason(code))
		}
		m.mu.Lock()
		m.cache[k] = l
		m.mu.Unlock()
	}
	l.requests.Inc()
	if l.failures != nil {
		l.failures.Inc()
	}
	l.latency.Observe(d.Seconds())
}

func failureReason(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusTooManyRequests:
		return "overloaded"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusGatewayTimeout:
		return "timeout"
	case http.StatusInternalServerError:
		return "internal"
	}
	return "other"
}

// statsCollector turns a StatsSource snapshot into metrics at every scrape.
type statsCollector struct {
	src                               StatsSource
	queue, held, guaranteed, goodput  *prometheus.Desc
	preemptions, completed, sloMisses *prometheus.Desc
}

func newStatsCollector(src StatsSource) *statsCollector {
	l := []string{"model", "tenant", "class"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &statsCollector{
		src:         src,
		queue:       d("elasticroom_queue_depth", "Requests waiting in the tenant's queue."),
		held:        d("elasticroom_units_held", "Units (SMs or CPU workers) the tenant holds now."),
		guaranteed:  d("elasticroom_units_guaranteed", "Units reserved for the tenant (0 for best effort)."),
		goodput:     d("elasticroom_goodput_requests_per_second", "Requests completed within the SLO per second over the scheduler's last window."),
		preemptions: d("elasticroom_preemptions_total", "Kernels of the tenant preempted so far."),
		completed:   d("elasticroom_completed_total", "Requests of the tenant completed so far."),
		sloMisses:   d("elasticroom_slo_misses_total", "Requests of the tenant completed past their latency SLO."),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queue, c.held, c.guaranteed, c.goodput, c.preemptions, c.completed, c.sloMisses} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.src.Snapshot() {
		tenant := s.Tenant
		if tenant == "" {
			tenant = s.Model
		}
		lv := []string{s.Model, tenant, s.Class}
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(s.QueueDepth), lv...)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(s.UnitsHeld), lv...)
		ch <- prometheus.MustNewConstMetric(c.guaranteed, prometheus.GaugeValue, float64(s.UnitsGuaranteed), lv...)
		ch <- prometheus.MustNewConstMetric(c.goodput, prometheus.GaugeValue, s.Goodput, lv...)
		ch <- prometheus.MustNewConstMetric(c.preemptions, prometheus.CounterValue, float64(s.Preemptions), lv...)
		ch <- prometheus.MustNewConstMetric(c.completed, prometheus.CounterValue, float64(s.Completed), lv...)
		ch <- prometheus.MustNewConstMetric(c.sloMisses, prometheus.CounterValue, float64(s.SLOMisses), lv...)
	}
}
