package zoo

import (
	"fmt"
	"math/rand/v2"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// RandomInputs makes seeded, valid inputs for g, a graph built from zoo model name: images
// and feature vectors ~ N(0, 1); token ids uniform over the vocabulary; attention masks of
// padded sequences (each row attends to a random prefix of at least one token). A symbolic
// first dim takes batch (1 when batch <= 0); a fixed first dim must equal batch when batch > 0.
func RandomInputs(name string, g *graph.Graph, batch int, seed uint64) (map[string]*tensor.Tensor, error) {
	if _, err := lookup(name); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("zoo model %q: no graph", name)
	}
	rng := rand.New(rand.NewPCG(seed, seedStream(name+"/inputs")))
	ins := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		if g.IsInitializer(v.Name) {
			continue
		}
		shape, err := inputShape(v, batch)
		if err != nil {
			return nil, fmt.Errorf("zoo model %q: %w", name, err)
		}
		t, err := tensor.New(v.DType, shape)
		if err != nil {
			return nil, fmt.Errorf("zoo model %q: input %q: %w", name, v.Name, err)
		}
		switch {
		case v.Name == "input_ids" && v.DType == tensor.Int64:
			vocab := int64(bertVocab)
			if w, ok := g.Initializers["embeddings.word_embeddings.weight"]; ok && len(w.Shape) == 2 {
				vocab = int64(w.Shape[0])
			}
			d := t.Int64s()
			for i := range d {
				d[i] = rng.Int64N(vocab)
			}
		case v.Name == "attention_mask" && v.DType == tensor.Int64 && len(shape) == 2:
			d, seq := t.Int64s(), shape[1]
			for r := range shape[0] {
				if seq == 0 {
					break
				}
				n := 1 + rng.IntN(seq) // attended prefix length in [1, seq]
				for j := range n {
					d[r*seq+j] = 1
				}
			}
		case v.DType == tensor.Float32:
			d := t.Float32s()
			for i := range d {
				d[i] = float32(rng.NormFloat64())
			}
		default:
			return nil, fmt.Errorf("zoo model %q: no generator for input %v", name, v)
		}
		ins[v.Name] = t
	}
	return ins, nil
}

// inputShape resolves a declared input shape for batch.
func inputShape(v *graph.Value, batch int) ([]int, error) {
	if !v.RankKnown {
		return nil, fmt.Errorf("input %q has no declared shape", v.Name)
	}
	out := make([]int, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d.Known() && i == 0 && batch > 0 && int(d.Size) != batch:
			return nil, fmt.Errorf("input %q has batch %d fixed in shape %v; asked for batch %d", v.Name, d.Size, v.Shape, batch)
		case d.Known():
			out[i] = int(d.Size)
		case i == 0 && batch > 0:
			out[i] = batch
		case i == 0:
			out[i] = 1
		default:
			return nil, fmt.Errorf("input %q has shape %v with open dim %d", v.Name, v.Shape, i)
		}
	}
	return out, nil
}
