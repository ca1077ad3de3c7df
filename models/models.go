// Package models opens a model by name: an ONNX file path or a built-in zoo model
// ("zoo:resnet18", or a bare zoo name when no such file exists). It is the one place the CLI,
// the benches and the server turn a user's model argument into a graph. It imports only
// models/onnx, models/zoo and compiler/graph.
package models

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/elasticroom/elasticroom/compiler/graph"
	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
)

// Source says where a model came from.
type Source struct {
	Spec string // what the user gave
	Zoo  string // zoo model name, or "" for a file
	Path string // file path, or "" for a zoo model
}

// Open loads spec: "zoo:NAME" builds a zoo model with opt; a path loads an ONNX file; a bare
// name that is no file but is a zoo model builds that model.
func Open(spec string, opt zoo.Options) (*graph.Graph, Source, error) {
	src := Source{Spec: spec}
	if name, ok := strings.CutPrefix(spec, "zoo:"); ok {
		src.Zoo = name
		g, err := zoo.Build(name, opt)
		if err != nil {
			return nil, src, fmt.Errorf("model %q: %w", spec, err)
		}
		return g, src, nil
	}
	if _, err := os.Stat(spec); err != nil {
		if errors.Is(err, fs.ErrNotExist) && IsZooName(spec) {
			return Open("zoo:"+spec, opt)
		}
		return nil, src, fmt.Errorf("model %q: %w (give an .onnx file, or zoo:NAME for a built-in model; `elasticroom zoo list` lists them)", spec, err)
	}
	src.Path = spec
	g, _, err := onnx.Load(spec)
	if err != nil {
		return nil, src, fmt.Errorf("model %q: %w", spec, err)
	}
	return g, src, nil
}

// IsZooName reports whether name is a built-in model.
func IsZooName(name string) bool {
	for _, m := range zoo.List() {
		if m.Name == name {
			return true
		}
	}
	return false
}
