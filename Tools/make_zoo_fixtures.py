#!/usr/bin/env python3
"""Write the model-zoo fixtures: tiny modern vision architectures exported to ONNX.

What it does
------------
Builds tiny versions of modern architecture families from torchvision's and timm's own
model classes and blocks (few channels, few blocks, 10 classes; no re-implementations),
gives them non-trivial random weights, exports them with PyTorch's TorchScript ONNX
exporter the way people commonly do:

    torch.onnx.export(model, x, path, opset_version=17, dynamo=False,
                      do_constant_folding=True, input_names=['input'],
                      output_names=['output'])

(fixed batch 2, no dynamic axes; the cases marked dynamic_batch — torchvision's
transformers, whose graphs fold the batch into the heads or windows — are traced on the
first sample with dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}, as such
models are exported to be run on any batch), checks the file with onnx.checker, runs it with
onnxruntime on the CPU (CPUExecutionProvider, graph optimisations off, one thread) and
runs the same torch model in float64. Per case it writes into Fixtures/zoo/<case>/:

    model.onnx       the exported model (the exporter's graph, untouched)
    input.npy        float32 NCHW input, batch 2, seeded standard normal
    output.npy       float32 onnxruntime output [2, 10]
    output_f64.npy   float64 output of the same torch model run in float64 (model.double())
                     on the same input
    input_gradient_f64.npy
                     float64 [2, 3, H, W]: gradient, with respect to the input, of the sum
                     over the batch of each sample's target logit, by autograd through
                     that float64 model; a sample's target is the argmax of its row of
                     output_f64
    manifest.json    generator, references + versions, family, source (class + config),
                     seed, atol/rtol, onnxruntime-vs-float64 error, ops (sorted distinct
                     ONNX op types), opset, input/output names and shapes, output_f64,
                     targets (one class index per sample), input_gradient_f64, logit
                     spread, notes

Weights (per case, torch.manual_seed(seed) before the model is built, then a seeded
torch.Generator): every Linear gets PyTorch's default U(+-1/sqrt(fan_in)) init (several
families zero-init or 0.01-init their heads, which would make the logits near-constant);
batch-norm weight ~ U(0.5, 1.5), bias ~ N(0, 0.2), and the running statistics are the
cumulative average (momentum=None, restored afterwards) of four seeded N(0,1) batches
of 8 run in train mode, so no batch norm is the identity; LayerNorm weight ~ U(0.5, 1.5),
bias ~ N(0, 0.2); layer-scale gammas ~ U(0.1, 1.0) (not ConvNeXt's 1e-6 default);
class / distillation tokens and position embeddings ~ N(0, 0.2); any other parameter
that is still all zero (e.g. attention in-projection biases) ~ N(0, 0.1). A case fails
if the logits' standard deviation across the batch or across the classes is below 1e-3,
or if onnxruntime's float32 output is outside atol 1e-5 / rtol 1e-4 of the float64
reference.

Cases
-----
torchvision: mobilenet_v3, efficientnet, regnet_y, mnasnet, shufflenet_v2, convnext,
densenet, vit, swin, swin_v2, maxvit.  timm: timm_efficientnet, timm_mobilenetv3, timm_regnety, timm_ghostnet,
timm_mixnet, timm_resnet_d, timm_convnext, timm_deit, timm_xception. Each manifest's
"source" gives the class and the exact configuration, "notes" what the export contains.

Usage
-----
    /work/ref/bin/python Tools/make_zoo_fixtures.py             # (re)write every case
    /work/ref/bin/python Tools/make_zoo_fixtures.py vit timm_deit   # only these

Prints one line per case (with the targets and the smallest gap between a target logit
and the runner-up) and, at the end, a table case -> ops -> folder size.
Re-running gives byte-identical files for the same torch / torchvision / timm / onnx /
onnxruntime / numpy versions (CPU, one thread). A case folder is only replaced if its
manifest says this script made it. Needs: torch, torchvision, timm, numpy, onnx,
onnxruntime. Each case folder stays under 200 KB: a case that would be larger without its
input gradient leaves that file out (the manifest's notes say so); one still larger stops
the script before its old folder is touched.
"""

import copy
import io
import json
import math
import os
import sys
import warnings
from functools import partial
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import numpy as np
import onnx
import onnxruntime as ort
import timm
import torch
import torchvision
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "zoo"
GENERATOR = "Tools/make_zoo_fixtures.py"
ATOL, RTOL = 1e-5, 1e-4
OPSET = 17
NUM_CLASSES = 10
MAX_FOLDER_BYTES = 200 * 1024
MIN_LOGIT_STD = 1e-3


# --------------------------------------------------------------------------- weights

TOKEN_NAMES = ("class_token", "cls_token", "dist_token", "pos_embedding", "pos_embed")
LAYER_SCALE_NAMES = ("layer_scale", "gamma")


def randomize(model, seed):
    """Non-trivial weights: see the module docstring. Deterministic for a given seed."""
    g = torch.Generator().manual_seed(seed + 1000)
    done = set()
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=g)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=g)
                done.update({id(m.weight), id(m.bias)})
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)):
                if getattr(m, "weight", None) is not None:
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    done.add(id(m.weight))
                if getattr(m, "bias", None) is not None:
                    m.bias.normal_(0.0, 0.2, generator=g)
                    done.add(id(m.bias))
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    assert m.track_running_stats
                    m.saved_momentum = m.momentum
                    m.reset_running_stats()
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if id(p) in done:
                continue
            if leaf in LAYER_SCALE_NAMES:
                p.uniform_(0.1, 1.0, generator=g)
            elif leaf in TOKEN_NAMES:
                p.normal_(0.0, 0.2, generator=g)
            elif not p.any():
                p.normal_(0.0, 0.1, generator=g)


