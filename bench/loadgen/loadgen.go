// Package loadgen is an HTTP load generator for the Open Inference Protocol (KServe v2), the
// client side of `elasticroom serve`'s measurements. Each target is one model driven either
// open-loop (Poisson arrivals at a rate: latency counts from the scheduled arrival, so a slow
// server cannot slow the arrivals down) or closed-loop (a fixed number of requests
// outstanding). Inputs are seeded random tensors built from the model's metadata
// (GET /v2/models/{name}) and sent as binary tensor data. Every request is recorded with its
// latency and status; the report gives p50/p99/p99.9, SLO misses, goodput and throughput.
//
// A run is bounded in time (Options.Duration plus one request timeout) and in requests
// (Target.MaxRequests, Target.MaxInFlight). loadgen imports only the standard library; it
// must never import the runtime, so that it measures a server only through its HTTP API.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target is one model under load.
type Target struct {
	Model string `json:"model"`
	// Rate > 0: open loop, Poisson arrivals at Rate requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Concurrency (when Rate is 0): closed loop, this many requests outstanding at once.
	Concurrency int `json:"concurrency,omitempty"`
	// SLO is the latency target; answers past it, and failures, are misses (0: none).
	SLO   time.Duration `json:"slo,omitempty"`
	Token string        `json:"-"`
	Seed  uint64        `json:"seed,omitempty"`
	// MaxRequests bounds the requests sent (0: DefaultMaxRequests).
	MaxRequests int `json:"max_requests,omitempty"`
	// MaxInFlight bounds an open loop's outstanding requests; arrivals beyond it are not
	// sent and are counted as dropped (0: DefaultMaxInFlight).
	MaxInFlight int `json:"max_in_flight,omitempty"`
}

// Defaults of a Target.
const (
	DefaultMaxRequests = 1_000_000
	DefaultMaxInFlight = 512
)

// Options configure Run.
type Options struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8000.
	URL string
	// Duration is how long requests are issued (required; at most MaxDuration).
	Duration time.Duration
	// Timeout bounds one request (default 30 s).
	Timeout time.Duration
	// Variants is the number of distinct random inputs per target, cycled (default 4).
	Variants int
	// Client is the HTTP client (default: one with keep-alive connections for the run).
	Client *http.Client
}

// MaxDuration bounds Options.Duration.
const MaxDuration = time.Hour

// Record is one request.
type Record struct {
	Target int `json:"target"`
	// Start is when the request was due, since the run began (open loop: its scheduled
	// arrival; closed loop: when it was sent).
	Start   time.Duration `json:"start_ns"`
	Latency time.Duration `json:"latency_ns"`
	// Status is the HTTP status, or 0 when no answer came (Err says why).
	Status int    `json:"status"`
	Err    string `json:"error,omitempty"`
}

// Result is a run's records and per-target figures.
type Result struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	Targets []Stats       `json:"targets"`
	Records []Record      `json:"-"`
}

// Run fetches each target's metadata, builds its inputs and drives every target at once for
// opt.Duration, then waits for the requests in flight.
func Run(ctx context.Context, opt Options, targets ...Target) (*Result, error) {
	if len(targets) == 0 {
		return nil, errors.New("loadgen: no targets")
	}
	if opt.Duration <= 0 || opt.Duration > MaxDuration {
		return nil, fmt.Errorf("loadgen: duration %v: want more than 0 and at most %v", opt.Duration, MaxDuration)
	}
	base, err := url.Parse(strings.TrimSuffix(opt.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("loadgen: URL %q: want http://host:port", opt.URL)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Variants <= 0 {
		opt.Variants = 4
	}
	client := opt.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
		client = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	g := &gen{opt: opt, base: base.String(), client: client}
	for i, t := range targets {
		switch {
		case t.Model == "":
			return nil, fmt.Errorf("loadgen: target %d has no model", i+1)
		case t.Rate < 0 || math.IsNaN(t.Rate) || math.IsInf(t.Rate, 0):
			return nil, fmt.Errorf("loadgen: target %q: rate %v", t.Model, t.Rate)
		case t.Rate == 0 && t.Concurrency < 1:
			return nil, fmt.Errorf("loadgen: target %q: give a rate (open loop) or a concurrency (closed loop)", t.Model)
		case t.Rate > 0 && t.Concurrency > 0:
			return nil, fmt.Errorf("loadgen: target %q: give a rate or a concurrency, not both", t.Model)
		}
		if t.MaxRequests <= 0 {
			targets[i].MaxRequests = DefaultMaxRequests
		}
		if t.MaxInFlight <= 0 {
			targets[i].MaxInFlight = DefaultMaxInFlight
		}
		reqs, err := g.prepare(ctx, targets[i])
		if err != nil {
			return nil, err
		}
		g.bodies = append(g.bodies, reqs)
	}
	g.start = time.Now()
	deadline := g.start.Add(opt.Duration)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t.Rate > 0 {
				g.open(ctx, i, t, deadline)
			} else {
				g.closed(ctx, i, t, deadline)
			}
		}()
	}
	wg.Wait()
	g.inflight.Wait()
	res := &Result{Elapsed: time.Since(g.start), Records: g.records}
	for i, t := range targets {
		res.Targets = append(res.Targets, summarize(i, t, g.records, g.dropped[i], res.Elapsed))
	}
	return res, nil
}

