#!/usr/bin/env python3
"""Check srtool's ONNX export with the real ONNX tools.

What it does
------------
For every fixture model (Fixtures/onnx/*/model.onnx, Fixtures/zoo/*/model.onnx,
Fixtures/caffe/* caffemodels with their prototxt, Fixtures/keras/*/model.h5 when present)
it runs

    srtool convert MODEL -o /tmp/.../model.onnx
    srtool run MODEL --input input.npy -o srtool.npy

then checks the exported file with onnx.checker.check_model(full_check=True) and runs it
with onnxruntime (CPUExecutionProvider, graph optimisations off). The onnxruntime output
must match srtool's own forward pass and the fixture's reference output (onnxruntime,
Caffe or Keras — whoever made the fixture) within atol + rtol·|ref| (1e-5, 1e-4).
Keras fixtures are NHWC: their input and outputs are transposed to NCHW first.

It prints one line per model and a summary, and exits 1 on any failure. A zoo model that
srtool refuses to import (exit 69: an architecture not yet supported, which the Swift
tests pin) is listed as skipped.

Usage
-----
    python3 Tools/check_onnx_export.py [--srtool .build/debug/srtool]

Needs: numpy, onnx, onnxruntime (pinned in Tools/setup --tests).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATOL, RTOL = 1e-5, 1e-4


def models():
    """(label, model path, extra srtool args, input npy, reference npy, layout)."""
    onnx_root = os.path.join(ROOT, "Fixtures", "onnx")
    for case in sorted(os.listdir(onnx_root)):
        d = os.path.join(onnx_root, case)
        yield f"onnx/{case}", os.path.join(d, "model.onnx"), [], os.path.join(d, "input.npy"), os.path.join(d, "output.npy"), "NCHW"
    zoo_root = os.path.join(ROOT, "Fixtures", "zoo")
    for case in sorted(os.listdir(zoo_root)):
        d = os.path.join(zoo_root, case)
        yield f"zoo/{case}", os.path.join(d, "model.onnx"), [], os.path.join(d, "input.npy"), os.path.join(d, "output.npy"), "NCHW"
    caffe_root = os.path.join(ROOT, "Fixtures", "caffe")
    for case in sorted(os.listdir(caffe_root)):
        d = os.path.join(caffe_root, case)
        m = json.load(open(os.path.join(d, "manifest.json")))
        if "files" not in m:
            continue  # prototxts without weights (data_layers: input shapes only)
        files = m["files"]
        ref = {o["name"]: os.path.join(d, o["file"]) for o in m.get("outputs", [])} or os.path.join(d, "output.npy")
        for weights in ("caffemodel", "h5"):
            yield (f"caffe/{case} ({weights})", os.path.join(d, files[weights]),
                   ["--prototxt", os.path.join(d, files["prototxt"])], os.path.join(d, "input.npy"), ref, "NCHW")
    keras_root = os.path.join(ROOT, "Fixtures", "keras")
    if os.path.isdir(keras_root):
        for case in sorted(os.listdir(keras_root)):
            d = os.path.join(keras_root, case)
            if os.path.exists(os.path.join(d, "model.h5")):
                yield f"keras/{case}", os.path.join(d, "model.h5"), [], os.path.join(d, "input.npy"), os.path.join(d, "output.npy"), "NHWC"


def close(got, want):
    if got.shape != want.shape:
        if got.size != want.size:
            return f"shape {got.shape} vs {want.shape}"
        got = got.reshape(want.shape)
    bad = np.abs(got - want) > ATOL + RTOL * np.abs(want)
    return None if not bad.any() else f"{bad.sum()} of {bad.size} differ, max |diff| {np.abs(got - want).max():.3g}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srtool", default=os.path.join(ROOT, ".build", "debug", "srtool"))
    args = ap.parse_args()
    failures = 0
    count = 0
    skipped = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, model, extra, x_path, ref_path, layout in models():
            count += 1
            out_onnx = os.path.join(tmp, "model.onnx")
            x = np.load(x_path)
            if layout == "NHWC":
                x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
            x_nchw = os.path.join(tmp, "input.npy")
            np.save(x_nchw, x.astype(np.float32))
            mine = os.path.join(tmp, "srtool.npy")
            try:
                subprocess.run([args.srtool, "convert", model, "-o", out_onnx] + extra, check=True, capture_output=True, text=True)
                subprocess.run([args.srtool, "run", model, "--input", x_nchw, "-o", mine] + extra, check=True, capture_output=True, text=True)
            except subprocess.CalledProcessError as e:
                if label.startswith("zoo/") and e.returncode == 69:
                    print(f"skip {label}: {e.stderr.strip()}")
                    count -= 1
                    skipped += 1
                    continue
                print(f"FAIL {label}: srtool {e.cmd[1]} exited {e.returncode}: {e.stderr.strip()}")
                failures += 1
                continue
            problems = []
            try:
                onnx.checker.check_model(onnx.load(out_onnx), full_check=True)
            except Exception as e:  # the checker's own exception types vary by version
                problems.append(f"onnx.checker: {e}")
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            so.intra_op_num_threads = 1
            sess = ort.InferenceSession(out_onnx, so, providers=["CPUExecutionProvider"])
            names = [o.name for o in sess.get_outputs()]
            ys = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})))
            # A dict names each reference output (a net with several); else the first output.
            refs = ref_path if isinstance(ref_path, dict) else {names[0]: ref_path}
            checks = [(f"srtool", names[0], np.load(mine))]
            for name, path in refs.items():
                ref = np.load(path)
                if layout == "NHWC" and ref.ndim == 4:
                    ref = ref.transpose(0, 3, 1, 2)
                checks.append((f"reference {name}", name, ref))
            for what, name, want in checks:
                why = "not an output of the exported model" if name not in ys else close(ys[name], want)
                if why:
                    problems.append(f"onnxruntime vs {what}: {why}")
            if problems:
                failures += 1
                print(f"FAIL {label}: " + "; ".join(problems))
            else:
                print(f"ok   {label}")
    print(f"check_onnx_export: {count - failures} of {count} exported models pass onnx.checker and match in onnxruntime"
          + (f" ({skipped} zoo models refused at import, skipped)" if skipped else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
