package plan_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fmt"

	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/compiler/plan"
	"github.com/elasticroom/elasticroom/kernels/kir"
	"github.com/elasticroom/elasticroom/kernels/tensor"
)

// sample builds a plan exercising every attribute kind, a subgraph with its own
// initializers, symbolic and unknown dims, an unknown-rank value and every element type.
func sample(t testing.TB) *plan.Plan {
	g := graph.New("main")
	g.Inputs = []*graph.Value{
		graph.NewValue("x", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3), graph.Unknown()}),
		graph.NewValue("c", tensor.Bool, graph.Shape{}),
	}
	g.Outputs = []*graph.Value{{Name: "y", DType: tensor.Float32}}
	g.Values["h"] = graph.NewValue("h", tensor.Float32, graph.Shape{graph.P("batch"), graph.D(3), graph.D(5)})
	g.Initializers["w_f32"] = tensor.FromFloat32([]int{2, 2}, []float32{1, -2.5, float32(math.Inf(1)), 1e-38})
	g.Initializers["w_i64"] = tensor.FromInt64([]int{3}, []int64{math.MinInt64, 0, math.MaxInt64})
	g.Initializers["w_bool"] = tensor.FromBool([]int{2}, []bool{true, false})
	g.Initializers["w_scalar"] = tensor.FromFloat32(nil, []float32{7})
	g.Initializers["w_empty"] = tensor.MustNew(tensor.Float32, []int{0, 4})
	for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16, tensor.Float64, tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Int32} {
		tt := tensor.MustNew(dt, []int{3})
		switch d := tt.Data.(type) {
		case []uint16:
			d[0], d[2] = 0x3c00, 0xffff
		case []float64:
			d[1] = -math.Pi
		case []int8:
			d[0] = -128
		case []uint8:
			d[2] = 255
		case []int16:
			d[1] = -32768
		case []int32:
			d[0] = math.MinInt32
		}
		g.Initializers["w_"+dt.String()] = tt
	}
	branch := graph.New("then")
	branch.Initializers["k"] = tensor.FromFloat32([]int{1}, []float32{2})
	branch.Nodes = []*graph.Node{{Name: "m", Op: "Mul", Inputs: []string{"h", "k"}, Outputs: []string{"y_then"}}}
	branch.Outputs = []*graph.Value{graph.NewValue("y_then", tensor.Float32, nil)}
	elseB := graph.New("else")
	elseB.Outputs = []*graph.Value{{Name: "h"}}
	g.Nodes = []*graph.Node{
		{Name: "n1", Op: "FusedConv", Domain: "elasticroom", Inputs: []string{"x", "w_f32", ""}, Outputs: []string{"h"},
			Attrs: map[string]*graph.Attr{
				"f":       {Type: graph.AttrFloat, Float: float32(math.Inf(-1))},
				"nan":     {Type: graph.AttrFloat, Float: float32(math.NaN())},
				"tiny":    {Type: graph.AttrFloat, Float: 1.4e-45},
				"i":       {Type: graph.AttrInt, Int: -9007199254740993},
				"s":       {Type: graph.AttrString, String: "relu \"quoted\" ünïcode"},
				"t":       {Type: graph.AttrTensor, Tensor: tensor.FromInt64([]int{2}, []int64{4, 5})},
				"fs":      {Type: graph.AttrFloats, Floats: []float32{0.1, -0, 3e38}},
				"is":      {Type: graph.AttrInts, Ints: []int64{1, -1, 1 << 60}},
				"ss":      {Type: graph.AttrStrings, Strings: []string{"a", ""}},
				"empty":   {Type: graph.AttrInts, Ints: []int64{}},
				"nothing": {Type: graph.AttrFloats},
			}},
		{Name: "if", Op: "If", Inputs: []string{"c"}, Outputs: []string{"y"}, Attrs: map[string]*graph.Attr{
			"then_branch": {Type: graph.AttrGraph, Graph: branch},
			"else_branch": {Type: graph.AttrGraph, Graph: elseB},
		}},
	}
	if err := g.Verify(); err != nil {
		t.Fatalf("sample graph does not verify: %v", err)
	}
	tg, err := budget.LookupTarget("h100")
	if err != nil {
		t.Fatal(err)
	}
	b := budget.Budget{SMs: 20, MaxRegs: 64, MaxTileMicros: 50}
	kb := kir.NewKernel("k0", kir.Target{Arch: "sm_90", MaxRegs: 64, MaxThreads: 128})
	xp := kb.ParamPtr("x")
	kb.Store(xp, kb.Tid(0), kb.ConstF32(1.5))
	ir, err := kb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &plan.Plan{
		Model: "sample", Key: b.Key(tg), Target: tg, Budget: b, Graph: g,
		Kernels: []plan.Kernel{{Name: "k0", Op: "elasticroom.FusedConv", Nodes: []string{"n1"}, PTX: ".version 8.0\n.target sm_90\n",
			Grid: [3]int{132, 1, 1}, Block: [3]int{128, 1, 1}, Registers: 64, SharedBytes: 4096, Tiles: 40, BlocksPerSM: 2,
			Occupancy: 0.25, EstMicros: 12.5, EstTileMicros: 1.25,
			Params: []plan.Param{{Name: "x", Kind: plan.ParamBuffer}, {Name: "n", Kind: plan.ParamU32}, {Name: "ctl", Kind: plan.ParamCtl}},
			IR:     ir}},
		Launches: []plan.Launch{{Kernel: 0, Args: []plan.Arg{{Value: "x"}, {Int: 7}, {}}}, {Kernel: plan.HostStep, Host: "if"}},
		Memory: plan.MemoryPlan{Offsets: map[string]int64{"h": 0}, Sizes: map[string]int64{"h": 60}, ArenaBytes: 256,
			Alignment: 256, Live: map[string][2]int{"h": {0, 1}}},
		Inputs:  []graph.Value{*g.Inputs[0], *g.Inputs[1]},
		Outputs: []graph.Value{*g.Outputs[0]},
	}
}

