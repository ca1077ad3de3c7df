#!/usr/bin/env python3
"""PyTorch eager peer of ElasticRoom on the GPU.

Loads ONNX models that `elasticroom zoo export` wrote (the same seeded weights our engine runs),
rebuilds each as a PyTorch eager program (one torch call per ONNX node, weights as CUDA
tensors), and times batch 1 and batch 32 inference on the GPU with CUDA events.

It needs no `onnx` package: the ONNX protobuf is parsed here (ModelProto -> GraphProto ->
NodeProto / TensorProto / AttributeProto / ValueInfoProto, the fields the zoo uses). Only
torch (and its numpy-free paths) is required on the device machine.

    python3 torch_zoo.py gpu-build/models/zoo/*.onnx [--batches 1,32] [--iters 50] [--json out.json]
    python3 torch_zoo.py --list-ops model.onnx     # parse only (works without torch)

Output: one line per model and batch: median latency over --iters runs after warm-up, in ms,
timed by CUDA events with inputs already on the GPU, the images (sequences) per second, and the
median host-to-host wall time (inputs copied in, outputs copied out, as ElasticRoom is timed); a model using an op this peer does not implement is
reported as skipped with the op's name.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

# ---------------------------------------------------------------- minimal protobuf reader


def _varint(b, i):
    shift = 0
    out = 0
    while True:
        c = b[i]
        i += 1
        out |= (c & 0x7F) << shift
        if c < 0x80:
            return out, i
        shift += 7


def _fields(b):
    """Yields (field number, wire type, value) of a protobuf message; value is an int for
    varints and fixed ints, a memoryview for length-delimited fields."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 1:
            v = struct.unpack_from("<Q", b, i)[0]
            i += 8
        elif w == 2:
            ln, i = _varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif w == 5:
            v = struct.unpack_from("<I", b, i)[0]
            i += 4
        else:
            raise ValueError("protobuf wire type %d not supported" % w)
        yield f, w, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed_varints(v, w):
    if w == 0:
        return [_signed(v)]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(_signed(x))
    return out


