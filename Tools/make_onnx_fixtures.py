#!/usr/bin/env python3
"""Write the small ONNX fixture models and their onnxruntime reference outputs.

What it does
------------
Builds tiny ONNX graphs directly with onnx.helper + numpy (no exporter in the way,
so every attribute, opset and storage detail is exactly the one under test), runs
each with onnxruntime on the CPU (CPUExecutionProvider, graph optimisations off,
one thread) and writes, per case, into Fixtures/onnx/<case>/:

    model.onnx        the model (only its real output is a graph output)
    weights.bin       external_data case only: all initializers, one file
    input.npy         float32 NCHW input (batch 2)
    output.npy        float32 onnxruntime output of the graph's single output
    layers/<t>.npy    onnxruntime value of every node output tensor <t>, taken from
                      a copy of the model that lists every tensor as a graph output
                      ('/' and ':' in tensor names become '_'; manifest.json maps
                      tensor name -> file)
    manifest.json     generator, reference + versions, seed, atol/rtol, ops, opset,
                      IR version, input/output names and shapes, notes

Every model passes onnx.checker.check_model. Weights are random normal (fixed seed
per case, std ~0.3, smaller for large fan-in); batch-norm statistics are realistic
(positive variances, means near 0).

Cases: conv_basic, conv_group, conv_autopad, pool_max_ceil, pool_max_ceil_pad,
pool_avg_exclude_pad, pool_avg_include_pad, pool_avg_ceil_drop,
pool_avg_include_pad_floor, pool_global, norm_act, act, clip_opset7, eltwise, head,
reshape_fold, external_data, typed_fields, opset_7/11/13/17/21, vgg_mini, resnet_mini.
Each case's manifest "notes" says what it is for. Command-line names group some of
them: "pool" writes every pool_* case, "opset" every opset_* case.

The pooling cases also compare onnxruntime against a few numpy pooling conventions
(drop a ceil-mode window that starts in the end padding or not; average divisor) and
write which one onnxruntime follows into the notes.

Usage
-----
    python3 Tools/make_onnx_fixtures.py            # (re)write every case
    python3 Tools/make_onnx_fixtures.py conv_basic pool   # only the named groups

Re-running gives byte-identical files for the same onnx / onnxruntime / numpy
versions. A case folder is only replaced if its manifest says it was made by this
script. Needs: numpy, onnx, onnxruntime (no torch).
"""

import copy
import json
import os
import math
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "onnx"
GENERATOR = "Tools/make_onnx_fixtures.py"
ATOL, RTOL = 1e-5, 1e-4
DEFAULT_OPSET = 13


# --------------------------------------------------------------------------- builder

class Graph:
    """Collects nodes and initializers for one model; owns the case's RNG."""

    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []

    def weight(self, name, shape, scale=None):
        if scale is None:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
            scale = min(0.3, 1.5 / math.sqrt(max(fan_in, 1)))
        arr = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        return self.const(name, arr)

    def const(self, name, arr, raw=True):
        arr = np.asarray(arr)
        if raw:
            t = numpy_helper.from_array(arr, name)
        else:  # typed fields: float_data / int64_data instead of raw_data
            dt = helper.np_dtype_to_tensor_dtype(arr.dtype)
            t = helper.make_tensor(name, dt, arr.shape, arr.flatten().tolist(), raw=False)
        self.inits.append(t)
        return name

    def bn_params(self, prefix, c):
        r = self.rng
        self.const(prefix + ".weight", r.uniform(0.5, 1.5, c).astype(np.float32))
        self.const(prefix + ".bias", (r.standard_normal(c) * 0.2).astype(np.float32))
        self.const(prefix + ".running_mean", (r.standard_normal(c) * 0.5).astype(np.float32))
        self.const(prefix + ".running_var", r.uniform(0.5, 2.0, c).astype(np.float32))
        return [prefix + s for s in (".weight", ".bias", ".running_mean", ".running_var")]

    def input(self, shape):
        return self.rng.standard_normal(shape).astype(np.float32)

    def node(self, op, inputs, output, name=None, **attrs):
        outs = output if isinstance(output, list) else [output]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name or outs[0], **attrs))
        return output

    def model(self, in_name, in_shape, out_name, opset=DEFAULT_OPSET, ir_version=None,
              inits_as_inputs=False, graph_name="g"):
        opsets = [helper.make_opsetid("", opset)]
        if ir_version is None:
            ir_version = max(3, helper.find_min_ir_version_for(opsets))
        inputs = [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_shape)]
        if inits_as_inputs or ir_version < 4:   # IR <= 3: initializers must be graph inputs
            for t in self.inits:
                inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)]
        g = helper.make_graph(self.nodes, graph_name, inputs, outputs, initializer=self.inits)
        m = helper.make_model(g, opset_imports=opsets, ir_version=ir_version,
                              producer_name="srtool-fixtures")
        # fill in the output shape so the committed model is self-describing
        inferred = onnx.shape_inference.infer_shapes(m)
        m.graph.output[0].CopyFrom(inferred.graph.output[0])
        return m


# --------------------------------------------------------------------------- running

def session(model_bytes_or_path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes_or_path, so, providers=["CPUExecutionProvider"])


def run_all_tensors(model, feeds):
    """Run a copy of `model` (weights loaded in memory) with every node output as a
    graph output. Returns {tensor name: value} in node order."""
    m = copy.deepcopy(model)
    inferred = onnx.shape_inference.infer_shapes(m)
    vi = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    existing = {o.name for o in m.graph.output}
    names = []
    for n in m.graph.node:
        for o in n.output:
            if o and o not in names:
                names.append(o)
                if o not in existing:
                    if o in vi:
                        m.graph.output.append(copy.deepcopy(vi[o]))
                    else:
                        m.graph.output.append(helper.make_empty_tensor_value_info(o))
    sess = session(m.SerializeToString())
    out_names = [o.name for o in sess.get_outputs()]
    vals = dict(zip(out_names, sess.run(None, feeds)))
    return {k: vals[k] for k in names}


