// ort-run: runs an ONNX model in onnxruntime-node (CPU execution provider) on .npy inputs and
// writes every output as OUTDIR/<sanitized output name>.npy, plus OUTDIR/outputs.json naming
// which file holds which output. It is ElasticRoom's numerical and speed reference.
//
//   node scripts/ort-run.mjs MODEL.onnx OUTDIR NAME=IN.npy ... [--bench N] [--threads N]
//   node scripts/ort-run.mjs --list MODEL.onnx
//
// OUTDIR "-" writes no outputs. --bench N times N runs after one warm-up and prints
// {"model":..,"median_ms":..,"runs":[..],"threads":..} on stdout. --list prints the model's
// inputs and outputs as JSON. Sessions use all cores for intra-op threads (unless --threads)
// and onnxruntime's default graph optimizations. onnxruntime-node is found at
// $ELASTICROOM_ORT_DIR, else $ELASTICROOM_CACHE/ort/node_modules/onnxruntime-node, else
// <repo>/.cache/ort/node_modules/onnxruntime-node (scripts/fetch-models installs it).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function fail(msg) {
  process.stderr.write(`ort-run: ${msg}\n`);
  process.exit(1);
}

function ortDir() {
  if (process.env.ELASTICROOM_ORT_DIR) return process.env.ELASTICROOM_ORT_DIR;
  if (process.env.ELASTICROOM_CACHE) return path.join(process.env.ELASTICROOM_CACHE, 'ort/node_modules/onnxruntime-node');
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  return path.join(repo, '.cache/ort/node_modules/onnxruntime-node');
}

function loadOrt() {
  const dir = ortDir();
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    fail(`onnxruntime-node not found at ${dir}: run scripts/fetch-models (or set ELASTICROOM_ORT_DIR)`);
  }
  return createRequire(import.meta.url)(dir);
}

// --- .npy ---------------------------------------------------------------------------------

const NPY_TYPES = {
  f4: ['float32', Float32Array], f8: ['float64', Float64Array], f2: ['float16', Uint16Array],
  i8: ['int64', BigInt64Array], i4: ['int32', Int32Array], i2: ['int16', Int16Array],
  i1: ['int8', Int8Array], u1: ['uint8', Uint8Array], b1: ['bool', Uint8Array],
};
const ORT_DESCR = {
  float32: '<f4', float64: '<f8', float16: '<f2', int64: '<i8', int32: '<i4', int16: '<i2',
  int8: '|i1', uint8: '|u1', bool: '|b1',
};

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not a .npy file`);
  const major = b[6];
  let hlen, off;
  if (major === 1) { hlen = b.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) { hlen = b.readUInt32LE(8); off = 12; }
  else fail(`${file}: unsupported .npy version ${major}`);
  const header = b.toString('utf8', off, off + hlen);
  const descr = /'descr'\s*:\s*'([<>|=]?)([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) fail(`${file}: cannot parse header ${header.trim()}`);
  if (fortran[1] === 'True') fail(`${file}: fortran_order arrays are not supported`);
  if (descr[1] === '>') fail(`${file}: big-endian arrays are not supported`);
  const t = NPY_TYPES[descr[2]];
  if (!t) fail(`${file}: element type ${descr[1]}${descr[2]} is not supported`);
  const dims = shapeM[1].split(',').map((s) => s.trim().replace(/L$/, '')).filter((s) => s !== '').map(Number);
  const n = dims.reduce((a, d) => a * d, 1);
  const start = off + hlen;
  const nbytes = n * t[1].BYTES_PER_ELEMENT;
  if (b.length - start < nbytes) fail(`${file}: shape [${dims}] needs ${nbytes} data bytes, file has ${b.length - start}`);
  const ab = b.buffer.slice(b.byteOffset + start, b.byteOffset + start + nbytes);
  return { type: t[0], dims, data: new t[1](ab) };
}

function writeNpy(file, type, dims, data) {
  const descr = ORT_DESCR[type];
  if (!descr) fail(`output ${file}: element type ${type} cannot be written as .npy`);
  let shape = dims.join(', ');
  if (dims.length === 1) shape += ',';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
  if (dims.length > 0) header += ' '.repeat(Math.max(0, 21 - String(dims[0]).length));
  const hlen = header.length + 1;
  const pad = 64 - ((10 + hlen) % 64);
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(hlen + pad, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1'), body]));
}

export function sanitize(name) {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

// --- main ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const a = { list: false, bench: 0, threads: os.availableParallelism ? os.availableParallelism() : os.cpus().length, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--list') a.list = true;
    else if (s === '--bench' || s === '--threads') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) fail(`${s} wants a positive integer`);
      a[s.slice(2)] = v;
    } else if (s.startsWith('--')) fail(`unknown flag ${s}`);
    else a.pos.push(s);
  }
  return a;
}

function meta(session, which) {
  const md = session[which + 'Metadata'];
  const names = session[which + 'Names'];
  return names.map((name, i) => {
    const m = md && md[i];
    return m && m.isTensor ? { name, type: m.type, shape: m.shape } : { name };
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const usage = 'usage: ort-run.mjs MODEL.onnx OUTDIR NAME=IN.npy ... [--bench N] [--threads N] | ort-run.mjs --list MODEL.onnx';
  if (a.pos.length < (a.list ? 1 : 2)) fail(usage);
  const ort = loadOrt();
  const model = a.pos[0];
  let session;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: a.threads });
  } catch (e) {
    fail(`loading ${model}: ${e.message}`);
  }
  if (a.list) {
    process.stdout.write(JSON.stringify({ inputs: meta(session, 'input'), outputs: meta(session, 'output') }) + '\n');
    return;
  }
  const outDir = a.pos[1];
  const feeds = {};
  for (const kv of a.pos.slice(2)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`input ${kv}: want NAME=FILE.npy`);
    const name = kv.slice(0, eq);
    if (!session.inputNames.includes(name)) fail(`model has no input ${JSON.stringify(name)} (inputs: ${session.inputNames.join(', ')})`);
    const t = readNpy(kv.slice(eq + 1));
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  for (const name of session.inputNames) if (!(name in feeds)) fail(`input ${JSON.stringify(name)} not given`);
  const run = async () => {
    try {
      return await session.run(feeds);
    } catch (e) {
      fail(`running ${model}: ${e.message}`);
    }
  };
  const results = await run();
  if (outDir !== '-') {
    fs.mkdirSync(outDir, { recursive: true });
    const used = new Set();
    const manifest = [];
    for (const name of session.outputNames) {
      const t = results[name];
      let base = sanitize(name);
      for (let k = 2; used.has(base); k++) base = `${sanitize(name)}_${k}`;
      used.add(base);
      const file = base + '.npy';
      writeNpy(path.join(outDir, file), t.type, t.dims, t.data);
      manifest.push({ name, file, type: t.type, dims: Array.from(t.dims) });
    }
    fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(manifest) + '\n');
  }
  if (a.bench > 0) {
    const runs = [];
    for (let i = 0; i < a.bench; i++) {
      const t0 = process.hrtime.bigint();
      await run();
      runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = [...runs].sort((x, y) => x - y);
    const m = sorted.length;
    const median = m % 2 ? sorted[(m - 1) / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
    process.stdout.write(JSON.stringify({ model, median_ms: median, runs, threads: a.threads }) + '\n');
  }
}

main().catch((e) => fail(e.stack || String(e)));
