// Package passes is ElasticRoom's graph optimizer: the pass pipeline that turns an imported
// graph (compiler/graph, canonical ONNX operators) into the fused graph that compiler/lower
// maps onto kernels and runtime/cpu runs directly.
//
// The pipeline is one declared table (pipeline.go): every pass has a name, a function and a
// flag saying whether it may be disabled; ordering constraints between passes are pairs with
// a reason, checked by a test and at the start of every Run. Between passes Run can verify
// the IR (Graph.Verify plus shape inference) and dump it in a readable text form (Format).
// A pass that fails or panics is reported by name.
//
// Fused operators live in the "elasticroom" domain (FusedConv, FusedGemm, FusedMatMul,
// FusedElementwise, Attention; see ops.go for their exact semantics, which runtime/cpu and
// compiler/lower implement). Layer norm and GELU patterns become the standard ONNX
// LayerNormalization and Gelu. PlanMemory assigns every value of a concrete-shaped graph an
// offset in one arena (liveness-based reuse).
//
// passes imports compiler/graph, compiler/plan (the MemoryPlan type) and kernels/tensor. It
// must never import runtime/ or models/: constant folding evaluates nodes through the
// Options.Eval function its caller injects.
package passes
