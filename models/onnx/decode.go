package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/models/onnx/onnxpb"
)

// Opset range of the default domain the importer accepts. Opsets 22 and 23 changed none of
// the accepted operators' semantics (they added element types and new operators, which stay
// unsupported), so their models import too.
const (
	MinOpset = 9
	MaxOpset = 23
)

// ErrInvalidModel is wrapped by every error that says the bytes are not a usable ONNX model
// (not a protobuf ModelProto, no graph, ...).
var ErrInvalidModel = errors.New("not a valid ONNX model")

// DecodeOptions tunes Decode.
type DecodeOptions struct {
	// BaseDir is the directory external-data locations are relative to (the model file's
	// directory). Empty: a model with external data is an error.
	BaseDir string
}

// ModelInfo is what the ModelProto says about itself.
type ModelInfo struct {
	IRVersion       int64
	Opsets          map[string]int64 // domain -> version; the default domain is ""
	Producer        string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
}

// Opset is the imported version of the default domain.
func (m *ModelInfo) Opset() int64 { return m.Opsets[""] }

// UnsupportedOpError is an operator the importer does not accept.
type UnsupportedOpError struct {
	Node   string // node name, or a description such as "#12 (output y)" when it has none
	Op     string
	Domain string // "" for the default domain
	Opset  int64
	Reason string // optional detail
}

func (e *UnsupportedOpError) Error() string {
	op := e.Op
	if e.Domain != "" {
		op = e.Domain + "." + e.Op
	}
	msg := fmt.Sprintf("node %q (op %s, opset %d): unsupported operator", e.Node, op, e.Opset)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Load reads an ONNX model file; external data is looked up next to it.
func Load(path string) (*graph.Graph, *ModelInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load ONNX model: %w", err)
	}
	g, info, err := Decode(data, DecodeOptions{BaseDir: filepath.Dir(path)})
	if err != nil {
		return nil, nil, fmt.Errorf("load ONNX model %s: %w", path, err)
	}
	return g, info, nil
}

// Decode imports a serialized ModelProto into the graph IR in canonical form and verifies it.
func Decode(data []byte, opts DecodeOptions) (*graph.Graph, *ModelInfo, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	return decodeModel(&m, opts)
}

// DecodeProto imports an already parsed ModelProto (see Decode).
func DecodeProto(m *onnxpb.ModelProto, opts DecodeOptions) (*graph.Graph, *ModelInfo, error) {
	if m == nil {
		return nil, nil, fmt.Errorf("%w: nil model", ErrInvalidModel)
	}
	return decodeModel(m, opts)
}

func decodeModel(m *onnxpb.ModelProto, opts DecodeOptions) (*graph.Graph, *ModelInfo, error) {
	if m.GetGraph() == nil {
		return nil, nil, fmt.Errorf("%w: the model holds no graph", ErrInvalidModel)
	}
	if m.GetIrVersion() <= 0 {
		return nil, nil, fmt.Errorf("%w: ir_version is missing", ErrInvalidModel)
	}
	info := &ModelInfo{
		IRVersion:       m.GetIrVersion(),
		Opsets:          map[string]int64{},
		Producer:        m.GetProducerName(),
		ProducerVersion: m.GetProducerVersion(),
		Domain:          m.GetDomain(),
		ModelVersion:    m.GetModelVersion(),
		Doc:             m.GetDocString(),
	}
	for _, op := range m.GetOpsetImport() {
		if op == nil {
			continue
		}
		d := normDomain(op.GetDomain())
		if prev, ok := info.Opsets[d]; ok && prev != op.GetVersion() {
			return nil, nil, fmt.Errorf("%w: domain %q is imported twice (opsets %d and %d)", ErrInvalidModel, d, prev, op.GetVersion())
		}
		info.Opsets[d] = op.GetVersion()
	}
	opset, ok := info.Opsets[""]
	if !ok {
		return nil, nil, fmt.Errorf("model imports no opset of the default ONNX domain")
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, nil, fmt.Errorf("model uses opset %d of the default ONNX domain; supported: %d to %d", opset, MinOpset, MaxOpset)
	}
	im := &importer{opts: opts, opsets: info.Opsets, opset: opset, names: newNamer()}
	im.names.collectGraph(m.GetGraph())
	g, err := im.graph(m.GetGraph(), nil)
	if err != nil {
		return nil, nil, err
	}
	if err := g.Verify(); err != nil {
		return nil, nil, fmt.Errorf("imported graph %q does not verify: %w", g.Name, err)
	}
	return g, info, nil
}

// normDomain maps the default domain's aliases to "".
func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// namer hands out value and node names that collide with no name the model uses.
type namer struct {
	used map[string]bool
	next int
}

func newNamer() *namer { return &namer{used: map[string]bool{}} }

// collectGraph records every name used in gp and its subgraphs.
func (nm *namer) collectGraph(gp *onnxpb.GraphProto) {
	if gp == nil {
		return
	}
	for _, v := range gp.GetInput() {
		nm.used[v.GetName()] = true
	}
	for _, v := range gp.GetOutput() {
		nm.used[v.GetName()] = true
	}
	for _, v := range gp.GetValueInfo() {
		nm.used[v.GetName()] = true
	}
	for _, t := range gp.GetInitializer() {
		nm.used[t.GetName()] = true
	}
	for _, n := range gp.GetNode() {
		nm.used[n.GetName()] = true
		for _, s := range n.GetInput() {
			nm.used[s] = true
		}
		for _, s := range n.GetOutput() {
			nm.used[s] = true
		}
		for _, a := range n.GetAttribute() {
			nm.collectGraph(a.GetG())
			for _, sg := range a.GetGraphs() {
				nm.collectGraph(sg)
			}
		}
	}
}

// fresh returns an unused name built from base.
func (nm *namer) fresh(base string) string {
	if base == "" {
		base = "v"
	}
	for {
		nm.next++
		name := fmt.Sprintf("%s__er%d", base, nm.next)
		if !nm.used[name] {
			nm.used[name] = true
			return name
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
