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

func serveCommand() *cli.Command {
	return pending("serve", "serve several tenants on one device over the Open Inference Protocol (HTTP)",
		"the multi-tenant server lands with the serving issue")
}
