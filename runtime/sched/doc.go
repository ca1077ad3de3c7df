// Package sched is ElasticRoom's multi-tenant scheduler: tenants (a model's runner, a
// priority class, guaranteed units, a latency SLO, a batch bound), admission control (the
// real-time guarantees must fit the device's units), a unit partition manager and the strong
// priority policy of DESIGN.md section 6: a real-time request starts at once on its guaranteed
// units, best-effort work is shrunk off them through its unit mask (the persistent kernels'
// sm_mask, the cpu pool's Mask) and regrown when they free up, best-effort grows into every
// idle unit, and may be batched.
//
// The baselines of the evaluation are policies of the same scheduler, so that they run in the
// same harness: timeshare (one request at a time, FIFO, whole device), priority-streams
// (concurrent, real-time first, no reservation, a run keeps the units it started with),
// static-partition (fixed disjoint unit sets, MPS/MIG-like), preempt-only (Tally-like:
// best-effort yields on real-time arrival, real-time then takes every unit) and elasticroom.
//
// Runners and the clock are interfaces (Runner, Clock): the policy is tested with fakes, and
// the adapters over runtime/exec instances (emu, cuda: units are SMs) and over the runtime/cpu
// unit pool run real models.
//
// sched imports runtime/exec, runtime/cpu, compiler/plan, compiler/graph and kernels/tensor;
// nothing below it (exec, device, cpu, compiler) may import sched. runtime/serve and bench
// build on it.
package sched