def sanitize(name):
    return name.replace("/", "_").replace(":", "_")


def ops_of(model):
    seen = []
    for n in model.graph.node:
        if n.op_type not in seen:
            seen.append(n.op_type)
    return seen


def clear_case_dir(d):
    fixture_folders.clear_case_dir(d, GENERATOR)


def write_case(name, model, x, seed, notes, external=False, extra=None):
    onnx.checker.check_model(model, full_check=True)
    d = OUT / name
    clear_case_dir(d)
    (d / "layers").mkdir(parents=True)
    path = d / "model.onnx"
    if external:
        onnx.save_model(copy.deepcopy(model), str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
        (d / "weights.bin").chmod(0o644)       # onnx creates it 0600
        onnx.checker.check_model(str(path), full_check=True)
    else:
        onnx.save_model(model, str(path))

    in_name = model.graph.input[0].name
    out_name = model.graph.output[0].name
    sess = session(str(path))
    assert len(sess.get_outputs()) == 1, "fixture models have one output"
    y = sess.run(None, {in_name: x})[0]
    assert y.dtype == np.float32
    layers = run_all_tensors(model, {in_name: x})
    assert np.array_equal(layers[out_name], y), "intermediate run disagrees with model run"

    np.save(d / "input.npy", x)
    np.save(d / "output.npy", y)
    layer_files = {}
    for t, v in layers.items():
        fn = "layers/" + sanitize(t) + ".npy"
        assert fn not in layer_files.values(), f"sanitized name clash: {t}"
        np.save(d / fn, v)
        layer_files[t] = fn

    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    manifest = {
        "generator": GENERATOR,
        "reference": f"onnxruntime {ort.__version__} (CPUExecutionProvider, optimizations off)",
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "seed": seed,
        "atol": ATOL,
        "rtol": RTOL,
        "ops": ops_of(model),
        "opset": opset,
        "ir_version": model.ir_version,
        "input": {"name": in_name, "shape": list(x.shape), "file": "input.npy"},
        "output": {"name": out_name, "shape": list(y.shape), "file": "output.npy"},
        "layers": layer_files,
        "notes": notes,
    }
    if extra:
        manifest.update(extra(d) if callable(extra) else extra)
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    print(f"{name:22s} opset {opset:2d}  {len(layer_files):2d} layers  {size / 1024:6.1f} KB  "
          f"ops={','.join(manifest['ops'])}")
    return y


# ----------------------------------------------------------------- numpy pooling reference

def pool_out_size(n, k, s, pb, pe, ceil, drop_in_pad):
    span = n + pb + pe - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and drop_in_pad and (out - 1) * s >= n + pb:
        out -= 1
    return out


def np_pool2d(x, kind, k, s, pads, ceil, drop_in_pad=True, divisor="exclude_pad"):
    """x NCHW; pads [top, left, bottom, right]. divisor for avg:
    'exclude_pad'   count of real input pixels in the window,
    'clip_padded'   window clipped to the padded extent (PyTorch count_include_pad),
    'full_kernel'   always kh*kw."""
    n, c, h, w = x.shape
    oh = pool_out_size(h, k[0], s[0], pads[0], pads[2], ceil, drop_in_pad)
    ow = pool_out_size(w, k[1], s[1], pads[1], pads[3], ceil, drop_in_pad)
    y = np.zeros((n, c, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - pads[0], j * s[1] - pads[1]
            h1, w1 = h0 + k[0], w0 + k[1]
            ph1, pw1 = min(h1, h + pads[2]), min(w1, w + pads[3])
            a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            win = x[:, :, a0:a1, b0:b1]
            if win.size == 0:            # window entirely in padding (kept-window variant)
                y[:, :, i, j] = -np.inf if kind == "max" else np.nan
            elif kind == "max":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = {"exclude_pad": (a1 - a0) * (b1 - b0),
                       "clip_padded": (ph1 - h0) * (pw1 - w0),
                       "full_kernel": k[0] * k[1]}[divisor]
                y[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return y.astype(np.float32)


def pool_semantics_note(x, y, kind, k, s, pads, ceil, divisors):
    """Which numpy convention does onnxruntime's result `y` match?"""
    found = []
    for drop in (True, False):
        for dv in divisors:
            ref = np_pool2d(x, kind, k, s, pads, ceil, drop, dv)
            if ref.shape == y.shape and np.allclose(ref, y, atol=1e-6, rtol=1e-5):
                found.append((drop, dv))
    if not found:
        return "onnxruntime matched none of the numpy pooling conventions tried."
    drop, dv = found[0]
    agreeing = sorted({d for _, d in found})
    parts = []
    if ceil:
        keep = np_pool2d(x, kind, k, s, pads, ceil, False, divisors[0]).shape
        dropped = np_pool2d(x, kind, k, s, pads, ceil, True, divisors[0]).shape
        if keep == dropped:
            parts.append(f"plain ceil formula, no window starts in the padding here, output "
                         f"{list(y.shape)}")
        else:
            parts.append("DROPS the last ceil_mode window when it would start in "
                         f"the end padding (output {list(y.shape)} not {list(keep)})"
                         if drop else
                         "KEEPS the last ceil_mode window even though it starts in "
                         f"the end padding (output {list(y.shape)} not {list(dropped)})")
    if kind == "avg":
        parts.append({"exclude_pad": "average divisor = number of real input pixels in the window",
                      "clip_padded": "average divisor = window size clipped to the padded input "
                                     "(padding counts, the ceil_mode overhang beyond the padding "
                                     "does not; same as PyTorch)",
                      "full_kernel": "average divisor = full kernel size even where the window "
                                     "overhangs the padded input"}[dv]
                     + (f" (on this input {' and '.join(agreeing)} coincide)"
                        if len(agreeing) > 1 else ""))
    return "; ".join(parts) + "." if parts else ""


# --------------------------------------------------------------------------- cases

def case_conv_basic():
    seed = 101
    g = Graph(seed)
    x = g.input((2, 3, 8, 8))
    g.weight("conv1.weight", (4, 3, 3, 3)); g.weight("conv1.bias", (4,), 0.3)
    g.node("Conv", ["input", "conv1.weight", "conv1.bias"], "conv1",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])                         # bias, same size
    g.weight("conv2.weight", (4, 4, 3, 3))
    g.node("Conv", ["conv1", "conv2.weight"], "conv2_dil",
           kernel_shape=[3, 3], pads=[2, 2, 2, 2], dilations=[2, 2])       # no bias, dilation 2
    g.weight("conv3.weight", (4, 4, 2, 2)); g.weight("conv3.bias", (4,), 0.3)
    g.node("Conv", ["conv2_dil", "conv3.weight", "conv3.bias"], "conv3_asym",
           kernel_shape=[2, 2], pads=[0, 1, 1, 0])                         # asym pads, 8x8 -> 8x8
    g.weight("conv4.weight", (5, 4, 3, 3)); g.weight("conv4.bias", (5,), 0.3)
    g.node("Conv", ["conv3_asym", "conv4.weight", "conv4.bias"], "conv4_s2",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])         # stride 2 -> 4x4
    g.weight("conv5.weight", (3, 5, 1, 1)); g.weight("conv5.bias", (3,), 0.3)
    g.node("Conv", ["conv4_s2", "conv5.weight", "conv5.bias"], "conv5_1x1",
           kernel_shape=[1, 1])                                            # 1x1
    g.weight("conv6.weight", (2, 3, 3, 2))
    g.node("Conv", ["conv5_1x1", "conv6.weight"], "output",
           kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 1, 0])         # non-square k/stride
    m = g.model("input", [2, 3, 8, 8], "output")
    notes = ("Conv chain: 3x3 pad 1 with bias; 3x3 dilation 2 pad 2 without bias; 2x2 with "
             "asymmetric pads [top 0, left 1, bottom 1, right 0] (ONNX order [x1_begin, x2_begin, "
             "x1_end, x2_end]); 3x3 stride 2 pad 1; 1x1; kernel 3x2 stride [1,2] pads [1,0,1,0] "
             "(non-square kernel and stride). Shapes 8x8 -> 8 -> 8 -> 4x4 -> 4x4 -> 4x2.")
    return write_case("conv_basic", m, x, seed, notes)


def case_conv_group():
    seed = 102
    g = Graph(seed)
    x = g.input((2, 4, 7, 7))
    g.weight("g2.weight", (6, 2, 3, 3)); g.weight("g2.bias", (6,), 0.3)
    g.node("Conv", ["input", "g2.weight", "g2.bias"], "conv_group2",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=2)                # 4 -> 6, group 2
    g.weight("dw.weight", (6, 1, 3, 3)); g.weight("dw.bias", (6,), 0.3)
    g.node("Conv", ["conv_group2", "dw.weight", "dw.bias"], "conv_depthwise",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=6)                # depthwise
    # depthwise with channel multiplier 2 needs C_out = 2*C_in <= 8: 1x1 down to 4 first
    g.weight("pw.weight", (4, 6, 1, 1)); g.weight("pw.bias", (4,), 0.3)
    g.node("Conv", ["conv_depthwise", "pw.weight", "pw.bias"], "conv_pointwise",
           kernel_shape=[1, 1])
    g.weight("dwm.weight", (8, 1, 3, 3)); g.weight("dwm.bias", (8,), 0.3)
    g.node("Conv", ["conv_pointwise", "dwm.weight", "dwm.bias"], "output",
           kernel_shape=[3, 3], strides=[2, 2], group=4)                   # depthwise x2
    m = g.model("input", [2, 4, 7, 7], "output")
    notes = ("Grouped convolutions: group=2 (4 -> 6 channels, weight [6,2,3,3]); depthwise "
             "group=C=6 (weight [6,1,3,3]); 1x1 pointwise 6 -> 4; depthwise with channel "
             "multiplier 2 (group=4, 4 -> 8, weight [8,1,3,3], output channel o reads input "
             "channel o // 2), stride 2, no pads: 7x7 -> 3x3.")
    return write_case("conv_group", m, x, seed, notes)


def case_conv_autopad():
    seed = 103
    g = Graph(seed)
    x = g.input((2, 3, 8, 8))
    g.weight("c1.weight", (4, 3, 3, 3)); g.weight("c1.bias", (4,), 0.3)
    g.node("Conv", ["input", "c1.weight", "c1.bias"], "same_upper_s2",
           kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")     # pad total 1 -> [0,1]
    g.weight("c2.weight", (4, 4, 4, 4))
    g.node("Conv", ["same_upper_s2", "c2.weight"], "same_upper_k4",
           kernel_shape=[4, 4], auto_pad="SAME_UPPER")                     # pad total 3 -> [1,2]
    g.weight("c3.weight", (3, 4, 2, 2)); g.weight("c3.bias", (3,), 0.3)
    g.node("Conv", ["same_upper_k4", "c3.weight", "c3.bias"], "same_lower_k2",
           kernel_shape=[2, 2], auto_pad="SAME_LOWER")                     # pad total 1 -> [1,0]
    g.weight("c4.weight", (2, 3, 3, 3))
    g.node("Conv", ["same_lower_k2", "c4.weight"], "output",
           kernel_shape=[3, 3], auto_pad="VALID")                          # 4x4 -> 2x2
    m = g.model("input", [2, 3, 8, 8], "output")
    notes = ("auto_pad: SAME_UPPER k3 s2 on 8x8 (out 4, total pad 1: begin 0, end 1); "
             "SAME_UPPER k4 s1 on 4x4 (total pad 3: begin 1, end 2); SAME_LOWER k2 s1 on 4x4 "
             "(total pad 1: begin 1, end 0); VALID k3 on 4x4 -> 2x2. Total pad = "
             "max(0, (ceil(in/s)-1)*s + k - in); SAME_UPPER puts the odd pixel at the end.")
    return write_case("conv_autopad", m, x, seed, notes)


def pool_case(name, seed, x_shape, op, attrs, notes, divisors=("exclude_pad",)):
    g = Graph(seed)
    x = g.input(x_shape)
    g.node(op, ["input"], "output", **attrs)
    m = g.model("input", list(x_shape), "output")
    # compute with onnxruntime first (write_case), then describe its convention
    y = session(m.SerializeToString()).run(None, {"input": x})[0]
    k = attrs["kernel_shape"]
    s = attrs.get("strides", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    ceil = bool(attrs.get("ceil_mode", 0))
    kind = "max" if op == "MaxPool" else "avg"
    sem = pool_semantics_note(x, y, kind, k, s, pads, ceil, list(divisors))
    notes = notes + f" onnxruntime: {sem}"
    return write_case(name, m, x, seed, notes)


def case_pools():
    pool_case("pool_max_ceil", 111, (2, 3, 8, 8), "MaxPool",
              dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
              "MaxPool k3 s2 no pads ceil_mode=1 on 8x8: (8-3)/2+1 = 3.5 -> 4 (floor 3); the "
              "last window is partial (covers rows 6..7 only).")
    pool_case("pool_max_ceil_pad", 112, (2, 3, 5, 5), "MaxPool",
              dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
              "MaxPool k2 s2 pads 1 ceil_mode=1 on 5x5: (5+2-2)/2+1 = 3.5 -> 4 by the plain "
              "ceil formula, but the 4th window would start at padded index 6 = in + pad_begin, "
              "i.e. entirely in the end padding.")
    pool_case("pool_avg_exclude_pad", 113, (2, 3, 8, 8), "AveragePool",
              dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                   count_include_pad=0),
              "AveragePool k3 s2 pads 1 ceil_mode=1 count_include_pad=0 on 8x8: "
              "(8+2-3)/2+1 = 4.5 -> 5 (floor 4); the last window starts at input row 7 and "
              "overhangs the padding by one row.",
              divisors=("exclude_pad", "clip_padded", "full_kernel"))
    pool_case("pool_avg_include_pad", 114, (2, 3, 8, 8), "AveragePool",
              dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                   count_include_pad=1),
              "AveragePool k3 s2 pads 1 ceil_mode=1 count_include_pad=1 on 8x8 (same geometry "
              "as pool_avg_exclude_pad): border windows divide by a count that includes the "
              "zero padding; the last ceil_mode window also overhangs the padded input.",
              divisors=("clip_padded", "full_kernel", "exclude_pad"))
    pool_case("pool_avg_ceil_drop", 117, (2, 3, 5, 5), "AveragePool",
              dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                   count_include_pad=1),
              "AveragePool k2 s2 pads 1 ceil_mode=1 count_include_pad=1 on 5x5 (geometry of "
              "pool_max_ceil_pad): the plain ceil formula gives 4, but the 4th window would lie "
              "entirely in the end padding.",
              divisors=("clip_padded", "full_kernel", "exclude_pad"))
    pool_case("pool_avg_include_pad_floor", 115, (2, 3, 7, 7), "AveragePool",
              dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2],
                   count_include_pad=1),
              "AveragePool k3 s2 asymmetric pads [top 1, left 0, bottom 1, right 2] "
              "count_include_pad=1, floor mode, on 7x7 -> 4x4.",
              divisors=("clip_padded", "full_kernel", "exclude_pad"))

    seed = 116
    g = Graph(seed)
    x = g.input((2, 4, 5, 7))
    g.node("GlobalAveragePool", ["input"], "gap")
    g.node("GlobalMaxPool", ["input"], "gmp")
    g.node("Concat", ["gap", "gmp"], "output", axis=1)
    m = g.model("input", [2, 4, 5, 7], "output")
    write_case("pool_global", m, x, seed,
               "GlobalAveragePool and GlobalMaxPool of a non-square 5x7 map, concatenated along "
               "channels: output [2,8,1,1] = [avg(4 ch), max(4 ch)].")


