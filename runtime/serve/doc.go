// Package serve is the HTTP face of `elasticroom serve`: the KServe v2 / Open Inference
// Protocol (health, server and model metadata, model readiness, inference with JSON or
// binary tensor data), per-model bearer tokens, request size limits, Prometheus metrics at
// /metrics, structured request logs and graceful drain.
//
// It knows nothing of how a request is run: everything below it is reached through the
// Backend and StatsSource interfaces, which runtime/sched implements. It may import
// kernels/tensor, kernels/ref (half-precision conversions) and the standard library; it must
// never import runtime/sched, runtime/exec, a device package or anything of compiler/, so that
// the HTTP layer can be tested with fakes and the scheduler never depends on HTTP.
//
// Nothing taken from a request (a model name, a version, an id) ever reaches the filesystem:
// model names are only looked up among the models the Backend reports.
package serve
