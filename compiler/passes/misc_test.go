package passes_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/passes"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

func formatGraph(g *graph.Graph) string { return passes.Format(g) }

func TestConstantFolding(t *testing.T) {
	b := newGB("fold")
	x := b.input("x", 2, 3, 4)
	shp := b.node("Shape", []string{x}, nil)
	n := b.node("Gather", []string{shp, b.ints("idx", 0)}, attrs("axis", aInt(0)))
	tgt := b.node("Concat", []string{n, b.ints("m1", -1)}, attrs("axis", aInt(0)))
	y := b.node("Reshape", []string{x, tgt}, nil)
	wt := b.node("Transpose", []string{b.w("w", -1, 1, 5, 12)}, attrs("perm", aInts(1, 0)))
	y = b.node("MatMul", []string{y, wt}, nil)
	big := b.node("Expand", []string{b.c("one", nil, 1), b.ints("bigshape", 2, 300000)}, nil) // not folded: too big
	y2 := b.node("ReduceSum", []string{big, b.ints("rax", 1)}, attrs("keepdims", aInt(0)))
	og := expectOps(t, b.output(y, y2), map[string]int{"Shape": 0, "Gather": 0, "Concat": 0, "Transpose": 0, "Expand": 1})
	if _, ok := og.Initializers["w"]; ok {
		t.Error("the unfolded weight survived dce")
	}
}

func TestIdentityElimination(t *testing.T) {
	b := newGB("ident")
	x := b.input("x", 2, 3)
	y := b.node("Identity", []string{x}, nil)
	y = b.node("Relu", []string{y}, nil)
	y = b.node("Dropout", []string{y}, nil)
	y = b.node("Cast", []string{y}, attrs("to", aInt(1)))
	y = b.node("Reshape", []string{y, b.ints("s", 2, 3)}, nil)
	y = b.node("Neg", []string{y}, nil)
	y = b.node("Identity", []string{y}, nil) // feeds the graph output
	og := expectOps(t, b.output(y), map[string]int{"Identity": 0, "Dropout": 0, "Cast": 0, "Reshape": 0})
	if len(og.Nodes) != 1 || og.Outputs[0].Name != y {
		t.Errorf("want one fused node writing %q, got:\n%s", y, passes.Format(og))
	}
}

func TestDeadNodes(t *testing.T) {
	b := newGB("dead")
	x := b.input("x", 4)
	b.node("Exp", []string{b.node("Relu", []string{x}, nil)}, nil) // unused
	y := b.node("Neg", []string{x}, nil)
	b.w("unused", 0, 1, 3)
	og := expectOps(t, b.output(y), map[string]int{"Exp": 0, "Relu": 0, "Neg": 1})
	if len(og.Initializers) != 0 {
		t.Errorf("initializers left: %v", len(og.Initializers))
	}
}

func TestRunDoesNotChangeInput(t *testing.T) {
	b := newGB("pure")
	x := b.input("x", 1, 3, 6, 6)
	g := b.output(b.node("Relu", []string{bn(b, conv(b, x, 3, 4, 3), 4)}, nil)).g
	before := passes.Format(g)
	if _, _, err := passes.Run(context.Background(), g, opts()); err != nil {
		t.Fatal(err)
	}
	if after := passes.Format(g); after != before {
		t.Errorf("Run changed its input graph:\n%s\n---\n%s", before, after)
	}
}

func TestDumpAndFormat(t *testing.T) {
	b := newGB("dump")
	x := b.input("x", 1, 3, 8, 8)
	y := b.node("Relu", []string{conv(b, x, 3, 4, 3, "strides", aInts(1, 1))}, nil)
	var out bytes.Buffer
	o := opts()
	o.DumpAfter, o.DumpTo = "fuse-conv", &out
	if _, _, err := passes.Run(context.Background(), b.output(y).g, o); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "// after fuse-conv\n") {
		t.Errorf("dump header missing: %q", s)
	}
	re := regexp.MustCompile(`(?m)^  %Relu_\w+ = elasticroom\.FusedConv\(%x, %w\d+\) \{activation="Relu", .*pads=\[1,1,1,1\], strides=\[1,1\]\} : f32\[1,4,8,8\]`)
	if !re.MatchString(s) {
		t.Errorf("dump does not show the fused conv:\n%s", s)
	}
	if _, _, err := passes.Run(context.Background(), b.g, passes.Options{DumpAfter: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown --dump-after pass: %v", err)
	}
}

func TestDisable(t *testing.T) {
	b := newGB("disable")
	x := b.input("x", 1, 3, 8, 8)
	g := b.output(b.node("Relu", []string{conv(b, x, 3, 4, 3)}, nil)).g
	o := opts()
	o.Disable = []string{"fuse-conv"}
	og, rep, err := passes.Run(context.Background(), g, o)
	if err != nil {
		t.Fatal(err)
	}
	if countOps(og)["elasticroom.FusedConv"] != 0 {
		t.Error("fuse-conv ran although disabled")
	}
	skipped := false
	for _, p := range rep.Passes {
		skipped = skipped || p.Name == "fuse-conv" && p.Skipped
	}
	if !skipped {
		t.Error("report does not mark fuse-conv skipped")
	}
	o.Disable = []string{"infer-shapes"}
	if _, _, err := passes.Run(context.Background(), g, o); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("disabling a required pass: %v", err)
	}
	o.Disable = []string{"no-such-pass"}
	if _, _, err := passes.Run(context.Background(), g, o); err == nil || !strings.Contains(err.Error(), "no-such-pass") {
		t.Errorf("disabling an unknown pass: %v", err)
	}
}

func TestBadGraphNamesPass(t *testing.T) {
	g := graph.New("bad")
	g.Inputs = []*graph.Value{graph.NewValue("x", tensor.Float32, graph.Dims(2, 3))}
	g.Nodes = []*graph.Node{{Name: "mm", Op: "MatMul", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}
	g.Outputs = []*graph.Value{{Name: "y"}}
	_, _, err := passes.Run(context.Background(), g, opts())
	if err == nil || !strings.Contains(err.Error(), `pass "infer-shapes"`) || !strings.Contains(err.Error(), "mm") {
		t.Errorf("error %v, want it to name the pass and the node", err)
	}
}
