package models

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// ConcreteShape resolves a declared input shape: symbolic dims take their size from dims
// (by dim_param name); a first dim that is still open takes batch when batch > 0. An open dim
// that nothing resolves is an error naming the input and the dim, so the user knows which
// --dim to pass.
func ConcreteShape(v *graph.Value, dims map[string]int, batch int) ([]int, error) {
	if !v.RankKnown {
		return nil, fmt.Errorf("input %q has no declared shape: pass its tensor with --input %s=FILE.npy", v.Name, v.Name)
	}
	out := make([]int, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d.Known():
			out[i] = int(d.Size)
		case d.Param != "" && dims[d.Param] > 0:
			out[i] = dims[d.Param]
		case i == 0 && batch > 0:
			out[i] = batch
		default:
			name := d.Param
			if name == "" {
				name = fmt.Sprintf("dim %d", i)
			}
			return nil, fmt.Errorf("input %q has shape %v: its %s is open; pass --dim %s=SIZE (or --batch for the first dim)", v.Name, v.Shape, name, d.Param)
		}
	}
	return out, nil
}

// RandomInputs makes a seeded random tensor for every graph input: floats ~ N(0,1), integers
// in [0, 10), bools at random. Zoo models have their own generator with valid token ids.
func RandomInputs(g *graph.Graph, dims map[string]int, batch int, seed uint64) (map[string]*tensor.Tensor, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ins := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		if g.IsInitializer(v.Name) {
			continue
		}
		shape, err := ConcreteShape(v, dims, batch)
		if err != nil {
			return nil, err
		}
		t, err := tensor.New(v.DType, shape)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", v.Name, err)
		}
		switch d := t.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = float32(rng.NormFloat64())
			}
		case []float64:
			for i := range d {
				d[i] = rng.NormFloat64()
			}
		case []int64:
			for i := range d {
				d[i] = rng.Int64N(10)
			}
		case []int32:
			for i := range d {
				d[i] = rng.Int32N(10)
			}
		case []bool:
			for i := range d {
				d[i] = rng.IntN(2) == 1
			}
		default:
			return nil, fmt.Errorf("input %q: no random generator for element type %v", v.Name, v.DType)
		}
		ins[v.Name] = t
	}
	return ins, nil
}

// ParseAssignments reads NAME=VALUE pairs (from repeated flags), rejecting duplicates.
func ParseAssignments(flag string, pairs []string) (map[string]string, []string, error) {
	out := map[string]string{}
	var order []string
	for _, p := range pairs {
		name, val, ok := strings.Cut(p, "=")
		if !ok || name == "" || val == "" {
			return nil, nil, fmt.Errorf("--%s %q: want NAME=VALUE", flag, p)
		}
		if _, dup := out[name]; dup {
			return nil, nil, fmt.Errorf("--%s: %q given twice", flag, name)
		}
		out[name] = val
		order = append(order, name)
	}
	sort.Strings(order)
	return out, order, nil
}