def calibrate(model, seed, hw, batches=4, batch=8):
    """Batch-norm running statistics from seeded batches (train mode, momentum=None)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.momentum = None                    # cumulative average over the calibration
    if bns:
        g = torch.Generator().manual_seed(seed + 2000)
        model.train()
        with torch.no_grad():
            for _ in range(batches):
                model(torch.randn(batch, 3, *hw, generator=g))
        for m in bns:       # not the identity: means moved off 0, variances off 1
            m.momentum = m.saved_momentum    # back to the model's own value for export
            del m.saved_momentum
            assert m.num_batches_tracked.item() == batches
            assert not torch.allclose(m.running_var, torch.ones_like(m.running_var))
    model.eval()
    return len(bns)


# --------------------------------------------------------------------------- running

def session(model_bytes_or_path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes_or_path, so, providers=["CPUExecutionProvider"])


def export(model, x, dynamic_batch=False):
    """Fixed batch 2, or (dynamic_batch) traced on the first sample with a symbolic batch
    axis, as transformer exports that fold the batch into other axes must be."""
    buf = io.BytesIO()
    extra = {}
    if dynamic_batch:
        x = x[:1]
        extra["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # legacy-exporter deprecation, TracerWarnings
        torch.onnx.export(model, (torch.from_numpy(x),), buf, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True,
                          input_names=["input"], output_names=["output"], **extra)
    return onnx.load_from_string(buf.getvalue())


def shorten_names(model):
    """Renames every node to n<k> and every tensor but the graph input and output to t<k>:
    a shifted Swin block traces its mask construction into ~600 nodes whose path-like names
    alone would push the folder past 200 KB. The graph is otherwise the exporter's."""
    keep = {"input", "output"}
    names = {}
    def short(t):
        if not t or t in keep:
            return t
        return names.setdefault(t, f"t{len(names)}")
    for init in model.graph.initializer:
        init.name = short(init.name)
    for k, node in enumerate(model.graph.node):
        node.name = f"n{k}"
        node.input[:] = [short(t) for t in node.input]
        node.output[:] = [short(t) for t in node.output]
    for vi in list(model.graph.value_info):
        vi.name = short(vi.name)
    return model


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def export_facts(model, n_bn):
    """Short factual remarks on what the TorchScript exporter wrote (for the notes)."""
    from onnx import TensorProto, numpy_helper
    counts = op_counts(model)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {}                                   # tensor name -> (elem_type, rank)
    for v in (list(inferred.graph.value_info) + list(inferred.graph.output)
              + list(inferred.graph.input)):
        t = v.type.tensor_type
        types[v.name] = (t.elem_type, len(t.shape.dim) if t.HasField("shape") else None)
    inits = {i.name for i in model.graph.initializer}
    for i in model.graph.initializer:
        types[i.name] = (i.data_type, len(i.dims))
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in model.graph.node if n.op_type == "Constant"}
    for k, v in consts.items():
        types.setdefault(k, (helper_dtype(v), v.ndim))

    def is_float(name):
        return types.get(name, (None,))[0] == TensorProto.FLOAT

    facts = []
    int_ops = sorted({n.op_type for n in model.graph.node if n.op_type != "Constant"
                      and not any(is_float(o) for o in n.output)})
    if int_ops:
        facts.append("int64/bool shape arithmetic left in the graph (not constant-folded): "
                     + ", ".join(int_ops))
    if counts.get("Constant"):
        facts.append(f"{counts['Constant']} Constant nodes (shapes, scalars, split sizes)")
    perms5 = sorted({tuple(onnx.helper.get_attribute_value(a)) for n in model.graph.node
                     if n.op_type == "Transpose" for a in n.attribute
                     if a.name == "perm" and len(a.ints) == 5})
    if perms5:
        facts.append("5-D Transpose perm " + ", ".join(str(list(p)) for p in perms5))
    mm_w = sorted({types.get(n.input[0], (0, None))[1] for n in model.graph.node
                   if n.op_type == "MatMul" and n.input[1] in inits})
    mm_a = sorted({types.get(n.input[0], (0, None))[1] for n in model.graph.node
                   if n.op_type == "MatMul" and n.input[1] not in inits})
    if mm_w:
        facts.append("Linear as MatMul (weight initializer, transposed) + Add on rank-"
                     + "/".join(map(str, mm_w)) + " activations")
    if mm_a:
        facts.append("MatMul of two activations (rank " + "/".join(map(str, mm_a)) + ")")
    splits = []
    for n in model.graph.node:
        if n.op_type == "Split":
            src = ("Constant node" if n.input[1] in consts else
                   "initializer" if n.input[1] in inits else "computed")
            sizes = consts[n.input[1]].tolist() if n.input[1] in consts else "?"
            axis = [onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "axis"]
            splits.append(f"{sizes} axis {axis[0] if axis else 0} ({src})")
    if splits:
        uniq = sorted(set(splits), key=splits.index)
        facts.append("Split with the sizes as a second input: " + "; ".join(uniq))
    fslices = sum(1 for n in model.graph.node if n.op_type == "Slice" and is_float(n.input[0]))
    if fslices:
        facts.append(f"{fslices} Slice(s) of float activations")
    fgathers = sum(1 for n in model.graph.node if n.op_type == "Gather" and is_float(n.input[0]))
    if fgathers:
        facts.append(f"{fgathers} Gather(s) on float activations")
    if "Erf" in counts:
        facts.append("GELU as Div(x, 1.4142135) -> Erf -> Add 1 -> Mul x -> Mul 0.5")
    if "LayerNormalization" in counts:
        eps = sorted({round(onnx.helper.get_attribute_value(a), 12) for n in model.graph.node
                      if n.op_type == "LayerNormalization" for a in n.attribute
                      if a.name == "epsilon"})
        facts.append(f"{counts['LayerNormalization']} LayerNormalization (opset-17 op, axis -1, "
                     f"epsilon {', '.join(f'{e:g}' for e in eps)})")
    if n_bn:
        left = counts.get("BatchNormalization", 0)
        facts.append(f"{n_bn - left} of {n_bn} batch norms folded into the preceding Conv "
                     f"by the exporter, {left} left as BatchNormalization")
    return facts


