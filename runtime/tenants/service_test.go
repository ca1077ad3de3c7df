package tenants

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
	"github.com/elasticroom/elasticroom/runtime/cpu"
	"github.com/elasticroom/elasticroom/runtime/sched"
	"github.com/elasticroom/elasticroom/runtime/serve"
)

// reluGraph is y = Relu(x), x float32 [batch, 4].
func reluGraph() *graph.Graph {
	g := graph.New("relu")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(4)})}
	g.Outputs = []*graph.Value{graph.NewValue("y", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(4)})}
	g.Nodes = []*graph.Node{{Name: "relu", Op: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}
	return g
}

// gatedRunner doubles x; while gate is open (not closed) every run waits on it.
type gatedRunner struct {
	gate    chan struct{}
	running chan struct{} // receives one value per run started
}

func (r *gatedRunner) Slots() int { return 4 }
func (r *gatedRunner) Run(ctx context.Context, in map[string]*tensor.Tensor, _ *sched.Lease) (map[string]*tensor.Tensor, error) {
	if r.running != nil {
		r.running <- struct{}{}
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	x := in["x"].Float32s()
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = 2 * v
	}
	return map[string]*tensor.Tensor{"y": tensor.FromFloat32(in["x"].Shape, y)}, nil
}

func start(t *testing.T, r sched.Runner, specs ...Spec) *Service {
	t.Helper()
	ts := make([]Tenant, len(specs))
	for i, s := range specs {
		ts[i] = Tenant{Spec: s, Model: Model{Graph: reluGraph()}}
	}
	svc, err := Start(context.Background(), ts, Options{Device: Device{Name: "cpu", Units: 2, UnitName: "units"},
		runner: func(Tenant) (sched.Runner, error) { return r, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

var (
	rtSpec = Spec{Name: "rt", Model: "m", Class: sched.Realtime, Units: 1, SLO: time.Second, Token: "tok"}
	beSpec = Spec{Name: "be", Model: "m", Class: sched.BestEffort, Queue: 2}
)

func x(vals ...float32) map[string]*tensor.Tensor {
	return map[string]*tensor.Tensor{"x": tensor.FromFloat32([]int{1, len(vals)}, vals)}
}

func TestServiceModelsAndErrors(t *testing.T) {
	svc := start(t, &gatedRunner{}, rtSpec, beSpec)
	wantIO := serve.ModelInfo{Name: "rt", Tenant: "rt", Platform: "onnx",
		Inputs:  []serve.TensorInfo{{Name: "x", DType: tensor.Float32, Shape: []int{-1, 4}}},
		Outputs: []serve.TensorInfo{{Name: "y", DType: tensor.Float32, Shape: []int{-1, 4}}}}
	if got := svc.Models(); len(got) != 2 || !reflect.DeepEqual(got[0], wantIO) || got[1].Name != "be" {
		t.Errorf("Models() = %+v", got)
	}
	if m, ok := svc.Model("be"); !ok || m.Name != "be" {
		t.Errorf("Model(be) = %+v, %v", m, ok)
	}
	if !reflect.DeepEqual(svc.Tokens(), map[string][]string{"rt": {"tok"}}) {
		t.Errorf("Tokens() = %v", svc.Tokens())
	}
	out, err := svc.Infer(context.Background(), "rt", x(1, -2, 3, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if got := out["y"].Float32s(); !reflect.DeepEqual(got, []float32{2, -4, 6, 1}) {
		t.Errorf("y = %v, want 2x", got)
	}
	if _, err := svc.Infer(context.Background(), "rt", x(1, 2, 3)); !errors.Is(err, serve.ErrBadInput) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("wrong shape: %v, want ErrBadInput naming x", err)
	}
	if _, err := svc.Infer(context.Background(), "nope", x(1, 2, 3, 4)); !errors.Is(err, serve.ErrUnknownModel) {
		t.Errorf("unknown model: %v", err)
	}
	st := svc.Snapshot()
	if len(st) != 2 || st[0].Class != "realtime" || st[0].UnitsGuaranteed != 1 || st[0].Completed != 1 || st[1].Class != "besteffort" {
		t.Errorf("Snapshot() = %+v", st)
	}
	if st[0].Goodput <= 0 {
		t.Errorf("goodput %v after an on-time request, want > 0", st[0].Goodput)
	}
}

// TestServiceOverloadAndDrain: past its queue bound a tenant's requests are refused as
// overloaded; a drain refuses new requests as not ready and lets those in flight finish.
func TestServiceOverloadAndDrain(t *testing.T) {
	r := &gatedRunner{gate: make(chan struct{}), running: make(chan struct{}, 8)}
	svc := start(t, r, rtSpec, beSpec)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Infer(context.Background(), "be", x(1, 2, 3, 4))
			errs <- err
		}()
	}
	<-r.running
	<-r.running
	if _, err := svc.Infer(context.Background(), "be", x(1, 2, 3, 4)); !errors.Is(err, serve.ErrOverloaded) {
		t.Errorf("third request on queue=2: %v, want ErrOverloaded", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- svc.Drain(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for svc.Ready("be") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if svc.Ready("be") {
		t.Fatal("still ready while draining")
	}
	if _, err := svc.Infer(context.Background(), "rt", x(1, 2, 3, 4)); !errors.Is(err, serve.ErrNotReady) {
		t.Errorf("request while draining: %v, want ErrNotReady", err)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) with requests in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("in-flight request during drain: %v", err)
		}
	}
	if err := <-drained; err != nil {
		t.Errorf("drain: %v", err)
	}
}

// TestServiceOnCPUPool runs the real runner: the graph on the cpu unit pool.
func TestServiceOnCPUPool(t *testing.T) {
	pool, err := cpu.NewPool(cpu.PoolOptions{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ts := []Tenant{{Spec: rtSpec, Model: Model{Graph: reluGraph()}}, {Spec: beSpec, Model: Model{Graph: reluGraph()}}}
	svc, err := Start(context.Background(), ts, Options{Device: Device{Name: "cpu", Units: 2, UnitName: "units", Pool: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, name := range []string{"rt", "be"} {
		out, err := svc.Infer(context.Background(), name, x(1, -2, 3, -0.5))
		if err != nil {
			t.Fatal(err)
		}
		if got := out["y"].Float32s(); !reflect.DeepEqual(got, []float32{1, 0, 3, 0}) {
			t.Errorf("%s: relu = %v", name, got)
		}
	}
	// Admission is the scheduler's: two realtime tenants of 2 units do not fit 2 units.
	other := rtSpec
	other.Name = "rt2"
	other.Units = 2
	_, err = Start(context.Background(), append(ts, Tenant{Spec: other, Model: Model{Graph: reluGraph()}}),
		Options{Device: Device{Name: "cpu", Units: 2, UnitName: "units", Pool: pool}})
	var ae *sched.AdmissionError
	if !errors.As(err, &ae) || ae.Tenant != "rt2" {
		t.Errorf("over-subscribed start: %v, want an admission error naming rt2", err)
	}
}
