#!/usr/bin/env python3
"""Write the small Keras fixture models (HDF5 and .keras) and Keras' reference outputs.

What it does
------------
Builds tiny Keras 3 models (torch backend, CPU, one thread), sets every weight
explicitly from a seeded numpy generator (so the files do not depend on Keras'
initialisers), runs them in inference mode and writes, per case, into
Fixtures/keras/<case>/:

    model.h5            the full model in Keras' legacy HDF5 layout, as
                        `model.save("model.h5")` writes it (root attrs model_config,
                        keras_version, backend; weights under model_weights/<layer>/...)
                        -- keras2_layout only: written by h5py in the Keras 2.x layout
    model.keras         the Keras 3 zip (metadata.json, config.json, model.weights.h5),
                        re-zipped for reproducibility (see "Reproducible" below)
    model.weights.h5    sequential_cnn only: `model.save_weights(...)`, Keras 3's
                        weights-only layout (layers/<class_snake>/vars/<i>)
    legacy.weights.h5   sequential_cnn only: the legacy weights-only layout (root attr
                        layer_names, one group per layer with weight_names), written
                        with keras.src.legacy.saving.legacy_h5_format.
                        save_weights_to_hdf5_group
    model.json          sequential_cnn only: `model.to_json()` (architecture)
    input.npy           float32 NHWC input (batch 2)
    output.npy          float32 output of the model (model(x, training=False))
    layers/<name>.npy   every layer's output in Keras' own layout (NHWC for 4-D),
                        taken from a functional sub-model over the same graph; a
                        layer applied more than once (shared layer) has one file per
                        call: <name>.npy for node 0, <name>__node<i>.npy for node i
    manifest.json       generator, reference + versions, seed, atol/rtol, layout,
                        input/output, ordered layer list {name, class_name, node_index,
                        file, output_shape}, files, the exact HDF5 layout of every
                        HDF5 file written (group paths, attribute names and their
                        stored HDF5 types), reload checks, notes

and Fixtures/keras/malformed/: broken or unsupported files with what each should
trigger in a reader and what Keras itself does with it (manifest.json).

Cases
-----
sequential_cnn       Sequential: Conv2D same relu, BatchNormalization, MaxPooling2D,
                     Conv2D valid stride 2 no bias, Activation tanh, Flatten, Dropout,
                     Dense relu, Dense softmax (+ weights-only / json / legacy files)
functional_branches  Functional: shared Conv2D (two inbound nodes), a tensor feeding
                     two branches, DepthwiseConv2D (depth_multiplier 2), SeparableConv2D,
                     ZeroPadding2D ((1,2),(0,1)), PReLU per channel, LeakyReLU, ReLU
                     max_value / negative_slope / threshold, Add, Concatenate, BN eps 1e-5,
                     AveragePooling2D same, Global{Average,Max}Pooling2D, Dense, softmax
padding_edges        Keras' asymmetric "same" padding: kernel 4 stride 2 on odd and
                     even sizes, even kernel stride 1, dilation 2, MaxPooling2D 3/2 same,
                     AveragePooling2D 2/2 same on an odd size; Reshape no-ops; sigmoid,
                     linear. Every same-padded layer is checked against a numpy
                     TensorFlow-semantics reference (pads in the manifest).
avgpool_same_asym    AveragePooling2D same with asymmetric padding where Keras' torch
                     backend disagrees with TensorFlow/JAX (it pads by replicating the
                     edge); output.npy is the TensorFlow semantics (numpy), Keras-torch's
                     own output is output_keras_torch.npy.
keras2_layout        a model.h5 written by h5py in the Keras 2.x (tf.keras 2.11) layout
                     (Keras 2 config form, kernel:0 names, fixed-length byte strings);
                     reference outputs from the same model rebuilt in Keras 3.
malformed            see Fixtures/keras/malformed/manifest.json.
conv_transpose       Conv2DTranspose: "same" (crops 0/1 and 1/1, output_padding, dilation)
                     and "valid" (kernel below the stride, output_padding), no bias;
                     also keras2.h5, the same model saved by tf_keras (Keras 2)
prelu_positions      PReLU without shared_axes (a slope per position), with some shared
                     axes, per channel and scalar, on images, tokens and a vector; also
                     keras2.h5 from tf_keras
keras2_ops           built by tf_keras alone (model.h5, no .keras): tf.* calls saved as
                     TFOpLambda (number after or before the tensor, two tensors, activations)
                     and SlicingOpLambda (x[:, 1:4, ::2, :], negative bounds); Keras 2's
                     hard_sigmoid
upsampling           UpSampling2D nearest (size 2) and bilinear (size (2, 3))
nested_sequential    Sequential models used as layers (ConvNeXt's stem and downsampling
                     blocks): Conv2D + LayerNormalization and LayerNormalization + Conv2D
                     nested in a functional model, DepthwiseConv2D, GAP, Dense softmax
modern_activations   the Activation layer with silu, swish, hard_silu, hard_swish, gelu (exact;
                     no string selects the tanh form), elu, selu, softplus, softsign, mish,
                     exponential, hard_sigmoid, leaky_relu, relu6 (the strings "swish" and
                     "hard_swish", which Keras 3 saves as silu / hard_silu, are put back into
                     the saved configs), ELU alpha 0.7, Softmax axis -1, Identity, Add,
                     Concatenate
modern_layers        keras.applications blocks: Rescaling (scalar and per-channel),
                     Normalization (mean/variance as weights and in the config), squeeze-and-
                     excite (GAP -> Reshape -> Conv 1x1 relu -> Conv 1x1 sigmoid -> Multiply),
                     Cropping2D ((1,0),(0,1)), LayerNormalization eps 1e-6, Dense on a 4-D
                     tensor, ConvNeXt's LayerScale, Add
modern_merge_reshape Subtract, Average, Minimum, MobileNetV3 squeeze-and-excite (GAP keepdims,
                     hard_sigmoid, broadcast operand first), Reshape (4,4,C) -> (16,C) with
                     LayerNormalization / Dense on the tokens, Reshape -> (2,8,C) with a
                     Conv2D, Flatten of both, GAP, Dense softmax
modern_ops           keras.ops calls in the graph as MobileNetV3 writes hard_sigmoid,
                     ReLU(6.0)(x + 3.0) * (1.0 / 6.0): operation nodes with class_name Add /
                     Multiply and a float operand; hard_swish Multiply([x, hard_sigmoid(x)]),
                     squeeze-and-excite, Conv head, Flatten (Keras cannot reload its own
                     model.h5 of it; model.keras loads)
(the modern_* cases are split in four so each folder stays under 200 KB: Keras' HDF5
files cost about 2.5 KB per layer)

Reproducible
------------
Seeds are fixed (keras.utils.set_random_seed + numpy default_rng per case) and every
weight is set with numpy. Keras' own .h5 / .weights.h5 output is byte-stable; the
.keras zip is not (entry timestamp, metadata.json date_saved, and config.json
"shared_object_id" values that are Python id()s), so model.keras is re-zipped: the
same entries in the same order, stored, dated 1980-01-01, date_saved set to
"1980-01-01@00:00:00" and shared_object_id renumbered 1, 2, ... in order of first
appearance. Keras loads the result (checked). Re-running gives byte-identical files
for the same keras / torch / h5py / numpy versions. A case folder is only replaced if
its manifest says it was made by this script.

Usage
-----
    python3 Tools/make_keras_fixtures.py                 # (re)write every case
    python3 Tools/make_keras_fixtures.py padding_edges malformed   # only these

Needs: keras 3.15.1 (pip install keras==3.15.1), torch (CPU is enough), h5py, numpy;
conv_transpose and prelu_positions (their keras2.h5 twins) and keras2_ops also
tensorflow-cpu 2.20 and tf-keras 2.20. KERAS_BACKEND=torch is set before keras is imported.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"          # must precede `import keras`
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import io
import json
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import absl.logging
import h5py
import numpy as np
import torch

import keras
from keras import layers as L
from keras.src.legacy.saving import legacy_h5_format

absl.logging.set_verbosity(absl.logging.ERROR)   # "HDF5 is legacy" warning on every save
warnings.filterwarnings("ignore")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "keras"
GENERATOR = "Tools/make_keras_fixtures.py"
ATOL, RTOL = 1e-5, 1e-4
FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_DATE_SAVED = "1980-01-01@00:00:00"


def versions():
    return {"keras": keras.__version__, "torch": torch.__version__,
            "h5py": h5py.__version__, "numpy": np.__version__,
            "hdf5": h5py.version.hdf5_version}


def reference():
    return f"Keras {keras.__version__}, torch backend (torch {torch.__version__}, CPU, 1 thread)"


# --------------------------------------------------------------------------- weights

def weight_value(var_name, shape, rng, depthwise=False, layer_class=None):
    """A realistic value for one Keras variable, chosen by its name. Keras 3 names
    DepthwiseConv2D's kernel plain 'kernel' (Keras 2: 'depthwise_kernel'). LayerNormalization
    has gamma / beta like BatchNormalization; Normalization has mean / variance / count;
    ConvNeXt's LayerScale adds its scale without a name, so Keras calls it 'variable'."""
    shape = tuple(int(s) for s in shape)
    if var_name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
        if var_name == "depthwise_kernel" or depthwise:   # (kh, kw, in, multiplier)
            fan_in = shape[0] * shape[1]
        else:                                     # HWIO conv / (in, out) dense
            fan_in = int(np.prod(shape[:-1]))
        scale = min(0.5, 1.6 / np.sqrt(max(fan_in, 1)))
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    if var_name == "bias":
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)
    if var_name == "gamma":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if var_name == "beta":
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)
    if var_name == "moving_mean":
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)
    if var_name == "moving_variance":
        return rng.uniform(0.5, 2.0, shape).astype(np.float32)
    if var_name == "alpha":                       # PReLU slope
        return rng.uniform(0.05, 0.4, shape).astype(np.float32)
    if var_name == "mean":                        # Normalization (adapt's result)
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)
    if var_name == "variance":
        return rng.uniform(0.3, 2.0, shape).astype(np.float32)
    if var_name == "count":                       # int32 scalar, unused in inference
        return np.array(1000, dtype=np.int32).reshape(shape)
    if var_name == "variable" and layer_class == "LayerScale":   # its gamma
        return rng.uniform(0.2, 1.2, shape).astype(np.float32)
    raise ValueError(f"no init rule for variable {var_name!r}")


def init_weights(model, rng):
    for layer in model.layers:
        if not layer.weights:
            continue
        dw = isinstance(layer, L.DepthwiseConv2D)
        cls = layer.__class__.__name__
        layer.set_weights([weight_value(v.name, v.shape, rng, dw, cls) for v in layer.weights])


# --------------------------------------------------------------------------- running

def input_layer_of(model):
    return model.inputs[0]._keras_history.operation


def graph_nodes(model):
    """[(layer, node_index, KerasTensor)] in model order, InputLayer first. Includes
    keras.ops calls in the graph (e.g. `x + 3.0`), which are operations, not layers."""
    inp = input_layer_of(model)
    out = [(inp, 0, model.inputs[0])]
    for layer in getattr(model, "operations", None) or model.layers:   # Sequential: layers
        if layer is inp:
            continue
        for i, node in enumerate(layer._inbound_nodes):
            assert len(node.output_tensors) == 1, f"{layer.name}: one output per node"
            out.append((layer, i, node.output_tensors[0]))
    return out


