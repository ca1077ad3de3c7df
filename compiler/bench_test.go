package compiler_test

import (
	"testing"

	"github.com/elasticroom/elasticroom/compiler"
	"github.com/elasticroom/elasticroom/compiler/budget"
	"github.com/elasticroom/elasticroom/models/zoo"
)

// BenchmarkCompile compiles each zoo model (bert at its full 12 layers, seq 128) and each
// real model for sm_90 with 20 SMs; docs/perf.md records the figures.
func BenchmarkCompile(b *testing.B) {
	models := []testModel{{name: "bert-12x128", zoo: "bert", opt: zoo.Options{Batch: 1}}}
	for _, m := range zooModels {
		if m.zoo != "bert" {
			models = append(models, m)
		}
	}
	models = append(models, realModels...)
	tg := target(b, "sm_90")
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			g := load(b, m)
			var rep compiler.Report
			b.ResetTimer()
			for range b.N {
				if _, err := compile(b, m, tg, budget.Budget{SMs: 20}, &rep); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rep.Stages["passes"].Microseconds())/1e3, "passes-ms")
			b.ReportMetric(float64(rep.Stages["lower"].Microseconds())/1e3, "lower-ms")
			_ = g
		})
	}
}
