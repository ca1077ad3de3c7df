package conformance

import (
	"testing"

	"github.com/elasticroom/elasticroom/models/onnx"
	"github.com/elasticroom/elasticroom/runtime/cpu"
)

// TestImportedOpsRun checks that the importer produces no op the CPU runtime cannot run: every
// op an imported graph may contain (onnx.CanonicalOps: the accepted ops less those the
// importer always rewrites away, such as Constant) must be in cpu.SupportedOps.
func TestImportedOpsRun(t *testing.T) {
	have := map[string]bool{}
	for _, op := range cpu.SupportedOps() {
		have[op] = true
	}
	for _, op := range onnx.CanonicalOps() {
		if !have[op] {
			t.Errorf("the importer accepts %s but runtime/cpu cannot run it", op)
		}
	}
}