def to_np(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def run_layers(model, x):
    """Model output and every layer output (ordered list of entries with values)."""
    y = to_np(model(x, training=False))
    nodes = graph_nodes(model)
    sub = keras.Model(model.inputs, [t for (_, _, t) in nodes[1:]])
    vals = [x] + [to_np(v) for v in sub(x, training=False)]
    entries = []
    for (layer, i, _), v in zip(nodes, vals):
        assert re.fullmatch(r"[A-Za-z0-9_]+", layer.name), layer.name
        fn = f"layers/{layer.name}.npy" if i == 0 else f"layers/{layer.name}__node{i}.npy"
        entries.append({"name": layer.name, "class_name": layer.__class__.__name__,
                        "node_index": i, "file": fn, "output_shape": list(v.shape),
                        "_value": v.astype(np.float32)})
        if not isinstance(layer, L.Layer):          # a keras.ops operation node
            entries[-1]["keras_op"] = f"{layer.__class__.__module__}.{layer.__class__.__name__}"
    last = entries[-1]["_value"]
    assert np.allclose(last, y, atol=1e-6, rtol=0), "sub-model disagrees with model"
    return y.astype(np.float32), entries


def value_of(entries, layer_name, node_index=0):
    for e in entries:
        if e["name"] == layer_name and e["node_index"] == node_index:
            return e["_value"]
    raise KeyError(layer_name)


def inbound_value(entries, layer, node_index=0):
    """The value that fed node `node_index` of `layer` (single-input layers)."""
    t = layer._inbound_nodes[node_index].input_tensors[0]
    h = t._keras_history
    return value_of(entries, h.operation.name, h.node_index)


# --------------------------------------------------------------------------- files

def clear_case_dir(d):
    fixture_folders.clear_case_dir(d, GENERATOR)


def normalize_keras_zip(src, dst, config_edit=None):
    """Re-zip a .keras file so that it is byte-stable (see module docstring).
    config_edit(config dict) may change config.json first (written back the way Keras
    writes it, json.dumps with default separators)."""
    with zipfile.ZipFile(src) as zin:
        entries = [(i.filename, zin.read(i.filename), i.compress_type) for i in zin.infolist()]
    ids = {}

    def renumber(m):
        ids.setdefault(m.group(1), len(ids) + 1)
        return b'"shared_object_id": ' + str(ids[m.group(1)]).encode()

    with zipfile.ZipFile(dst, "w") as zout:
        for name, data, ctype in entries:
            if name == "config.json":
                if config_edit:
                    cfg = json.loads(data)
                    config_edit(cfg)
                    data = json.dumps(cfg).encode()
                data = re.sub(rb'"shared_object_id": (\d+)', renumber, data)
            elif name == "metadata.json":
                meta = json.loads(data)
                if "date_saved" in meta:
                    meta["date_saved"] = FIXED_DATE_SAVED
                data = json.dumps(meta).encode()
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
            zi.compress_type = ctype
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)


def save_keras_zip(model, dst, config_edit=None):
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / "model.keras"
        model.save(str(tmp))
        normalize_keras_zip(tmp, dst, config_edit)


def edit_h5_config(path, config_edit):
    """Apply config_edit to model.h5's model_config attribute, stored back the way
    Keras' legacy saver stores it (json.dumps(...).encode('utf8'))."""
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        config_edit(cfg)
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")


def attr_type(obj, key):
    """The stored HDF5 type of one attribute, e.g. 'vlen UTF-8 string scalar'."""
    aid = obj.attrs.get_id(key)
    ty = aid.get_type()
    shape = aid.shape
    cls = ty.get_class()
    if cls == h5py.h5t.STRING:
        cset = "UTF-8" if ty.get_cset() == h5py.h5t.CSET_UTF8 else "ASCII"
        kind = (f"vlen {cset} string" if ty.is_variable_str()
                else f"fixed-length ({ty.get_size()} B) {cset} string")
    elif cls == h5py.h5t.FLOAT:
        kind = f"float{ty.get_size() * 8}"
    elif cls == h5py.h5t.INTEGER:
        kind = f"int{ty.get_size() * 8}"
    else:
        kind = f"HDF5 class {cls}"
    return kind + (" scalar" if shape in ((), None) else f" array{list(shape)}")


def attr_value(obj, key):
    v = obj.attrs[key]
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode("utf8")
    if isinstance(v, np.ndarray):
        v = [s.decode("utf8") if isinstance(s, (bytes, np.bytes_)) else
             (s.item() if hasattr(s, "item") else s) for s in v.tolist()]
    if isinstance(v, str) and len(v) > 60:
        v = f"<{len(v)} chars, starts {v[:40]!r}>"
    return v


def h5_layout(f):
    """Every group / dataset / attribute of an open HDF5 file, one line each."""
    lines = []

    def attrs(path, obj):
        for k in obj.attrs:
            lines.append(f"{path} @{k}: {attr_type(obj, k)} = {json.dumps(attr_value(obj, k))}")

    lines.append("/ (root group)")
    attrs("/", f)

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            lines.append(f"/{name}: dataset {obj.dtype} {list(obj.shape)}")
        else:
            lines.append(f"/{name}/ (group)")
        attrs("/" + name, obj)

    f.visititems(visit)
    return lines


def h5_layout_of(path):
    with h5py.File(path, "r") as f:
        return h5_layout(f)


def keras_zip_weights_layout(path):
    with zipfile.ZipFile(path) as z:
        data = z.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as f:
        return h5_layout(f)


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def reload_checks(d, x, y, has_h5=True, custom_objects=None):
    """Load model.h5 and model.keras back with Keras and compare to output.npy."""
    checks = {}
    for fn in (["model.h5"] if has_h5 else []) + ["model.keras"]:
        m = keras.models.load_model(str(d / fn), compile=False, custom_objects=custom_objects)
        diff = max_diff(to_np(m(x, training=False)), y)
        assert diff <= ATOL, f"{d.name}/{fn}: reload differs by {diff}"
        checks[f"keras.models.load_model('{fn}')"] = f"reproduces output.npy, max |diff| {diff:.3g}"
    return checks


