package onnx

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ortCompareScript runs two models on the same deterministic input and prints the largest
// relative difference of each output (by position), as "name err" lines.
const ortCompareScript = `
const ort = require(process.argv[1]);
(async () => {
  const opt = {logSeverityLevel: 3};
  const [a, b] = [await ort.InferenceSession.create(process.argv[2], opt), await ort.InferenceSession.create(process.argv[3], opt)];
  const dims = JSON.parse(process.argv[5]);
  const n = dims.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648; data[i] = s / 2147483648 - 0.5; }
  const feeds = {}; feeds[process.argv[4]] = new ort.Tensor('float32', data, dims);
  const ra = await a.run(feeds), rb = await b.run(feeds);
  const ka = a.outputNames, kb = b.outputNames;
  for (let i = 0; i < ka.length; i++) {
    const x = ra[ka[i]].data, y = rb[kb[i]].data;
    if (x.length !== y.length) { console.log(ka[i] + " length " + x.length + " vs " + y.length); continue; }
    let num = 0, den = 0;
    for (let j = 0; j < x.length; j++) { num += (Number(x[j]) - Number(y[j])) ** 2; den += Number(x[j]) ** 2; }
    console.log(ka[i] + " " + Math.sqrt(num / Math.max(den, 1e-30)));
  }
})().catch(e => { console.error(String(e)); process.exit(1); });
`

// TestRealModelsThroughExport imports each real model (upgrading it to canonical form),
// exports it, and checks onnxruntime computes the same outputs from both files: a numerical
// check of the importer's upgrades and of the exporter.
func TestRealModelsThroughExport(t *testing.T) {
	dir := realDir(t)
	node, mod := ortOrSkip(t)
	inputs := map[string]string{
		"ppocr_cls.onnx":          "[1,3,48,192]",
		"ppocrv4_det.onnx":        "[1,3,64,96]",
		"ppocrv4_rec.onnx":        "[1,3,48,320]",
		"oww_melspectrogram.onnx": "[1,16000]",
		"oww_embedding.onnx":      "[1,76,32,1]",
		"oww_hey_jarvis.onnx":     "[1,16,96]",
	}
	tmp := t.TempDir()
	for _, m := range realModels {
		t.Run(m.file, func(t *testing.T) {
			src := filepath.Join(dir, m.file)
			g, _, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(tmp, m.file)
			if err := Save(g, dst); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(node, "-e", ortCompareScript, mod, src, dst, m.input, inputs[m.file]).CombinedOutput()
			if err != nil {
				t.Fatalf("onnxruntime: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != m.output {
				t.Fatalf("outputs: %s", out)
			}
			for _, l := range lines {
				f := strings.Fields(l)
				e, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err != nil || e > 1e-5 {
					t.Errorf("output %s: relative error %s", f[0], f[len(f)-1])
				}
			}
			t.Logf("%s", out)
		})
	}
}
