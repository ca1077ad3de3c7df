package passes

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// Format prints g as text, one line per node:
//
//	%y = Conv(%x, %w) {strides=[1,1]} : f32[1,64,56,56]
//
// preceded by the graph's inputs and initializers (type only) and followed by its outputs.
// Subgraph attributes are printed indented below their node.
func Format(g *graph.Graph) string {
	var b strings.Builder
	formatGraph(&b, g, "")
	return b.String()
}

func formatGraph(b *strings.Builder, g *graph.Graph, ind string) {
	fmt.Fprintf(b, "%sgraph %s (", ind, g.Name)
	for i, v := range g.Inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%%%s: %s", v.Name, typeString(v))
	}
	b.WriteString(") {\n")
	names := make([]string, 0, len(g.Initializers))
	for k := range g.Initializers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t := g.Initializers[k]
		fmt.Fprintf(b, "%s  const %%%s : %s%s\n", ind, k, shortDType(t.DType), shapeOf(t.Shape))
	}
	for _, n := range g.Nodes {
		formatNode(b, g, n, ind+"  ")
	}
	b.WriteString(ind + "  return ")
	for i, v := range g.Outputs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%%%s", v.Name)
	}
	b.WriteString("\n" + ind + "}\n")
}

func formatNode(b *strings.Builder, g *graph.Graph, n *graph.Node, ind string) {
	b.WriteString(ind)
	for i, o := range n.Outputs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%%%s", o)
	}
	op := n.Op
	if n.Domain != "" {
		op = n.Domain + "." + op
	}
	fmt.Fprintf(b, " = %s(", op)
	for i, in := range n.Inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		if in == "" {
			b.WriteString("_")
		} else {
			fmt.Fprintf(b, "%%%s", in)
		}
	}
	b.WriteString(")")
	keys := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var subs []string
	if len(keys) > 0 {
		var parts []string
		for _, k := range keys {
			a := n.Attrs[k]
			if a != nil && a.Type == graph.AttrGraph {
				subs = append(subs, k)
				parts = append(parts, k+"=<graph>")
				continue
			}
			parts = append(parts, k+"="+attrString(a))
		}
		fmt.Fprintf(b, " {%s}", strings.Join(parts, ", "))
	}
	var types []string
	for _, o := range n.Outputs {
		if v, ok := g.Values[o]; ok {
			types = append(types, typeString(v))
		} else {
			types = append(types, "?")
		}
	}
	fmt.Fprintf(b, " : %s  // %s\n", strings.Join(types, ", "), n.Name)
	for _, k := range subs {
		if sg := n.Attrs[k].Graph; sg != nil {
			fmt.Fprintf(b, "%s  %s:\n", ind, k)
			formatGraph(b, sg, ind+"    ")
		}
	}
}

func attrString(a *graph.Attr) string {
	if a == nil {
		return "nil"
	}
	switch a.Type {
	case graph.AttrFloat:
		return fmtFloat(a.Float)
	case graph.AttrInt:
		return strconv.FormatInt(a.Int, 10)
	case graph.AttrString:
		return strconv.Quote(a.String)
	case graph.AttrTensor:
		if a.Tensor == nil {
			return "<nil tensor>"
		}
		return "tensor " + shortDType(a.Tensor.DType) + shapeOf(a.Tensor.Shape)
	case graph.AttrFloats:
		s := make([]string, len(a.Floats))
		for i, f := range a.Floats {
			s[i] = fmtFloat(f)
		}
		return "[" + strings.Join(s, ",") + "]"
	case graph.AttrInts:
		s := make([]string, len(a.Ints))
		for i, v := range a.Ints {
			s[i] = strconv.FormatInt(v, 10)
		}
		return "[" + strings.Join(s, ",") + "]"
	case graph.AttrStrings:
		s := make([]string, len(a.Strings))
		for i, v := range a.Strings {
			s[i] = strconv.Quote(v)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	return a.Type.String()
}

func fmtFloat(f float32) string {
	switch {
	case math.IsInf(float64(f), 1):
		return "inf"
	case math.IsInf(float64(f), -1):
		return "-inf"
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

func typeString(v *graph.Value) string {
	if !v.RankKnown {
		return shortDType(v.DType) + "[?]"
	}
	return shortDType(v.DType) + v.Shape.String()
}

func shapeOf(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

var shortNames = map[tensor.DType]string{tensor.Float32: "f32", tensor.Float16: "f16", tensor.BFloat16: "bf16",
	tensor.Float64: "f64", tensor.Int8: "i8", tensor.Uint8: "u8", tensor.Int16: "i16", tensor.Int32: "i32",
	tensor.Int64: "i64", tensor.Bool: "bool"}

func shortDType(d tensor.DType) string {
	if s, ok := shortNames[d]; ok {
		return s
	}
	return d.String()
}
