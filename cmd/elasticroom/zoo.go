package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/models/zoo"
)

func zooCommand() *cli.Command {
	return &cli.Command{
		Name:  "zoo",
		Usage: "list the built-in models, or export one as ONNX",
		Description: `The zoo holds standard architectures (ResNet, MobileNetV2, VGG, BERT, an MLP) built in Go
with seeded random weights: real shapes and real compute, no downloads. Any command that takes
a MODEL accepts zoo:NAME.`,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the built-in models with their inputs",
				Action: func(c *cli.Context) error {
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tINPUTS\tDESCRIPTION")
					for _, m := range zoo.List() {
						var ins []string
						for _, in := range m.Inputs {
							ins = append(ins, fmt.Sprintf("%s %v%v", in.Name, in.DType, in.Shape))
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, strings.Join(ins, ", "), m.Description)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "export",
				Usage:     "write a built-in model as an ONNX file",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "ONNX file to write, `FILE.onnx`"},
					&cli.IntFlag{Name: "batch", Usage: "fixed batch size (0: a symbolic \"batch\" dim)"},
					&cli.IntFlag{Name: "seq-len", Usage: "sequence length of transformer models (0: the model's default)"},
					&cli.IntFlag{Name: "layers", Usage: "number of encoder layers of transformer models (0: the model's default)"},
					&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of the random weights (0: the zoo's default)"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("zoo export needs one model NAME (see `elasticroom zoo list`)")
					}
					opt := zoo.Options{Batch: c.Int("batch"), SeqLen: c.Int("seq-len"), Layers: c.Int("layers"), Seed: c.Uint64("seed")}
					g, err := zoo.Build(c.Args().First(), opt)
					if err != nil {
						return err
					}
					out := c.String("output")
					if err := onnx.Save(g, out); err != nil {
						return fmt.Errorf("zoo export %s: %w", c.Args().First(), err)
					}
					st, err := os.Stat(out)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "wrote %s (%d nodes, %.1f MB)\n", out, len(g.Nodes), float64(st.Size())/1e6)
					return nil
				},
			},
		},
	}
}