def _packed_floats(v, w):
    if w == 5:
        return [struct.unpack("<f", struct.pack("<I", v))[0]]
    return list(struct.unpack("<%df" % (len(v) // 4), bytes(v)))


# TensorProto data types
FLOAT, UINT8, INT8, INT32, INT64, BOOL, DOUBLE = 1, 2, 3, 6, 7, 9, 11
_FMT = {FLOAT: ("f", 4), UINT8: ("B", 1), INT8: ("b", 1), INT32: ("i", 4), INT64: ("q", 8), BOOL: ("?", 1), DOUBLE: ("d", 8)}


class Tensor:
    """An ONNX TensorProto: dims, data type and raw little-endian bytes (or a value list)."""

    def __init__(self):
        self.name, self.dims, self.dtype, self.raw, self.values = "", [], FLOAT, None, []

    @staticmethod
    def parse(b):
        t = Tensor()
        for f, w, v in _fields(b):
            if f == 1:
                t.dims += _packed_varints(v, w)
            elif f == 2:
                t.dtype = v
            elif f == 4:
                t.values += _packed_floats(v, w)
            elif f in (5, 7):  # int32_data, int64_data
                t.values += _packed_varints(v, w)
            elif f == 8:
                t.name = bytes(v).decode()
            elif f == 9:
                t.raw = bytes(v)
            elif f == 10:  # double_data
                t.values += list(struct.unpack("<%dd" % (len(v) // 8), bytes(v))) if w == 2 else [struct.unpack("<d", struct.pack("<Q", v))[0]]
            elif f == 14:
                raise ValueError("tensor %s: external data is not supported" % t.name)
        return t

    def to_list(self):
        if self.raw is not None:
            c, sz = _FMT[self.dtype]
            return list(struct.unpack("<%d%s" % (len(self.raw) // sz, c), self.raw))
        return list(self.values)


class Attr:
    def __init__(self):
        self.name, self.f, self.i, self.s, self.t, self.floats, self.ints, self.g = "", None, None, None, None, [], [], None

    @staticmethod
    def parse(b):
        a = Attr()
        for f, w, v in _fields(b):
            if f == 1:
                a.name = bytes(v).decode()
            elif f == 2:
                a.f = struct.unpack("<f", struct.pack("<I", v))[0]
            elif f == 3:
                a.i = _signed(v)
            elif f == 4:
                a.s = bytes(v).decode()
            elif f == 5:
                a.t = Tensor.parse(v)
            elif f == 6:
                a.g = Graph.parse(v)
            elif f == 7:
                a.floats += _packed_floats(v, w)
            elif f == 8:
                a.ints += _packed_varints(v, w)
        return a

    def value(self):
        for x in (self.t, self.g, self.s, self.f, self.i):
            if x is not None:
                return x
        return self.ints or self.floats


class Node:
    @staticmethod
    def parse(b):
        n = Node()
        n.inputs, n.outputs, n.name, n.op, n.domain, n.attrs = [], [], "", "", "", {}
        for f, w, v in _fields(b):
            if f == 1:
                n.inputs.append(bytes(v).decode())
            elif f == 2:
                n.outputs.append(bytes(v).decode())
            elif f == 3:
                n.name = bytes(v).decode()
            elif f == 4:
                n.op = bytes(v).decode()
            elif f == 5:
                a = Attr.parse(v)
                n.attrs[a.name] = a.value()
            elif f == 7:
                n.domain = bytes(v).decode()
        return n


def _value_info(b):
    """(name, elem_type, dims) of a ValueInfoProto; a symbolic dim is its name (a str)."""
    name, elem, dims = "", 0, []
    for f, w, v in _fields(b):
        if f == 1:
            name = bytes(v).decode()
        elif f == 2:  # TypeProto
            for f2, w2, v2 in _fields(v):
                if f2 == 1:  # tensor_type
                    for f3, w3, v3 in _fields(v2):
                        if f3 == 1:
                            elem = v3
                        elif f3 == 2:  # TensorShapeProto
                            for f4, w4, v4 in _fields(v3):
                                if f4 == 1:
                                    d = None
                                    for f5, w5, v5 in _fields(v4):
                                        d = _signed(v5) if f5 == 1 else bytes(v5).decode()
                                    dims.append(d)
    return name, elem, dims


class Graph:
    @staticmethod
    def parse(b):
        g = Graph()
        g.nodes, g.inits, g.inputs, g.outputs, g.name = [], {}, [], [], ""
        for f, w, v in _fields(b):
            if f == 1:
                g.nodes.append(Node.parse(v))
            elif f == 2:
                g.name = bytes(v).decode()
            elif f == 5:
                t = Tensor.parse(v)
                g.inits[t.name] = t
            elif f == 11:
                g.inputs.append(_value_info(v))
            elif f == 12:
                g.outputs.append(_value_info(v))
        g.inputs = [i for i in g.inputs if i[0] not in g.inits]
        return g


def load_model(path):
    with open(path, "rb") as fh:
        b = memoryview(fh.read())
    opset = 0
    graph = None
    for f, w, v in _fields(b):
        if f == 7:
            graph = Graph.parse(v)
        elif f == 8:  # OperatorSetIdProto
            dom, ver = "", 0
            for f2, w2, v2 in _fields(v):
                if f2 == 1:
                    dom = bytes(v2).decode()
                elif f2 == 2:
                    ver = v2
            if dom in ("", "ai.onnx"):
                opset = ver
    if graph is None:
        raise ValueError("%s: no graph" % path)
    graph.opset = opset
    return graph


# ---------------------------------------------------------------- torch eager interpreter


def build(graph, torch, device):
    """Returns fn(inputs dict) -> outputs list running graph eagerly with torch on device."""
    F = torch.nn.functional
    dt = {FLOAT: torch.float32, UINT8: torch.uint8, INT8: torch.int8, INT32: torch.int32, INT64: torch.int64, BOOL: torch.bool, DOUBLE: torch.float64}

    def const(t):
        shape = [int(d) for d in t.dims]
        if t.raw is not None:  # raw little-endian bytes: no Python list (VGG-16 has 138M weights)
            if not t.raw:
                return torch.zeros(shape, dtype=dt[t.dtype], device=device)
            return torch.frombuffer(bytearray(t.raw), dtype=dt[t.dtype]).reshape(shape).to(device)
        vals = t.to_list()
        x = torch.tensor(vals, dtype=dt[t.dtype]) if vals else torch.zeros(0, dtype=dt[t.dtype])
        return x.reshape(shape).to(device)

    weights = {k: const(t) for k, t in graph.inits.items()}

    def ints(x):
        return [int(v) for v in x.flatten().tolist()]

    def pads2(p, n):
        # ONNX pads [b1..bn, e1..en]; symmetric pads only (what the zoo uses)
        if not p:
            return [0] * n
        if p[:n] != p[n:]:
            raise NotImplementedError("asymmetric pads %s" % p)
        return p[:n]

    def conv(n, x, w, b=None):
        a = n.attrs
        nd = w.dim() - 2
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
            raise NotImplementedError("Conv auto_pad")
        fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
        return fn(x, w, b, stride=a.get("strides", [1] * nd), padding=pads2(a.get("pads"), nd), dilation=a.get("dilations", [1] * nd), groups=a.get("group", 1))

    def pool(n, x, kind):
        a = n.attrs
        k = a["kernel_shape"]
        nd = len(k)
        p = pads2(a.get("pads"), nd)
        s = a.get("strides", [1] * nd)
        if kind == "max":
            fn = {1: F.max_pool1d, 2: F.max_pool2d}[nd]
            return fn(x, k, s, p, dilation=a.get("dilations", [1] * nd), ceil_mode=bool(a.get("ceil_mode", 0)))
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d}[nd]
        return fn(x, k, s, p, ceil_mode=bool(a.get("ceil_mode", 0)), count_include_pad=bool(a.get("count_include_pad", 0)))

    def gemm(n, a_, b_, c=None):
        at = n.attrs
        if at.get("transA", 0):
            a_ = a_.t()
        if at.get("transB", 0):
            b_ = b_.t()
        y = at.get("alpha", 1.0) * (a_ @ b_)
        if c is not None:
            y = y + at.get("beta", 1.0) * c
        return y

    def reshape(n, x, shape):
        s = ints(shape)
        for i, d in enumerate(s):
            if d == 0 and not n.attrs.get("allowzero", 0):
                s[i] = x.shape[i]
        return x.reshape(s)

    def axes_of(n, args, key="axes"):
        if len(args) > 1 and args[1] is not None:
            return ints(args[1])
        return n.attrs.get(key)

    def reduce(fn):
        def r(n, *args):
            x = args[0]
            ax = axes_of(n, args)
            keep = bool(n.attrs.get("keepdims", 1))
            if not ax:
                if n.attrs.get("noop_with_empty_axes", 0):
                    return x
                ax = list(range(x.dim()))
            return fn(x, dim=ax, keepdim=keep)
        return r

    def unsqueeze(n, x, axes=None):
        ax = ints(axes) if axes is not None else n.attrs["axes"]
        ax = sorted(a % (x.dim() + len(ax)) for a in ax)
        for a in ax:
            x = x.unsqueeze(a)
        return x

    def squeeze(n, x, axes=None):
        ax = ints(axes) if axes is not None else n.attrs.get("axes")
        if not ax:
            return x.squeeze()
        for a in sorted((a % x.dim() for a in ax), reverse=True):
            x = x.squeeze(a)
        return x

    def slice_(n, x, starts, ends, axes=None, steps=None):
        st, en = ints(starts), ints(ends)
        ax = ints(axes) if axes is not None else list(range(len(st)))
        sp = ints(steps) if steps is not None else [1] * len(st)
        idx = [slice(None)] * x.dim()
        for s, e, a, p in zip(st, en, ax, sp):
            if p < 0:
                raise NotImplementedError("Slice with negative steps")
            dim = x.shape[a]
            s = max(0, min(dim, s + dim if s < 0 else s))
            e = max(0, min(dim, e + dim if e < 0 else e))
            idx[a % x.dim()] = slice(s, e, p)
        return x[tuple(idx)]

    def split(n, x, sizes=None):
        ax = n.attrs.get("axis", 0)
        if sizes is not None:
            return list(torch.split(x, ints(sizes), dim=ax))
        k = len(n.outputs)
        return list(torch.split(x, math.ceil(x.shape[ax] / k), dim=ax))

    def clip(n, x, lo=None, hi=None):
        lo = lo.item() if lo is not None and lo.numel() else n.attrs.get("min")
        hi = hi.item() if hi is not None and hi.numel() else n.attrs.get("max")
        return torch.clamp(x, lo, hi)

    def softmax(n, x):
        return torch.softmax(x, dim=n.attrs.get("axis", -1))

    def layernorm(n, x, scale, bias=None):
        ax = n.attrs.get("axis", -1) % x.dim()
        return F.layer_norm(x, x.shape[ax:], scale, bias, n.attrs.get("epsilon", 1e-5))

    def batchnorm(n, x, s, b, m, v):
        return F.batch_norm(x, m, v, s, b, False, 0.0, n.attrs.get("epsilon", 1e-5))

    def constant(n):
        v = n.attrs.get("value")
        if isinstance(v, Tensor):
            return const(v)
        if "value_float" in n.attrs:
            return torch.tensor(n.attrs["value_float"], device=device)
        if "value_int" in n.attrs:
            return torch.tensor(n.attrs["value_int"], device=device)
        if "value_ints" in n.attrs:
            return torch.tensor(n.attrs["value_ints"], device=device)
        raise NotImplementedError("Constant form")

    def cos(n, x, value=None):  # ConstantOfShape
        v = n.attrs.get("value")
        fill = const(v).reshape(-1)[0] if isinstance(v, Tensor) else torch.tensor(0.0, device=device)
        return torch.full(ints(x), fill.item(), dtype=fill.dtype, device=device)

    def gather(n, x, i):
        ax = n.attrs.get("axis", 0) % x.dim()
        i = torch.where(i < 0, i + x.shape[ax], i)
        return torch.index_select(x, ax, i.reshape(-1)).reshape(list(x.shape[:ax]) + list(i.shape) + list(x.shape[ax + 1:]))

    def flatten(n, x):
        ax = n.attrs.get("axis", 1) % max(x.dim(), 1)
        lead = 1
        for d in x.shape[:ax]:
            lead *= d
        return x.reshape(lead, -1)

    def cast(n, x):
        return x.to(dt[n.attrs["to"]])

    def gelu(n, x):
        return F.gelu(x, approximate="tanh" if n.attrs.get("approximate", "none") == "tanh" else "none")

    def resize(n, x, roi=None, scales=None, sizes=None):
        mode = n.attrs.get("mode", "nearest")
        if sizes is not None and sizes.numel():
            size = ints(sizes)[2:]
            return F.interpolate(x, size=size, mode="nearest" if mode == "nearest" else "bilinear", align_corners=False if mode != "nearest" else None)
        sc = [float(s) for s in scales.tolist()][2:]
        return F.interpolate(x, scale_factor=sc, mode="nearest" if mode == "nearest" else "bilinear", align_corners=False if mode != "nearest" else None)

    ops = {
        "Conv": conv, "Relu": lambda n, x: F.relu(x), "Sigmoid": lambda n, x: torch.sigmoid(x), "Tanh": lambda n, x: torch.tanh(x),
        "LeakyRelu": lambda n, x: F.leaky_relu(x, n.attrs.get("alpha", 0.01)),
        "HardSigmoid": lambda n, x: torch.clamp(n.attrs.get("alpha", 0.2) * x + n.attrs.get("beta", 0.5), 0, 1),
        "HardSwish": lambda n, x: F.hardswish(x), "Clip": clip, "Add": lambda n, a, b: a + b, "Sub": lambda n, a, b: a - b,
        "Mul": lambda n, a, b: a * b, "Div": lambda n, a, b: a / b if a.is_floating_point() else torch.div(a, b, rounding_mode="trunc"),
        "Pow": lambda n, a, b: torch.pow(a, b), "Sqrt": lambda n, x: torch.sqrt(x), "Exp": lambda n, x: torch.exp(x),
        "Log": lambda n, x: torch.log(x), "Erf": lambda n, x: torch.erf(x), "Neg": lambda n, x: -x, "Abs": lambda n, x: torch.abs(x),
        "Max": lambda n, *xs: _fold(torch.maximum, xs), "Min": lambda n, *xs: _fold(torch.minimum, xs),
        "Sum": lambda n, *xs: _fold(torch.add, xs), "Identity": lambda n, x: x, "Dropout": lambda n, x, *r: x,
        "MaxPool": lambda n, x: pool(n, x, "max"), "AveragePool": lambda n, x: pool(n, x, "avg"),
        "GlobalAveragePool": lambda n, x: x.mean(dim=list(range(2, x.dim())), keepdim=True),
        "GlobalMaxPool": lambda n, x: x.amax(dim=list(range(2, x.dim())), keepdim=True),
        "Gemm": gemm, "MatMul": lambda n, a, b: torch.matmul(a, b), "BatchNormalization": batchnorm,
        "Flatten": flatten, "Reshape": reshape, "Transpose": lambda n, x: x.permute(n.attrs.get("perm", list(range(x.dim() - 1, -1, -1)))),
        "Unsqueeze": unsqueeze, "Squeeze": squeeze, "Concat": lambda n, *xs: torch.cat(xs, dim=n.attrs["axis"]),
        "Slice": slice_, "Split": split, "Gather": gather, "Shape": lambda n, x: torch.tensor(list(x.shape), device=device),
        "Cast": cast, "Softmax": softmax, "LayerNormalization": layernorm, "Gelu": gelu, "Constant": constant,
        "ConstantOfShape": cos, "Where": lambda n, c, a, b: torch.where(c, a, b), "Equal": lambda n, a, b: a == b,
        "Less": lambda n, a, b: a < b, "Greater": lambda n, a, b: a > b, "Not": lambda n, x: ~x,
        "Expand": lambda n, x, s: x * torch.ones(ints(s), dtype=x.dtype, device=device),
        "ReduceMean": reduce(torch.mean), "ReduceSum": reduce(torch.sum), "ReduceMax": reduce(torch.amax),
        "Resize": resize, "Tile": lambda n, x, r: x.repeat(ints(r)),
    }

    missing = sorted({n.op for n in graph.nodes if n.op not in ops})
    if missing:
        raise NotImplementedError("ops " + ", ".join(missing))

    def run(feeds):
        env = dict(weights)
        env.update(feeds)
        for n in graph.nodes:
            args = [env[i] if i else None for i in n.inputs]
            while args and args[-1] is None:
                args.pop()
            out = ops[n.op](n, *args)
            if isinstance(out, (list, tuple)):
                for name, v in zip(n.outputs, out):
                    env[name] = v
            else:
                env[n.outputs[0]] = out
        return [env[o[0]] for o in graph.outputs]

    return run


def _fold(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


def make_inputs(graph, torch, device, batch, gen):
    feeds = {}
    for name, elem, dims in graph.inputs:
        # the first dim is the batch (symbolic in exported zoo models, or fixed at 1)
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in dims]
        if shape:
            shape[0] = batch
        if elem == INT64:
            x = torch.randint(1, 1000, shape, generator=gen, dtype=torch.int64)
            if "mask" in name:
                x = torch.ones(shape, dtype=torch.int64)
        else:
            x = torch.rand(shape, generator=gen) * 2 - 1
        feeds[name] = x.to(device)
    return feeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--list-ops", action="store_true", help="parse and list each model's ops (no torch needed)")
    args = ap.parse_args()

    if args.list_ops:
        for p in args.models:
            g = load_model(p)
            ops = sorted({n.op for n in g.nodes})
            print("%s: opset %d, %d nodes, %d initializers, inputs %s, ops %s" % (os.path.basename(p), g.opset, len(g.nodes), len(g.inits), g.inputs, " ".join(ops)))
        return 0

    import torch  # the device machine's PyTorch

    if not torch.cuda.is_available():
        print("torch_zoo: torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        return 1
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 like our kernels
    torch.backends.cudnn.allow_tf32 = False
    print("torch %s, CUDA %s, %s" % (torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0)))
    print("%-22s %6s %12s %14s  %s" % ("MODEL", "BATCH", "TORCH ms", "ITEMS/s", "NOTE"))
    results = []
    batches = [int(b) for b in args.batches.split(",") if b]
    for p in args.models:
        name = os.path.basename(p).rsplit(".", 1)[0]
        try:
            g = load_model(p)
            run = build(g, torch, device)
        except (NotImplementedError, ValueError, KeyError) as e:
            print("%-22s %6s %12s %14s  skipped: %s" % (name, "-", "-", "-", e))
            results.append({"model": name, "skipped": str(e)})
            continue
        for b in batches:
            gen = torch.Generator().manual_seed(1)
            try:
                feeds = make_inputs(g, torch, device, b, gen)
                with torch.inference_mode():
                    for _ in range(args.warmup):
                        run(feeds)
                    torch.cuda.synchronize()
                    times = []
                    for _ in range(args.iters):
                        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                        s.record()
                        run(feeds)
                        e.record()
                        e.synchronize()
                        times.append(s.elapsed_time(e))
            except (RuntimeError, NotImplementedError) as e:
                print("%-22s %6d %12s %14s  failed: %s" % (name, b, "-", "-", str(e).splitlines()[0]))
                results.append({"model": name, "batch": b, "failed": str(e)})
                torch.cuda.empty_cache()
                continue
            # Host to host, as an inference server sees it (and as ElasticRoom's exec.Run is
            # timed): inputs copied from host memory, outputs copied back, wall clock.
            host = {k: v.cpu() for k, v in feeds.items()}
            walls = []
            with torch.inference_mode():
                for _ in range(args.iters):
                    t0 = time.perf_counter()
                    outs = run({k: v.to(device) for k, v in host.items()})
                    outs = [o.cpu() for o in outs]
                    walls.append((time.perf_counter() - t0) * 1000.0)
            times.sort()
            walls.sort()
            med, wmed = times[len(times) // 2], walls[len(walls) // 2]
            print("%-22s %6d %12.3f %14.1f  host-to-host %.3f ms" % (name, b, med, b * 1000.0 / med, wmed))
            results.append({"model": name, "batch": b, "median_ms": med, "min_ms": times[0],
                            "host_median_ms": wmed, "host_min_ms": walls[0]})
            del feeds
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
