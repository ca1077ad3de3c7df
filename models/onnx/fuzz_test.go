package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and whatever it accepts
// must export and import again.
//
//	go test -run=^$ -fuzz=FuzzDecode -fuzztime=20s ./models/onnx
func FuzzDecode(f *testing.F) {
	seeds := []any{
		one(9, pbNode("Clip", "c", []string{"x"}, []string{"y"}, aFloat("min", 0), aFloat("max", 6))),
		one(11, pbNode("Softmax", "s", []string{"x"}, []string{"y"}, aInt("axis", 1))),
		one(9, pbNode("Slice", "s", []string{"x"}, []string{"y"}, aInts("starts", 0), aInts("ends", 1))),
		one(11, pbNode("Unsqueeze", "u", []string{"x"}, []string{"y"}, aInts("axes", 0))),
		ifModel(),
	}
	for _, s := range seeds {
		data, err := proto.Marshal(s.(proto.Message))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if data, err := Encode(exportGraph(), ExportOptions{}); err == nil {
		f.Add(data)
		f.Add(data[:len(data)*2/3])
	}
	if data, err := os.ReadFile(filepath.Join(repoRoot(), ".cache", "models", "real", "oww_hey_jarvis.onnx")); err == nil {
		f.Add(data[:4096])
	}
	f.Add([]byte{})
	f.Add([]byte("\x08\x07\x3a\x00"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		g, _, err := Decode(data, DecodeOptions{BaseDir: dir})
		if err != nil {
			return
		}
		out, err := Encode(g, ExportOptions{})
		if err != nil {
			t.Fatalf("an imported graph does not export: %v", err)
		}
		if _, _, err := Decode(out, DecodeOptions{}); err != nil {
			t.Fatalf("an exported graph does not import: %v", err)
		}
	})
}
