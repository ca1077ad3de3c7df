// Package zoo builds ElasticRoom's built-in models directly as graph IR in canonical ONNX form,
// with seeded random weights (math/rand/v2 PCG; the same Options give bit-identical weights).
// Weights are scaled so that activations stay O(1) through the network, which makes numerical
// comparisons between executors meaningful. The package imports only compiler/graph and
// kernels/tensor; it must never import the compiler passes, the kernels or the runtime.
//
// Models (Options.Batch = 0 leaves the first dim symbolic, named "batch"):
//
//	name         inputs                                              output                          parameters
//	bert         input_ids int64 [batch, seq],                       last_hidden_state [batch,seq,768]  108,891,648
//	             attention_mask int64 [batch, seq] (1 = attend)
//	mlp          input float32 [batch, 784]                          probs [batch, 10]                      535,818
//	mobilenetv2  input float32 [batch, 3, 224, 224]                  logits [batch, 1000]                 3,504,872
//	resnet18     input float32 [batch, 3, 224, 224]                  logits [batch, 1000]                11,689,512
//	resnet50     input float32 [batch, 3, 224, 224]                  logits [batch, 1000]                25,557,032
//	vgg16        input float32 [batch, 3, 224, 224]                  logits [batch, 1000]               138,357,544
//
// bert's seq is Options.SeqLen (default 128, at most 512) and its depth Options.Layers
// (default 12). Its parameter count is BERT-base without the pooler: embeddings 23,837,184
// (word 30522x768, position 512x768, token type 2x768, LayerNorm 2x768) plus 12 layers of
// 7,087,872 (Q, K, V and attention output 4x(768x768+768), FFN 768x3072+3072 and
// 3072x768+768, two LayerNorms 2x2x768); the pooler (768x768+768) would make it 109,482,240.
//
// Weights are N(0, 1/(fan_in E[x^2])) with E[x^2] the estimated second moment of the layer's
// input (He/Kaiming init for unit ReLU inputs), biases small. Batch normalization is kept as
// separate BatchNormalization nodes whose running statistics are realistic: near the mean and
// variance each channel actually has on N(0, 1) inputs (estimated analytically while
// building; see stats.go), with random deviations, scale in [0.75, 1.25) and bias ~ N(0, 0.1^2).
// On random inputs the outputs then have O(1) spread and differ between inputs by tens of
// percent, so numerical comparisons between executors are meaningful.
//
// Layers follow torchvision's (and for bert Hugging Face's) module names, so weights are
// named like "layer1.0.conv1.weight" and nodes like "layer1.0.conv1" (a node's output value
// has the node's name). ParamCount counts the learned parameters (".weight" and ".bias"
// initializers) the way PyTorch's parameters() does. RandomInputs makes valid inputs for a
// built model.
package zoo
