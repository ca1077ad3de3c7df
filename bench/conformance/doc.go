// Package conformance holds the end-to-end conformance tests of ElasticRoom's CPU runtime:
// real ONNX models (from scripts/fetch-models) and the built-in zoo models, imported with
// models/onnx (the zoo ones exported with onnx.Save first) and run with runtime/cpu, must match
// onnxruntime (bench/ortref) within a relative error ||ours-ref||/||ref|| <= 1e-4 on every
// output. The package has no code outside its tests. It is a leaf: nothing imports it.
//
// The tests skip when onnxruntime-node or the models are missing (run scripts/fetch-models),
// and fail instead when ELASTICROOM_REQUIRE_REFS=1, as CI sets it.
package conformance