def helper_dtype(arr):
    return onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)


def input_gradient(model64, x, y64):
    """d(sum over the batch of each sample's target logit)/d(input) with the float64 model;
    target = argmax of that sample's float64 logits. Returns (targets, gradient, smallest
    gap between a target logit and the runner-up)."""
    targets = [int(t) for t in y64.argmax(axis=1)]
    top2 = np.sort(y64, axis=1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min())
    for p in model64.parameters():
        p.requires_grad_(False)                      # no weight gradients needed
    xg = torch.from_numpy(x).double().requires_grad_(True)
    out = model64(xg)
    # the same forward as y64 (with grad on, torch may take another kernel path, e.g.
    # nn.MultiheadAttention's fast path is no_grad-only): same function, rounding apart
    gap = float(np.abs(out.detach().numpy() - y64).max())
    assert gap <= 1e-12, f"float64 forward with grad on differs by {gap:.2e}"
    (grad,) = torch.autograd.grad(out[torch.arange(len(targets)), targets].sum(), xg)
    grad = grad.numpy()
    assert grad.shape == x.shape and np.isfinite(grad).all() and grad.any()
    return targets, grad, margin


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def folder_size(d):
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())


def write_case(name, spec):
    seed = spec["seed"]
    hw = spec.get("hw", (32, 32))
    torch.manual_seed(seed)
    model, source, library, notes = spec["build"]()
    randomize(model, seed)
    n_bn = calibrate(model, seed, hw)

    x = np.random.default_rng(seed).standard_normal((2, 3, *hw)).astype(np.float32)
    model64 = copy.deepcopy(model).double()
    with torch.no_grad():
        y_t = model(torch.from_numpy(x)).numpy()
        y64 = model64(torch.from_numpy(x).double()).numpy()
    assert y_t.shape == (2, NUM_CLASSES), y_t.shape
    targets, grad64, margin = input_gradient(model64, x, y64)
    std_batch = float(y64.std(axis=0).mean())
    std_class = float(y64.std(axis=1).mean())
    if min(std_batch, std_class) < MIN_LOGIT_STD:
        raise SystemExit(f"{name}: logits near-constant (std across batch {std_batch:.2e}, "
                         f"across classes {std_class:.2e})")

    dynamic = spec.get("dynamic_batch", False)
    m = export(model, x, dynamic)
    if spec.get("short_names"):
        m = shorten_names(m)
    onnx.checker.check_model(m, full_check=True)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    assert opset == OPSET, opset
    data = m.SerializeToString()
    sess = session(data)
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    y = sess.run(None, {"input": x})[0]
    assert y.dtype == np.float32 and y.shape == (2, NUM_CLASSES)
    err64 = float(np.abs(y.astype(np.float64) - y64).max())
    ratio = float((np.abs(y.astype(np.float64) - y64) / (ATOL + RTOL * np.abs(y64))).max())
    err_torch = float(np.abs(y - y_t).max())
    if ratio > 1.0:
        raise SystemExit(f"{name}: onnxruntime vs float64 outside tolerance "
                         f"(max abs {err64:.2e}, worst ratio {ratio:.2f})")

    files = {
        "model.onnx": data,
        "input.npy": npy_bytes(np.ascontiguousarray(x, dtype="<f4")),
        "output.npy": npy_bytes(np.ascontiguousarray(y, dtype="<f4")),
        "output_f64.npy": npy_bytes(np.ascontiguousarray(y64, dtype="<f8")),
        "input_gradient_f64.npy": npy_bytes(np.ascontiguousarray(grad64, dtype="<f8")),
    }

    counts = op_counts(m)
    facts = export_facts(m, n_bn)
    manifest = {
        "generator": GENERATOR,
        "reference": f"onnxruntime {ort.__version__} (CPUExecutionProvider, graph "
                     "optimizations off, 1 thread)",
        "float64_reference": f"torch {torch.__version__} float64 (model.double(), CPU, "
                             "1 thread)",
        "exporter": f"torch {torch.__version__} torch.onnx.export(dynamo=False, "
                    f"opset_version={OPSET}, do_constant_folding=True"
                    + (", traced on batch 1 with dynamic_axes {0: 'batch'} on input and output)"
                       if dynamic else ")"),
        "torch": torch.__version__,
        library: (torchvision.__version__ if library == "torchvision" else timm.__version__),
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "family": spec["family"],
        "source": source,
        "seed": seed,
        "atol": ATOL,
        "rtol": RTOL,
        "ort_float32_max_abs_error_vs_float64": err64,
        "ort_float32_worst_tolerance_ratio_vs_float64": ratio,
        "torch_float32_max_abs_error_vs_ort": err_torch,
        "ops": sorted(counts),
        "op_counts": dict(sorted(counts.items())),
        "opset": opset,
        "ir_version": m.ir_version,
        "nodes": len(m.graph.node),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "batch_norm_layers_in_torch": n_bn,
        "input": {"name": "input", "shape": list(x.shape), "file": "input.npy"},
        "output": {"name": "output", "shape": list(y.shape), "file": "output.npy"},
        "output_f64": "output_f64.npy",
        "targets": targets,
        "input_gradient_f64": "input_gradient_f64.npy",
        "logit_std": {"across_batch": std_batch, "across_classes": std_class},
        "notes": notes + " Export: " + "; ".join(facts) + ".",
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    size = sum(len(b) for b in files.values())
    if size > MAX_FOLDER_BYTES:
        # The larger models have no room for the gradient: the folder keeps the rest.
        del files["input_gradient_f64.npy"]
        del manifest["input_gradient_f64"]
        manifest["notes"] += " The input gradient is left out: with it the folder would exceed 200 KB."
        files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
        size = sum(len(b) for b in files.values())
    if size > MAX_FOLDER_BYTES:        # checked before the old folder is touched
        raise SystemExit(f"{name}: folder would be {size} bytes (> {MAX_FOLDER_BYTES}); "
                         "left as it was")
    d = OUT / name
    fixture_folders.clear_case_dir(d, GENERATOR)
    d.mkdir(parents=True)
    for fname, b in files.items():
        (d / fname).write_bytes(b)
    assert folder_size(d) == size
    print(f"{name:18s} {manifest['parameters']:6d} params  {len(m.graph.node):4d} nodes  "
          f"{size / 1024:6.1f} KB  logit std {std_batch:.3f}/{std_class:.3f}  "
          f"|ort-f64| {err64:.1e} (ratio {ratio:.3f})  |torch-ort| {err_torch:.1e}  "
          f"targets {targets} (margin {margin:.2e})")
    return manifest["ops"], size


# --------------------------------------------------------------------------- torchvision

def tv_mobilenet_v3():
    from torchvision.models.mobilenetv3 import InvertedResidualConfig as C, MobileNetV3
    # input_channels, kernel, expanded_channels, out_channels, use_se, activation, stride,
    # dilation, width_mult
    cfg = [(8, 3, 8, 8, True, "RE", 2, 1, 1.0),
           (8, 3, 24, 8, False, "RE", 1, 1, 1.0),
           (8, 5, 32, 16, True, "HS", 2, 1, 1.0),
           (16, 3, 48, 16, True, "HS", 1, 1, 1.0),
           (16, 3, 48, 24, False, "HS", 2, 1, 1.0)]
    model = MobileNetV3([C(*c) for c in cfg], last_channel=32, num_classes=NUM_CLASSES)
    source = ("torchvision.models.MobileNetV3(inverted_residual_setting=[InvertedResidualConfig"
              f"(*c) for c in {cfg}], last_channel=32, num_classes=10)")
    notes = ("MobileNetV3 inverted residuals: first block without expansion conv, SE "
             "(adaptive avg pool 1, 1x1 conv, ReLU, 1x1 conv, Hardsigmoid, Mul), ReLU and "
             "Hardswish blocks, residual Adds; last conv 24 -> 144, head Linear-Hardswish-"
             "Dropout-Linear.")
    return model, source, "torchvision", notes


def tv_efficientnet():
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig
    # expand_ratio, kernel, stride, input_channels, out_channels, num_layers
    cfg = [(1, 3, 1, 8, 8, 1), (4, 3, 2, 8, 16, 2), (4, 5, 2, 16, 24, 1)]
    model = EfficientNet([MBConvConfig(*c) for c in cfg], dropout=0.2,
                         stochastic_depth_prob=0.2, num_classes=NUM_CLASSES)
    source = ("torchvision.models.EfficientNet(inverted_residual_setting=[MBConvConfig(*c) "
              f"for c in {cfg}], dropout=0.2, stochastic_depth_prob=0.2, num_classes=10)")
    notes = ("EfficientNet-B0-style MBConv: SiLU everywhere, SE (adaptive avg pool, SiLU, "
             "Sigmoid, Mul) in every block, depthwise 3x3 and 5x5, residual Add where "
             "stride 1 and in == out; last conv 24 -> 96. Stochastic depth (0.2) and "
             "dropout are the identity in eval, so they leave no trace in the graph.")
    return model, source, "torchvision", notes


def tv_regnet_y():
    from torchvision.models.regnet import BlockParams, RegNet
    bp = dict(depths=[1, 2, 1], widths=[8, 16, 32], group_widths=[8, 8, 8],
              bottleneck_multipliers=[1.0, 1.0, 1.0], strides=[2, 2, 2], se_ratio=0.25)
    model = RegNet(BlockParams(**bp), num_classes=NUM_CLASSES, stem_width=8)
    source = f"torchvision.models.RegNet(BlockParams(**{bp}), stem_width=8, num_classes=10)"
    notes = ("RegNetY: SimpleStemIN (3x3 s2), ResBottleneckBlocks with grouped 3x3 convs "
             "(group width 8: groups 1, 2, 4), SE with ReLU/Sigmoid, 1x1 projection "
             "shortcuts, ReLU after the residual Add; head adaptive avg pool + Linear.")
    return model, source, "torchvision", notes


def tv_mnasnet():
    model = torchvision.models.MNASNet(alpha=0.04, num_classes=NUM_CLASSES, dropout=0.2)
    # torchvision hard-codes the final 1x1 conv to 1280 channels (over 200 KB alone):
    # replace that conv, its batch norm and the classifier by 32-wide ones (same types).
    c_in = model.layers[14].in_channels
    model.layers[14] = nn.Conv2d(c_in, 32, 1, padding=0, stride=1, bias=False)
    model.layers[15] = nn.BatchNorm2d(32, momentum=model.layers[15].momentum)
    model.classifier[1] = nn.Linear(32, NUM_CLASSES)
    source = ("torchvision.models.MNASNet(alpha=0.04, num_classes=10, dropout=0.2); then "
              f"layers[14] = Conv2d({c_in}, 32, 1, bias=False), layers[15] = BatchNorm2d(32), "
              "classifier[1] = Linear(32, 10) (torchvision fixes that width at 1280)")
    notes = ("MNASNet-A (B1) with alpha 0.04 (widths 8, last stack 16): stem conv-bn-relu, "
             "separable conv, _stack of "
             "inverted residuals (expansion 3 and 6, kernels 3 and 5, residual Adds), last "
             "1x1 conv (narrowed to 32, see source); head x.mean([2, 3]) -> ReduceMean, "
             "Dropout, Linear.")
    return model, source, "torchvision", notes


def tv_shufflenet_v2():
    rep, chs = [2, 2, 1], [8, 16, 32, 48, 64]
    model = torchvision.models.ShuffleNetV2(rep, chs, num_classes=NUM_CLASSES)
    source = (f"torchvision.models.ShuffleNetV2(stages_repeats={rep}, "
              f"stages_out_channels={chs}, num_classes=10)")
    notes = ("ShuffleNetV2: conv 3x3 s2 + maxpool; stride-2 blocks with two branches "
             "(Concat), stride-1 blocks split the channels with x.chunk(2, dim=1) - exported "
             "as two Slices (not Split) whose bounds are computed at run time: Shape -> "
             "Gather(1) -> Add 1 -> Div 2 (int64, floor) -> Mul 1 / Mul 2; channel shuffle = "
             "Reshape to 5-D [N, 2, C/2, H, W], Transpose perm [0, 2, 1, 3, 4], Reshape back "
             "(constant shapes); conv5 1x1; head x.mean([2, 3]) -> ReduceMean(keepdims 0), "
             "Gemm.")
    return model, source, "torchvision", notes


def tv_convnext():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    cfg = [(8, 16, 1), (16, 32, 2), (32, None, 1)]
    model = ConvNeXt([CNBlockConfig(*c) for c in cfg], stochastic_depth_prob=0.1,
                     layer_scale=1e-6, num_classes=NUM_CLASSES)
    source = (f"torchvision.models.ConvNeXt(block_setting=[CNBlockConfig(*c) for c in {cfg}], "
              "stochastic_depth_prob=0.1, layer_scale=1e-6, num_classes=10); layer_scale "
              "re-drawn U(0.1, 1)")
    notes = ("ConvNeXt: 4x4 s4 patchify stem + LayerNorm2d; CNBlock = depthwise 7x7, "
             "Permute NCHW->NHWC, LayerNorm(eps 1e-6), Linear 4x on the last axis, GELU, "
             "Linear, Permute back, layer scale (Mul by a [C,1,1] parameter), residual Add; "
             "downsampling LayerNorm2d + 2x2 s2 conv; head LayerNorm2d, Flatten, Linear.")
    return model, source, "torchvision", notes


def tv_densenet():
    kw = dict(growth_rate=4, block_config=(2, 2, 2), num_init_features=8, bn_size=2,
              drop_rate=0.0, num_classes=NUM_CLASSES)
    model = torchvision.models.DenseNet(**kw)
    source = f"torchvision.models.DenseNet(**{kw})"
    notes = ("DenseNet: conv 7x7 s2, BN, ReLU, maxpool 3 s2; dense layers are pre-activation "
             "(BN-ReLU-1x1 conv-BN-ReLU-3x3 conv) on the Concat of all earlier features; "
             "transitions BN-ReLU-1x1 conv-avgpool 2; final BN, ReLU, adaptive avg pool, "
             "Flatten, Linear.")
    return model, source, "torchvision", notes


def tv_swin(v2=False):
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2
    depths = [1, 1] if v2 else [2]
    kw = dict(patch_size=[4, 4], embed_dim=16, depths=depths, num_heads=[2] * len(depths), window_size=[4, 4],
              stochastic_depth_prob=0.0, num_classes=NUM_CLASSES)
    extra = dict(block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2) if v2 else {}
    model = torchvision.models.SwinTransformer(**kw, **extra)
    source = (f"torchvision.models.SwinTransformer(**{kw}"
              + (", block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2)" if v2 else ")"))
    notes = ("Swin" + (" V2" if v2 else "") + ": 4x4 s4 conv patch embedding, Permute to NHWC, "
             "LayerNorm; " + ("2 stages of 1 block (window 4, 2 heads) " if v2 else
             "1 stage of 2 blocks (window 4, 2 heads), the second shifted (torch.roll as "
             "Slice + Concat) with the shifted-window mask built from constants (ScatterND, "
             "Sub, Not/Where); ") + "window partition as Reshape / "
             "Transpose / Reshape that folds the windows into the batch axis, attention as "
             + ("cosine attention (ReduceL2 / Clip / Expand / Div normalisation of q and k, a "
                "clamped exp logit scale) with the continuous position bias MLP run on the "
                "constant coordinate table, 16·sigmoid, "
                if v2 else "q·k^T (scale from Pow), relative position bias Gather from its table, ")
             + "Softmax, ·v" + ("; patch merging V2 (Slice of the 2x2 neighbours, Concat, "
                                "Linear, LayerNorm)" if v2 else "")
             + "; final LayerNorm, Permute, adaptive avg pool, Flatten, Linear. Node and "
             "tensor names shortened (n<k>, t<k>) to fit 200 KB.")
    return model, source, "torchvision", notes


def tv_maxvit():
    kw = dict(input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[16],
              block_layers=[1], head_dim=8, stochastic_depth_prob=0.0, num_classes=NUM_CLASSES)
    model = torchvision.models.MaxVit(**kw)
    source = f"torchvision.models.MaxVit(**{kw})"
    notes = ("MaxViT: conv stem (BN, GELU); one stage of one MaxVit layer: MBConv (pre-BN, "
             "1x1 expand, depthwise 3x3, squeeze-excitation with SiLU/Sigmoid, 1x1 project; "
             "shortcut AvgPool + 1x1 conv when it strides), block attention and grid "
             "attention (window / grid partition as Reshape + 6-D Transpose with the batch "
             "first, LayerNorm, attention as Einsum 'BGHID,BGHJD->BGHIJ' and "
             "'BGHIJ,BGHJD->BGHID' with a relative position bias Gather-ed from its table, "
             "MLP with GELU); head: adaptive avg pool, Flatten, LayerNorm, Linear, Tanh, "
             "Linear. Node and tensor names shortened (n<k>, t<k>) to fit 200 KB.")
    return model, source, "torchvision", notes


def tv_vit():
    kw = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
              mlp_dim=32, num_classes=NUM_CLASSES)
    model = torchvision.models.VisionTransformer(**kw)
    source = f"torchvision.models.VisionTransformer(**{kw})"
    notes = ("ViT: 8x8 s8 conv patch embedding, Reshape/Transpose to [N, 16, 16], class "
             "token Expand-ed over the batch (target shape from Where(Equal(...)) on "
             "constants) and concatenated, position embedding added; 2 encoder blocks of "
             "LayerNorm(eps 1e-6), nn.MultiheadAttention (2 heads) traced through its Python "
             "path: Transpose to sequence-first [T, N, E], packed in-projection MatMul + Add, "
             "unflatten via Shape/Mod/Slice/Concat -> Reshape, Unsqueeze + 5-D Transpose "
             "[3, 1, 2, 0, 4] + Squeeze, Gather 0/1/2 for q/k/v, scaled_dot_product_attention "
             "as MatMul/Softmax with the scale computed at run time (Shape -> Slice -> Cast -> "
             "Sqrt -> 1/x, then Sqrt of that multiplied into q and into k^T), out_proj as Gemm "
             "on [T*N, E]; MLP Linear-GELU(Erf)-Linear; final LayerNorm, class token by "
             "Gather(axis 1, index 0), Gemm head. Traced on batch 1 with a dynamic batch: "
             "the attention's Reshape to [T, N*H, D] and Transpose to [N*H, T, D] fold the "
             "batch into the heads.")
    return model, source, "torchvision", notes


