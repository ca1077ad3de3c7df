package graph

import (
	"fmt"
	"math"
)

// resizeInfer: Resize in its canonical form [X, roi, scales, sizes], and the older Upsample
// [X, scales].
var resizeInfer = map[string]inferFunc{
	"Resize":   func(c *inferCtx, n *Node) error { return inferResize(c, n, 2, 3) },
	"Upsample": func(c *inferCtx, n *Node) error { return inferResize(c, n, 1, -1) },
}

// inferResize: output dim = sizes[i] when sizes are given, else floor(dim * scales[i]) (as
// onnxruntime computes it, in float32).
func inferResize(c *inferCtx, n *Node, scalesAt, sizesAt int) error {
	x, err := c.req(n, 0)
	if err != nil {
		return err
	}
	if !x.RankKnown {
		c.setOutUnranked(n, 0, x.DType)
		return nil
	}
	r := len(x.Shape)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes", nil); a != nil {
		if axes, err = normAxes(a, r); err != nil {
			return fmt.Errorf("input %s: %w", x.Shape, err)
		}
	}
	present := func(i int) (bool, error) {
		if i < 0 || n.Input(i) == "" {
			return false, nil
		}
		v, err := c.value(n.Input(i))
		if err != nil {
			return false, err
		}
		// An empty tensor stands for an absent input in older exports.
		return !(v.RankKnown && len(v.Shape) == 1 && v.Shape[0].Known() && v.Shape[0].Size == 0), nil
	}
	out := append(Shape{}, x.Shape...)
	hasSizes, err := present(sizesAt)
	if err != nil {
		return err
	}
	hasScales, err := present(scalesAt)
	if err != nil {
		return err
	}
	switch {
	case hasSizes:
		sizes, ok := c.knownElems(n, sizesAt)
		if !ok {
			for _, a := range axes {
				out[a] = Unknown()
			}
			break
		}
		if len(sizes) != len(axes) {
			return fmt.Errorf("sizes %v do not match the %d resized axes of input %s", elemsStr(sizes), len(axes), x.Shape)
		}
		policy := n.AttrString("keep_aspect_ratio_policy", "stretch")
		if policy == "stretch" {
			for i, a := range axes {
				out[a] = sizes[i].dim()
			}
			break
		}
		scale := math.Inf(1)
		if policy == "not_smaller" {
			scale = math.Inf(-1)
		}
		known := true
		for i, a := range axes {
			if !x.Shape[a].Known() || !sizes[i].known {
				known = false
				break
			}
			s := float64(sizes[i].v) / float64(x.Shape[a].Size)
			if policy == "not_smaller" {
				scale = max(scale, s)
			} else {
				scale = min(scale, s)
			}
		}
		for _, a := range axes {
			out[a] = Unknown()
			if known {
				out[a] = D(int64(math.Round(scale * float64(x.Shape[a].Size))))
			}
		}
	case hasScales:
		scales, ok := c.knownFloats(n, scalesAt)
		if !ok {
			for _, a := range axes {
				out[a] = Unknown()
			}
			break
		}
		if len(scales) != len(axes) {
			return fmt.Errorf("scales %v do not match the %d resized axes of input %s", scales, len(axes), x.Shape)
		}
		for i, a := range axes {
			s := float32(scales[i])
			if s <= 0 {
				return fmt.Errorf("scales %v must be positive", scales)
			}
			out[a] = mapDim(x.Shape[a], func(d int64) int64 { return int64(float32(d) * s) }, s == 1)
		}
	default:
		return fmt.Errorf("needs scales or sizes")
	}
	c.setOut(n, 0, x.DType, out)
	return nil
}