// gen is one run.
type gen struct {
	opt      Options
	base     string
	client   *http.Client
	bodies   [][]request
	start    time.Time
	inflight sync.WaitGroup

	mu      sync.Mutex
	records []Record
	dropped map[int]int
}

// request is a prepared body and its headers.
type request struct {
	url     string
	body    []byte
	headers map[string]string
}

// open sends Poisson arrivals until the deadline.
func (g *gen) open(ctx context.Context, i int, t Target, deadline time.Time) {
	rng := rand.New(rand.NewPCG(t.Seed, 0x10ad))
	var outstanding sync.WaitGroup
	sem := make(chan struct{}, t.MaxInFlight)
	at := g.start
	for n := 0; n < t.MaxRequests; {
		at = at.Add(time.Duration(rng.ExpFloat64() / t.Rate * float64(time.Second)))
		if !at.Before(deadline) {
			break
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				outstanding.Wait()
				return
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			g.mu.Lock()
			if g.dropped == nil {
				g.dropped = map[int]int{}
			}
			g.dropped[i]++
			g.mu.Unlock()
			continue
		}
		req := g.bodies[i][n%len(g.bodies[i])]
		n++
		outstanding.Add(1)
		g.inflight.Add(1)
		go func(due time.Time) {
			defer func() { <-sem; outstanding.Done(); g.inflight.Done() }()
			g.do(ctx, i, req, due)
		}(at)
	}
	outstanding.Wait()
}

// closed keeps t.Concurrency requests outstanding until the deadline.
func (g *gen) closed(ctx context.Context, i int, t Target, deadline time.Time) {
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range t.Concurrency {
		wg.Add(1)
		g.inflight.Add(1)
		go func() {
			defer func() { wg.Done(); g.inflight.Done() }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				mu.Lock()
				if n >= t.MaxRequests {
					mu.Unlock()
					return
				}
				req := g.bodies[i][n%len(g.bodies[i])]
				n++
				mu.Unlock()
				if wait := g.do(ctx, i, req, time.Now()); wait > 0 {
					select { // a refusal or an error: back off instead of spinning
					case <-time.After(min(wait, time.Until(deadline))):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	wg.Wait()
}

// Backoff is how long a closed loop waits after a failed request (no answer, or a status
// other than 200) before its next one; a 429 or 503 with Retry-After waits that long, at
// most MaxBackoff.
const (
	Backoff    = 10 * time.Millisecond
	MaxBackoff = time.Second
)

// do sends one request and records it; latency runs from due to the end of the answer. It
// returns how long a closed loop should wait before the next request (0 after a 200).
func (g *gen) do(ctx context.Context, i int, r request, due time.Time) (wait time.Duration) {
	rec := Record{Target: i, Start: due.Sub(g.start)}
	ctx, cancel := context.WithTimeout(ctx, g.opt.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.body))
	if err == nil {
		for k, v := range r.headers {
			hr.Header.Set(k, v)
		}
		var resp *http.Response
		if resp, err = g.client.Do(hr); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			rec.Status = resp.StatusCode
			if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, MaxBackoff)
			}
		}
	}
	rec.Latency = time.Since(due)
	if err != nil {
		rec.Status, rec.Err = 0, err.Error()
	}
	g.mu.Lock()
	g.records = append(g.records, rec)
	g.mu.Unlock()
	if rec.Status == http.StatusOK {
		return 0
	}
	return max(wait, Backoff)
}

// Metadata is the part of GET /v2/models/{name} the generator reads.
type Metadata struct {
	Name   string `json:"name"`
	Inputs []struct {
		Name     string `json:"name"`
		Datatype string `json:"datatype"`
		Shape    []int  `json:"shape"`
	} `json:"inputs"`
}

// FetchMetadata reads a model's metadata.
func FetchMetadata(ctx context.Context, client *http.Client, baseURL, model, token string) (*Metadata, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := strings.TrimSuffix(baseURL, "/") + "/v2/models/" + url.PathEscape(model)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: model %q: %w", model, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: model %q metadata: %w", model, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("loadgen: model %q metadata: %w", model, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: model %q metadata: %s: %s", model, resp.Status, strings.TrimSpace(string(body)))
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("loadgen: model %q metadata: %w", model, err)
	}
	return &md, nil
}

// prepare builds a target's request bodies from its model's metadata.
func (g *gen) prepare(ctx context.Context, t Target) ([]request, error) {
	md, err := FetchMetadata(ctx, g.client, g.base, t.Model, t.Token)
	if err != nil {
		return nil, err
	}
	u := g.base + "/v2/models/" + url.PathEscape(t.Model) + "/infer"
	out := make([]request, g.opt.Variants)
	for v := range out {
		body, hdrLen, err := InferBody(md, t.Seed+uint64(v)*7919)
		if err != nil {
			return nil, fmt.Errorf("loadgen: model %q: %w", t.Model, err)
		}
		h := map[string]string{"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": fmt.Sprint(hdrLen)}
		if t.Token != "" {
			h["Authorization"] = "Bearer " + t.Token
		}
		out[v] = request{url: u, body: body, headers: h}
	}
	return out, nil
}

// WaitReady polls GET /v2/health/ready until it answers 200 or timeout passes.
func WaitReady(ctx context.Context, client *http.Client, baseURL string, timeout time.Duration) error {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimSuffix(baseURL, "/") + "/v2/health/ready"
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("loadgen: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: %s not ready after %v (last: %s)", u, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
