package graph

import (
	"errors"
	"fmt"
)

// Verify checks the graph's structure: every node input is defined before use (by a graph
// input, an initializer, an earlier node, or an enclosing graph), no value is defined twice,
// every graph output is defined, attribute values match their kinds, and subgraphs verify
// too. It returns all problems found, joined.
func (g *Graph) Verify() error {
	return g.verify(nil)
}

// VerifyIn checks a subgraph whose enclosing graphs define outer.
func (g *Graph) VerifyIn(outer map[string]bool) error { return g.verify(outer) }

func (g *Graph) verify(outer map[string]bool) error {
	var errs []error
	defined := map[string]bool{}
	visible := func(name string) bool { return defined[name] || outer[name] }
	define := func(name, by string) {
		if name == "" {
			return
		}
		if defined[name] {
			errs = append(errs, fmt.Errorf("graph %q: value %q is defined twice (again by %s)", g.Name, name, by))
		}
		defined[name] = true
	}
	for _, v := range g.Inputs {
		if v == nil || v.Name == "" {
			errs = append(errs, fmt.Errorf("graph %q: an input has no name", g.Name))
			continue
		}
		define(v.Name, "graph input")
	}
	for name, t := range g.Initializers {
		if t == nil {
			errs = append(errs, fmt.Errorf("graph %q: initializer %q has no tensor", g.Name, name))
			continue
		}
		if err := t.Check(); err != nil {
			errs = append(errs, fmt.Errorf("graph %q: initializer %q: %w", g.Name, name, err))
		}
		if !defined[name] { // an initializer may also be listed as a graph input (a default)
			defined[name] = true
		}
	}
	for i, n := range g.Nodes {
		if n == nil {
			errs = append(errs, fmt.Errorf("graph %q: node #%d is nil", g.Name, i))
			continue
		}
		if n.Op == "" {
			errs = append(errs, fmt.Errorf("graph %q: node #%d (%q) has no op type", g.Name, i, n.Name))
		}
		for _, in := range n.Inputs {
			if in != "" && !visible(in) {
				errs = append(errs, fmt.Errorf("graph %q: %v reads %q, which is not defined before it", g.Name, n, in))
			}
		}
		for name, a := range n.Attrs {
			if err := a.check(); err != nil {
				errs = append(errs, fmt.Errorf("graph %q: %v attribute %q: %w", g.Name, n, name, err))
			}
			if a != nil && a.Type == AttrGraph && a.Graph != nil {
				scope := map[string]bool{}
				for k := range outer {
					scope[k] = true
				}
				for k := range defined {
					scope[k] = true
				}
				if err := a.Graph.verify(scope); err != nil {
					errs = append(errs, fmt.Errorf("graph %q: %v subgraph %q: %w", g.Name, n, name, err))
				}
			}
		}
		for _, out := range n.Outputs {
			define(out, n.String())
		}
	}
	for _, v := range g.Outputs {
		if v == nil || !visible(v.Name) {
			name := "<nil>"
			if v != nil {
				name = v.Name
			}
			errs = append(errs, fmt.Errorf("graph %q: output %q is never defined", g.Name, name))
		}
	}
	return errors.Join(errs...)
}

func (a *Attr) check() error {
	if a == nil {
		return errors.New("nil attribute")
	}
	switch a.Type {
	case AttrTensor:
		if a.Tensor == nil {
			return errors.New("tensor attribute holds no tensor")
		}
		return a.Tensor.Check()
	case AttrGraph:
		if a.Graph == nil {
			return errors.New("graph attribute holds no graph")
		}
	case AttrUndefined:
		return errors.New("attribute has no type")
	}
	return nil
}