# --------------------------------------------------------------------------- timm

def _effnet_builder():
    from timm.models._efficientnet_builder import (decode_arch_def, resolve_act_layer,
                                                   resolve_bn_args, round_channels)
    return decode_arch_def, resolve_act_layer, resolve_bn_args, round_channels


def timm_efficientnet():
    from timm.models.efficientnet import EfficientNet
    decode_arch_def, resolve_act_layer, resolve_bn_args, round_channels = _effnet_builder()
    arch = [["ds_r1_k3_s1_e1_c8_se0.25"], ["ir_r2_k3_s2_e4_c16_se0.25"],
            ["ir_r1_k5_s2_e4_c24_se0.25"]]
    model = EfficientNet(
        block_args=decode_arch_def(arch), num_classes=NUM_CLASSES, num_features=64,
        stem_size=8, round_chs_fn=partial(round_channels, multiplier=1.0, divisor=8),
        act_layer=resolve_act_layer({}, "swish"),
        norm_layer=partial(nn.BatchNorm2d, **resolve_bn_args({})),
        drop_rate=0.2, drop_path_rate=0.1)
    source = (f"timm.models.efficientnet.EfficientNet(block_args=decode_arch_def({arch}), "
              "num_features=64, stem_size=8, act_layer='swish', BatchNorm2d, "
              "drop_rate=0.2, drop_path_rate=0.1, num_classes=10) (as timm's "
              "_gen_efficientnet builds efficientnet_b0, with a tiny arch_def)")
    notes = ("timm EfficientNet: BatchNormAct2d (BN + SiLU), DepthwiseSeparableConv and "
             "InvertedResidual blocks with SqueezeExcite (x.mean((2, 3), keepdim=True) -> "
             "ReduceMean, conv_reduce, SiLU, conv_expand, Sigmoid, Mul), drop path (identity "
             "in eval); conv_head 1x1 to 64, SelectAdaptivePool2d, Flatten, Linear.")
    return model, source, "timm", notes


