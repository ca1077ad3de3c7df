// Runs an ONNX model in onnxruntime-node on .npy inputs; see bench/ortref/ort-run.mjs, which
// holds the script (bench/ortref embeds it into the Go binary) and documents its usage:
//   node scripts/ort-run.mjs MODEL.onnx OUTDIR NAME=IN.npy ... [--bench N] [--threads N]
//   node scripts/ort-run.mjs --list MODEL.onnx
import '../bench/ortref/ort-run.mjs';