def case_norm_act():
    seed = 121
    g = Graph(seed)
    x = g.input((2, 6, 5, 5))
    g.node("LRN", ["input"], "lrn", size=5, alpha=0.1, beta=0.75, bias=2.0)
    bn = g.bn_params("bn", 6)
    g.node("BatchNormalization", ["lrn"] + bn, "bn", epsilon=1e-3)
    g.node("Relu", ["bn"], "output")
    m = g.model("input", [2, 6, 5, 5], "output")
    write_case("norm_act", m, x, seed,
               "LRN size 5 alpha 0.1 beta 0.75 bias 2.0 over 6 channels (window clipped at the "
               "channel edges; ONNX: y = x / (bias + alpha/size * sum_sq)^beta); "
               "BatchNormalization epsilon 1e-3 with realistic running mean/var "
               "(y = scale*(x-mean)/sqrt(var+eps)+B); Relu.")


def case_act():
    seed = 122
    g = Graph(seed)
    x = (g.input((2, 4, 4, 4)) * 2.0).astype(np.float32)
    g.node("LeakyRelu", ["input"], "leaky", alpha=0.1)
    g.const("prelu.slope", np.array([0.25, -0.5, 1.5, 0.0], np.float32).reshape(4, 1, 1))
    g.node("PRelu", ["leaky", "prelu.slope"], "prelu")
    g.node("Tanh", ["prelu"], "tanh")
    g.const("clip.min", np.array(-0.5, np.float32))
    g.const("clip.max", np.array(0.6, np.float32))
    g.node("Clip", ["tanh", "clip.min", "clip.max"], "clip")
    g.node("Sigmoid", ["clip"], "sigmoid")
    g.const("clip2.min", np.array(0.45, np.float32))
    g.node("Clip", ["sigmoid", "clip2.min"], "output")                    # max omitted
    m = g.model("input", [2, 4, 4, 4], "output")
    write_case("act", m, x, seed,
               "LeakyRelu(alpha 0.1); PRelu with per-channel slope of shape [C,1,1] = "
               "[0.25, -0.5, 1.5, 0]; Tanh; Clip (opset 13) with min/max given as scalar "
               "initializer inputs (-0.5, 0.6); Sigmoid; Clip with only min (0.45) and the "
               "optional max input omitted. Input scaled by 2 so every branch is exercised.")


