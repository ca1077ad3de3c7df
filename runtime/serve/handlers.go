package serve

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The routes (all under /v2 but /metrics):
//
//	GET  /v2/health/live                        200 while the process serves
//	GET  /v2/health/ready                       200, or 503 draining / a model not ready
//	GET  /v2                                    ServerMetadata
//	GET  /v2/models/{name}[/versions/{v}]        ModelMetadata
//	GET  /v2/models/{name}[/versions/{v}]/ready  ModelReady (200 or 503)
//	POST /v2/models/{name}[/versions/{v}]/infer  inference
//	GET  /metrics                               Prometheus text format
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	if path == "/metrics" {
		if !isGet(r) {
			s.methodNotAllowed(w, r, start, "GET")
			return
		}
		s.met.handler().ServeHTTP(w, r)
		return
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if seg[0] != "v2" {
		s.reply(w, r, start, "", http.StatusNotFound, errorBody("no such endpoint: "+r.URL.Path))
		return
	}
	seg = seg[1:]
	switch {
	case len(seg) == 0:
		if !isGet(r) {
			s.methodNotAllowed(w, r, start, "GET")
			return
		}
		s.reply(w, r, start, "", http.StatusOK, ServerMetadata{Name: "elasticroom", Version: s.cfg.Version, Extensions: []string{"binary_tensor_data"}})
	case len(seg) == 2 && seg[0] == "health" && (seg[1] == "live" || seg[1] == "ready"):
		if !isGet(r) {
			s.methodNotAllowed(w, r, start, "GET")
			return
		}
		code := http.StatusOK
		if seg[1] == "ready" && !s.serverReady() {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		s.logRequest(r, start, "", code)
	case len(seg) >= 2 && seg[0] == "models":
		s.serveModel(w, r, start, seg[1:])
	default:
		s.reply(w, r, start, "", http.StatusNotFound, errorBody("no such endpoint: "+r.URL.Path))
	}
}

func isGet(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

func (s *Server) serverReady() bool {
	if s.draining.Load() {
		return false
	}
	for _, m := range s.backend.Models() {
		if !s.backend.Ready(m.Name) {
			return false
		}
	}
	return true
}

// serveModel handles /v2/models/{name}[/versions/{v}][/ready|/infer]; seg starts at the name.
func (s *Server) serveModel(w http.ResponseWriter, r *http.Request, start time.Time, seg []string) {
	name, err := url.PathUnescape(seg[0])
	if err != nil || name == "" {
		s.reply(w, r, start, "", http.StatusBadRequest, errorBody("malformed model name in the path"))
		return
	}
	seg = seg[1:]
	version := ""
	if len(seg) >= 2 && seg[0] == "versions" {
		if version, err = url.PathUnescape(seg[1]); err != nil || version == "" {
			s.reply(w, r, start, "", http.StatusBadRequest, errorBody("malformed model version in the path"))
			return
		}
		seg = seg[2:]
	}
	action := ""
	switch {
	case len(seg) == 0:
	case len(seg) == 1 && (seg[0] == "ready" || seg[0] == "infer"):
		action = seg[0]
	default:
		s.reply(w, r, start, "", http.StatusNotFound, errorBody("no such endpoint: "+r.URL.Path))
		return
	}
	if action == "infer" {
		s.infer(w, r, start, name, version)
		return
	}
	if !isGet(r) {
		s.methodNotAllowed(w, r, start, "GET")
		return
	}
	m, ok := s.lookup(name)
	if !ok {
		s.reply(w, r, start, "", http.StatusNotFound, errorBody("unknown model "+strconv.Quote(name)))
		return
	}
	if code, msg := s.auth.check(r, name); code != 0 {
		s.replyAuth(w, r, start, name, code, msg)
		return
	}
	if version != "" && len(m.Versions) > 0 && !slices.Contains(m.Versions, version) {
		s.reply(w, r, start, name, http.StatusNotFound, errorBody("model "+strconv.Quote(name)+" has no version "+strconv.Quote(version)))
		return
	}
	if action == "ready" {
		ready := !s.draining.Load() && s.backend.Ready(name)
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		s.reply(w, r, start, name, code, ModelReady{Name: name, Ready: ready})
		return
	}
	md := metadataOf(m)
	if version != "" {
		md.Versions = []string{version}
	}
	s.reply(w, r, start, name, http.StatusOK, md)
}

// infer handles POST /v2/models/{name}[/versions/{v}]/infer.
func (s *Server) infer(w http.ResponseWriter, r *http.Request, start time.Time, name, version string) {
	m, known := s.lookup(name)
	label, tenant := unknownModel, unknownModel
	if known {
		label, tenant = m.Name, tenantOf(&m)
	}
	fail := func(code int, msg string) {
		s.met.observe(label, tenant, code, time.Since(start))
		switch code {
		case http.StatusUnauthorized, http.StatusForbidden:
			s.replyAuth(w, r, start, name, code, msg)
			return
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", "POST")
		}
		s.reply(w, r, start, name, code, errorBody(msg))
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use POST")
		return
	}
	if !known {
		fail(http.StatusNotFound, "unknown model "+strconv.Quote(name))
		return
	}
	if code, msg := s.auth.check(r, name); code != 0 {
		fail(code, msg)
		return
	}
	if version != "" && len(m.Versions) > 0 && !slices.Contains(m.Versions, version) {
		fail(http.StatusNotFound, "model "+strconv.Quote(name)+" has no version "+strconv.Quote(version))
		return
	}
	if !s.enter() {
		fail(http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	defer s.leave()
	body, code, err := s.readBody(w, r)
	if err != nil {
		fail(code, err.Error())
		return
	}
	headerLen := -1
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		if headerLen, err = strconv.Atoi(h); err != nil || headerLen < 0 {
			fail(http.StatusBadRequest, "malformed Inference-Header-Content-Length "+strconv.Quote(h))
			return
		}
	}
	req, err := DecodeInferRequest(body, headerLen)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	inputs, err := checkInputs(&m, req)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	sel, err := selectOutputs(&m, req)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	if s.cfg.InferTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.InferTimeout)
		defer cancel()
	}
	outs, err := s.backend.Infer(ctx, name, inputs)
	if err != nil {
		code := statusOf(err)
		msg := err.Error()
		if code == http.StatusInternalServerError {
			// The details may name server internals: they go to the log, not the client.
			s.log.LogAttrs(r.Context(), slog.LevelError, "inference failed", slog.String("model", name), slog.String("error", msg))
			msg = "internal error running model " + strconv.Quote(name) + " (details in the server log)"
		}
		fail(code, msg)
		return
	}
	if version == "" && len(m.Versions) > 0 {
		version = m.Versions[len(m.Versions)-1]
	}
	js, bin, err := encodeResponse(m.Name, version, req.ID, sel, outs)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encoding the response", slog.String("model", name), slog.String("error", err.Error()))
		fail(http.StatusInternalServerError, "internal error encoding the outputs of model "+strconv.Quote(name)+" (details in the server log)")
		return
	}
	h := w.Header()
	if bin != nil {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Inference-Header-Content-Length", strconv.Itoa(len(js)))
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(js)+len(bin)))
	w.WriteHeader(http.StatusOK)
	w.Write(js)
	if bin != nil {
		w.Write(bin)
	}
	d := time.Since(start)
	s.met.observe(label, tenant, http.StatusOK, d)
	if s.onDone != nil {
		s.onDone(d)
	}
	s.logRequest(r, start, name, http.StatusOK)
}

// statusOf maps a Backend error to a status code.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnknownModel):
		return http.StatusNotFound
	case errors.Is(err, ErrOverloaded):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNotReady):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func errorBody(msg string) ErrorResponse { return ErrorResponse{Error: msg} }

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, start time.Time, allow string) {
	w.Header().Set("Allow", allow)
	s.reply(w, r, start, "", http.StatusMethodNotAllowed, errorBody("method "+r.Method+" not allowed; use "+allow))
}

func (s *Server) replyAuth(w http.ResponseWriter, r *http.Request, start time.Time, model string, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="elasticroom"`)
	}
	s.reply(w, r, start, model, code, errorBody(msg))
}

// reply writes v as JSON with the status code and logs the request.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, start time.Time, model string, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	s.logRequest(r, start, model, code)
}

// logRequest writes one structured record: method, path, model, status, duration. Never
// the body, the query or a header (the token lives in one).
func (s *Server) logRequest(r *http.Request, start time.Time, model string, code int) {
	level := slog.LevelInfo
	if code >= 500 {
		level = slog.LevelWarn
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	s.log.LogAttrs(ctx, level, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("model", model),
		slog.Int("status", code),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr))
}