def timm_mobilenetv3():
    from timm.models._efficientnet_blocks import SqueezeExcite
    from timm.models.mobilenetv3 import MobileNetV3
    decode_arch_def, resolve_act_layer, resolve_bn_args, round_channels = _effnet_builder()
    arch = [["ds_r1_k3_s2_e1_c8_se0.25_nre"],
            ["ir_r1_k3_s2_e4_c16_nre", "ir_r1_k3_s1_e3_c16_nre"],
            ["ir_r1_k5_s2_e3_c24_se0.25"], ["ir_r1_k3_s1_e4_c24_se0.25"],
            ["cn_r1_k1_s1_c96"]]
    se_layer = partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU,
                       rd_round_fn=round_channels)
    model = MobileNetV3(
        block_args=decode_arch_def(arch), num_classes=NUM_CLASSES, num_features=64,
        stem_size=8, fix_stem=True, round_chs_fn=partial(round_channels, multiplier=1.0),
        norm_layer=partial(nn.BatchNorm2d, **resolve_bn_args({})),
        act_layer=resolve_act_layer({}, "hard_swish"), se_layer=se_layer, drop_rate=0.2)
    source = (f"timm.models.mobilenetv3.MobileNetV3(block_args=decode_arch_def({arch}), "
              "num_features=64, stem_size=8, fix_stem=True, act_layer='hard_swish', "
              "se_layer=SqueezeExcite(gate_layer='hard_sigmoid', force_act_layer=nn.ReLU), "
              "BatchNorm2d, drop_rate=0.2, num_classes=10) (as timm's _gen_mobilenet_v3 "
              "builds mobilenetv3_large_100, with a tiny arch_def)")
    notes = ("timm MobileNetV3: hard-swish stem, ReLU ('nre') and hard-swish blocks, "
             "SqueezeExcite with ReLU and hard-sigmoid gate, ConvBnAct 1x1 to 96, "
             "'efficient head': global pool, conv_head 1x1 (bias, no BN) to 64, hard-swish, "
             "Flatten, Linear.")
    return model, source, "timm", notes


