package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/models"
	"github.com/elasticroom/elasticroom/models/zoo"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/cuda"
	"github.com/elasticroom/elasticroom/runtime/device"
	"github.com/elasticroom/elasticroom/runtime/sched"
	"github.com/elasticroom/elasticroom/runtime/serve"
	"github.com/elasticroom/elasticroom/runtime/tenants"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve several tenants on one device over the Open Inference Protocol (HTTP)",
		Description: `Serves each tenant's model over HTTP (KServe v2 / Open Inference Protocol) on one device,
co-scheduled with strong priority: a realtime tenant keeps its guaranteed units (SMs, or cpu
worker units) and its latency, a besteffort tenant uses every unit no realtime request is using.

A tenant is a --tenant flag (repeatable) of comma-separated keys, or an item of --config:
   name=N          the tenant and its model's name on the API: /v2/models/N/infer
   model=M         a .onnx or .erp file, or zoo:NAME; .onnx and zoo models are compiled at start
                   for the tenant's budget (realtime: its guarantee; besteffort: every unit)
   class=C         realtime (rt) or besteffort (be)
   sms=K           the guarantee of a realtime tenant in units (alias units=K); on the cpu
                   device units are worker goroutines. The sum over realtime tenants must fit
                   the device, else the server refuses to start and names the tenant.
   slo=D           the latency target, e.g. 20ms (misses and goodput are in /metrics)
   batch=B         a besteffort tenant may run up to B queued requests back to back
   token=T         requests must carry "Authorization: Bearer T" (a tenant without is open)
   slots=S         requests run at once (default 1); queue=Q: queued+running bound (429 past it)
   dim.NAME=SIZE   size of a symbolic input dim other than the batch, for compilation

Endpoints: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/N, /v2/models/N/ready,
POST /v2/models/N/infer (JSON or binary tensor data), GET /metrics (Prometheus).
SIGTERM or SIGINT drains: requests in flight finish, new ones get 503, then the server exits.

tenants.yaml (a YAML subset: scalars, comments, quoted strings; flags override its settings):
   listen: 127.0.0.1:8000
   device: auto
   tenants:
     - name: rt
       model: zoo:mlp
       class: realtime
       sms: 1
       slo: 20ms
       token: "rt-secret"
     - name: be
       model: zoo:resnet18
       class: besteffort

Examples:
   elasticroom serve --tenant name=rt,model=zoo:mlp,class=realtime,sms=1,slo=20ms \
                     --tenant name=be,model=zoo:resnet18,class=besteffort
   elasticroom serve --config tenants.yaml --listen :8000 --device cuda
   elasticroom serve --tenant name=det,model=det.onnx,class=rt,sms=20,slo=50ms,dim.h=640,dim.w=640
   curl -s localhost:8000/v2/models/rt
   elasticroom loadgen --url http://127.0.0.1:8000 --target model=rt,rate=100,slo=20ms --duration 10s`,
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "tenant", Value: &tenantFlag{},
				Usage: "a tenant `SPEC`: name=N,model=M,class=C[,sms=K][,slo=D][,batch=B][,token=T] (repeatable)"},
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "read tenants (and settings) from `tenants.yaml`"},
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1:8000", Usage: "listen `ADDR` (host:port; port 0 picks a free one)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the address listened on to `FILE` once serving"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto|cuda|cpu|emu (auto: cuda when a GPU answers, else cpu)"},
			&cli.IntFlag{Name: "units", Usage: "cpu (and emu) device units (0: every core; emu: the target's SMs)"},
			&cli.StringFlag{Name: "target", Value: defaultTarget, Usage: "GPU target plans are compiled for on the cpu and emu devices"},
			&cli.StringFlag{Name: "policy", Value: string(sched.ElasticRoom), Usage: "sharing policy: " + policyNames()},
			&cli.BoolFlag{Name: "realtime-borrow", Usage: "let realtime requests use idle units beyond their guarantee"},
			&cli.Float64Flag{Name: "be-max-tile-us", Value: 50, Usage: "besteffort plans: longest estimated tile in µs, the preemption latency bound (0: unbounded)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this PEM certificate `FILE` (with --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key `FILE` of --tls-cert"},
			&cli.IntFlag{Name: "max-body-mb", Value: 64, Usage: "largest request body in MiB (413 past it)"},
			&cli.DurationFlag{Name: "infer-timeout", Usage: "bound on one inference (504 past it; 0: none)"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 30 * time.Second, Usage: "how long SIGTERM waits for requests in flight"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text|json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug|info|warn|error"},
			&cli.BoolFlag{Name: "log-requests", Usage: "log every request (default: only those answered 5xx, 503 aside)"},
		},
		Action: serveAction,
	}
}

