package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// serveLoopback serves s on a fresh 127.0.0.1 port and returns its base URL.
func serveLoopback(t testing.TB, s *Server) (string, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.srv.Close() })
	return "http://" + l.Addr().String(), done
}

// 200 clients x 5 requests, half of them bad: every request gets exactly one answer, the
// right one (each good request carries its own numbers), and bad ones never disturb others.
func TestConcurrentClients(t *testing.T) {
	fb, _, ts := newTest(t, Config{})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const clients, each = 200, 5
	var ok, bad, wrong atomic.Int64
	var wg sync.WaitGroup
	for g := range clients {
		wg.Go(func() {
			for k := range each {
				v := g*each + k
				var body string
				good := k%2 == 0
				if good {
					body = fmt.Sprintf(`{"id":"%d","inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[%d,0,1]},{"name":"y","datatype":"INT64","shape":[2],"data":[%d,1]}]}`, v, v, v)
				} else {
					body = fmt.Sprintf(`{"id":"%d","inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[%d,0]},{"name":"y","datatype":"INT64","shape":[2],"data":[1,1]}]}`, v, v)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v2/models/add/infer", bytes.NewReader([]byte(body)))
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", v, err)
					wrong.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Errorf("request %d: %v", v, err)
					wrong.Add(1)
					continue
				}
				switch {
				case good && resp.StatusCode == 200:
					var r wireResponse
					want := fmt.Sprintf("[%d,1,2]", v+1)
					if json.Unmarshal(b, &r) != nil || r.ID != strconv.Itoa(v) || string(r.Outputs[0].Data) != want || string(r.Outputs[1].Data) != fmt.Sprintf("[%d]", v+1) {
						t.Errorf("request %d: %s", v, b)
						wrong.Add(1)
						continue
					}
					ok.Add(1)
				case !good && resp.StatusCode == 400:
					bad.Add(1)
				default:
					t.Errorf("request %d (good %v): %d %s", v, good, resp.StatusCode, b)
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load()+bad.Load() != clients*each || ok.Load() != clients*3 {
		t.Errorf("%d ok, %d bad, %d wrong of %d", ok.Load(), bad.Load(), wrong.Load(), clients*each)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.calls != int(ok.Load()) {
		t.Errorf("backend ran %d times for %d good requests", fb.calls, ok.Load())
	}
}

// Shutdown: ready turns 503, new requests get 503, the one in flight finishes with 200.
func TestGracefulDrain(t *testing.T) {
	fb := &fakeBackend{notReady: map[string]bool{}}
	entered, release := make(chan struct{}), make(chan struct{})
	fb.infer = func(ctx context.Context, model string, in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
		close(entered)
		<-release
		return compute(model, in)
	}
	s, err := New(fb, Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	base, served := serveLoopback(t, s)
	c := &http.Client{Timeout: 20 * time.Second}
	slow := make(chan answer, 1)
	go func() { slow <- do(t, c, "POST", base+"/v2/models/add/infer", "", []byte(addRequest)) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the backend")
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	for !s.Draining() {
		time.Sleep(time.Millisecond)
	}
	// Fresh connections: the listener stays open while the slow request runs.
	c2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if a := do(t, c2, "GET", base+"/v2/health/ready", "", nil); a.code != 503 {
		t.Errorf("ready while draining: %d", a.code)
	}
	if a := do(t, c2, "GET", base+"/v2/models/add/ready", "", nil); a.code != 503 {
		t.Errorf("model ready while draining: %d", a.code)
	}
	if a := do(t, c2, "GET", base+"/v2/health/live", "", nil); a.code != 200 {
		t.Errorf("live while draining: %d", a.code)
	}
	for range 3 {
		if a := do(t, c2, "POST", base+"/v2/models/add/infer", "", []byte(addRequest)); a.code != 503 {
			t.Errorf("new request while draining: %d %s", a.code, a.body)
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the request in flight finished", err)
	default:
	}
	close(release)
	a := <-slow
	if r := decodeResponse(t, a); string(r.Outputs[1].Data) != "[42]" {
		t.Errorf("slow request: %s", a.body)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
}

// A drain whose context ends first reports it.
func TestDrainDeadline(t *testing.T) {
	fb := &fakeBackend{notReady: map[string]bool{}}
	entered := make(chan struct{})
	fb.infer = func(ctx context.Context, model string, in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s, _ := New(fb, Config{Logger: quietLogger()})
	base, _ := serveLoopback(t, s)
	go func() {
		resp, err := http.Post(base+"/v2/models/add/infer", "application/json", bytes.NewReader([]byte(addRequest)))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a stuck request returned nil")
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "elasticroom test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s, err := New(&fakeBackend{notReady: map[string]bool{}}, Config{TLSCertFile: certFile, TLSKeyFile: keyFile, Logger: quietLogger(), Tokens: map[string][]string{"add": {"tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serveLoopback(t, s)
	base = "https" + base[len("http"):]
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	if a := do(t, c, "GET", base+"/v2/health/live", "", nil); a.code != 200 {
		t.Errorf("live over TLS: %d", a.code)
	}
	r := decodeResponse(t, do(t, c, "POST", base+"/v2/models/add/infer", "tok", []byte(addRequest)))
	if string(r.Outputs[1].Data) != "[42]" {
		t.Errorf("infer over TLS: %+v", r)
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/v2/health/live"); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
	if _, err := New(&fakeBackend{}, Config{TLSCertFile: certFile}); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}

// 1,000 connections open at once, each with a request in flight: every one is answered.
func TestThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 sockets")
	}
	fb := &fakeBackend{notReady: map[string]bool{}}
	s, _ := New(fb, Config{Logger: quietLogger()})
	base, _ := serveLoopback(t, s)
	addr := base[len("http://"):]
	const n = 1000
	deadline := time.Now().Add(30 * time.Second)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		c.SetDeadline(deadline)
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i, c := range conns {
		wg.Go(func() {
			body := fmt.Sprintf(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[%d,0,0]},{"name":"y","datatype":"INT64","shape":[2],"data":[0,0]}]}`, i)
			req := fmt.Sprintf("POST /v2/models/add/infer HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
			if _, err := io.WriteString(c, req); err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var r wireResponse
			if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || string(r.Outputs[0].Data) != fmt.Sprintf("[%d,1,1]", i+1) {
				t.Errorf("conn %d: %d %s", i, resp.StatusCode, b)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d connections answered correctly", ok.Load(), n)
	}
}

// BenchmarkInferOverhead measures the server's time per request (from the handler's start
// to the answer written) and the client's round trip on loopback with a trivial backend and
// a small model (12 bytes in, 16 out). It reports the p50 and p99 of both.
func BenchmarkInferOverhead(b *testing.B) {
	fb := &fakeBackend{notReady: map[string]bool{}}
	s, err := New(fb, Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	server := make([]time.Duration, 0, 1<<16)
	s.onDone = func(d time.Duration) {
		mu.Lock()
		server = append(server, d)
		mu.Unlock()
	}
	base, _ := serveLoopback(b, s)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer c.CloseIdleConnections()
	body := []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]},{"name":"y","datatype":"INT64","shape":[2],"data":[1,2]}]}`)
	url := base + "/v2/models/add/infer"
	rtt := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := c.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Nanoseconds()) / 1e3
	}
	if len(server) > 0 {
		b.ReportMetric(pct(server, 0.5), "server-p50-us")
		b.ReportMetric(pct(server, 0.99), "server-p99-us")
		b.ReportMetric(pct(rtt, 0.5), "rtt-p50-us")
		b.ReportMetric(pct(rtt, 0.99), "rtt-p99-us")
	}
}