def timm_regnety():
    from timm.models.regnet import RegNet, RegNetCfg
    cfg = dict(depth=5, w0=8, wa=8.0, wm=1.5, group_size=8, se_ratio=0.25, stem_width=8)
    model = RegNet(RegNetCfg(**cfg), num_classes=NUM_CLASSES)
    stages = [(len(list(s.children())), next(s.children()).conv3.conv.out_channels)
              for s in (model.s1, model.s2, model.s3, model.s4)]
    source = (f"timm.models.regnet.RegNet(RegNetCfg(**{cfg}), num_classes=10) "
              f"(stages (depth, width): {stages})")
    notes = ("timm RegNetY: stem 3x3 s2, Bottleneck blocks (1x1, grouped 3x3, SEModule: "
             "x.mean((2, 3), keepdim=True) -> ReduceMean, fc1, ReLU, fc2, Sigmoid, Mul; 1x1), "
             "1x1 conv downsample shortcuts, ReLU after Add; head global pool + Linear.")
    return model, source, "timm", notes


def timm_ghostnet():
    from timm.models.ghostnet import GhostNet
    from timm.layers import Linear as TimmLinear
    # k, exp_size, c, se_ratio, s
    cfgs = [[[3, 8, 8, 0, 1]], [[3, 24, 12, 0, 2]], [[5, 32, 16, 0.25, 2]],
            [[3, 48, 24, 0.25, 2], [3, 64, 24, 0.25, 1]]]
    model = GhostNet(cfgs, num_classes=NUM_CLASSES, width=1.0, drop_rate=0.2)
    # timm hard-codes the head to 1280 channels: narrow conv_head + classifier to 64
    model.conv_head = nn.Conv2d(model.pool_dim, 64, 1, 1, 0, bias=True)
    model.head_hidden_size = 64
    model.classifier = TimmLinear(64, NUM_CLASSES)
    source = (f"timm.models.ghostnet.GhostNet(cfgs={cfgs}, width=1.0, drop_rate=0.2, "
              f"num_classes=10); then conv_head = Conv2d({model.pool_dim}, 64, 1), "
              "classifier = timm.layers.Linear(64, 10) (timm fixes that width at 1280)")
    notes = ("timm GhostNet v1: GhostModule = primary 1x1 conv-BN-ReLU, cheap depthwise "
             "3x3 conv-BN-ReLU, Concat, then out[:, :out_chs] (a Slice of the activation); "
             "with ratio 2 and widths that are multiples of 4 every Slice keeps all channels; "
             "GhostBottleneck with depthwise stride-2 conv, SqueezeExcite (hard-sigmoid gate), "
             "conv shortcut; ConvBnAct 1x1, global pool, conv_head (narrowed), ReLU, Linear.")
    return model, source, "timm", notes


