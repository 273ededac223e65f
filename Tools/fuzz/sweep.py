#!/usr/bin/env python3
"""Boundary-value sweep: every number a fixture model's description holds — each ONNX int,
ints and float attribute and small int initializer, each number in a Caffe prototxt, each
scalar in a Keras model_config — is replaced in turn by extreme values (0, −1, 2^31, 2^63−1,
−2^63, NaN, …), and `srtool run` must then either run the model or refuse it with one
`srtool: error:` line and exit 64, 65 or 69. libFuzzer's byte mutations rarely turn a small
number into 2^63; this reaches the shape arithmetic they miss (Tools/fuzz/run does the rest).

    Tools/fuzz/sweep.py [onnx|prototxt|keras …] [--quick]

--quick (CI) sweeps fewer values. Failing files are kept in $SRFUZZ_WORK/sweep/ (default
/tmp/srfuzz/sweep). Needs a release build, and pip's onnx, numpy and (for keras) h5py.
"""
import copy
import glob
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRTOOL = os.path.join(ROOT, ".build", "release", "srtool")
IMAGE = os.path.join(ROOT, "Fixtures", "bundled", "samples", "circle_1.png")
WORK = os.path.join(os.environ.get("SRFUZZ_WORK", "/tmp/srfuzz"), "sweep")
QUICK = "--quick" in sys.argv
INTS = [0, -1, 2**31, 2**63 - 1, -2**63] if QUICK else [0, -1, -2, 2**31 - 1, 2**31, 2**32 - 1, 2**40, 2**62, 2**63 - 1, -2**63]
FLOATS = [float("nan"), 1e30] if QUICK else [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.0]