func encode(t testing.TB, p *plan.Plan) []byte {
	var b bytes.Buffer
	if err := plan.Encode(&b, p); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	p := sample(t)
	data := encode(t, p)
	q, err := plan.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if q.Version != plan.FormatVersion {
		t.Errorf("Version = %d, want %d", q.Version, plan.FormatVersion)
	}
	// NaN != NaN: compare that attribute separately, then drop it from both.
	nan := q.Graph.Nodes[0].Attrs["nan"]
	if nan == nil || !math.IsNaN(float64(nan.Float)) {
		t.Errorf("NaN attribute came back as %+v", nan)
	}
	delete(q.Graph.Nodes[0].Attrs, "nan")
	delete(p.Graph.Nodes[0].Attrs, "nan")
	p.Version = plan.FormatVersion
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", q.Graph, p.Graph)
		for name, want := range p.Graph.Initializers {
			if !reflect.DeepEqual(q.Graph.Initializers[name], want) {
				t.Errorf("initializer %q: got %+v, want %+v", name, q.Graph.Initializers[name], want)
			}
		}
		for i := range p.Graph.Nodes {
			if !reflect.DeepEqual(p.Graph.Nodes[i], q.Graph.Nodes[i]) {
				t.Errorf("node %d: got %+v, want %+v", i, q.Graph.Nodes[i], p.Graph.Nodes[i])
			}
		}
	}
	// Encoding is deterministic.
	if again := encode(t, p); !bytes.Equal(again, encode(t, p)) {
		t.Error("two encodings of one plan differ")
	}
}

func TestSaveLoad(t *testing.T) {
	p := sample(t)
	path := filepath.Join(t.TempDir(), "m.erp")
	if err := plan.Save(path, p); err != nil {
		t.Fatal(err)
	}
	q, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Model != "sample" || len(q.Graph.Nodes) != 2 || q.Kernels[0].Grid != [3]int{132, 1, 1} {
		t.Errorf("loaded plan differs: %+v", q)
	}
	if _, err := plan.Load(filepath.Join(t.TempDir(), "absent.erp")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// reseal recomputes the trailing checksum after a deliberate edit.
func reseal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := encode(t, sample(t))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		data []byte
		want string
		is   error
	}{
		{"empty", nil, "bad magic", plan.ErrFormat},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic", plan.ErrFormat},
		{"onnx", []byte("\x08\x07\x12\x04onnx"), "bad magic", plan.ErrFormat},
		{"version", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[7:], 99); return reseal(b) }),
			fmt.Sprintf("format version 99, this build reads version %d", plan.FormatVersion), plan.ErrVersion},
		{"truncated", good[:len(good)/2], "checksum mismatch", plan.ErrFormat},
		{"header only", good[:12], "truncated", plan.ErrFormat},
		{"flipped bit", mut(func(b []byte) []byte { b[len(b)/2] ^= 4; return b }), "checksum mismatch", plan.ErrFormat},
		{"section count", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[11:], 3); return reseal(b) }),
			"section 2 header truncated", plan.ErrFormat},
		{"section tag", mut(func(b []byte) []byte { copy(b[15:], "ZZZZ"); return reseal(b) }), "unknown section", plan.ErrFormat},
		{"section length", mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[19:], 1<<62); return reseal(b) }),
			"claims", plan.ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := plan.Decode(bytes.NewReader(c.data))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
				t.Errorf("error %q, want it to contain %q and wrap %v", err, c.want, c.is)
			}
		})
	}
}

func TestHostStepMustNameANode(t *testing.T) {
	p := sample(t)
	p.Launches = append(p.Launches, plan.Launch{Kernel: plan.HostStep, Host: "no-such-node"})
	_, err := plan.Decode(bytes.NewReader(encode(t, p)))
	if err == nil || !strings.Contains(err.Error(), "no-such-node") || !errors.Is(err, plan.ErrFormat) {
		t.Fatalf("a host step for a missing node decoded: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	if err := plan.Encode(&bytes.Buffer{}, nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
	p := sample(t)
	p.Graph.Initializers["bad"] = &tensor.Tensor{DType: tensor.Float32, Shape: []int{3}, Data: []float32{1}}
	if err := plan.Encode(&bytes.Buffer{}, p); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("Encode of a malformed tensor: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good := encode(f, sample(f))
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte(plan.Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > len(plan.Magic)+12 && bytes.HasPrefix(data, []byte(plan.Magic)) {
			data = reseal(append([]byte(nil), data...)) // get past the checksum to the parser
		}
		p, err := plan.Decode(bytes.NewReader(data))
		if err == nil && p.Graph == nil {
			t.Error("Decode returned a plan without a graph")
		}
	})
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