def timm_mixnet():
    from timm.models.efficientnet import EfficientNet
    decode_arch_def, resolve_act_layer, resolve_bn_args, round_channels = _effnet_builder()
    arch = [["ds_r1_k3_s1_e1_c8"],
            ["ir_r1_k3_a1.1_p1.1_s2_e3_c16", "ir_r1_k3_a1.1_p1.1_s1_e3_c16"],
            ["ir_r1_k3.5.7_s2_e4_c24_se0.5_nsw", "ir_r1_k3.5_a1.1_p1.1_s1_e3_c24_se0.5_nsw"]]
    model = EfficientNet(
        block_args=decode_arch_def(arch), num_classes=NUM_CLASSES, num_features=64,
        stem_size=8, round_chs_fn=partial(round_channels, multiplier=1.0),
        norm_layer=partial(nn.BatchNorm2d, **resolve_bn_args({})), drop_rate=0.2)
    source = (f"timm.models.efficientnet.EfficientNet(block_args=decode_arch_def({arch}), "
              "num_features=64, stem_size=8, BatchNorm2d, drop_rate=0.2, num_classes=10) "
              "(as timm's _gen_mixnet_s builds mixnet_s, with a tiny arch_def)")
    notes = ("timm MixNet: MixedConv2d = torch.split of the channels (Split with constant "
             "sizes, uneven [22, 21, 21] for 64 channels over kernels 3/5/7), one conv per "
             "group, Concat; grouped 1x1 expansion/projection ('a1.1', 'p1.1') as MixedConv2d "
             "too; ReLU blocks and Swish ('nsw') blocks with SE; conv_head, global pool, Linear.")
    return model, source, "timm", notes


def timm_resnet_d():
    kw = dict(layers=(1, 1, 1, 1), stem_width=8, channels=(8, 16, 24, 32),
              num_classes=NUM_CLASSES)
    model = timm.create_model("resnet18d", pretrained=False, **kw)
    source = (f"timm.create_model('resnet18d', **{kw}) (BasicBlock, stem_type='deep', "
              "avg_down=True)")
    notes = ("timm ResNet-D: deep stem (three 3x3 convs 8-8-16, BN, ReLU), maxpool 3 s2; "
             "BasicBlocks; downsample shortcut = AvgPool2d(2, 2, ceil_mode=True, "
             "count_include_pad=False) + 1x1 conv + BN. Input 40x40 so the feature maps are "
             "10 -> 5 -> 3 -> 2: the avg-pool shortcuts on 5x5 and 3x3 use ceil_mode with a "
             "partial last window (divisor = pixels in the window).")
    return model, source, "timm", notes


def timm_convnext():
    kw = dict(depths=(1, 2, 1, 1), dims=(8, 16, 24, 32), ls_init_value=1e-6, drop_path_rate=0.1,
              num_classes=NUM_CLASSES)
    model = timm.create_model("convnext_tiny", pretrained=False, **kw)
    source = (f"timm.create_model('convnext_tiny', **{kw}) (conv_mlp=False); gammas re-drawn "
              "U(0.1, 1)")
    notes = ("timm ConvNeXt: patchify stem 4x4 s4 + LayerNorm2d (permute, layer_norm, "
             "permute); ConvNeXtBlock = depthwise 7x7, permute to NHWC, LayerNorm, Mlp "
             "(Linear-GELU-Linear on the last axis), permute back, x.mul(gamma.reshape(1, -1, "
             "1, 1)), residual Add; downsample LayerNorm2d + 2x2 s2 conv (timm needs "
             "four stages: 8x8, 4x4, 2x2, 1x1 at 32 px); NormMlpClassifierHead: global pool, "
             "LayerNorm2d, Flatten, Linear.")
    return model, source, "timm", notes


