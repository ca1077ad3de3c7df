// Package tenants turns tenant specifications (the --tenant flags and tenants.yaml of
// `elasticroom serve`) into a running multi-tenant service: a runtime/sched scheduler over one
// device's units, which the HTTP layer sees as a serve.Backend and a serve.StatsSource.
//
// It parses specs (ParseSpec, and ParseConfig for a small, documented YAML subset: no YAML
// dependency), checks admission before any model is loaded (Admit), and, given each tenant's
// loaded model (a compiled plan, or a graph for the cpu device), builds the runners and the
// scheduler (Start). Loading and compiling models is the caller's job (cmd/elasticroom), so
// that the runtime never depends on the compiler's passes.
//
// tenants imports runtime/serve, runtime/sched, runtime/exec, runtime/cpu, runtime/device,
// compiler/plan, compiler/graph and kernels/tensor; it must never import the rest of
// compiler/, models/, bench/ or cmd/.
package tenants