// tenantFlag collects --tenant values; unlike a string slice flag it keeps commas.
type tenantFlag struct{ specs []string }

func (f *tenantFlag) Set(s string) error { f.specs = append(f.specs, s); return nil }
func (f *tenantFlag) String() string     { return strings.Join(f.specs, " ") }

func policyNames() string {
	var out []string
	for _, p := range sched.Policies() {
		out = append(out, string(p))
	}
	return strings.Join(out, ", ")
}

// serveSettings is the command line and config file resolved.
type serveSettings struct {
	specs            []tenants.Spec
	listen, device   string
	units            int
	policy           sched.Policy
	maxBody          int64
	logger           *slog.Logger
	out, errw        io.Writer
	addrFile         string
	drain, inferTime time.Duration
}

func serveAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments (got %q): give tenants with --tenant or --config", c.Args().Slice())
	}
	st, err := serveFlags(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runServe(ctx, c, st)
}

func serveFlags(c *cli.Context) (*serveSettings, error) {
	st := &serveSettings{listen: c.String("listen"), device: c.String("device"), units: c.Int("units"),
		addrFile: c.String("addr-file"), drain: c.Duration("drain-timeout"), inferTime: c.Duration("infer-timeout"),
		out: c.App.Writer, errw: c.App.ErrWriter}
	if st.errw == nil {
		st.errw = os.Stderr
	}
	policy := c.String("policy")
	if path := c.String("config"); path != "" {
		cfg, err := tenants.LoadConfig(path)
		if err != nil {
			return nil, err
		}
		st.specs = append(st.specs, cfg.Tenants...)
		if cfg.Listen != "" && !c.IsSet("listen") {
			st.listen = cfg.Listen
		}
		if cfg.Device != "" && !c.IsSet("device") {
			st.device = cfg.Device
		}
		if cfg.Policy != "" && !c.IsSet("policy") {
			policy = cfg.Policy
		}
		if cfg.Units > 0 && !c.IsSet("units") {
			st.units = cfg.Units
		}
	}
	if f, ok := c.Generic("tenant").(*tenantFlag); ok {
		for i, text := range f.specs {
			s, err := tenants.ParseSpec(text)
			if err != nil {
				return nil, fmt.Errorf("--tenant %q: %w", text, err)
			}
			s.Source = fmt.Sprintf("--tenant %d", i+1)
			st.specs = append(st.specs, s)
		}
	}
	if err := tenants.Check(st.specs); err != nil {
		return nil, err
	}
	var err error
	if st.policy, err = sched.ParsePolicy(policy); err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	if _, err := pickDevice(st.device); err != nil {
		return nil, err
	}
	if st.units < 0 {
		return nil, fmt.Errorf("--units %d: want 0 (every core) or more", st.units)
	}
	if mb := c.Int("max-body-mb"); mb < 1 {
		return nil, fmt.Errorf("--max-body-mb %d: want at least 1", mb)
	} else {
		st.maxBody = int64(mb) << 20
	}
	if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if _, _, err := net.SplitHostPort(st.listen); err != nil {
		return nil, fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8000 or :8000): %w", st.listen, err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopt := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		st.logger = slog.New(slog.NewTextHandler(st.errw, hopt))
	case "json":
		st.logger = slog.New(slog.NewJSONHandler(st.errw, hopt))
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))
	}
	if !c.Bool("log-requests") {
		st.logger = slog.New(quietRequests{st.logger.Handler()})
	}
	return st, nil
}

// quietRequests drops the HTTP layer's per-request records but those of failures worth a
// look (5xx other than 503, which every request refused during a drain gets).
type quietRequests struct{ slog.Handler }