def timm_deit():
    kw = dict(img_size=32, patch_size=8, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0,
              num_classes=NUM_CLASSES)
    model = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, **kw)
    source = (f"timm.create_model('deit_tiny_distilled_patch16_224', **{kw}) "
              "(VisionTransformerDistilled)")
    notes = ("timm DeiT (distilled): 8x8 s8 PatchEmbed (flatten via Shape/Slice/Concat -> "
             "Reshape, Transpose), cls and dist tokens Expand-ed over the batch and "
             "concatenated (T = 18), pos_embed added; 2 blocks of LayerNorm(eps 1e-6), "
             "Attention (qkv MatMul + Add, Reshape to 5-D [N, T, 3, heads, d], Transpose "
             "[2, 0, 3, 1, 4], unbind = Split [1, 1, 1] axis 0 + Squeeze; timm's fused "
             "F.scaled_dot_product_attention exported as MatMul/Softmax with the run-time "
             "scale Shape -> Slice -> Cast -> Sqrt -> 1/x -> Sqrt, multiplied into q and "
             "k^T), proj, residual, LayerNorm, Mlp (GELU via Erf), residual; final LayerNorm; "
             "eval output = (head(x[:, 0]) + head_dist(x[:, 1])) / 2 (Gather, Gemm, Add, Div).")
    return model, source, "timm", notes


def timm_xception():
    block_cfg = [dict(in_chs=64, out_chs=16, stride=2),
                 dict(in_chs=16, out_chs=24, stride=2),
                 dict(in_chs=24, out_chs=24, stride=1),
                 dict(in_chs=24, out_chs=(24, 32, 32), stride=2),
                 dict(in_chs=32, out_chs=(32, 32, 48), stride=1, no_skip=True,
                      start_with_relu=False)]
    model = timm.create_model("xception41", pretrained=False,
                              block_cfg=copy.deepcopy(block_cfg), num_classes=NUM_CLASSES)
    source = (f"timm.create_model('xception41', block_cfg={block_cfg}, num_classes=10) "
              "(XceptionAligned, BatchNorm2d eps 1e-3; the 32/64-channel stem is fixed in timm)")
    notes = ("timm aligned Xception: stem conv 3x3 s2 (3->32) and 3x3 (32->64) with BN-ReLU; "
             "XceptionModules of three SeparableConv2d (ReLU, depthwise 3x3, BN, pointwise "
             "1x1, BN), stride on the third, 1x1 conv + BN shortcut or identity, the last one "
             "without skip; global pool, Linear.")
    return model, source, "timm", notes


CASES = {
    "mobilenet_v3": dict(family="MobileNetV3", seed=301, build=tv_mobilenet_v3),
    "efficientnet": dict(family="EfficientNet", seed=302, build=tv_efficientnet),
    "regnet_y": dict(family="RegNetY", seed=303, build=tv_regnet_y),
    "mnasnet": dict(family="MNASNet", seed=304, build=tv_mnasnet),
    "shufflenet_v2": dict(family="ShuffleNetV2", seed=305, build=tv_shufflenet_v2),
    "convnext": dict(family="ConvNeXt", seed=306, build=tv_convnext),
    "densenet": dict(family="DenseNet", seed=307, build=tv_densenet),
    "vit": dict(family="ViT", seed=308, build=tv_vit, dynamic_batch=True),
    "swin": dict(family="Swin", seed=309, build=tv_swin, dynamic_batch=True, short_names=True),
    "swin_v2": dict(family="Swin V2", seed=310, build=partial(tv_swin, v2=True), dynamic_batch=True,
                    short_names=True),
    "maxvit": dict(family="MaxViT", seed=320, build=tv_maxvit, dynamic_batch=True, short_names=True),
    "timm_efficientnet": dict(family="EfficientNet", seed=311, build=timm_efficientnet),
    "timm_mobilenetv3": dict(family="MobileNetV3", seed=312, build=timm_mobilenetv3),
    "timm_regnety": dict(family="RegNetY", seed=313, build=timm_regnety),
    "timm_ghostnet": dict(family="GhostNet", seed=314, build=timm_ghostnet),
    "timm_mixnet": dict(family="MixNet", seed=315, build=timm_mixnet),
    "timm_resnet_d": dict(family="ResNet-D", seed=316, build=timm_resnet_d, hw=(40, 40)),
    "timm_convnext": dict(family="ConvNeXt", seed=317, build=timm_convnext),
    "timm_deit": dict(family="DeiT", seed=318, build=timm_deit),
    "timm_xception": dict(family="Xception (aligned)", seed=319, build=timm_xception),
}


def main(argv):
    wanted = fixture_folders.selected_cases(argv, CASES)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, timm "
          f"{timm.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
          f"numpy {np.__version__}")
    table = []
    for w in wanted:
        ops, size = write_case(w, CASES[w])
        table.append((w, ops, size))
    print()
    print(f"{'case':18s} {'size':>9s}  ops")
    for w, ops, size in table:
        print(f"{w:18s} {size / 1024:7.1f}KB  {', '.join(ops)}")
    all_ops = sorted({o for _, ops, _ in table for o in ops})
    print(f"\nall ops ({len(all_ops)}): {', '.join(all_ops)}")


if __name__ == "__main__":
    main(sys.argv[1:])
