package serve

import (
	"context"
	"errors"

	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Backend runs inference requests. runtime/sched implements it; tests use fakes.
// All methods are called concurrently from many request goroutines.
type Backend interface {
	// Models lists the models being served.
	Models() []ModelInfo
	// Ready reports whether model can take requests now.
	Ready(model string) bool
	// Infer runs one request. inputs are checked against the model's metadata before the
	// call (names, datatypes, ranks, fixed dims, element counts). The errors it returns
	// should wrap ErrUnknownModel, ErrBadInput, ErrOverloaded or ErrNotReady where they
	// apply; anything else is answered with 500. Infer must return when ctx is done.
	Infer(ctx context.Context, model string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
}

// ModelLookup is an optional fast path a Backend may implement: the server then finds a
// model by name without calling Models on every request.
type ModelLookup interface {
	Model(name string) (ModelInfo, bool)
}

// ModelInfo describes one served model.
type ModelInfo struct {
	Name string
	// Tenant labels the model's metrics; empty means the model's name.
	Tenant string
	// Platform is reported in the model metadata, e.g. "elasticroom_plan" or "onnx".
	Platform string
	// Versions lists the versions served; empty means a single unnamed version. A request
	// for /versions/{v} with v not listed is answered 404.
	Versions []string
	Inputs   []TensorInfo
	Outputs  []TensorInfo
}

// TensorInfo describes one input or output of a model.
type TensorInfo struct {
	Name  string
	DType tensor.DType
	// Shape has -1 for a dynamic dim (the batch, or an image's height and width).
	Shape []int
}

// The typed errors a Backend returns (wrapped, with a message, e.g.
// fmt.Errorf("input %q: %w", name, ErrBadInput)). The server maps them to status codes.
var (
	ErrUnknownModel = errors.New("unknown model")           // 404
	ErrBadInput     = errors.New("bad input")               // 400
	ErrOverloaded   = errors.New("overloaded, retry later") // 429 with Retry-After
	ErrNotReady     = errors.New("model not ready")         // 503
)

// StatsSource gives the scheduler's per-tenant state; the metrics endpoint calls Snapshot
// on every scrape, so it should be cheap and must be safe for concurrent use.
type StatsSource interface {
	Snapshot() []TenantStats
}

// TenantStats is one tenant's state at a scrape. Counters are totals since start.
type TenantStats struct {
	Model  string
	Tenant string // empty means Model
	// Class is the priority class ("realtime" or "besteffort"); it becomes a label.
	Class string
	// QueueDepth is the number of requests waiting.
	QueueDepth int
	// UnitsHeld is the number of units (SMs or CPU workers) the tenant holds now;
	// UnitsGuaranteed its reservation (0 for best effort).
	UnitsHeld       int
	UnitsGuaranteed int
	// Preemptions counts the tenant's kernels preempted (yielded) so far.
	Preemptions uint64
	// Completed counts requests completed; SLOMisses those that finished past their SLO.
	Completed uint64
	SLOMisses uint64
	// Goodput is requests completed within the SLO per second over the scheduler's last
	// window.
	Goodput float64
}
