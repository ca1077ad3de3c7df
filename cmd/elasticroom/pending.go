package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// pending is a subcommand whose implementation has not landed yet. It says so plainly and
// exits non-zero rather than pretending to work.
func pending(name, usage, what string) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           usage + " (not built yet)",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			return fmt.Errorf("%s is not built yet: %s", name, what)
		},
	}
}

func compileCommand() *cli.Command {
	return pending("compile", "compile a model into budgeted SM-aware GPU kernels (.erp plan)",
		"the resource-constrained compiler lands with the compiler issue; `elasticroom run MODEL --device cpu` runs models today")
}

func inspectCommand() *cli.Command {
	return pending("inspect", "show the kernels, budgets, registers and memory plan of a compiled .erp plan",
		"compiled plans land with the compiler issue")
}

func serveCommand() *cli.Command {
	return pending("serve", "serve several tenants on one device over the Open Inference Protocol (HTTP)",
		"the multi-tenant server lands with the serving issue")
}