func (h quietRequests) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "request" {
		return h.Handler.Handle(ctx, r)
	}
	keep := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "status" {
			code := a.Value.Int64()
			keep = code >= 500 && code != http.StatusServiceUnavailable
			return false
		}
		return true
	})
	if !keep {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietRequests) WithAttrs(as []slog.Attr) slog.Handler {
	return quietRequests{h.Handler.WithAttrs(as)}
}
func (h quietRequests) WithGroup(name string) slog.Handler {
	return quietRequests{h.Handler.WithGroup(name)}
}

// servedDevice is the opened device, the target its plans are compiled for, and its closer.
type servedDevice struct {
	tenants.Device
	target budget.Target
	close  func() error
}

func openServeDevice(c *cli.Context, name string, units int) (*servedDevice, error) {
	dev, err := pickDevice(name)
	if err != nil {
		return nil, err
	}
	target, err := budget.LookupTarget(c.String("target"))
	if err != nil {
		return nil, fmt.Errorf("--target: %w", err)
	}
	switch dev {
	case "cpu":
		pool, err := cpu.NewPool(cpu.PoolOptions{Units: units})
		if err != nil {
			return nil, err
		}
		// One more Go processor than units: the HTTP front end then never waits for Go's
		// 10 ms preemption of a busy unit before it can read a realtime request.
		prev := runtime.GOMAXPROCS(0)
		if prev <= pool.Units() {
			runtime.GOMAXPROCS(pool.Units() + 1)
		}
		closePool := func() error {
			err := pool.Close()
			runtime.GOMAXPROCS(prev)
			return err
		}
		return &servedDevice{Device: tenants.Device{Name: "cpu", Units: pool.Units(), UnitName: "units", Pool: pool},
			target: target, close: closePool}, nil
	case "emu":
		d, err := device.Open("emu", device.Options{Target: target, Units: units})
		if err != nil {
			return nil, err
		}
		if d.Units() != target.SMs {
			target.SMs = d.Units()
			target.Name = fmt.Sprintf("%s-%dsm", target.Name, d.Units())
		}
		return &servedDevice{Device: tenants.Device{Name: "emu", Units: d.Units(), UnitName: "SMs", Dev: d},
			target: target, close: d.Close}, nil
	}
	d, err := device.Open("cuda", device.Options{})
	if err != nil {
		return nil, err
	}
	if cd, ok := d.(*cuda.Device); ok {
		if target, err = cudaTarget(cd.Info()); err != nil {
			d.Close()
			return nil, err
		}
	}
	return &servedDevice{Device: tenants.Device{Name: "cuda", Units: d.Units(), UnitName: "SMs", Dev: d},
		target: target, close: d.Close}, nil
}