def inbound_nodes_example(h5_path, layer_name):
    with h5py.File(h5_path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
    for lay in cfg["config"]["layers"]:
        if lay.get("name", lay["config"].get("name")) == layer_name:
            return json.dumps(lay.get("inbound_nodes"))
    raise KeyError(layer_name)


def write_case(name, model, x, seed, notes, extra=None, post=None, write_h5=None,
               h5_checked=True, config_edit=None, custom_objects=None):
    """Write one case folder. extra(d, model, entries) -> dict merged into the
    manifest; post(entries, y) may replace reference values (returns dict for the
    manifest); write_h5(path) replaces `model.save` for model.h5; config_edit(config)
    edits the saved model config of model.h5 and model.keras (Keras must still load
    them: the reload checks run on the edited files); custom_objects is what
    keras.models.load_model needs for the reload checks."""
    d = OUT / name
    clear_case_dir(d)
    (d / "layers").mkdir(parents=True)

    y, entries = run_layers(model, x)
    y_keras = y
    post_info = post(d, entries, y) if post else {}
    y = entries[-1]["_value"]

    if write_h5:
        write_h5(d / "model.h5")
    else:
        model.save(str(d / "model.h5"))
        if config_edit:
            edit_h5_config(d / "model.h5", config_edit)
    save_keras_zip(model, d / "model.keras", config_edit)

    np.save(d / "input.npy", x.astype(np.float32))
    np.save(d / "output.npy", y)
    for e in entries:
        np.save(d / e["file"], e["_value"])

    manifest_extra = extra(d, model, entries) if extra else {}
    checks = reload_checks(d, x, y_keras, has_h5=h5_checked, custom_objects=custom_objects)
    checks.update(manifest_extra.pop("checks", {}))

    layouts = {"model.h5": h5_layout_of(d / "model.h5"),
               "model.keras -> model.weights.h5": keras_zip_weights_layout(d / "model.keras")}
    layouts.update(manifest_extra.pop("h5_layout", {}))

    out_entry = entries[-1]
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    files.append("manifest.json")
    manifest = {
        "generator": GENERATOR,
        "reference": reference(),
        "versions": versions(),
        "seed": seed,
        "atol": ATOL,
        "rtol": RTOL,
        "layout": "NHWC",
        "input": {"name": entries[0]["name"], "shape": list(x.shape), "file": "input.npy"},
        "output": {"name": out_entry["name"], "shape": list(y.shape), "file": "output.npy"},
        "layers": [{k: v for k, v in e.items() if k != "_value"} for e in entries],
        "files": sorted(files),
        "notes": notes,
    }
    manifest.update(post_info)
    manifest.update(manifest_extra)
    manifest["checks"] = checks
    manifest["h5_layout"] = layouts
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = max(f.stat().st_size for f in d.rglob("*") if f.is_file())
    total = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    print(f"{name:20s} {len(entries):2d} layer outputs  largest file {size / 1024:5.1f} KB  "
          f"total {total / 1024:6.1f} KB")
    return manifest


# --------------------------------------------------------------------------- numpy TF-semantics reference

def same_pads(n, k, s, d=1):
    """TensorFlow/Keras 'same': out = ceil(n/s); the odd pixel goes at the end."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return (total // 2, total - total // 2)


def np_conv2d(x, w, b, strides, dil, pads):
    x = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    kh, kw, _, co = w.shape
    oh = (x.shape[1] - ((kh - 1) * dil[0] + 1)) // strides[0] + 1
    ow = (x.shape[2] - ((kw - 1) * dil[1] + 1)) // strides[1] + 1
    y = np.zeros((x.shape[0], oh, ow, co))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dil[0], j * dil[1]
            patch = x[:, r0:r0 + (oh - 1) * strides[0] + 1:strides[0],
                      c0:c0 + (ow - 1) * strides[1] + 1:strides[1], :]
            y += patch @ w[i, j].astype(np.float64)
    return y + (0 if b is None else b.astype(np.float64))


def np_pool2d(x, k, s, pads, kind):
    """Padding never counts: max ignores it, average divides by the real pixels."""
    x = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)),
               constant_values=np.nan)
    oh = (x.shape[1] - k[0]) // s[0] + 1
    ow = (x.shape[2] - k[1]) // s[1] + 1
    wins = np.stack([x[:, i:i + (oh - 1) * s[0] + 1:s[0], j:j + (ow - 1) * s[1] + 1:s[1], :]
                     for i in range(k[0]) for j in range(k[1])])
    return np.nanmax(wins, axis=0) if kind == "max" else np.nanmean(wins, axis=0)


ACTS = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0),
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}


def check_same_layer(layer, entries):
    """numpy TF-semantics reference for one Conv2D / pooling layer (any padding)."""
    xin = inbound_value(entries, layer)
    got = value_of(entries, layer.name)
    cfg = layer.get_config()
    h, w = xin.shape[1:3]
    if isinstance(layer, L.Conv2D):
        k, s, dl = cfg["kernel_size"], cfg["strides"], cfg["dilation_rate"]
    else:
        k, s, dl = cfg["pool_size"], cfg["strides"], (1, 1)
    if cfg["padding"] == "same":
        pads = (same_pads(h, k[0], s[0], dl[0]), same_pads(w, k[1], s[1], dl[1]))
    else:
        pads = ((0, 0), (0, 0))
    if isinstance(layer, L.Conv2D):
        ws = layer.get_weights()
        ref = ACTS[cfg["activation"]](np_conv2d(xin, ws[0], ws[1] if cfg["use_bias"] else None,
                                                s, dl, pads))
    else:
        ref = np_pool2d(xin, k, s, pads, "max" if isinstance(layer, L.MaxPooling2D) else "avg")
    return {"layer": layer.name, "class_name": layer.__class__.__name__,
            "padding": cfg["padding"], "input_hw": [int(h), int(w)], "kernel": list(k),
            "strides": list(s), "dilation": list(dl),
            "pads_top_bottom_left_right": [pads[0][0], pads[0][1], pads[1][0], pads[1][1]],
            "output_hw": list(got.shape[1:3]),
            "numpy_tf_semantics_max_abs_diff": max_diff(ref, got)}, ref


# --------------------------------------------------------------------------- cases

def case_sequential_cnn():
    seed = 1
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential([
        keras.Input((16, 16, 3), name="input"),
        L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        L.BatchNormalization(name="bn1"),                       # epsilon 1e-3 (default)
        L.MaxPooling2D(2, name="pool1"),                        # valid, 16 -> 8
        L.Conv2D(8, 3, strides=2, padding="valid", use_bias=False, name="conv2"),  # 8 -> 3
        L.Activation("tanh", name="act_tanh"),
        L.Flatten(name="flatten"),                              # 3*3*8 = 72, HWC order
        L.Dropout(0.3, name="dropout"),
        L.Dense(16, activation="relu", name="fc1"),
        L.Dense(5, activation="softmax", name="fc2"),
    ], name="sequential_cnn")
    init_weights(model, rng)
    x = rng.standard_normal((2, 16, 16, 3)).astype(np.float32)

    def extra(d, model, entries):
        model.save_weights(str(d / "model.weights.h5"))
        (d / "model.json").write_text(model.to_json())
        with h5py.File(d / "legacy.weights.h5", "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        y = np.load(d / "output.npy")
        checks = {}
        m = keras.models.model_from_json((d / "model.json").read_text())
        m.load_weights(str(d / "model.weights.h5"))
        diff = max_diff(to_np(m(x, training=False)), y)
        assert diff <= ATOL
        checks["model_from_json(model.json) + load_weights('model.weights.h5')"] = \
            f"reproduces output.npy, max |diff| {diff:.3g}"
        m = keras.models.model_from_json((d / "model.json").read_text())
        with h5py.File(d / "legacy.weights.h5", "r") as f:
            legacy_h5_format.load_weights_from_hdf5_group(f, m)
        diff = max_diff(to_np(m(x, training=False)), y)
        assert diff <= ATOL
        checks["model_from_json + legacy_h5_format.load_weights_from_hdf5_group("
               "h5py.File('legacy.weights.h5'))"] = f"reproduces output.npy, max |diff| {diff:.3g}"
        try:
            m.load_weights(str(d / "legacy.weights.h5"))
            checks["model.load_weights('legacy.weights.h5')"] = "loads"
        except Exception as e:   # noqa: BLE001 - we record what Keras says
            checks["model.load_weights('legacy.weights.h5')"] = (
                f"fails: {type(e).__name__}: {clean_msg(e)} -- a name ending in .weights.h5 "
                "makes Keras 3 expect its own layout; the same bytes named legacy.h5 load")
        return {
            "checks": checks,
            "h5_layout": {"model.weights.h5": h5_layout_of(d / "model.weights.h5"),
                          "legacy.weights.h5": h5_layout_of(d / "legacy.weights.h5")},
            "flatten_order": "Flatten of NHWC (2,3,3,8) gives index (h*3 + w)*8 + c; fc1's "
                             "kernel (72,16) rows are in that order. An NCHW importer that "
                             "flattens C,H,W must permute fc1's kernel rows.",
        }

    notes = (
        "Sequential model. conv1 3x3 same (stride 1: pads 1/1) with inline activation relu; "
        "bn1 BatchNormalization epsilon 1e-3 (default) axis -1 with moving_mean/variance, "
        "gamma, beta set from numpy: y = gamma*(x-mean)/sqrt(var+eps)+beta; pool1 "
        "MaxPooling2D 2x2 valid; conv2 3x3 stride 2 valid, use_bias False (8x8 -> 3x3); "
        "Activation tanh; Flatten (HWC order, see flatten_order); Dropout 0.3 (identity "
        "in inference); fc1 Dense relu; fc2 Dense softmax. Sequential's legacy "
        "model_config lists the InputLayer first (config.batch_shape [null,16,16,3]) and has "
        "no inbound_nodes at all: layers chain in list order. In model.h5 the weight_names "
        "are Keras 3 variable paths '<model name>/<layer>/<var>' (e.g. "
        "'sequential_cnn/conv1/kernel', no ':0') and, because HDF5 treats '/' as a "
        "separator, the dataset sits at model_weights/conv1/sequential_cnn/conv1/kernel: "
        "resolve each weight_names entry as a path relative to the layer's group. "
        "model.weights.h5 (Keras 3 save_weights) names groups by class, not layer: "
        "layers/conv2d, layers/conv2d_1, layers/batch_normalization, layers/dense, "
        "layers/dense_1, ... with datasets vars/0, vars/1, ... (kernel, bias; BN: gamma, "
        "beta, moving_mean, moving_variance) and the layer name only in the vars group's "
        "attribute 'name'; weight-less layers still get an empty vars group. "
        "legacy.weights.h5 is model_weights' content at the root: attrs layer_names "
        "(layers without InputLayer), backend, keras_version, then one group per layer with "
        "weight_names, plus an empty top_level_model_weights group.")
    write_case("sequential_cnn", model, x, seed, notes, extra=extra)


def case_functional_branches():
    seed = 2
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((16, 16, 4), name="image")
    stem = L.Conv2D(8, 3, padding="same", name="stem")(inp)
    act = L.PReLU(shared_axes=[1, 2], name="prelu")(stem)          # alpha (1,1,8)
    # `act` feeds two branches
    b1 = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(act)   # 16 ch
    b1 = L.BatchNormalization(epsilon=1e-5, name="bn_dw")(b1)
    b1 = L.ReLU(max_value=6.0, name="relu6")(b1)
    b2 = L.SeparableConv2D(16, 3, padding="same", name="sep")(act)
    b2 = L.LeakyReLU(negative_slope=0.2, name="lrelu")(b2)
    s = L.Add(name="add")([b1, b2])
    # the raw input feeds a second branch too
    z = L.ZeroPadding2D(((1, 2), (0, 1)), name="zpad")(inp)          # 19 x 17
    z = L.Conv2D(16, (4, 2), padding="valid", name="conv_zp")(z)      # 16 x 16
    z = L.Activation("relu", name="act_relu")(z)
    shared = L.Conv2D(8, 1, name="shared_1x1")                       # applied twice
    s1 = shared(s)
    s2 = shared(z)
    s1 = L.ReLU(negative_slope=0.1, name="relu_slope")(s1)
    s2 = L.ReLU(threshold=0.5, name="relu_thresh")(s2)
    c = L.Concatenate(axis=-1, name="concat")([s1, s2])                # 16 ch
    c = L.AveragePooling2D(3, strides=1, padding="same", name="avgpool_same")(c)
    c = L.MaxPooling2D(2, name="maxpool")(c)                           # 8 x 8
    g1 = L.GlobalAveragePooling2D(name="gap")(c)
    g2 = L.GlobalMaxPooling2D(name="gmp")(c)
    h = L.Concatenate(name="head_concat")([g1, g2])                    # 32
    h = L.Dense(6, name="logits")(h)
    out = L.Activation("softmax", name="probs")(h)
    model = keras.Model(inp, out, name="functional_branches")
    init_weights(model, rng)
    x = rng.standard_normal((2, 16, 16, 4)).astype(np.float32)

    def extra(d, model, entries):
        info = {}
        rows = []
        for lname in ("avgpool_same", "maxpool", "conv_zp"):
            row, _ = check_same_layer(model.get_layer(lname), entries)
            assert row["numpy_tf_semantics_max_abs_diff"] <= ATOL, row
            rows.append(row)
        info["padding_checks"] = rows
        info["inbound_nodes_example"] = {
            "shared_1x1 (two nodes)": inbound_nodes_example(d / "model.h5", "shared_1x1"),
            "add (two inputs)": inbound_nodes_example(d / "model.h5", "add"),
        }
        return info

    notes = (
        "Functional model. prelu PReLU shared_axes [1,2]: alpha shape (1,1,8), one slope "
        "per channel, y = relu(x) - alpha*relu(-x). prelu's output feeds two branches: dw "
        "DepthwiseConv2D 3x3 same depth_multiplier 2 (kernel (3,3,8,2); output channel "
        "c*2+m), bn_dw BatchNormalization epsilon 1e-5, relu6 ReLU max_value 6; and sep "
        "SeparableConv2D 16 3x3 same (depthwise_kernel (3,3,8,1), pointwise_kernel "
        "(1,1,8,16), bias (16)), lrelu LeakyReLU negative_slope 0.2; add sums them. The "
        "input 'image' also feeds zpad ZeroPadding2D ((1,2),(0,1)) = top 1, bottom 2, left "
        "0, right 1 (16x16 -> 19x17), conv_zp Conv2D (4,2) valid (-> 16x16), act_relu. "
        "shared_1x1 is ONE Conv2D layer called twice (node 0 on add, node 1 on act_relu): "
        "one set of weights, two inbound nodes; layers/shared_1x1.npy is node 0, "
        "layers/shared_1x1__node1.npy node 1. In model_config a consumer names the node "
        "through keras_history [layer, node_index, tensor_index] (relu_thresh reads "
        "['shared_1x1', 1, 0]). relu_slope ReLU negative_slope 0.1: x>0 ? x : 0.1*x. "
        "relu_thresh ReLU threshold 0.5: x>0.5 ? x : 0 (strictly greater; Keras' general "
        "form is clip(x>t ? x : 0, 0, max_value) - negative_slope*relu(t-x)). concat "
        "Concatenate axis -1 (channels). avgpool_same AveragePooling2D 3x3 stride 1 same "
        "(pads 1/1, symmetric): border windows divide by the number of real pixels (4 in a "
        "corner, 6 on an edge), never by 9. maxpool 2x2 valid; gap / gmp global average / "
        "max over H,W of the same tensor; head_concat; logits Dense 6; probs Activation "
        "softmax. padding_checks compares three layers with a numpy TF-semantics "
        "reference. model.h5: weight_names here are '<layer>/<var>' with NO model-name "
        "prefix (layers built outside the model; the Sequential case, whose layers are "
        "built inside it, has 'sequential_cnn/conv1/kernel'), so datasets sit at "
        "model_weights/<layer>/<layer>/<var> -- resolve weight_names, do not assume a "
        "depth. Keras 3 names DepthwiseConv2D's kernel 'kernel' (dw/kernel, Keras 2: "
        "depthwise_kernel:0); SeparableConv2D has depthwise_kernel, pointwise_kernel, bias. "
        "layer_names includes the InputLayer 'image' (empty group) in a Functional model "
        "but not in a Sequential one. The shared layer has one group and one set of "
        "weights.")
    write_case("functional_branches", model, x, seed, notes, extra=extra)


def case_padding_edges():
    seed = 3
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((23, 23, 3), name="input")
    # branch A: odd sizes
    a = L.Conv2D(6, 4, strides=2, padding="same", name="conv_k4s2_odd")(inp)       # 23 -> 12
    a = L.Activation("sigmoid", name="act_sigmoid")(a)
    a = L.MaxPooling2D(3, strides=2, padding="same", name="maxpool_p3s2_same")(a)   # 12 -> 6
    a = L.Conv2D(6, 3, dilation_rate=2, padding="same", name="conv_dil2_same")(a)   # 6 -> 6
    # branch B: even sizes
    b = L.Conv2D(6, 2, padding="valid", name="conv_k2_valid")(inp)                 # 23 -> 22
    b = L.Conv2D(6, 4, strides=2, padding="same", name="conv_k4s2_even")(b)        # 22 -> 11
    b = L.AveragePooling2D(2, strides=2, padding="same", name="avgpool_p2s2_same")(b)  # 11 -> 6
    b = L.Conv2D(6, 4, strides=1, padding="same", use_bias=False,
                 name="conv_k4s1_same")(b)                                          # 6 -> 6
    c = L.Concatenate(name="concat")([a, b])                                        # 6x6x12
    c = L.Reshape((6, 6, 12), name="reshape_noop")(c)
    c = L.Activation("linear", name="act_linear")(c)
    c = L.Flatten(name="flatten")(c)                                                # 432
    c = L.Reshape((432,), name="reshape_flat_noop")(c)
    out = L.Dense(4, name="dense")(c)
    model = keras.Model(inp, out, name="padding_edges")
    init_weights(model, rng)
    x = rng.standard_normal((2, 23, 23, 3)).astype(np.float32)

    def extra(d, model, entries):
        rows = []
        for lname in ("conv_k4s2_odd", "maxpool_p3s2_same", "conv_dil2_same", "conv_k2_valid",
                      "conv_k4s2_even", "avgpool_p2s2_same", "conv_k4s1_same"):
            row, _ = check_same_layer(model.get_layer(lname), entries)
            assert row["numpy_tf_semantics_max_abs_diff"] <= ATOL, row
            rows.append(row)
        return {"padding_checks": rows}

    notes = (
        "Keras 'same' padding (TensorFlow rule): out = ceil(n/stride); total = max((out-1)"
        "*stride + (k-1)*dilation + 1 - n, 0); before = total//2, after = total - before, "
        "so an odd total puts the extra pixel at the BOTTOM/RIGHT (ONNX SAME_UPPER; Caffe "
        "and torch symmetric padding cannot express it). Here: conv_k4s2_odd 4x4/2 on 23 -> "
        "12, pads 1 top / 2 bottom (same left/right); act_sigmoid; maxpool_p3s2_same 3x3/2 "
        "on 12 -> 6, pads 0/1 (the padded cell never wins a max); conv_dil2_same 3x3 "
        "dilation 2 on 6 -> 6, pads 2/2; conv_k2_valid 2x2 valid 23 -> 22; conv_k4s2_even "
        "4x4/2 on 22 -> 11, pads 1/1 (kernel 4 stride 2 is symmetric on even sizes, "
        "asymmetric 1/2 on odd ones); avgpool_p2s2_same 2x2/2 on 11 -> 6, pads 0/1, the last "
        "row/column windows average the real pixels only; conv_k4s1_same 4x4 stride 1, no "
        "bias, pads 1/2 (even kernel). concat; reshape_noop Reshape((6,6,12)) and "
        "reshape_flat_noop Reshape((432,)) change nothing; act_linear Activation linear; "
        "flatten (HWC order); dense. padding_checks lists every padded layer with its pads "
        "and the max difference from a numpy TF-semantics reference (zero padding for "
        "conv; padding ignored for max; divisor = real pixels for average).")
    write_case("padding_edges", model, x, seed, notes, extra=extra)


def case_avgpool_same_asym():
    seed = 5
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((12, 12, 2), name="input")
    a = L.AveragePooling2D(3, strides=2, padding="same", name="avgpool_p3s2")(inp)   # pads 0/1
    out = L.AveragePooling2D(4, strides=1, padding="same", name="avgpool_p4s1")(a)   # pads 1/2
    model = keras.Model(inp, out, name="avgpool_same_asym")
    x = rng.standard_normal((2, 12, 12, 2)).astype(np.float32)

    def post(d, entries, y_keras):
        np.save(d / "output_keras_torch.npy", y_keras)
        rows = []
        prev = x
        for e in entries[1:]:
            layer = model.get_layer(e["name"])
            cfg = layer.get_config()
            h, w = prev.shape[1:3]
            k, s = cfg["pool_size"], cfg["strides"]
            pads = (same_pads(h, k[0], s[0]), same_pads(w, k[1], s[1]))
            ref = np_pool2d(prev, k, s, pads, "avg").astype(np.float32)
            # Keras-torch on the TF-semantics input of this layer, to isolate its effect
            kt = to_np(layer(prev))
            rows.append({"layer": e["name"], "pool": list(k), "strides": list(s),
                         "input_hw": [int(h), int(w)],
                         "pads_top_bottom_left_right": [pads[0][0], pads[0][1], pads[1][0], pads[1][1]],
                         "keras_torch_vs_tf_semantics_max_abs_diff": max_diff(kt, ref)})
            e["_value"] = ref
            prev = ref
        return {"avgpool_semantics": rows}

    notes = (
        "AveragePooling2D with padding 'same' where the padding is ASYMMETRIC. TensorFlow "
        "(and Keras' JAX and numpy backends) divide each window by the number of real "
        "pixels in it. Keras 3.15.1's torch backend instead pads asymmetric cases with "
        "F.pad(mode='replicate') and then runs avg_pool2d, so replicated edge pixels are "
        "averaged in (symmetric cases use avg_pool2d(padding=p, count_include_pad=False) "
        "and are right). It only shows when a window holds more than one padded row/column "
        "or covers two or more real ones next to a pad: avgpool_p3s2 (3x3/2 on 12, pads 0/1) "
        "last window (x10+x11+x11)/3 instead of (x10+x11)/2; avgpool_p4s1 (4x4/1 on 6, pads "
        "1/2). 2x2/2 on an odd size (pads 0/1) is unaffected. output.npy and layers/*.npy "
        "are the TF semantics computed with numpy (float64, cast to float32) -- the right "
        "target for an importer of Keras models, most of which come from TensorFlow; "
        "output_keras_torch.npy is what this Keras build gives (the reload checks compare "
        "against it). No weights.")
    m = write_case("avgpool_same_asym", model, x, seed, notes, post=post)
    return m


# ---- keras2_layout

K2_INIT_GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None}}
K2_ZEROS = {"class_name": "Zeros", "config": {}}
K2_ONES = {"class_name": "Ones", "config": {}}


def k2_layer(class_name, name, config, inbound):
    cfg = {"name": name, "trainable": True, "dtype": "float32"}
    cfg.update(config)
    return {"class_name": class_name, "config": cfg, "name": name,
            "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]] if inbound else []}


def k2_conv(name, filters, k, padding, activation, inbound):
    return k2_layer("Conv2D", name, {
        "filters": filters, "kernel_size": [k, k], "strides": [1, 1], "padding": padding,
        "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": activation, "use_bias": True, "kernel_initializer": K2_INIT_GLOROT,
        "bias_initializer": K2_ZEROS, "kernel_regularizer": None, "bias_regularizer": None,
        "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None},
        inbound)


def keras2_model_config():
    layers = [
        {"class_name": "InputLayer",
         "config": {"batch_input_shape": [None, 12, 12, 3], "dtype": "float32",
                    "sparse": False, "ragged": False, "name": "input_1"},
         "name": "input_1", "inbound_nodes": []},
        k2_conv("conv2d", 4, 3, "same", "relu", ["input_1"]),
        k2_conv("conv2d_1", 4, 1, "valid", "linear", ["input_1"]),
        k2_layer("Add", "add", {}, ["conv2d", "conv2d_1"]),
        k2_layer("BatchNormalization", "batch_normalization", {
            "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": K2_ZEROS, "gamma_initializer": K2_ONES,
            "moving_mean_initializer": K2_ZEROS, "moving_variance_initializer": K2_ONES,
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
            "gamma_constraint": None}, ["add"]),
        k2_layer("Activation", "activation", {"activation": "relu"}, ["batch_normalization"]),
        k2_layer("MaxPooling2D", "max_pooling2d", {
            "pool_size": [2, 2], "padding": "valid", "strides": [2, 2],
            "data_format": "channels_last"}, ["activation"]),
        k2_layer("Flatten", "flatten", {"data_format": "channels_last"}, ["max_pooling2d"]),
        k2_layer("Dense", "dense", {
            "units": 3, "activation": "softmax", "use_bias": True,
            "kernel_initializer": K2_INIT_GLOROT, "bias_initializer": K2_ZEROS,
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None},
            ["flatten"]),
    ]
    return {"class_name": "Functional",
            "config": {"name": "model", "layers": layers,
                       "input_layers": [["input_1", 0, 0]],
                       "output_layers": [["dense", 0, 0]]}}


def keras2_rebuild():
    inp = keras.Input((12, 12, 3), name="input_1")
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d")(inp)
    b = L.Conv2D(4, 1, padding="valid", name="conv2d_1")(inp)
    s = L.Add(name="add")([a, b])
    s = L.BatchNormalization(epsilon=1e-3, name="batch_normalization")(s)
    s = L.Activation("relu", name="activation")(s)
    s = L.MaxPooling2D(2, name="max_pooling2d")(s)
    s = L.Flatten(name="flatten")(s)
    out = L.Dense(3, activation="softmax", name="dense")(s)
    return keras.Model(inp, out, name="model")


K2_VAR_NAMES = {"kernel": "kernel:0", "bias": "bias:0", "gamma": "gamma:0", "beta": "beta:0",
                "moving_mean": "moving_mean:0", "moving_variance": "moving_variance:0"}


def fixed_bytes(strings):
    """Keras 2 + h5py 2 stored name lists as numpy 'S' arrays (fixed-length)."""
    if not strings:
        return np.array([], dtype=np.float64)    # what np.asarray([]) gives, as Keras 2 wrote
    return np.array([s.encode("utf8") for s in strings], dtype="S")


def write_keras2_h5(path, model):
    cfg = keras2_model_config()
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = np.bytes_(json.dumps(cfg).encode("utf8"))
        g = f.create_group("model_weights")
        names = [lay["name"] for lay in cfg["config"]["layers"]]
        g.attrs["layer_names"] = fixed_bytes(names)
        g.attrs["backend"] = np.bytes_(b"tensorflow")
        g.attrs["keras_version"] = np.bytes_(b"2.11.0")
        for lname in names:
            lg = g.create_group(lname)
            layer = model.get_layer(lname)
            wnames = [f"{lname}/{K2_VAR_NAMES[v.name]}" for v in layer.weights]
            lg.attrs["weight_names"] = fixed_bytes(wnames)
            for wn, v in zip(wnames, layer.get_weights()):
                lg.create_dataset(wn, data=v.astype(np.float32))


def case_keras2_layout():
    seed = 4
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras2_rebuild()
    init_weights(model, rng)
    x = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)

    def extra(d, model, entries):
        checks = {}
        try:
            m = keras.models.load_model(str(d / "model.h5"), compile=False)
            diff = max_diff(to_np(m(x, training=False)), np.load(d / "output.npy"))
            assert diff <= ATOL, diff
            checks["keras.models.load_model('model.h5') (Keras 2 layout)"] = (
                f"loads and reproduces output.npy, max |diff| {diff:.3g}")
        except Exception as e:  # noqa: BLE001
            checks["keras.models.load_model('model.h5') (Keras 2 layout)"] = (
                f"fails: {type(e).__name__}: {clean_msg(e)}")
        k3_h5 = Path(tempfile.mkdtemp()) / "k3.h5"
        model.save(str(k3_h5))
        k3_form = inbound_nodes_example(k3_h5, "add")
        shutil.rmtree(k3_h5.parent)
        return {"checks": checks,
                "inbound_nodes_example": {
                    "add, Keras 2 form (this model.h5)": inbound_nodes_example(d / "model.h5", "add"),
                    "add, Keras 3 form (same model saved by Keras 3 as .h5)": k3_form}}

    notes = (
        "model.h5 is written by h5py to look like a tf.keras 2.11 save: root attrs "
        "keras_version '2.11.0' and backend 'tensorflow' (vlen UTF-8 str) and model_config "
        "as a FIXED-LENGTH byte string (h5py-2-era storage; Keras 3 + h5py 3 write vlen "
        "strings, so the two cases cover both); model_weights attrs layer_names (fixed-"
        "length 'S' array, InputLayer included), backend, keras_version (fixed-length "
        "bytes); per layer model_weights/<layer> with weight_names as a fixed-length 'S' "
        "array like b'conv2d/kernel:0', datasets at model_weights/<layer>/<layer>/kernel:0 "
        "and bias:0 (BN gamma:0, beta:0, moving_mean:0, moving_variance:0); weight-less "
        "layers have weight_names = empty float64 array. model_config: class_name "
        "'Functional'; every layer entry has class_name, config, name, inbound_nodes; "
        "config.dtype is the plain string 'float32'; InputLayer uses batch_input_shape; "
        "BatchNormalization axis is the list [3]; inbound_nodes is the Keras 2 list form "
        "[[['input_1', 0, 0, {}]]] (one list per node, one [layer, node_index, "
        "tensor_index, kwargs] per input); input_layers / output_layers are lists of "
        "[name, 0, 0]. Graph: input_1 -> conv2d (3x3 same relu) and conv2d_1 (1x1) -> add -> "
        "batch_normalization (eps 1e-3) -> activation relu -> max_pooling2d 2x2 -> flatten "
        "(HWC) -> dense softmax. Reference values come from the same model built in Keras 3 "
        "with the same weights; model.keras is that Keras 3 model. See checks for whether "
        "Keras 3 itself loads the Keras 2 file.")
    write_case("keras2_layout", model, x, seed, notes, extra=extra,
               write_h5=lambda p: write_keras2_h5(p, model), h5_checked=False)


# ---- modern layers (keras.applications building blocks)

# Activation strings for the Activation layer. Keras 3 saves "swish" as "silu" and
# "hard_swish" as "hard_silu" (the same functions); the config edit below puts the
# alias strings back into the two layers that asked for them, as tf.keras 2 files
# (EfficientNet: "swish") hold them. No string selects gelu's tanh form
# (keras.activations.gelu(x, approximate=True) has no serialisable name), so only the
# exact (erf) gelu is covered.
MODERN_ACTIVATIONS = ["silu", "swish", "hard_silu", "hard_swish", "gelu", "elu", "selu",
                      "softplus", "softsign", "mish", "hard_sigmoid", "leaky_relu", "relu6"]
ACTIVATION_ALIASES = {"act_swish": "swish", "act_hard_swish": "hard_swish"}


def restore_activation_aliases(cfg):
    for lay in cfg["config"]["layers"]:
        name = lay.get("name", lay["config"].get("name"))
        if name in ACTIVATION_ALIASES:
            assert lay["config"]["activation"] in ("silu", "hard_silu"), lay["config"]
            lay["config"]["activation"] = ACTIVATION_ALIASES[name]


def case_modern_activations():
    seed = 7
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((5, 5, 3), name="image")
    acts = {a: L.Activation(a, name=f"act_{a}")(inp) for a in MODERN_ACTIVATIONS}
    # exponential on softsign's output (in (-1, 1)), so exp stays in (0.37, 2.72)
    exp = L.Activation("exponential", name="act_exponential")(acts["softsign"])
    elu = L.ELU(alpha=0.7, name="elu_layer")(inp)
    smax = L.Softmax(axis=-1, name="softmax_layer")(inp)
    ident = L.Identity(name="identity")(inp)
    gm = L.Add(name="add_gelu_mish")([acts["gelu"], acts["mish"]])
    c = L.Concatenate(axis=-1, name="concat")(
        list(acts.values()) + [exp, elu, smax, ident, gm])          # 18 x 3 = 54 channels
    c = L.Conv2D(8, 1, name="mix")(c)
    c = L.GlobalAveragePooling2D(name="gap")(c)
    out = L.Dense(5, name="logits")(c)
    model = keras.Model(inp, out, name="modern_activations")
    init_weights(model, rng)
    # N(0, 3^2), deep into elu/selu's tails, plus fixed pixels: past relu6's 6, exactly
    # on hard_sigmoid's kinks +-3 and on 0, and +-25 (torch's softplus is x above 20)
    x = (rng.standard_normal((2, 5, 5, 3)) * 3.0).astype(np.float32)
    x[0, 0, 0] = [7.0, -7.0, 0.0]
    x[0, 0, 1] = [3.0, -3.0, 25.0]
    x[1, 4, 4] = [-25.0, 6.0, 0.5]

    def extra(d, model, entries):
        return {"activation_strings": {
            e["name"]: model.get_layer(e["name"]).get_config().get("activation")
            for e in entries if e["class_name"] == "Activation"} | {
            k: v + " (in the files; Keras' own config says "
                   + ("silu" if v == "swish" else "hard_silu") + ")"
            for k, v in ACTIVATION_ALIASES.items()}}

    notes = (
        "The Activation layer with every activation string keras.applications uses, each "
        "applied to the input image (N(0, 9) values, and three fixed pixels: [7,-7,0], "
        "[3,-3,25] at (0,0,0..1) of image 0 and [-25,6,0.5] at (4,4) of image 1, so relu6 "
        "and hard_sigmoid saturate, the kinks at 0 and +-3 are hit and softplus's linear "
        "branch is used) "
        "and concatenated on channels (54 = 18 x 3). Keras 3.15.1 definitions (torch "
        "backend): silu / swish x*sigmoid(x); hard_silu / hard_swish x*hard_sigmoid(x); "
        "hard_sigmoid relu6(x+3)/6 (Keras 3; Keras 2 used clip(0.2x+0.5, 0, 1)); gelu the "
        "exact erf form 0.5x(1+erf(x/sqrt2)) (approximate=False is the default and no "
        "activation string gives the tanh form, so it is not here); elu alpha 1 "
        "(x>0 ? x : exp(x)-1); selu scale 1.0507009873554805, alpha 1.6732632423543772; "
        "softplus log(1+exp(x)) (torch switches to x above 20); softsign x/(1+|x|); mish "
        "x*tanh(softplus(x)); leaky_relu negative_slope 0.2 (the activation function's "
        "default, not LeakyReLU layer's 0.3); relu6 min(max(x,0),6). act_exponential is "
        "exp applied to act_softsign's output (one tensor feeding two consumers). "
        "act_swish and act_hard_swish: Keras serialises 'swish' as 'silu' and 'hard_swish' "
        "as 'hard_silu'; model.h5's model_config and model.keras's config.json were edited "
        "to hold 'swish' / 'hard_swish' for those two layers, the strings tf.keras 2 files "
        "hold (Keras loads them: see checks). elu_layer ELU layer alpha 0.7; softmax_layer "
        "Softmax layer axis -1 (over channels, per pixel); identity Identity layer; "
        "add_gelu_mish Add. Head: mix Conv2D 1x1 54 -> 8, gap, logits Dense 5 (no "
        "softmax).")
    write_case("modern_activations", model, x, seed, notes, extra=extra,
               config_edit=restore_activation_aliases)


def case_modern_layers():
    from keras.src.applications.convnext import LayerScale
    seed = 8
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((5, 5, 3), name="image")                       # 0..255 pixels
    r1 = L.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    r2 = L.Rescaling(scale=[1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)],
                     offset=[-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
                     name="rescale_per_channel")(inp)
    n1 = L.Normalization(axis=-1, name="norm_weights")(r1)          # mean/variance weights
    n2 = L.Normalization(axis=-1, mean=[0.1, -0.2, 0.05], variance=[0.8, 1.3, 0.6],
                         name="norm_config")(r2)                    # in the config
    s = L.Concatenate(name="concat_pre")([n1, n2])                  # 6 ch
    s = L.Conv2D(6, 3, padding="same", activation="relu", name="stem")(s)
    # squeeze-and-excite, EfficientNet style
    se = L.GlobalAveragePooling2D(name="se_squeeze")(s)
    se = L.Reshape((1, 1, 6), name="se_reshape")(se)
    se = L.Conv2D(2, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(6, 1, activation="sigmoid", name="se_expand")(se)
    s = L.Multiply(name="se_excite")([s, se])                        # (5,5,6) * (1,1,6)
    s = L.Cropping2D(((1, 0), (0, 1)), name="crop")(s)               # 5x5 -> 4x4
    # ConvNeXt block tail: LayerNormalization, Dense on 4-D, gelu, Dense, LayerScale, Add
    t = L.LayerNormalization(epsilon=1e-6, name="ln")(s)
    t = L.Dense(10, name="pw_expand")(t)
    t = L.Activation("gelu", name="pw_gelu")(t)
    t = L.Dense(6, name="pw_project")(t)
    t = LayerScale(1e-6, 6, name="layer_scale")(t)
    s = L.Add(name="residual")([s, t])
    s = L.GlobalAveragePooling2D(name="gap")(s)
    out = L.Dense(5, activation="softmax", name="probs")(s)
    model = keras.Model(inp, out, name="modern_layers")
    init_weights(model, rng)
    x = rng.integers(0, 256, (2, 5, 5, 3)).astype(np.float32)

    notes = (
        "Building blocks of keras.applications (with modern_merge_reshape; split in two so "
        "each folder stays under 200 KB: Keras' HDF5 files cost about 2.5 KB per layer). "
        "Input: integer pixel values 0..255, NHWC. rescale Rescaling scale 1/127.5 offset "
        "-1 (x*scale+offset); rescale_per_channel Rescaling with per-channel lists "
        "(ImageNet 1/(std*255), -mean/std) broadcast on the last axis. norm_weights "
        "Normalization axis -1 whose mean / variance / count are weights (as after adapt(); "
        "count int32, unused in inference); norm_config Normalization axis -1 with mean / "
        "variance in the config (no weights); both compute (x-mean)/max(sqrt(variance), "
        "1e-7). concat_pre; stem Conv2D 3x3 same relu. se_* squeeze-and-excite as "
        "EfficientNet builds it: GlobalAveragePooling2D -> Reshape((1,1,6)) -> Conv2D 1x1 "
        "relu -> Conv2D 1x1 sigmoid -> se_excite Multiply with the feature map ((5,5,6) * "
        "(1,1,6), broadcast). crop Cropping2D ((1,0),(0,1)): drops the top row and the "
        "right column (NASNet), 5x5 -> 4x4. ln LayerNormalization axis -1 epsilon 1e-6 "
        "over the channels of each pixel: (x-mean)/sqrt(var+eps)*gamma+beta (biased "
        "variance); pw_expand Dense 10 on a 4-D tensor (a 1x1 convolution on the last "
        "axis, as in ConvNeXt), pw_gelu exact gelu, pw_project Dense 6, layer_scale "
        "ConvNeXt's LayerScale (keras.src.applications.convnext.LayerScale, a layer class "
        "outside keras.layers: class_name 'LayerScale', config init_values and "
        "projection_dim; its one weight, the per-channel gamma, is named 'variable' -- "
        "weight_names 'layer_scale/variable'; y = x*gamma), residual Add. gap, probs Dense "
        "5 softmax. model.h5 needs custom_objects={'LayerScale': LayerScale} for "
        "keras.models.load_model; model.keras loads without it (its config names the "
        "module keras.src.applications.convnext).")
    write_case("modern_layers", model, x, seed, notes,
               custom_objects={"LayerScale": LayerScale})


def case_modern_merge_reshape():
    seed = 9
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((4, 4, 3), name="image")
    # two branches merged three ways
    a = L.Conv2D(4, 1, name="branch_a")(inp)
    b = L.Conv2D(4, 3, padding="same", name="branch_b")(inp)
    m = L.Concatenate(name="merge")([L.Subtract(name="subtract")([a, b]),
                                     L.Average(name="average")([a, b]),
                                     L.Minimum(name="minimum")([a, b])])   # 4x4x12
    # squeeze-and-excite, MobileNetV3 style (keepdims, hard_sigmoid)
    se = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(m)
    se = L.Conv2D(3, 1, activation="relu", name="se_reduce")(se)
    se = L.Conv2D(12, 1, activation="hard_sigmoid", name="se_expand")(se)
    m = L.Multiply(name="se_excite")([se, m])                              # broadcast first
    # reshapes that change an image tensor's shape
    t1 = L.Reshape((16, 12), name="reshape_tokens")(m)
    t1 = L.LayerNormalization(epsilon=1e-6, name="token_ln")(t1)
    t1 = L.Dense(3, name="token_dense")(t1)                                # (16, 3)
    t1 = L.Flatten(name="flatten_tokens")(t1)                              # 48
    t2 = L.Reshape((2, 8, 12), name="reshape_2x8")(m)
    t2 = L.Conv2D(3, (1, 3), padding="same", name="conv_2x8")(t2)          # (2, 8, 3)
    t2 = L.Flatten(name="flatten_2x8")(t2)                                 # 48
    g = L.GlobalAveragePooling2D(name="gap")(m)                            # 12
    h = L.Concatenate(name="head_concat")([t1, t2, g])                     # 108
    out = L.Dense(5, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out, name="modern_merge_reshape")
    init_weights(model, rng)
    x = rng.standard_normal((2, 4, 4, 3)).astype(np.float32)

    notes = (
        "Building blocks of keras.applications, part 2 (see modern_layers). branch_a "
        "Conv2D 1x1 and branch_b Conv2D 3x3 same on the input; subtract a-b, average "
        "(a+b)/2, minimum min(a,b) elementwise; merge Concatenate (4x4x12). se_* "
        "squeeze-and-excite as MobileNetV3 builds it: GlobalAveragePooling2D keepdims=True "
        "(-> (1,1,12)), Conv2D 1x1 relu, Conv2D 1x1 with inline activation hard_sigmoid "
        "(relu6(x+3)/6), se_excite Multiply([se, features]) with the broadcast (1,1,12) "
        "operand FIRST. reshape_tokens Reshape((16,12)) turns the (4,4,12) NHWC map into 16 "
        "tokens in row-major (h*4+w) order; token_ln LayerNormalization on the rank-3 "
        "tensor (last axis); token_dense Dense 3 per token; flatten_tokens -> 48 (index "
        "t*3+u). reshape_2x8 Reshape((2,8,12)): the same memory read as 2 rows of 8 pixels "
        "(row r holds original rows 2r and 2r+1); conv_2x8 Conv2D (1,3) same on it, "
        "flatten_2x8 -> 48 (HWC order). gap GlobalAveragePooling2D of se_excite. "
        "head_concat 48+48+12 = 108, probs Dense 5 softmax. Every Reshape and Flatten is in "
        "NHWC (channels-last) element order: an NCHW importer must transpose to NHWC "
        "before them (and the rank-3 tensors have no channel axis to move).")
    write_case("modern_merge_reshape", model, x, seed, notes)


def case_modern_ops():
    seed = 10
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    Add, Multiply = keras.src.ops.numpy.Add, keras.src.ops.numpy.Multiply

    def hard_sigmoid(t, prefix):
        # MobileNetV3's hard_sigmoid: layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
        t = Add(name=f"{prefix}_add3")(t, 3.0)
        t = L.ReLU(6.0, name=f"{prefix}_relu6")(t)
        return Multiply(name=f"{prefix}_div6")(t, 1.0 / 6.0)

    inp = keras.Input((4, 4, 3), name="image")
    x = L.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inp)
    x = L.Conv2D(6, 3, padding="same", name="stem")(x)
    # hard_swish: layers.Multiply()([x, hard_sigmoid(x)])
    x = L.Multiply(name="stem_hswish")([x, hard_sigmoid(x, "stem_hsig")])
    # squeeze-and-excite (MobileNetV3 _se_block)
    se = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(x)
    se = L.Conv2D(2, 1, padding="same", name="se_reduce")(se)
    se = L.ReLU(name="se_relu")(se)
    se = L.Conv2D(6, 1, padding="same", name="se_expand")(se)
    se = hard_sigmoid(se, "se_hsig")
    x = L.Multiply(name="se_excite")([x, se])
    # head: GAP keepdims -> Conv2D 1x1 -> hard_swish -> Conv2D 1x1 -> Flatten
    h = L.GlobalAveragePooling2D(keepdims=True, name="head_pool")(x)
    h = L.Conv2D(8, 1, padding="same", name="head_conv")(h)
    h = L.Multiply(name="head_hswish")([h, hard_sigmoid(h, "head_hsig")])
    h = L.Conv2D(5, 1, padding="same", name="logits")(h)
    out = L.Flatten(name="flatten")(h)
    model = keras.Model(inp, out, name="modern_ops")
    init_weights(model, rng)
    # larger kernels, so each hard_sigmoid sees values beyond -3 and +3 (both kinks)
    for lname, k in (("stem", 3.0), ("se_expand", 1.5), ("head_conv", 6.0)):
        w = model.get_layer(lname).get_weights()
        model.get_layer(lname).set_weights([w[0] * k] + w[1:])
    w = model.get_layer("se_reduce").get_weights()            # else its ReLU is 0 here
    model.get_layer("se_reduce").set_weights([-w[0], w[1] + 1.0])
    x_in = rng.integers(0, 256, (2, 4, 4, 3)).astype(np.float32)

    def extra(d, model, entries):
        key = "keras.models.load_model('model.h5')"
        try:
            m = keras.models.load_model(str(d / "model.h5"), compile=False)
            diff = max_diff(to_np(m(x_in, training=False)), np.load(d / "output.npy"))
            res = f"reproduces output.npy, max |diff| {diff:.3g}"
        except Exception as e:  # noqa: BLE001 - we record what Keras says
            res = f"fails: {type(e).__name__}: {clean_msg(e)}"
        return {"checks": {key: res},
                "inbound_nodes_example": {
                    "stem_hsig_add3 (operation node, model.h5)":
                        inbound_nodes_example(d / "model.h5", "stem_hsig_add3"),
                    "stem_hswish (Multiply layer, model.h5)":
                        inbound_nodes_example(d / "model.h5", "stem_hswish")}}

    notes = (
        "keras.ops calls inside a functional model, as MobileNetV3 (Small, Large, both "
        "minimalistic or not) writes its hard_sigmoid: layers.ReLU(6.0)(x + 3.0) * (1.0 / "
        "6.0). `x + 3.0` and `... * (1/6)` on a KerasTensor are OPERATION nodes, not "
        "layers: in model_config / config.json their class_name is 'Add' / 'Multiply' -- "
        "the same names as the merge layers -- with config just {name} (no trainable, no "
        "dtype), in .keras module 'keras.src.ops.numpy' and registered_name 'Add' / "
        "'Multiply', and inbound_nodes args [tensor, 3.0] / [tensor, 0.16666666666666666]: "
        "a Python float as the second operand where a merge layer has a list of tensors. "
        "The manifest marks them with keras_op. They are named here (*_add3, *_div6); "
        "MobileNetV3 leaves the names to Keras (add, multiply, add_1, ...). hard_swish is "
        "layers.Multiply()([x, hard_sigmoid(x)]) (stem_hswish, head_hswish). Graph: image "
        "0..255 -> rescale (1/127.5, -1) -> stem Conv2D 3x3 same -> hard_swish -> "
        "squeeze-and-excite (GlobalAveragePooling2D keepdims, Conv2D 1x1, ReLU, Conv2D 1x1, "
        "hard_sigmoid, se_excite Multiply([x, se]) broadcasting (1,1,6)) -> head_pool "
        "GlobalAveragePooling2D keepdims -> head_conv Conv2D 1x1 -> hard_swish -> logits "
        "Conv2D 1x1 -> flatten (1,1,5) -> 5. The kernels of stem, se_expand and head_conv are "
        "scaled (x3, x1.5, x6 after the seeded draw) and se_reduce's kernel negated and its "
        "bias raised by 1 (else se_relu is 0 for both images) so the hard_sigmoids see "
        "values past the kinks at -3 and +3. Keras 3.15.1 cannot load its own model.h5 of "
        "such a model (nor of MobileNetV3): the legacy loader passes the float operand "
        "positionally and the operation refuses it (see checks); model.keras loads.")
    write_case("modern_ops", model, x_in, seed, notes, extra=extra, h5_checked=False)


def case_nested_sequential():
    seed = 11
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((8, 8, 3), name="image")
    # keras.applications.ConvNeXt builds its stem and downsampling blocks like this.
    stem = keras.Sequential([L.Conv2D(6, 2, strides=2, name="stem_conv"),
                             L.LayerNormalization(epsilon=1e-6, name="stem_layernorm")], name="stem")
    x = stem(inp)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    down = keras.Sequential([L.LayerNormalization(epsilon=1e-6, name="down_layernorm"),
                             L.Conv2D(8, 2, strides=2, name="down_conv")], name="downsample")
    x = down(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="nested_sequential")
    for layer in (stem, down):
        for sub in layer.layers:
            if sub.weights:
                sub.set_weights([weight_value(v.name, v.shape, rng) for v in sub.weights])
    for lname in ("dw", "probs"):
        sub = model.get_layer(lname)
        sub.set_weights([weight_value(v.name, v.shape, rng, isinstance(sub, L.DepthwiseConv2D)) for v in sub.weights])
    x_in = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    notes = ("Sequential models used as layers, as keras.applications' ConvNeXt builds its stem "
             "(Conv2D 2x2 stride 2 -> LayerNormalization) and downsampling blocks "
             "(LayerNormalization -> Conv2D 2x2 stride 2): in the config a layer of class "
             "'Sequential' with its own layer list; weights under the nested model's group "
             "(model.h5: model_weights/stem/stem/stem_conv/..., weight_names 'stem/stem_conv/"
             "kernel'; model.keras: layers/sequential/layers/conv2d/vars). layers/ holds the "
             "top-level layers' outputs (the nested models' outputs under their own names).")
    write_case("nested_sequential", model, x_in, seed, notes)


def case_upsampling():
    seed = 12
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((5, 4, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.UpSampling2D(2, name="up_nearest")(x)
    x = L.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = L.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="upsampling")
    init_weights(model, rng)
    x_in = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    notes = ("UpSampling2D: size 2 nearest (each pixel repeated) on an odd-sized map, then size "
             "(2, 3) bilinear (half-pixel centres, as Keras 3's image.resize in every backend).")
    write_case("upsampling", model, x_in, seed, notes)


# ---- Conv2DTranspose and PReLU, each also saved by Keras 2 (tf_keras)

def tf_keras_twin(d, build, model, entries):
    """The same architecture built by `build(tf_keras)` with the Keras 3 model's weights,
    saved as keras2.h5 (Keras 2's full-model HDF5); TensorFlow's output of every layer is
    compared with the reference in layers/ (the check goes into the manifest)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf_keras
    tf.config.threading.set_intra_op_parallelism_threads(1)
    twin = build(tf_keras)
    for layer in model.layers:
        if layer.weights:
            twin.get_layer(layer.name).set_weights([to_np(v) for v in layer.weights])
    twin.save(str(d / "keras2.h5"))
    x = entries[0]["_value"]
    outs = tf_keras.Model(twin.inputs, [twin.get_layer(e["name"]).output for e in entries[1:]])(x)
    worst = max(max_diff(o.numpy(), e["_value"]) for o, e in zip(outs, entries[1:]))
    assert worst <= ATOL, f"{d.name}: TensorFlow differs from Keras 3 by {worst}"
    with h5py.File(d / "keras2.h5", "r") as f:
        version = f.attrs["keras_version"]
        version = version.decode() if isinstance(version, bytes) else version
    return {"keras2.h5": (f"tf_keras {tf_keras.__version__} (TensorFlow {tf.__version__}) "
                          f"model.save, keras_version {version}: every layer's output within "
                          f"{worst:.3g} of layers/*.npy")}


def conv_transpose_net(K):
    """Conv2DTranspose in every padding case, in Keras API K (keras or tf_keras)."""
    CT = K.layers.Conv2DTranspose
    inp = K.Input((3, 4, 3), name="image")
    a = CT(4, 3, strides=2, padding="same", activation="relu", name="ct_same_k3s2")(inp)
    a = CT(3, 4, strides=2, padding="same", output_padding=1, name="ct_same_k4s2_op1")(a)
    b = CT(2, 4, strides=2, padding="same", name="ct_same_k4s2")(inp)
    c = CT(2, 3, padding="same", dilation_rate=2, name="ct_same_d2")(inp)
    d = CT(3, 2, strides=3, padding="valid", use_bias=False, name="ct_valid_k2s3")(inp)
    e = CT(2, (3, 2), strides=(2, 1), padding="valid", output_padding=(1, 0), name="ct_valid_op")(inp)
    f = CT(2, 4, strides=3, padding="same", name="ct_same_k4s3")(inp)
    pools = [K.layers.GlobalAveragePooling2D(name=f"gap_{i}")(t) for i, t in enumerate([a, b, c, d, e, f])]
    x = K.layers.Concatenate(name="concat")(pools)
    return K.Model(inp, K.layers.Dense(5, name="logits")(x), name="conv_transpose")


def case_conv_transpose():
    seed = 13
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = conv_transpose_net(keras)
    init_weights(model, rng)
    x = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    notes = (
        "Conv2DTranspose (kernel [kh, kw, filters, in]) on a 3x4 input. Keras' output size "
        "(deconv_output_length): 'same' in*stride, 'valid' in*stride + max(k_eff - stride, 0); "
        "with output_padding (in-1)*stride + k_eff - 2*pad + output_padding, pad = k_eff//2 "
        "for 'same'. TensorFlow then crops the full transposed output (in-1)*stride + k_eff "
        "as its forward 'same' conv pads: total = max(full - out, 0), total//2 at the top/left. "
        "ct_same_k3s2 (crop 0/1, relu), ct_same_k4s2_op1 (output_padding 1: out 2n-1), "
        "ct_same_k4s2 (crop 1/1), ct_same_d2 (stride 1, dilation 2), ct_valid_k2s3 (kernel "
        "below the stride: one extra row/column of bias only; no bias here), ct_valid_op "
        "(kernel (3, 2), strides (2, 1), output_padding (1, 0)), ct_same_k4s3 (crop 0/1). "
        "Keras 3.15.1's torch backend and TensorFlow agree here (keras2.h5 check); the "
        "reference is Keras 3's output.")
    write_case("conv_transpose", model, x, seed, notes,
               extra=lambda d, m, entries: {"checks": tf_keras_twin(d, conv_transpose_net, m, entries)})


def prelu_net(K):
    """PReLU with a slope per position, partly shared, per channel, one scalar, on images,
    tokens and vectors, in Keras API K (keras or tf_keras)."""
    Ly = K.layers
    inp = K.Input((4, 5, 3), name="image")
    x = Ly.Conv2D(4, 3, padding="same", name="conv")(inp)
    p1 = Ly.PReLU(name="prelu_full")(x)
    p2 = Ly.PReLU(shared_axes=[1], name="prelu_shared_h")(x)
    p3 = Ly.PReLU(shared_axes=[2], name="prelu_shared_w")(x)
    p4 = Ly.PReLU(shared_axes=[1, 2, 3], name="prelu_scalar")(x)
    img = Ly.Concatenate(name="concat")([p1, p2, p3, p4])
    img = Ly.GlobalAveragePooling2D(name="gap")(img)
    t = Ly.Reshape((20, 4), name="tokens")(x)
    t = Ly.PReLU(name="prelu_tokens_full")(t)
    t = Ly.PReLU(shared_axes=[1], name="prelu_tokens_shared")(t)
    t = Ly.Flatten(name="flatten")(t)
    v = Ly.Dense(6, name="dense")(Ly.Concatenate(name="join")([img, t]))
    v = Ly.PReLU(name="prelu_vector")(v)
    return K.Model(inp, Ly.Dense(3, name="logits")(v), name="prelu_positions")


def case_prelu_positions():
    seed = 14
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = prelu_net(keras)
    init_weights(model, rng)
    for layer in model.layers:     # slopes of both signs, far from each other
        if isinstance(layer, L.PReLU):
            layer.set_weights([rng.uniform(-0.5, 1.5, layer.weights[0].shape).astype(np.float32)])
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    notes = (
        "PReLU y = max(x, 0) + alpha*min(x, 0), alpha of the input's per-sample shape with "
        "the shared_axes of size 1: prelu_full [4, 5, 4] (no shared_axes), prelu_shared_h "
        "[1, 5, 4], prelu_shared_w [4, 1, 4], prelu_scalar [1, 1, 1]; on tokens (Reshape to "
        "(20, 4)) prelu_tokens_full [20, 4] and prelu_tokens_shared [1, 4]; on a vector "
        "prelu_vector [6]. Slopes U(-0.5, 1.5).")
    write_case("prelu_positions", model, x, seed, notes,
               extra=lambda d, m, entries: {"checks": tf_keras_twin(d, prelu_net, m, entries)})


# ---- keras2_ops: a model only Keras 2 can write (tf.* calls in the graph)

def case_keras2_ops():
    """Built, run and saved by tf_keras (TensorFlow): TFOpLambda and SlicingOpLambda layers
    exist only in Keras 2. No model.keras (tf_keras' zip is not reproducible here)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf_keras
    tf.config.threading.set_intra_op_parallelism_threads(1)
    seed = 15
    tf_keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    K = tf_keras.layers
    inp = tf_keras.Input((5, 6, 3), name="image")
    x = K.Conv2D(4, 3, padding="same", name="conv")(inp)
    a = 3.0 - x
    b = x / 2.0
    c = 2.0 / (tf.nn.relu(x) + 1.0)
    d = tf.nn.silu(x)
    e = tf.nn.relu6(x * 4.0)
    f = tf.math.sigmoid(x)
    hs = K.Activation("hard_sigmoid", name="hard_sigmoid")(x)   # Keras 2: clip(0.2x + 0.5, 0, 1)
    m = K.Concatenate(name="concat")([tf.math.maximum(d, e), tf.math.minimum(f, a + b * c), hs])
    m = K.GlobalAveragePooling2D(name="gap")(K.Conv2D(3, 1, name="mix")(m))
    g = K.GlobalAveragePooling2D(name="gap_slice")(x[:, 1:4, ::2, :])
    h = K.GlobalAveragePooling2D(name="gap_slice_negative")(x[:, -3:, 1:-1, 1:3])
    out = K.Dense(3, name="logits")(K.Concatenate(name="join")([m, g, h]))
    model = tf_keras.Model(inp, out, name="keras2_ops")
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([weight_value(v.name.split("/")[-1].split(":")[0], v.shape, rng) for v in layer.weights])
    xin = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)

    d_ = OUT / "keras2_ops"
    clear_case_dir(d_)
    (d_ / "layers").mkdir(parents=True)
    inner = model.layers[1:]
    values = tf_keras.Model(inp, [la.output for la in inner])(xin)
    entries = [{"name": "image", "class_name": "InputLayer", "node_index": 0, "file": "layers/image.npy",
                "output_shape": list(xin.shape), "_value": xin}]
    for la, v in zip(inner, values):
        v = v.numpy().astype(np.float32)
        entries.append({"name": la.name, "class_name": la.__class__.__name__, "node_index": 0,
                        "file": f"layers/{la.name}.npy", "output_shape": list(v.shape), "_value": v})
        if la.__class__.__name__ in ("TFOpLambda", "SlicingOpLambda"):
            entries[-1]["function"] = la.get_config()["function"]
    y = model(xin, training=False).numpy().astype(np.float32)
    assert max_diff(y, entries[-1]["_value"]) == 0
    model.save(str(d_ / "model.h5"))
    np.save(d_ / "input.npy", xin)
    np.save(d_ / "output.npy", y)
    for e in entries:
        np.save(d_ / e["file"], e["_value"])
    reloaded = tf_keras.models.load_model(str(d_ / "model.h5"), compile=False)
    diff = max_diff(reloaded(xin, training=False).numpy(), y)
    assert diff <= ATOL, diff
    with h5py.File(d_ / "model.h5", "r") as f:
        config = json.loads(f.attrs["model_config"])
    calls = {la["name"]: la["inbound_nodes"] for la in config["config"]["layers"]
             if la["class_name"] in ("TFOpLambda", "SlicingOpLambda")}
    files = sorted(str(p.relative_to(d_)) for p in d_.rglob("*") if p.is_file()) + ["manifest.json"]
    manifest = {
        "generator": GENERATOR,
        "reference": f"tf_keras {tf_keras.__version__}, TensorFlow {tf.__version__} (CPU, 1 thread)",
        "versions": {"tf_keras": tf_keras.__version__, "tensorflow": tf.__version__,
                     "h5py": h5py.__version__, "numpy": np.__version__},
        "seed": seed, "atol": ATOL, "rtol": RTOL, "layout": "NHWC",
        "input": {"name": "image", "shape": list(xin.shape), "file": "input.npy"},
        "output": {"name": "logits", "shape": list(y.shape), "file": "output.npy"},
        "layers": [{k: v for k, v in e.items() if k != "_value"} for e in entries],
        "files": sorted(files),
        "notes": (
            "tf.* calls on Keras 2 tensors, which tf_keras saves as TFOpLambda layers (config "
            "'function', the other operand in the inbound node's kwargs 'y': a number, a tensor "
            "reference, or the tensor with the number first as ['_CONSTANT_VALUE', -1, 3.0, "
            "{'y': tensor}]) and SlicingOpLambda (kwargs 'slice_spec', one {start, stop, step} "
            "per axis from the batch axis): 3 - x, x / 2, 2 / (relu(x) + 1), silu, relu6(x * 4), "
            "sigmoid, maximum and minimum of two tensors, a + b * c; x[:, 1:4, ::2, :] and "
            "x[:, -3:, 1:-1, 1:3]. inbound_nodes_of_op_layers shows each call as saved. Also "
            "Activation('hard_sigmoid'), which in Keras 2 is clip(0.2*x + 0.5, 0, 1) (Keras 3: "
            "relu6(x + 3) / 6)."),
        "inbound_nodes_of_op_layers": calls,
        "checks": {"tf_keras.models.load_model('model.h5')": f"reproduces output.npy, max |diff| {diff:.3g}"},
        "h5_layout": {"model.h5": h5_layout_of(d_ / "model.h5")},
    }
    (d_ / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in d_.rglob("*") if f.is_file())
    print(f"{'keras2_ops':20s} {len(entries):2d} layer outputs  total {total / 1024:6.1f} KB")


# ---- malformed

def clean_msg(e):
    msg = " ".join(str(e).split())
    msg = msg.replace(str(ROOT) + "/", "").replace(str(OUT), "Fixtures/keras")
    msg = re.sub(r"/tmp/[^\s'\"]+", "<tmp>", msg)
    msg = re.sub(r"0x[0-9a-f]{6,}", "0x…", msg)
    return msg[:300]


def keras_load_result(path, ref_y=None, x=None):
    try:
        m = keras.models.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001
        return f"load_model fails: {type(e).__name__}: {clean_msg(e)}"
    if ref_y is None:
        return "load_model succeeds"
    diff = max_diff(to_np(m(x, training=False)), ref_y)
    return f"load_model succeeds; output max |diff| vs base.h5 {diff:.3g}"


def case_malformed():
    seed = 6
    d = OUT / "malformed"
    clear_case_dir(d)
    d.mkdir(parents=True)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)

    def base_model(with_lambda=False):
        inp = keras.Input((12, 12, 3), name="input")
        h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
        if with_lambda:
            # compiled from a string so the marshalled bytecode Keras stores holds no
            # local path or line number (it still depends on the Python version)
            fn = eval(compile("lambda t: t * 2.0", "<fixture>", "eval"))  # noqa: S307
            h = L.Lambda(fn, name="lambda")(h)
        h = L.GlobalAveragePooling2D(name="gap")(h)
        out = L.Dense(3, name="dense")(h)
        return keras.Model(inp, out, name="malformed_base")

    model = base_model()
    init_weights(model, rng)
    x = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)
    y = to_np(model(x, training=False))
    model.save(str(d / "base.h5"))
    save_keras_zip(model, d / "base.keras")
    np.save(d / "input.npy", x)
    np.save(d / "output.npy", y)
    base_bytes = (d / "base.h5").read_bytes()

    # plain HDF5, not Keras
    with h5py.File(d / "not_keras.h5", "w") as f:
        f.create_dataset("data", data=np.arange(16, dtype=np.float32).reshape(4, 4))
    # unsupported layer class
    lam = base_model(with_lambda=True)
    lam.get_layer("conv1").set_weights(model.get_layer("conv1").get_weights())
    lam.get_layer("dense").set_weights(model.get_layer("dense").get_weights())
    lam.save(str(d / "unsupported_layer.h5"))
    # missing weights: conv1's group removed, layer_names still lists it
    (d / "missing_weights.h5").write_bytes(base_bytes)
    with h5py.File(d / "missing_weights.h5", "r+") as f:
        del f["model_weights/conv1"]
    # wrong kernel shape: OIHW-looking (4,3,3,3) instead of HWIO (3,3,3,4)
    (d / "wrong_shape.h5").write_bytes(base_bytes)
    with h5py.File(d / "wrong_shape.h5", "r+") as f:
        g = f["model_weights/conv1"]
        kpath = g.attrs["weight_names"][0]
        kpath = kpath.decode() if isinstance(kpath, bytes) else kpath
        k = g[kpath][()]
        del g[kpath]
        g.create_dataset(kpath, data=np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
    # float64 kernel
    (d / "wrong_dtype.h5").write_bytes(base_bytes)
    with h5py.File(d / "wrong_dtype.h5", "r+") as f:
        g = f["model_weights/conv1"]
        k = g[kpath][()]
        del g[kpath]
        g.create_dataset(kpath, data=k.astype(np.float64))
    # truncated
    (d / "truncated.h5").write_bytes(base_bytes[:1000])
    # .keras without weights
    with zipfile.ZipFile(d / "base.keras") as z:
        cfg_json, meta_json = z.read("config.json"), z.read("metadata.json")
    with zipfile.ZipFile(d / "no_weights.keras", "w") as z:
        for name, data in (("metadata.json", meta_json), ("config.json", cfg_json)):
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    # a zip that is not Keras
    with zipfile.ZipFile(d / "not_keras.keras", "w") as z:
        for name, data in (("README.txt", b"just a zip archive\n"),
                           ("data.json", b'{"hello": "world"}\n')):
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)

    items = [
        ("base.h5", "valid control: Input(12,12,3) -> conv1 Conv2D 4 3x3 same relu -> gap "
         "GlobalAveragePooling2D -> dense Dense 3; input.npy/output.npy are its reference",
         "loads; reproduces output.npy"),
        ("base.keras", "the same model as a .keras zip", "loads; reproduces output.npy"),
        ("not_keras.h5", "a valid HDF5 file with one dataset /data (float32 4x4), no attributes",
         "'not a Keras model' error: no model_config attribute (and no model_weights "
         "group / layer_names) -- must not be taken for a weights-only file"),
        ("unsupported_layer.h5", "base with a Lambda layer (t*2, Python bytecode in its "
         "config) between conv1 and gap", "unsupported layer class 'Lambda' (layer 'lambda')"),
        ("missing_weights.h5", "base.h5 with the group model_weights/conv1 deleted "
         "(layer_names still lists conv1)", "missing weights for layer 'conv1'"),
        ("wrong_shape.h5", f"base.h5 with conv1's kernel ({kpath}) stored as (4,3,3,3) "
         "(OIHW-looking) instead of HWIO (3,3,3,4)",
         "shape mismatch for conv1 kernel: expected [3,3,3,4] from the config, got [4,3,3,3]"),
        ("wrong_dtype.h5", f"base.h5 with conv1's kernel ({kpath}) stored as float64 (same "
         "values)", "Keras casts on assign and loads it unchanged (see keras_3); a reader "
         "should accept float64 (and float16) weights by converting to float32 -- the values "
         "are exact float32 numbers here, so the output must match output.npy -- and reject "
         "integer or string datasets with a dtype error"),
        ("truncated.h5", "the first 1000 bytes of base.h5",
         "'truncated / not a readable HDF5 file' error, no crash"),
        ("no_weights.keras", "base.keras's metadata.json and config.json without "
         "model.weights.h5", "'model.weights.h5 missing from the .keras archive' error"),
        ("not_keras.keras", "a zip holding README.txt and data.json",
         "'not a Keras archive: no config.json' error"),
    ]
    files = []
    for fn, what, expect in items:
        res = keras_load_result(d / fn, y, x)
        files.append({"file": fn, "what": what, "should_trigger": expect, "keras_3": res})
        print(f"  malformed/{fn:22s} {res[:110]}")
    # Lambda with safe_mode off, for the record
    try:
        m = keras.models.load_model(str(d / "unsupported_layer.h5"), compile=False,
                                    safe_mode=False)
        files[3]["keras_3_safe_mode_false"] = "loads (Keras runs the stored bytecode)"
        del m
    except Exception as e:  # noqa: BLE001
        files[3]["keras_3_safe_mode_false"] = f"fails: {type(e).__name__}: {clean_msg(e)}"

    manifest = {
        "generator": GENERATOR,
        "reference": reference(),
        "versions": versions(),
        "seed": seed,
        "atol": ATOL,
        "rtol": RTOL,
        "layout": "NHWC",
        "input": {"name": "input", "shape": list(x.shape), "file": "input.npy"},
        "output": {"name": "dense", "shape": list(y.shape), "file": "output.npy"},
        "files": files,
        "notes": "Broken or unsupported Keras files derived from base.h5 / base.keras. "
                 "should_trigger is what an importer should report (a clear error naming "
                 "the file / layer, never a crash or silent garbage); keras_3 is what "
                 "keras.models.load_model(path, compile=False) does with it.",
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    print(f"{'malformed':20s} {len(items)} files  total {total / 1024:6.1f} KB")


CASES = {
    "sequential_cnn": case_sequential_cnn,
    "functional_branches": case_functional_branches,
    "padding_edges": case_padding_edges,
    "avgpool_same_asym": case_avgpool_same_asym,
    "keras2_layout": case_keras2_layout,
    "malformed": case_malformed,
    "modern_activations": case_modern_activations,
    "modern_layers": case_modern_layers,
    "modern_merge_reshape": case_modern_merge_reshape,
    "modern_ops": case_modern_ops,
    "nested_sequential": case_nested_sequential,
    "upsampling": case_upsampling,
    "conv_transpose": case_conv_transpose,
    "prelu_positions": case_prelu_positions,
    "keras2_ops": case_keras2_ops,
}


def main(argv):
    wanted = fixture_folders.selected_cases(argv, CASES)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"keras {keras.__version__} ({keras.backend.backend()}), torch {torch.__version__}, "
          f"h5py {h5py.__version__}, numpy {np.__version__}")
    for w in wanted:
        CASES[w]()


if __name__ == "__main__":
    main(sys.argv[1:])