def check(data, suffix, extra, what):
    """Runs srtool on one mutated file; returns a failure line or None."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=WORK)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    out = path + ".npy"
    try:
        r = subprocess.run([SRTOOL, "run", path, "-o", out] + extra, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SWIFT_BACKTRACE="enable=no"))
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        ok = r.returncode == 0 or (r.returncode in (64, 65, 69) and len(lines) == 1 and lines[0].startswith("srtool: error:")
                                   and "libhdf5 crashed" not in lines[0])
    except subprocess.TimeoutExpired:
        ok, r = False, None
    if ok:
        os.remove(path)
        if os.path.exists(out):
            os.remove(out)
        return None
    tail = "timed out after 120 s" if r is None else f"exit {r.returncode}: " + " | ".join(r.stderr.strip().splitlines()[-3:])[:300]
    return f"{what} → {tail} (kept as {path})"


def onnx_cases():
    import numpy as np
    import onnx
    from onnx import AttributeProto, numpy_helper
    models = sorted(glob.glob(os.path.join(ROOT, "Fixtures", "onnx", "*", "model.onnx")))
    models += sorted(glob.glob(os.path.join(ROOT, "Fixtures", "bundled", "*.onnx")))
    for f in models:
        base = onnx.load(f)
        inputs = glob.glob(os.path.join(os.path.dirname(f), "input.npy"))
        extra = ["--input", inputs[0]] if inputs else ["--image", IMAGE]
        name = os.path.relpath(f, ROOT)
        for ni, node in enumerate(base.graph.node):
            for ai, a in enumerate(node.attribute):
                slots = []
                if a.type == AttributeProto.INT:
                    slots = [(None, v) for v in INTS]
                elif a.type == AttributeProto.INTS:
                    slots = [(k, v) for k in range(len(a.ints)) for v in INTS]
                elif a.type == AttributeProto.FLOAT:
                    slots = [(None, v) for v in FLOATS]
                for k, v in slots:
                    m = copy.deepcopy(base)
                    attr = m.graph.node[ni].attribute[ai]
                    if a.type == AttributeProto.INT:
                        attr.i = v
                    elif a.type == AttributeProto.INTS:
                        attr.ints[k] = v
                    else:
                        attr.f = v
                    where = f"[{k}]" if k is not None else ""
                    yield m.SerializeToString(), ".onnx", extra, f"{name}: node '{node.name}' {a.name}{where} = {v}"
        for ii, init in enumerate(base.graph.initializer):
            arr = numpy_helper.to_array(init)
            if arr.dtype != np.int64 or arr.size > 8:
                continue
            for k in range(arr.size):
                for v in INTS:
                    a2 = arr.copy().reshape(-1)
                    a2[k] = v
                    m = copy.deepcopy(base)
                    m.graph.initializer[ii].CopyFrom(numpy_helper.from_array(a2.reshape(arr.shape), init.name))
                    yield m.SerializeToString(), ".onnx", extra, f"{name}: initializer '{init.name}'[{k}] = {v}"


def prototxt_cases():
    import re
    for proto in sorted(glob.glob(os.path.join(ROOT, "Fixtures", "caffe", "*", "deploy.prototxt"))):
        weights = sorted(glob.glob(os.path.join(os.path.dirname(proto), "*.caffemodel")))
        if not weights:
            continue
        text = open(proto).read()
        name = os.path.relpath(proto, ROOT)
        for m in re.finditer(r"(?<=: )-?[0-9][0-9.e+-]*", text):
            line = text[:m.start()].count("\n") + 1
            for v in [str(i) for i in INTS + [2**32 - 1]] + ["nan", "1e30"]:
                t = text[:m.start()] + v + text[m.end():]
                yield t.encode(), ".prototxt", ["--weights", weights[0], "--image", IMAGE], f"{name}:{line}: {m.group()} → {v}"


def keras_cases():
    import h5py

    def leaves(obj, path=()):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from leaves(v, path + (k,))
        elif isinstance(obj, list) and obj and not isinstance(obj[0], (dict, list)):
            yield path  # a list of scalars (kernel_size, strides) as a whole, then each element
            for i in range(len(obj)):
                yield path + (i,)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from leaves(v, path + (i,))
        else:
            yield path

    values = INTS + FLOATS[:1] + [None, "x", [0, 0], [-5, 3]]
    skip = {"name", "dtype", "class_name", "module", "registered_name", "trainable", "inbound_nodes", "batch_shape"}
    for f in sorted(glob.glob(os.path.join(ROOT, "Fixtures", "keras", "*", "model.h5"))):
        raw = open(f, "rb").read()
        with h5py.File(f, "r") as h:
            base = json.loads(h.attrs["model_config"])
        name = os.path.relpath(f, ROOT)
        extra = ["--input", os.path.join(os.path.dirname(f), "input.npy")]
        for p in leaves(base):
            if "config" not in p or any(k in skip for k in p if isinstance(k, str)):
                continue
            for v in values:
                c = json.loads(json.dumps(base))
                o = c
                for k in p[:-1]:
                    o = o[k]
                o[p[-1]] = v
                fd, tmp = tempfile.mkstemp(suffix=".h5", dir=WORK)
                with os.fdopen(fd, "wb") as out:
                    out.write(raw)
                with h5py.File(tmp, "r+") as h:
                    h.attrs["model_config"] = json.dumps(c)
                data = open(tmp, "rb").read()
                os.remove(tmp)
                yield data, ".h5", extra, f"{name}: {'/'.join(map(str, p))} = {v}"


def main():
    kinds = [a for a in sys.argv[1:] if not a.startswith("--")] or ["onnx", "prototxt", "keras"]
    os.makedirs(WORK, exist_ok=True)
    status = 0
    for kind in kinds:
        cases = {"onnx": onnx_cases, "prototxt": prototxt_cases, "keras": keras_cases}[kind]()
        results = []
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            while batch := list(itertools.islice(cases, 32)):  # a few mutated files in memory at a time
                results += pool.map(lambda c: check(*c), batch)
        failures = [r for r in results if r]
        for line in failures[:20]:
            print(f"sweep {kind}: {line}")
        print(f"sweep {kind}: {len(results)} files, {len(failures)} mishandled")
        status |= bool(failures)
    sys.exit(status)


if __name__ == "__main__":
    main()
