// Package isolation is the benchmark behind `elasticroom bench isolation`: a real-time tenant
// with Poisson arrivals beside a best-effort tenant that saturates the device (closed loop),
// under every sharing policy of runtime/sched (ElasticRoom and its baselines), each tenant
// also measured alone under the same policy on the same device in the same run. It reports
// the real-time tenant's latency percentiles, p99 overhead over alone, goodput (requests
// within the SLO per second) and SLO misses, and the best-effort tenant's throughput and its
// ratio to alone (DESIGN.md section 7), as JSON, a markdown report and an SVG plot.
//
// It also holds what bench/sweep shares with it: opening a bench device (the cpu unit pool,
// or an emu/cuda device with plans compiled per unit budget), loading a model with seeded
// inputs, and exact order-statistic percentiles.
//
// isolation imports runtime/sched, runtime/cpu, runtime/exec, runtime/device (and the emu and
// cuda devices), compiler (to compile plans for emu/cuda) and models/; only cmd/ and other
// bench packages may import it, never runtime/ or anything below.
package isolation
