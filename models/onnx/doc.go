// Package onnx imports ONNX models (opsets 9-21 of the default domain) into ElasticRoom's
// graph IR and exports graphs back to ONNX.
//
// The importer decodes the protobuf (onnxpb, generated), turns initializers, Constant nodes
// and external-data tensors into graph initializers, keeps declared shapes (dim_param as a
// symbolic dim) and value_info, imports control-flow subgraphs (If, Loop, Scan) recursively,
// and upgrades every older operator form to its canonical opset-21 form (Clip's min/max
// attributes become inputs, Unsqueeze/Squeeze/ReduceX axes become an input, Softmax before
// opset 13 is rewritten exactly, Upsample becomes Resize, ...), so nothing downstream needs
// to know the model's opset. The accepted operators are data (SupportedOps); an operator
// outside that list is an *UnsupportedOpError naming the node, the operator and the opset.
// Malformed input never panics: every length, dim and reference is checked.
//
// The exporter (Encode, Save) writes a ModelProto at opset 21 that onnxruntime loads.
//
// This package imports only compiler/graph, kernels/tensor, its generated onnxpb and the
// protobuf runtime; it must never import the rest of compiler/, runtime/ or cmd/.
package onnx
