package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "list the devices this machine offers (GPUs through NVML and the driver; the CPU device)",
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "cpu   %d worker units (GOMAXPROCS), %s/%s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintln(w, "cuda  not built yet: GPU discovery (NVML) and the CUDA device land with the CUDA runtime issue")
			return nil
		},
	}
}
