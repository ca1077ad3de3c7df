package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 20

// Config configures a Server. The zero value serves on ":8000" with no tokens, no TLS,
// a 64 MiB body limit and the default timeouts.
type Config struct {
	// Addr is the listen address of ListenAndServe (default ":8000").
	Addr string
	// Version is reported by GET /v2.
	Version string
	// Tokens maps a model name to the bearer tokens that may use it. A model with tokens
	// needs one of them for its metadata, readiness and inference; a model without is open.
	// Health, server metadata and /metrics never need a token.
	Tokens map[string][]string
	// MaxBodyBytes limits a request body (default DefaultMaxBodyBytes); beyond it: 413.
	MaxBodyBytes int64
	// Timeouts of the http.Server (defaults: header 10 s, read 60 s, write 120 s, idle 120 s).
	// WriteTimeout bounds a whole inference, from the end of the headers to the answer.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes limits request headers (default 64 KiB).
	MaxHeaderBytes int
	// InferTimeout, when > 0, bounds the time given to Backend.Infer; past it: 504.
	InferTimeout time.Duration
	// TLS: serve HTTPS with this certificate and key (PEM files), or with TLSConfig.
	TLSCertFile, TLSKeyFile string
	TLSConfig               *tls.Config
	// Logger receives one record per request (default: slog.Default()).
	Logger *slog.Logger
	// Stats, when set, adds the scheduler's per-tenant state to /metrics.
	Stats StatsSource
	// Registry receives the metrics (default: a new registry of the server's own).
	Registry *prometheus.Registry
}

// Server is an Open Inference Protocol server over a Backend.
type Server struct {
	backend Backend
	cfg     Config
	auth    *auth
	met     *metrics
	log     *slog.Logger
	srv     *http.Server
	maxBody int64

	mu       sync.Mutex
	draining atomic.Bool
	inflight int
	idle     chan struct{} // closed when inflight drops to 0 while draining

	// onDone, when set (by tests), is called with each inference request's server time.
	onDone func(time.Duration)
}

// New builds a server; it listens only when Serve or ListenAndServe is called, and its
// Handler can be mounted elsewhere (tests use httptest).
func New(b Backend, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("serve: nil backend")
	}
	a, err := newAuth(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	met, err := newMetrics(reg, cfg.Stats)
	if err != nil {
		return nil, fmt.Errorf("serve: registering metrics: %w", err)
	}
	s := &Server{backend: b, cfg: cfg, auth: a, met: met, log: cfg.Logger, maxBody: cfg.MaxBodyBytes}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	def := func(d, v time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return v
	}
	addr := cfg.Addr
	if addr == "" {
		addr = ":8000"
	}
	maxHeader := cfg.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = 64 << 10
	}
	s.srv = &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: def(cfg.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       def(cfg.ReadTimeout, 60*time.Second),
		WriteTimeout:      def(cfg.WriteTimeout, 120*time.Second),
		IdleTimeout:       def(cfg.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if cfg.TLSConfig != nil {
		s.srv.TLSConfig = cfg.TLSConfig.Clone()
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("serve: TLS needs both a certificate and a key file")
	}
	if s.tls() {
		if s.srv.TLSConfig == nil {
			s.srv.TLSConfig = &tls.Config{}
		}
		if s.srv.TLSConfig.MinVersion == 0 {
			s.srv.TLSConfig.MinVersion = tls.VersionTLS12
		}
	}
	return s, nil
}

func (s *Server) tls() bool { return s.cfg.TLSCertFile != "" || s.cfg.TLSConfig != nil }

// Handler is the server's HTTP handler (the server itself).
func (s *Server) Handler() http.Handler { return s }

// Serve answers requests on l, over TLS when the config has a certificate, until Shutdown.
// It returns http.ErrServerClosed after a Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if s.tls() {
		return s.srv.ServeTLS(l, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	}
	return s.srv.Serve(l)
}

// ListenAndServe listens on Config.Addr and serves; see Serve.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(l)
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown drains the server: from its call on, /v2/health/ready answers 503 and new
// inference requests are refused with 503, while the requests already in flight run to
// their answer. When they are done (or ctx ends) the listeners and idle connections are
// closed. It returns ctx's error if ctx ended first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	var wait chan struct{}
	if s.inflight > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		wait = s.idle
	}
	s.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			s.srv.Close()
			return fmt.Errorf("serve: drain: %w", ctx.Err())
		}
	}
	return s.srv.Shutdown(ctx)
}

// enter admits an inference request unless the server drains.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.inflight++
	s.met.inflight.Inc()
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	s.inflight--
	s.met.inflight.Dec()
	if s.inflight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// lookup finds a served model by name; nothing else is done with the name.
func (s *Server) lookup(name string) (ModelInfo, bool) {
	if ml, ok := s.backend.(ModelLookup); ok {
		return ml.Model(name)
	}
	for _, m := range s.backend.Models() {
		if m.Name == name {
			return m, true
		}
	}
	return ModelInfo{}, false
}

func tenantOf(m *ModelInfo) string {
	if m.Tenant != "" {
		return m.Tenant
	}
	return m.Name
}

// readBody reads the whole body within the limit; the status is 413 past it, 400 for
// another read error.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	if r.ContentLength > s.maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, s.maxBody)
	}
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength) + 1
	}
	buf := make([]byte, 0, size)
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, 0, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body is over the limit of %d bytes", s.maxBody)
			}
			return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %v", err)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}
