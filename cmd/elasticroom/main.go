// Command elasticroom is the ElasticRoom CLI: compile models under a GPU resource budget, run
// them, serve several tenants on one device, and benchmark. Each subcommand lives in its own
// file and only turns flags into calls of the packages below it.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := newApp()
	if err := app.Run(permuteArgs(app, os.Args)); err != nil {
		fmt.Fprintf(os.Stderr, "elasticroom: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "elasticroom",
		Usage: "a multi-tenant DNN inference engine: real-time tenants keep their latency, best-effort tenants use every idle cycle",
		Description: `ElasticRoom compiles each model into GPU kernels that respect a resource budget (SMs,
registers, shared memory, the longest time one tile may hold an SM) and co-schedules tenants
with strong priority. Without a GPU it runs the same models on its CPU device.

Typical use:
   elasticroom devices                                   # what this machine offers
   elasticroom zoo list                                  # built-in models
   elasticroom run zoo:resnet18 --random-inputs          # run one on the default device
   elasticroom run model.onnx --input x=x.npy --output-dir out/
   elasticroom compile model.onnx --sm-budget=20 -o model.erp && elasticroom inspect model.erp
   elasticroom serve --tenant name=rt,model=zoo:mlp,class=realtime,sms=1,slo=20ms \
                     --tenant name=be,model=zoo:resnet18,class=besteffort
   elasticroom bench isolation --duration 10s           # real-time vs best-effort, five policies`,
		Version:              version(),
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			runCommand(),
			zooCommand(),
			benchCommand(),
			devicesCommand(),
			compileCommand(),
			inspectCommand(),
			serveCommand(),
			loadgenCommand(),
			versionCommand(),
		},
	}
}