def case_clip_opset7():
    seed = 123
    g = Graph(seed)
    x = g.input((2, 3, 4, 4))
    g.node("Clip", ["input"], "clip", min=-0.5, max=0.75)
    g.node("Relu", ["clip"], "relu")
    g.node("Clip", ["relu"], "output", max=0.5)                           # min defaults to -inf
    m = g.model("input", [2, 3, 4, 4], "output", opset=7)
    write_case("clip_opset7", m, x, seed,
               "Opset 7 attribute-form Clip (Clip-6): min=-0.5 max=0.75 as attributes; Relu; a "
               "second Clip with only max=0.5 (min attribute absent = -inf). IR version 3.")


def case_eltwise():
    seed = 131
    g = Graph(seed)
    x = g.input((2, 4, 6, 6))
    g.weight("a.weight", (4, 4, 1, 1))
    g.node("Conv", ["input", "a.weight"], "a", kernel_shape=[1, 1])
    g.weight("b.weight", (4, 4, 3, 3))
    g.node("Conv", ["input", "b.weight"], "b", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Add", ["a", "b"], "add")
    g.node("Mul", ["a", "b"], "mul")
    g.node("Sum", ["add", "mul", "a"], "sum3")
    g.const("chan_bias", (g.rng.standard_normal((4, 1, 1)) * 0.5).astype(np.float32))
    g.node("Add", ["sum3", "chan_bias"], "add_chan")
    g.const("chan_scale", g.rng.uniform(0.5, 1.5, (4, 1, 1)).astype(np.float32))
    g.node("Mul", ["add_chan", "chan_scale"], "mul_chan")
    g.const("half", np.array(0.5, np.float32))
    g.node("Mul", ["mul_chan", "half"], "mul_scalar")
    g.node("Max", ["mul_scalar", "b"], "max")
    g.node("Concat", ["max", "a"], "output", axis=1)
    m = g.model("input", [2, 4, 6, 6], "output")
    write_case("eltwise", m, x, seed,
               "Two activations a (1x1 conv) and b (3x3 conv pad 1) combined: Add(a,b), Mul(a,b), "
               "Sum of 3 inputs (add, mul, a); Add and Mul with per-channel constants of shape "
               "[C,1,1] (channel broadcast); Mul by a rank-0 scalar constant 0.5; elementwise "
               "Max(mul_scalar, b); Concat(max, a) along axis 1 -> [2,8,6,6].")


def case_head():
    seed = 141
    g = Graph(seed)
    x = g.input((2, 4, 3, 3))
    g.node("Flatten", ["input"], "flat", axis=1)
    g.weight("fc1.weight", (8, 36)); g.weight("fc1.bias", (8,), 0.3)
    g.node("Gemm", ["flat", "fc1.weight", "fc1.bias"], "fc1",
           transB=1, alpha=0.5, beta=2.0)
    g.node("Dropout", ["fc1"], "drop")
    g.weight("fc2.weight", (8, 6))
    g.node("Gemm", ["drop", "fc2.weight"], "fc2", transB=0)               # no C input
    g.node("Identity", ["fc2"], "ident")
    g.weight("fc3.weight", (6, 5)); g.weight("fc3.bias", (5,), 0.3)
    g.node("MatMul", ["ident", "fc3.weight"], "matmul")
    g.node("Add", ["matmul", "fc3.bias"], "logits:0")
    g.node("Softmax", ["logits:0"], "output", axis=1)
    m = g.model("input", [2, 4, 3, 3], "output")
    write_case("head", m, x, seed,
               "Classifier head: Flatten(axis 1) [2,36]; Gemm transB=1 alpha 0.5 beta 2.0 with "
               "bias C [8] (y = 0.5*x*W^T + 2*C, W [8,36] = [out,in]); Dropout (inference: "
               "identity); Gemm transB=0 without C (B [8,6] = [in,out]); Identity; MatMul "
               "(B [6,5] = [in,out]) + Add bias [5]; Softmax(axis 1). The tensor 'logits:0' "
               "tests file-name sanitising (layers/logits_0.npy).")


def case_reshape_fold():
    seed = 151
    g = Graph(seed)
    x = g.input((2, 2, 5, 5))
    g.weight("features.0.weight", (3, 2, 3, 3)); g.weight("features.0.bias", (3,), 0.3)
    g.node("Conv", ["input", "features.0.weight", "features.0.bias"],
           "/features/features.0/Conv_output_0", name="/features/features.0/Conv",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["/features/features.0/Conv_output_0"], "/features/features.1/Relu_output_0",
           name="/features/features.1/Relu")
    g.const("pad.pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
    g.node("Pad", ["/features/features.1/Relu_output_0", "pad.pads"], "/pad/Pad_output_0",
           name="/pad/Pad", mode="constant")                                # 5x5 -> 7x7
    g.node("Transpose", ["/pad/Pad_output_0"], "/Transpose_output_0", name="/Transpose",
           perm=[0, 1, 2, 3])
    g.node("Shape", ["/Transpose_output_0"], "/Shape_output_0", name="/Shape")
    g.node("Constant", [], "/Constant_output_0", name="/Constant",
           value=numpy_helper.from_array(np.array(0, np.int64), "c0"))
    g.node("Gather", ["/Shape_output_0", "/Constant_output_0"], "/Gather_output_0",
           name="/Gather", axis=0)
    g.const("unsq.axes", np.array([0], np.int64))
    g.node("Unsqueeze", ["/Gather_output_0", "unsq.axes"], "/Unsqueeze_output_0",
           name="/Unsqueeze")
    g.node("Constant", [], "/Constant_1_output_0", name="/Constant_1",
           value=numpy_helper.from_array(np.array([-1], np.int64), "c1"))
    g.node("Concat", ["/Unsqueeze_output_0", "/Constant_1_output_0"], "/Concat_output_0",
           name="/Concat", axis=0)
    g.node("Reshape", ["/Transpose_output_0", "/Concat_output_0"], "/Reshape_output_0",
           name="/Reshape")
    g.node("Constant", [], "/Constant_2_output_0", name="/Constant_2",
           value=numpy_helper.from_array(np.array([4], np.int64), "c2"))
    g.node("ConstantOfShape", ["/Constant_2_output_0"], "/ConstantOfShape_output_0",
           name="/ConstantOfShape",
           value=numpy_helper.from_array(np.array([0.25], np.float32), "v"))
    g.weight("classifier.weight", (4, 147))
    g.node("Gemm", ["/Reshape_output_0", "classifier.weight", "/ConstantOfShape_output_0"],
           "output", name="/classifier/Gemm", transB=1)
    m = g.model("input", [2, 2, 5, 5], "output")
    write_case("reshape_fold", m, x, seed,
               "PyTorch-style export (tensor names with '/'): Conv, Relu, Pad (constant mode, "
               "pads [0,0,1,1,0,0,1,1] as an int64 initializer input, constant_value omitted = 0) "
               "5x5 -> 7x7, Transpose perm [0,1,2,3] (no-op), then the classic flatten chain "
               "Shape -> Gather(Constant 0, axis 0) -> Unsqueeze(axes initializer [0]) -> "
               "Concat(with Constant [-1]) -> Reshape to [2,147]; Gemm (transB=1) whose bias "
               "C is ConstantOfShape(Constant [4], value 0.25). Everything but the "
               "Conv/Relu/Pad/Reshape data path and Gemm is constant-foldable. layers/ holds the "
               "int64 shape tensors too.")


def case_external_data():
    seed = 161
    g = Graph(seed)
    x = g.input((2, 3, 6, 6))
    g.weight("conv1.weight", (4, 3, 3, 3)); g.weight("conv1.bias", (4,), 0.3)
    g.node("Conv", ["input", "conv1.weight", "conv1.bias"], "conv1",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["conv1"], "relu1")
    g.weight("conv2.weight", (6, 4, 3, 3)); g.weight("conv2.bias", (6,), 0.3)
    g.node("Conv", ["relu1", "conv2.weight", "conv2.bias"], "conv2",
           kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    g.node("Relu", ["conv2"], "relu2")
    g.node("GlobalAveragePool", ["relu2"], "gap")
    g.node("Flatten", ["gap"], "flat")
    g.weight("fc.weight", (3, 6)); g.weight("fc.bias", (3,), 0.3)
    g.node("Gemm", ["flat", "fc.weight", "fc.bias"], "output", transB=1)
    m = g.model("input", [2, 3, 6, 6], "output")

    def check_external(d):
        raw = onnx.load(str(d / "model.onnx"), load_external_data=False)
        size = (d / "weights.bin").stat().st_size
        entries = []
        for t in raw.graph.initializer:
            assert t.data_location == TensorProto.EXTERNAL and not t.raw_data, t.name
            kv = {e.key: e.value for e in t.external_data}
            assert kv["location"] == "weights.bin" and "offset" in kv and "length" in kv, kv
            off, ln = int(kv["offset"]), int(kv["length"])
            nbytes = int(np.prod(t.dims)) * 4
            assert ln == nbytes and off + ln <= size, (t.name, off, ln, size)
            entries.append({"name": t.name, "offset": off, "length": ln})
        return {"external_data": {"file": "weights.bin", "size": size, "tensors": entries}}

    write_case("external_data", m, x, seed,
               "Small conv net (Conv-Relu-Conv s2-Relu-GlobalAveragePool-Flatten-Gemm) saved "
               "with every initializer in weights.bin (save_as_external_data, "
               "all_tensors_to_one_file, size_threshold=0). Each initializer has "
               "data_location=EXTERNAL and external_data keys location/offset/length "
               "(listed under external_data in this manifest); model.onnx holds no weight bytes.",
               external=True, extra=check_external)


def case_typed_fields():
    seed = 171
    g = Graph(seed)
    x = g.input((2, 3, 6, 6))
    r = g.rng
    g.const("conv.weight", (r.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32), raw=False)
    g.const("conv.bias", (r.standard_normal(4) * 0.3).astype(np.float32), raw=False)
    g.node("Conv", ["input", "conv.weight", "conv.bias"], "conv",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["conv"], "relu")
    g.node("MaxPool", ["relu"], "pool", kernel_shape=[2, 2], strides=[2, 2])
    g.const("reshape.shape", np.array([2, 36], np.int64), raw=False)
    g.node("Reshape", ["pool", "reshape.shape"], "flat")
    g.const("fc.weight", (r.standard_normal((5, 36)) * 0.2).astype(np.float32), raw=False)
    g.const("fc.bias", (r.standard_normal(5) * 0.3).astype(np.float32), raw=False)
    g.node("Gemm", ["flat", "fc.weight", "fc.bias"], "output", transB=1)
    m = g.model("input", [2, 3, 6, 6], "output", opset=7, ir_version=3, inits_as_inputs=True)
    for t in m.graph.initializer:
        assert not t.raw_data and (t.float_data or t.int64_data), t.name
    write_case("typed_fields", m, x, seed,
               "IR version 3, opset 7. Initializers stored in the typed fields (float_data, and "
               "int64_data for the Reshape shape [2,36]) instead of raw_data, and every "
               "initializer is also listed in graph.input (pre-IR-4 style). Conv-Relu-MaxPool-"
               "Reshape-Gemm(transB=1). The Reshape target is fixed at batch 2.")


def case_opsets():
    for opset in (7, 11, 13, 17, 21):
        seed = 181                                     # same weights and input for all opsets
        g = Graph(seed)
        x = g.input((2, 3, 8, 8))
        g.weight("conv.weight", (4, 3, 3, 3)); g.weight("conv.bias", (4,), 0.3)
        g.node("Conv", ["input", "conv.weight", "conv.bias"], "conv",
               kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        g.node("Relu", ["conv"], "relu")
        g.node("MaxPool", ["relu"], "pool", kernel_shape=[2, 2], strides=[2, 2])
        g.node("Flatten", ["pool"], "flat", axis=1)
        g.weight("fc.weight", (5, 64)); g.weight("fc.bias", (5,), 0.3)
        g.node("Gemm", ["flat", "fc.weight", "fc.bias"], "fc", transB=1)
        g.node("Softmax", ["fc"], "output", axis=1)
        m = g.model("input", [2, 3, 8, 8], "output", opset=opset)
        note = {7: "Softmax-1 (2-D coercion at axis 1), Gemm-7, MaxPool-1 (no ceil_mode), "
                   "IR 3, so every initializer is also listed in graph.input.",
                11: "Softmax-11, Gemm-11 (C optional), MaxPool-11.",
                13: "Softmax-13 (single axis).",
                17: "Same op versions as 13 for these ops; IR 8.",
                21: "Same op versions for these ops; IR 10."}[opset]
        onnx.checker.check_model(m, full_check=True)
        try:
            session(m.SerializeToString())
        except Exception as e:                           # ORT refusing an opset: no fixture
            print(f"opset_{opset}: SKIPPED, onnxruntime refused it ({type(e).__name__}: {e})")
            continue
        write_case(f"opset_{opset}", m, x, seed,
                   "Conv-Relu-MaxPool-Flatten-Gemm-Softmax, identical weights and input in "
                   f"every opset_N case (outputs must agree). Opset {opset}: {note}")


def case_vgg_mini():
    seed = 191
    g = Graph(seed)
    x = g.input((2, 3, 16, 16))
    chans = [(3, 4, "conv1_1"), (4, 4, "conv1_2")]
    prev = "input"
    for cin, cout, n in chans:
        g.weight(n + ".weight", (cout, cin, 3, 3)); g.weight(n + ".bias", (cout,), 0.1)
        g.node("Conv", [prev, n + ".weight", n + ".bias"], n, kernel_shape=[3, 3],
               pads=[1, 1, 1, 1])
        prev = g.node("Relu", [n], "relu" + n[4:])
    g.node("MaxPool", [prev], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    g.weight("conv2_1.weight", (8, 4, 3, 3)); g.weight("conv2_1.bias", (8,), 0.1)
    g.node("Conv", ["pool1", "conv2_1.weight", "conv2_1.bias"], "conv2_1",
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["conv2_1"], "relu2_1")
    g.node("MaxPool", ["relu2_1"], "pool2", kernel_shape=[2, 2], strides=[2, 2])
    g.node("Flatten", ["pool2"], "flatten", axis=1)
    g.weight("fc6.weight", (10, 128)); g.weight("fc6.bias", (10,), 0.1)
    g.node("Gemm", ["flatten", "fc6.weight", "fc6.bias"], "fc6", transB=1)
    g.node("Relu", ["fc6"], "relu6")
    g.node("Dropout", ["relu6"], "drop6")
    g.weight("fc7.weight", (5, 10)); g.weight("fc7.bias", (5,), 0.1)
    g.node("Gemm", ["drop6", "fc7.weight", "fc7.bias"], "output", transB=1)
    m = g.model("input", [2, 3, 16, 16], "output")
    write_case("vgg_mini", m, x, seed,
               "VGG-style: conv3x3(3->4)-relu, conv3x3(4->4)-relu, maxpool2, conv3x3(4->8)-relu, "
               "maxpool2, flatten (8x4x4=128), gemm(128->10)-relu-dropout-gemm(10->5); "
               "logits (no softmax).")


def case_resnet_mini():
    seed = 201
    g = Graph(seed)
    x = g.input((2, 3, 16, 16))
    g.weight("conv1.weight", (8, 3, 3, 3))
    g.node("Conv", ["input", "conv1.weight"], "conv1", kernel_shape=[3, 3], strides=[2, 2],
           pads=[1, 1, 1, 1])
    g.node("BatchNormalization", ["conv1"] + g.bn_params("bn1", 8), "bn1")
    g.node("Relu", ["bn1"], "relu1")
    g.weight("layer1.conv1.weight", (8, 8, 3, 3))
    g.node("Conv", ["relu1", "layer1.conv1.weight"], "layer1.conv1", kernel_shape=[3, 3],
           pads=[1, 1, 1, 1])
    g.node("BatchNormalization", ["layer1.conv1"] + g.bn_params("layer1.bn1", 8), "layer1.bn1")
    g.node("Relu", ["layer1.bn1"], "layer1.relu1")
    g.weight("layer1.conv2.weight", (8, 8, 3, 3))
    g.node("Conv", ["layer1.relu1", "layer1.conv2.weight"], "layer1.conv2", kernel_shape=[3, 3],
           pads=[1, 1, 1, 1])
    g.node("BatchNormalization", ["layer1.conv2"] + g.bn_params("layer1.bn2", 8), "layer1.bn2")
    g.node("Add", ["layer1.bn2", "relu1"], "layer1.add")
    g.node("Relu", ["layer1.add"], "layer1.relu2")
    g.node("GlobalAveragePool", ["layer1.relu2"], "avgpool")
    g.node("Flatten", ["avgpool"], "flatten", axis=1)
    g.weight("fc.weight", (5, 8)); g.weight("fc.bias", (5,), 0.1)
    g.node("Gemm", ["flatten", "fc.weight", "fc.bias"], "output", transB=1)
    m = g.model("input", [2, 3, 16, 16], "output")
    write_case("resnet_mini", m, x, seed,
               "ResNet-style: conv3x3 s2 (3->8, no bias)-bn-relu, one basic block "
               "(conv-bn-relu-conv-bn, Add with the block input, relu), GlobalAveragePool, "
               "Flatten, Gemm(8->5). BatchNormalization with realistic running statistics "
               "(foldable into the preceding conv).")


def case_inverted_residual():
    seed = 202
    g = Graph(seed)
    x = (g.input((2, 8, 9, 9)) * 4.0).astype(np.float32)
    g.weight("expand.weight", (24, 8, 1, 1), scale=1.2)
    g.weight("expand.bias", (24,), scale=1.0)
    g.node("Conv", ["input", "expand.weight", "expand.bias"], "expand", kernel_shape=[1, 1])
    g.const("relu6.min", np.array(0.0, np.float32))
    g.const("relu6.max", np.array(6.0, np.float32))
    g.node("Clip", ["expand", "relu6.min", "relu6.max"], "expand.relu6")
    g.weight("dw.weight", (24, 1, 3, 3), scale=0.8)
    g.weight("dw.bias", (24,), scale=1.0)
    g.node("Conv", ["expand.relu6", "dw.weight", "dw.bias"], "dw", kernel_shape=[3, 3],
           pads=[1, 1, 1, 1], group=24)
    g.node("Clip", ["dw", "relu6.min", "relu6.max"], "dw.relu6")
    g.weight("project.weight", (8, 24, 1, 1))
    g.node("Conv", ["dw.relu6", "project.weight"], "project", kernel_shape=[1, 1])
    g.node("Add", ["project", "input"], "output")
    m = g.model("input", [2, 8, 9, 9], "output")
    write_case("inverted_residual", m, x, seed,
               "MobileNetV2 block: 1x1 expand (8->24, bias) - Clip(0, 6) - depthwise 3x3 "
               "(bias) - Clip(0, 6) - 1x1 project (24->8) + the block input. Input scaled by "
               "4 and weights wide enough that both bounds of each Clip are reached (srtool "
               "runs each Clip inside its conv in a forward-only pass).")


def case_token_mlp():
    seed = 203
    g = Graph(seed)
    x = g.input((2, 4, 5, 160))
    g.weight("fc1.weight", (160, 128)); g.weight("fc1.bias", (128,), 0.5)
    g.node("MatMul", ["input", "fc1.weight"], "fc1.mm")
    g.node("Add", ["fc1.mm", "fc1.bias"], "fc1")
    # GELU as torch.onnx writes it at opset 17: x * 0.5 * (1 + erf(x / sqrt 2)).
    g.const("gelu.sqrt2", np.array(math.sqrt(2.0), np.float32))
    g.const("gelu.one", np.array(1.0, np.float32))
    g.const("gelu.half", np.array(0.5, np.float32))
    g.node("Div", ["fc1", "gelu.sqrt2"], "gelu.div")
    g.node("Erf", ["gelu.div"], "gelu.erf")
    g.node("Add", ["gelu.erf", "gelu.one"], "gelu.add")
    g.node("Mul", ["fc1", "gelu.add"], "gelu.mul")
    g.node("Mul", ["gelu.mul", "gelu.half"], "gelu")
    g.weight("fc2.weight", (128, 96)); g.weight("fc2.bias", (96,), 0.5)
    g.node("MatMul", ["gelu", "fc2.weight"], "fc2.mm")
    g.node("Add", ["fc2.mm", "fc2.bias"], "fc2")
    g.node("Transpose", ["fc2"], "output", perm=[0, 3, 1, 2])
    m = g.model("input", [2, 4, 5, 160], "output", opset=17)
    write_case("token_mlp", m, x, seed,
               "ConvNeXt-style MLP on channels-last tokens [2,4,5,160]: MatMul 160->128 + bias, "
               "GELU in its erf form, MatMul 128->96 + bias, Transpose to channels first "
               "[2,96,4,5]. Both layers are wide enough (>= 128 in, a multiple of 32 out) for "
               "the packed product of a forward-only run (srtool run): the GELU inside the "
               "first, the transpose written by the second.")


CASES = {
    "conv_basic": case_conv_basic,
    "conv_group": case_conv_group,
    "conv_autopad": case_conv_autopad,
    "pool": case_pools,
    "norm_act": case_norm_act,
    "act": case_act,
    "clip_opset7": case_clip_opset7,
    "eltwise": case_eltwise,
    "head": case_head,
    "reshape_fold": case_reshape_fold,
    "external_data": case_external_data,
    "typed_fields": case_typed_fields,
    "opset": case_opsets,
    "vgg_mini": case_vgg_mini,
    "resnet_mini": case_resnet_mini,
    "inverted_residual": case_inverted_residual,
    "token_mlp": case_token_mlp,
}


def main(argv):
    wanted = fixture_folders.selected_cases(argv, CASES)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    for w in wanted:
        CASES[w]()


if __name__ == "__main__":
    main(sys.argv[1:])
