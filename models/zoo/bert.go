package zoo

import (
	"fmt"
	"math"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// BERT-base dimensions.
const (
	bertVocab     = 30522
	bertHidden    = 768
	bertHeads     = 12
	bertHeadDim   = bertHidden / bertHeads
	bertFFN       = 3072
	bertLayers    = 12
	bertMaxPos    = MaxSeqLen
	bertTypeVocab = 2
	bertLNEps     = 1e-12
)

// onnxFloat is the ONNX TensorProto.DataType code of float32, for Cast's "to" attribute.
const onnxFloat = 1

// buildBERT builds the BERT-base encoder as Hugging Face's BertModel exports it, without the
// pooler: word + position + token-type embeddings (Gather; token types all 0) and LayerNorm,
// then Layers encoder layers of multi-head self-attention and a GELU feed-forward network,
// each followed by a residual add and LayerNorm (epsilon 1e-12). attention_mask (1 = attend)
// becomes the additive mask (1 - mask) * -10000 of shape [batch, 1, 1, seq]. Linear layers
// are MatMul with a [in, out] weight (PyTorch's weight transposed) plus an Add of the bias.
func buildBERT(b *builder, opt Options) error {
	seq, layers := opt.SeqLen, opt.Layers
	if seq == 0 {
		seq = DefaultSeqLen
	}
	if layers == 0 {
		layers = bertLayers
	}
	if seq < 0 || seq > bertMaxPos {
		return fmt.Errorf("sequence length %d is outside [1, %d]", seq, bertMaxPos)
	}
	if layers < 0 {
		return fmt.Errorf("layer count %d is negative", layers)
	}
	S := graph.D(int64(seq))
	hid := graph.Shape{b.batch, S, graph.D(bertHidden)}
	ids := b.input("input_ids", tensor.Int64, graph.Shape{b.batch, S})
	mask := b.input("attention_mask", tensor.Int64, graph.Shape{b.batch, S})

	// Embeddings.
	positions := make([]int64, seq)
	for i := range positions {
		positions[i] = int64(i)
	}
	posIDs := b.init("embeddings.position_ids", tensor.FromInt64([]int{1, seq}, positions))
	typeIDs := b.init("embeddings.token_type_ids", tensor.FromInt64([]int{1, seq}, make([]int64, seq)))
	word := b.gather("embeddings.word_embeddings", ids, bertVocab, 0.5, hid)
	pos := b.gather("embeddings.position_embeddings", posIDs, bertMaxPos, 0.3, graph.Shape{graph.D(1), S, graph.D(bertHidden)})
	typ := b.gather("embeddings.token_type_embeddings", typeIDs, bertTypeVocab, 0.3, graph.Shape{graph.D(1), S, graph.D(bertHidden)})
	x := b.add("embeddings.add_position", word, pos, hid)
	x = b.add("embeddings.add_token_type", x, typ, hid)
	x = b.layerNorm("embeddings.LayerNorm", x)

	// Additive attention mask: 0 where attended, -10000 where masked.
	m := b.node("Cast", "mask.cast", []string{mask}, tensor.Float32, graph.Shape{b.batch, S}, map[string]*graph.Attr{"to": aInt(onnxFloat)})
	m = b.node("Sub", "mask.invert", []string{b.scalar("const.one", 1), m}, tensor.Float32, graph.Shape{b.batch, S}, nil)
	m = b.node("Mul", "mask.scale", []string{m, b.scalar("const.mask_value", -10000)}, tensor.Float32, graph.Shape{b.batch, S}, nil)
	m = b.node("Unsqueeze", "mask", []string{m, b.ints("const.mask_axes", 1, 2)}, tensor.Float32, graph.Shape{b.batch, graph.D(1), graph.D(1), S}, nil)

	for l := range layers {
		x = b.encoderLayer(fmt.Sprintf("encoder.layer.%d", l), x, m, S)
	}
	b.output(x, "last_hidden_state")
	return b.err
}

// encoderLayer is one BERT layer: self-attention, add & norm, feed-forward, add & norm.
func (b *builder) encoderLayer(p, x, mask string, S graph.Dim) string {
	hid := graph.Shape{b.batch, S, graph.D(bertHidden)}
	heads := b.ints("const.heads_shape", 0, 0, bertHeads, bertHeadDim)
	merged := b.ints("const.hidden_shape", 0, 0, bertHidden)
	split := graph.Shape{b.batch, S, graph.D(bertHeads), graph.D(bertHeadDim)}
	perHead := graph.Shape{b.batch, graph.D(bertHeads), S, graph.D(bertHeadDim)}

	att := p + ".attention.self"
	proj := func(name string, perm ...int64) string {
		y := b.linear(att+"."+name, x, bertHidden)
		y = b.node("Reshape", att+"."+name+".reshape", []string{y, heads}, tensor.Float32, split, nil)
		shape := perHead
		if perm[2] == 3 {
			shape = graph.Shape{b.batch, graph.D(bertHeads), graph.D(bertHeadDim), S}
		}
		out := b.node("Transpose", att+"."+name+".transpose", []string{y}, tensor.Float32, shape, map[string]*graph.Attr{"perm": aInts(perm...)})
		b.st[out] = scalarMoments(0, 1)
		return out
	}
	q := proj("query", 0, 2, 1, 3)
	k := proj("key", 0, 2, 3, 1) // keys transposed for Q K^T
	v := proj("value", 0, 2, 1, 3)
	scores := graph.Shape{b.batch, graph.D(bertHeads), S, S}
	s := b.node("MatMul", att+".scores", []string{q, k}, tensor.Float32, scores, nil)
	s = b.node("Div", att+".scores.scale", []string{s, b.scalar("const.sqrt_head_dim", float32(math.Sqrt(bertHeadDim)))}, tensor.Float32, scores, nil)
	s = b.node("Add", att+".scores.masked", []string{s, mask}, tensor.Float32, scores, nil)
	s = b.node("Softmax", att+".probs", []string{s}, tensor.Float32, scores, map[string]*graph.Attr{"axis": aInt(-1)})
	c := b.node("MatMul", att+".context", []string{s, v}, tensor.Float32, perHead, nil)
	c = b.node("Transpose", att+".context.transpose", []string{c}, tensor.Float32, split, map[string]*graph.Attr{"perm": aInts(0, 2, 1, 3)})
	c = b.node("Reshape", att+".context.reshape", []string{c, merged}, tensor.Float32, hid, nil)
	b.st[c] = scalarMoments(0, 1) // a softmax-weighted average of rows of second moment 1

	c = b.linear(p+".attention.output.dense", c, bertHidden)
	c = b.add(p+".attention.output.add", c, x, hid)
	x = b.layerNorm(p+".attention.output.LayerNorm", c)

	f := b.linear(p+".intermediate.dense", x, bertFFN)
	f = b.gelu(p+".intermediate.gelu", f)
	f = b.linear(p+".output.dense", f, bertHidden)
	f = b.add(p+".output.add", f, x, hid)
	return b.layerNorm(p+".output.LayerNorm", f)
}

// gather adds an embedding table [rows, hidden] ~ N(0, std^2) and a Gather of ids from it.
func (b *builder) gather(name, ids string, rows int, std float64, shape graph.Shape) string {
	w := b.normal(name+".weight", []int{rows, bertHidden}, 0, std)
	out := b.node("Gather", name, []string{w, ids}, tensor.Float32, shape, map[string]*graph.Attr{"axis": aInt(0)})
	b.st[out] = scalarMoments(0, std*std)
	return out
}

// linear adds MatMul(x, W) + bias with W [in, out] scaled to an output of second moment 1.
// The MatMul node is name+".matmul"; the bias Add is name.
func (b *builder) linear(name, x string, n int) string {
	s := b.shape(x)
	k := b.dim(x, -1)
	w := b.normal(name+".weight", []int{k, n}, 0, 1/math.Sqrt(float64(k)*b.stats(x).q()))
	bias := b.normal(name+".bias", []int{n}, 0, 0.02)
	shape := append(append(graph.Shape{}, s[:len(s)-1]...), graph.D(int64(n)))
	y := b.node("MatMul", name+".matmul", []string{x, w}, tensor.Float32, shape, nil)
	out := b.node("Add", name, []string{y, bias}, tensor.Float32, shape, nil)
	b.st[out] = scalarMoments(0, 1)
	return out
}

// layerNorm adds LayerNormalization over the last axis with scale ~ 1 and a small bias.
func (b *builder) layerNorm(name, x string) string {
	n := b.dim(x, -1)
	scale := b.normal(name+".weight", []int{n}, 1, 0.05)
	bias := b.normal(name+".bias", []int{n}, 0, 0.05)
	out := b.node("LayerNormalization", name, []string{x, scale, bias}, tensor.Float32, b.shape(x),
		map[string]*graph.Attr{"axis": aInt(-1), "epsilon": aFloat(bertLNEps)})
	b.st[out] = scalarMoments(0, 1)
	return out
}

// gelu adds the exact GELU as exported from PyTorch: x * 0.5 * (1 + erf(x / sqrt(2))), as the
// nodes Div, Erf, Add, Mul, Mul.
func (b *builder) gelu(name, x string) string {
	shape := b.shape(x)
	d := b.node("Div", name+".div", []string{x, b.scalar("const.sqrt2", float32(math.Sqrt2))}, tensor.Float32, shape, nil)
	e := b.node("Erf", name+".erf", []string{d}, tensor.Float32, shape, nil)
	a := b.node("Add", name+".add", []string{e, b.scalar("const.one", 1)}, tensor.Float32, shape, nil)
	m := b.node("Mul", name+".mul", []string{x, a}, tensor.Float32, shape, nil)
	out := b.node("Mul", name, []string{m, b.scalar("const.half", 0.5)}, tensor.Float32, shape, nil)
	b.st[out] = scalarMoments(0, 0.425*b.stats(x).q()) // E[gelu(z)^2] = 0.425 for z ~ N(0, 1)
	return out
}