func runServe(ctx context.Context, c *cli.Context, st *serveSettings) error {
	log := st.logger
	dev, err := openServeDevice(c, st.device, st.units)
	if err != nil {
		return err
	}
	defer dev.close()
	if err := tenants.Admit(st.specs, dev.Units, dev.UnitName, st.policy); err != nil {
		return fmt.Errorf("admission on %s (%d %s, policy %s): %w", dev.Name, dev.Units, dev.UnitName, st.policy, err)
	}
	ts := make([]tenants.Tenant, 0, len(st.specs))
	for _, s := range st.specs {
		m, err := loadTenantModel(ctx, c, st, dev, s)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", s.Name, err)
		}
		ts = append(ts, tenants.Tenant{Spec: s, Model: m})
	}
	svc, err := tenants.Start(ctx, ts, tenants.Options{Device: dev.Device, Policy: st.policy, RealtimeBorrow: c.Bool("realtime-borrow")})
	if err != nil {
		return err
	}
	defer svc.Close()
	srv, err := serve.New(svc, serve.Config{Addr: st.listen, Version: version(), Tokens: svc.Tokens(), MaxBodyBytes: st.maxBody,
		InferTimeout: st.inferTime, TLSCertFile: c.String("tls-cert"), TLSKeyFile: c.String("tls-key"), Logger: log, Stats: svc})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", st.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", st.listen, err)
	}
	addr := l.Addr().String()
	if st.addrFile != "" {
		if err := os.WriteFile(st.addrFile, []byte(addr+"\n"), 0o644); err != nil {
			l.Close()
			return fmt.Errorf("--addr-file: %w", err)
		}
	}
	scheme := "http"
	if c.String("tls-cert") != "" {
		scheme = "https"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	log.Info("serving", "url", scheme+"://"+addr, "device", dev.Name, "units", dev.Units, "policy", string(st.policy),
		"tenants", strings.Join(names, ","))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving %s: %w", addr, err)
		}
		return nil
	case <-ctx.Done():
	}
	inflight := svc.Scheduler().InflightCount()
	log.Info("draining: new requests get 503, requests in flight finish", "in_flight", inflight, "timeout", st.drain.String())
	start := time.Now()
	dctx, cancel := context.WithTimeout(context.Background(), st.drain)
	defer cancel()
	shutErr := srv.Shutdown(dctx)
	drainErr := svc.Drain(dctx)
	<-served
	for _, t := range svc.Scheduler().Snapshot().Tenants {
		log.Info("tenant totals", "tenant", t.Name, "class", t.Class.String(), "completed", t.Completed, "failed", t.Failed, "slo_misses", t.SLOMisses)
	}
	if err := errors.Join(shutErr, drainErr); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	log.Info("drained and stopped", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// loadTenantModel loads a .erp plan, or opens an .onnx/zoo model and compiles it for the
// tenant's budget: its guarantee (realtime) or every unit (besteffort). On the cpu device the
// plan's optimized graph runs; its budget is the tenant's share scaled to the target's SMs.
func loadTenantModel(ctx context.Context, c *cli.Context, st *serveSettings, dev *servedDevice, s tenants.Spec) (tenants.Model, error) {
	w := st.out
	units := s.BudgetUnits(dev.Units)
	if strings.HasSuffix(strings.ToLower(s.Model), ".erp") {
		p, err := plan.Load(s.Model)
		if err != nil {
			return tenants.Model{}, err
		}
		fmt.Fprintf(w, "tenant %s: loaded %s (compiled for %s under %v; %d kernels)\n", s.Name, s.Model, p.Target.Name, p.Budget, len(p.Kernels))
		if dev.Name != "cpu" && p.Target.SMs != dev.target.SMs {
			return tenants.Model{}, fmt.Errorf("%s was compiled for %s (%d SMs); this device has %d: compile it for %s",
				s.Model, p.Target.Name, p.Target.SMs, dev.target.SMs, dev.target.Name)
		}
		return tenants.Model{Plan: p}, nil
	}
	start := time.Now()
	g, src, err := models.Open(s.Model, zoo.Options{Batch: 1})
	if err != nil {
		return tenants.Model{}, err
	}
	loaded := time.Since(start)
	sms := units
	if dev.Name == "cpu" {
		sms = max(1, min(dev.target.SMs, (units*dev.target.SMs+dev.Units-1)/dev.Units))
	}
	b := budget.Budget{SMs: sms}
	if s.Class == sched.BestEffort {
		b.MaxTileMicros = c.Float64("be-max-tile-us")
	}
	var rep compiler.Report
	t0 := time.Now()
	p, err := compiler.Compile(ctx, g, compiler.Options{Target: dev.target, Budget: b, Model: src.Spec, Dims: s.Dims, Batch: 1,
		Eval: cpu.EvalNode, Progress: progressPrinter(st.errw, s.Name), Report: &rep})
	if err != nil {
		return tenants.Model{}, err
	}
	where := fmt.Sprintf("%d of %d %s", units, dev.Units, dev.UnitName)
	if dev.Name == "cpu" {
		where = fmt.Sprintf("cpu device: runs the plan's graph on %d of %d units", units, dev.Units)
	}
	fmt.Fprintf(w, "tenant %s (%s): compiled %s for %s under %v (%s)\n", s.Name, s.Class, src.Spec, dev.target.Name, b, where)
	fmt.Fprintf(w, "  %d kernels, %d host steps, arena %s, estimated %.0f µs on %d SMs; compile %s, model load %s\n",
		len(p.Kernels), len(rep.Hosts), fmtBytes(p.Memory.ArenaBytes), planMicros(p), sms, fmtDur(time.Since(t0)), fmtDur(loaded))
	return tenants.Model{Plan: p}, nil
}
