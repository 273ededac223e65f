#!/usr/bin/env python3
"""Write the small Caffe fixture models and real Caffe's reference outputs.

What it does
------------
Writes tiny Caffe nets (prototxt + caffemodel + Caffe-HDF5 weights) with random weights
(fixed seed per case) and runs them in real Caffe (pycaffe, CPU, TEST phase) to record
the reference values. Per case, into Fixtures/caffe/<case>/:

    deploy.prototxt        V2 (`layer {}`) deploy net, Input layer        (V2 cases)
    deploy_v1.prototxt     V1 (`layers {}`, enum types, `input:` + 4 `input_dim`)
                           (vggface_mini_v1 only)
    train_val.prototxt     train/test net with phase rules              (train_net only)
    <case>.caffemodel      binary NetParameter with the weights. V2 cases: written by
                           Caffe's own Net::ToProto (net.save). V1 case: built with
                           caffe_pb2.V1LayerParameter (Caffe cannot write V1), blobs in
                           the legacy num/channels/height/width fields. train_net: every
                           layer of train_val (both phases, include rules kept) with
                           blobs on the learnable ones, as a trained snapshot looks.
    <case>.caffemodel.h5   the same weights in Caffe's HDF5 layout: one group per layer
                           of the Caffe net, /data/<layer name>/<i> float32 datasets for
                           blob i (what Net::ToHDF5 writes; written here with h5py so
                           reruns are byte-identical; checked against net.save_hdf5)
    input.npy              float32 NCHW input (batch 2; 1 for the VGG-Face-style nets,
                           like the published deploy file)
    output.npy             value of the last layer's top after a full forward pass
    layers/<layer>.npy     value of a layer's top right after that layer ran (the net is
                           run layer by layer, net.forward(start=L, end=L), so in-place
                           layers such as ReLU / BatchNorm / Scale / Dropout get their own
                           value, not the overwritten blob's final one). A layer with
                           several tops writes layers/<layer>__<top>.npy per top. '/' in
                           names becomes '_'. Split layers that Caffe inserts by itself
                           (a blob read by several layers) run but are not recorded.
    manifest.json          generator, reference (Caffe build), caffe / protobuf / numpy
                           versions, seed, atol / rtol, format ("V1" / "V2"), files,
                           input / output {name, shape, file}, all net outputs, `layers`
                           (ordered {name, type, bottoms, tops, file or files} for every
                           layer of the deploy net), notes (what the case exercises and
                           the Caffe behaviour observed and checked)

Every case is checked before it is written: the full forward pass equals the last
layer-by-layer value; a fresh net loaded from the .caffemodel, and one loaded from the
.caffemodel.h5 (net.copy_from on the .h5 path), give bit-identical outputs; every
prototxt written parses and builds in Caffe. Formulas the notes state (pooling sizes
and average divisors, LRN, BatchNorm's scale factor) are checked against numpy.

Cases
-----
alexnet_mini     V2. conv 5x5 s2 p1 + in-place ReLU + LRN ACROSS_CHANNELS + MAX pool
                 (ceil size != floor size) ; conv group 2 + ReLU + LRN WITHIN_CHANNEL +
                 AVE pool k3 s2 p1 with the ceil overhang ; conv with kernel_h/w,
                 pad_h/w, stride_h/w all different ; fc6 + ReLU + Dropout (in place) ;
                 fc7 ; Softmax.
vggface_mini_v1  V1 format, VGG-Face layout shrunk (3 conv blocks, fc6/fc7/fc8, prob).
vggface_mini_v2  the same net and weights as V2 (deploy.prototxt + caffemodel).
resnet_block     V2 DAG: conv (no bias) + in-place BatchNorm (scale factor 0.5) + Scale
                 + ReLU, explicit Split, dilated conv, PReLU, Sigmoid, TanH, Eltwise
                 SUM with coeff / PROD / MAX, Concat, BatchNorm (scale factor 999.98,
                 not in place), Bias, Power, global AVE and MAX pooling, Flatten,
                 InnerProduct transpose: true, Reshape, Softmax.
pooling_edges    V2: eight Pooling layers on one 10x11 input (one through an explicit
                 Split, the others reading the blob directly): the "last window must
                 start inside the image" rule, ceil overhang with the AVE divisor
                 clipped to H + pad, stride > kernel, k3 s3 ceil/floor, pad 2 k5,
                 global MAX / AVE, rectangular kernel/stride/pad. Several net outputs.
train_net        V2 train_val.prototxt with TRAIN/TEST include rules (DummyData TRAIN,
                 Input TEST, SoftmaxWithLoss TRAIN, Accuracy and Softmax TEST), its
                 deploy.prototxt, and a caffemodel holding every train_val layer.

Usage
-----
    PYTHONPATH=<caffe>/python GLOG_minloglevel=2 <pycaffe venv>/bin/python \\
        Tools/make_caffe_fixtures.py                  # (re)write every case
    ... Tools/make_caffe_fixtures.py resnet_block     # only the named cases

Re-running gives byte-identical files for the same Caffe / protobuf / numpy / h5py
versions. A case folder is only replaced if its manifest says this script made it.
Needs: pycaffe (BVLC Caffe; the reference was the brocolli-caffe 9.0.2 source
distribution built CPU-only), numpy < 2, protobuf, h5py. Only this script needs Caffe;
the fixtures it writes are committed and the tests read them without Caffe.
"""

import json
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe  # noqa: E402
import google.protobuf  # noqa: E402
import h5py  # noqa: E402
from caffe.proto import caffe_pb2  # noqa: E402
from google.protobuf import text_format  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "caffe"
GENERATOR = "Tools/make_caffe_fixtures.py"
REFERENCE = "Caffe brocolli-caffe 9.0.2 (BVLC master + extras), CPU"
ATOL, RTOL = 1e-5, 1e-4

caffe.set_mode_cpu()


# --------------------------------------------------------------------------- helpers

def sanitize(name):
    return name.replace("/", "_")


def parse_net(text):
    net = caffe_pb2.NetParameter()
    text_format.Merge(text, net)
    return net


def legacy_net_layers(text):
    """Layer list of a prototxt as Caffe sees it after its upgrade of V1 files (name,
    type, bottoms, tops); the upgraded V1 `input:` becomes Caffe's Input layer "input"."""
    p = parse_net(text)
    if p.layers:
        out = []
        for l in p.layers:
            t = caffe_pb2.V1LayerParameter.LayerType.Name(l.type)
            out.append((l.name, V1_TO_V2[t], list(l.bottom), list(l.top)))
        return out
    return [(l.name, l.type, list(l.bottom), list(l.top)) for l in p.layer]


V1_TO_V2 = {"CONVOLUTION": "Convolution", "RELU": "ReLU", "POOLING": "Pooling",
            "INNER_PRODUCT": "InnerProduct", "DROPOUT": "Dropout", "SOFTMAX": "Softmax",
            "LRN": "LRN"}
V2_TO_V1 = {v: k for k, v in V1_TO_V2.items()}
V1_PARAM_FIELD = {"Convolution": "convolution_param", "Pooling": "pooling_param",
                  "InnerProduct": "inner_product_param", "Dropout": "dropout_param",
                  "ReLU": "relu_param", "Softmax": "softmax_param", "LRN": "lrn_param"}


def load_net(prototxt, weights=None, phase=None):
    net = caffe.Net(str(prototxt), caffe.TEST if phase is None else phase)
    if weights is not None:
        net.copy_from(str(weights))
    return net


def layer_types(net):
    return {n: l.type for n, l in zip(net._layer_names, net.layers)}


def fill_weights(net, rng, scale=None, bn=None):
    """Random weights in net order. scale: {layer: multiplier of the 1/sqrt(fan_in) std of
    blob 0}. bn: {layer: scale factor} for BatchNorm (realistic mean / variance stored
    multiplied by the factor, which is blob 2)."""
    scale = scale or {}
    bn = bn or {}
    types = layer_types(net)
    for name, blobs in net.params.items():
        t = types[name]
        if t == "BatchNorm":
            c = blobs[0].data.shape[0]
            sf = np.float32(bn.get(name, 1.0))
            mean = (rng.standard_normal(c) * 0.5).astype(np.float32)
            var = rng.uniform(0.3, 2.0, c).astype(np.float32)
            blobs[0].data[...] = mean * sf
            blobs[1].data[...] = var * sf
            blobs[2].data[...] = sf
            continue
        if t == "Scale":
            c = blobs[0].data.shape
            blobs[0].data[...] = rng.uniform(0.5, 1.5, c)
            if len(blobs) > 1:
                blobs[1].data[...] = rng.standard_normal(blobs[1].data.shape) * 0.2
            continue
        if t == "PReLU":
            blobs[0].data[...] = rng.uniform(0.05, 0.4, blobs[0].data.shape)
            continue
        if t == "Bias":
            blobs[0].data[...] = rng.standard_normal(blobs[0].data.shape) * 0.3
            continue
        w = blobs[0].data
        if t == "InnerProduct" and net_layer_param(net, name).inner_product_param.transpose:
            fan_in = w.shape[0]
        else:
            fan_in = int(np.prod(w.shape[1:]))
        std = scale.get(name, 1.0) / math.sqrt(fan_in)
        w[...] = rng.standard_normal(w.shape) * std
        for b in blobs[1:]:
            b.data[...] = rng.standard_normal(b.data.shape) * 0.1 * scale.get(name, 1.0)


_LAYER_PARAMS = {}


def net_layer_param(net, name):
    return _LAYER_PARAMS[id(net)][name]


def make_net(prototxt_path, text):
    net = load_net(prototxt_path)
    p = parse_net(text)
    _LAYER_PARAMS[id(net)] = {l.name: l for l in p.layer}
    return net


def run_layers(net, input_name, x, recorded):
    """Run `net` layer by layer; returns {layer: [(top, value)]} for the layers in
    `recorded` (the deploy file's own layers) and the final tops."""
    net.blobs[input_name].reshape(*x.shape)
    net.reshape()
    net.blobs[input_name].data[...] = x
    vals = {}
    for name in net._layer_names:
        net.forward(start=name, end=name)
        if name in recorded:
            vals[name] = [(t, net.blobs[t].data.copy()) for t in net.top_names[name]]
    return vals


def forward(net, input_name, x):
    net.blobs[input_name].reshape(*x.shape)
    net.reshape()
    net.blobs[input_name].data[...] = x
    net.forward()
    return {o: net.blobs[o].data.copy() for o in net.outputs}


def net_blobs(net):
    """{layer: [float32 arrays]} of the learnable blobs, in net order."""
    return {n: [b.data.copy() for b in bs] for n, bs in net.params.items()}


def write_h5(net, path):
    """Caffe's HDF5 weight layout, as Net::ToHDF5 writes it: a group per layer of the
    net (parameterless layers, Caffe's own Input / Split layers included), datasets
    /data/<layer>/<i> with the blob's full shape. h5py keeps no timestamps, so the file
    is byte-identical on rerun (Caffe's own file is not)."""
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        data = f.create_group("data")
        for name, layer in zip(net._layer_names, net.layers):
            g = data.create_group(name)
            for i, b in enumerate(layer.blobs):
                g.create_dataset(str(i), data=np.ascontiguousarray(b.data, np.float32),
                                 track_times=False)


def h5_tree(path):
    out = {}
    with h5py.File(path, "r") as f:
        for ln in f["data"]:
            out[ln] = {k: np.array(v) for k, v in f["data"][ln].items()}
        assert "diff" not in f, "diff group written"
    return out


def check_h5_against_caffe(net, ours):
    """Compare our .h5 with what pycaffe's net.save_hdf5 writes for the same net."""
    with tempfile.TemporaryDirectory() as td:
        theirs = os.path.join(td, "caffe.h5")
        net.save_hdf5(theirs)
        a, b = h5_tree(ours), h5_tree(theirs)
    assert a.keys() == b.keys(), (sorted(a), sorted(b))
    for k in a:
        assert a[k].keys() == b[k].keys(), k
        for i in a[k]:
            assert a[k][i].dtype == b[k][i].dtype and np.array_equal(a[k][i], b[k][i]), (k, i)


def check_same(a, b, what):
    assert a.keys() == b.keys(), what
    for k in a:
        assert a[k].shape == b[k].shape and np.array_equal(a[k], b[k]), f"{what}: {k} differs"


def clear_case_dir(d):
    fixture_folders.clear_case_dir(d, GENERATOR)


def legacy_blob(arr):
    """BlobProto in the pre-2015 form: num/channels/height/width (leading 1s), no shape."""
    b = caffe_pb2.BlobProto()
    shape = (1,) * (4 - arr.ndim) + tuple(arr.shape)
    assert len(shape) == 4
    b.num, b.channels, b.height, b.width = shape
    b.data.extend(arr.astype(np.float32).ravel().tolist())
    return b


def shape_blob(arr):
    b = caffe_pb2.BlobProto()
    b.shape.dim.extend(arr.shape)
    b.data.extend(arr.astype(np.float32).ravel().tolist())
    return b


def write_case(case, *, text, fmt, seed, x, input_name, net, notes, files, extra=None,
               proto_layers=None, weights_file=None, h5_net=None):
    """Common part: record layer by layer, check loads from caffemodel and .h5, write the
    npy files and the manifest. `net` holds the weights; `text` is the prototxt the
    reference layers come from."""
    d = OUT / case
    layers_dir = d / "layers"
    layers_dir.mkdir(parents=True)
    proto_layers = proto_layers or legacy_net_layers(text)
    recorded = [n for n, *_ in proto_layers]
    names = list(net._layer_names)
    missing = [n for n in recorded if n not in names]
    assert not missing, f"layers not in the Caffe net: {missing}"

    vals = run_layers(net, input_name, x, set(recorded))
    full = forward(net, input_name, x)
    last = proto_layers[-1]
    last_top = last[3][0]
    y = vals[last[0]][0][1]
    assert np.array_equal(full[last_top], y), "layer-by-layer run disagrees with forward()"

    # fresh nets from the written weight files
    proto_path = d / files["prototxt"]
    for wf in (files["caffemodel"], files["h5"]):
        other = load_net(proto_path, d / wf)
        check_same(forward(other, input_name, x), full, f"net from {wf}")
    check_h5_against_caffe(h5_net or net, d / files["h5"])

    np.save(d / "input.npy", x)
    np.save(d / "output.npy", y)
    man_layers = []
    used = set()
    for name, ltype, bottoms, tops in proto_layers:
        entry = {"name": name, "type": ltype, "bottoms": bottoms, "tops": tops}
        got = vals[name]
        assert [t for t, _ in got] == tops or ltype == "Input", (name, got, tops)
        if ltype == "Input":
            entry["file"] = "input.npy"
            if len(tops) > 1:
                entry["note"] = "only the first top (the image input) is recorded"
        elif len(got) == 1:
            fn = f"layers/{sanitize(name)}.npy"
            assert fn not in used, f"sanitized name clash: {name}"
            used.add(fn)
            np.save(d / fn, got[0][1])
            entry["file"] = fn
            entry["shape"] = list(got[0][1].shape)
        else:
            entry["files"] = {}
            entry["shapes"] = {}
            for t, v in got:
                fn = f"layers/{sanitize(name)}__{sanitize(t)}.npy"
                assert fn not in used, f"sanitized name clash: {name}/{t}"
                used.add(fn)
                np.save(d / fn, v)
                entry["files"][t] = fn
                entry["shapes"][t] = list(v.shape)
        man_layers.append(entry)

    top_file = {}
    for e in man_layers:
        if "file" in e and e["type"] != "Input":
            top_file[e["tops"][0]] = e["file"]   # a later in-place layer wins
        for t, fn in e.get("files", {}).items():
            top_file[t] = fn
    outputs = [{"name": o, "shape": list(full[o].shape), "file": top_file.get(o)}
               for o in net.outputs]
    assert all(o["file"] for o in outputs), outputs
    manifest = {
        "generator": GENERATOR,
        "reference": REFERENCE,
        "caffe": caffe.__version__,
        "protobuf (caffe_pb2)": google.protobuf.__version__,
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "seed": seed,
        "atol": ATOL,
        "rtol": RTOL,
        "format": fmt,
        "files": files,
        "input": {"name": input_name, "shape": list(x.shape), "file": "input.npy"},
        "output": {"name": last_top, "shape": list(y.shape), "file": "output.npy"},
        "outputs": outputs,
        "layers": man_layers,
        "notes": notes,
    }
    if extra:
        manifest.update(extra)
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    cm = (d / files["caffemodel"]).stat().st_size
    assert cm < 300 * 1024, f"{case}: caffemodel {cm} bytes is too big for the fixtures"
    print(f"{case:17s} {fmt}  {len(man_layers):2d} layers  caffemodel {cm / 1024:6.1f} KB  "
          f"folder {size / 1024:6.1f} KB  output {list(y.shape)}")
    return full


def v2_case(case, text, seed, x, notes, *, scale=None, bn=None, extra_checks=None,
            extra=None):
    """Write a V2 case: deploy.prototxt from `text`, random weights, caffemodel via
    net.save (Caffe's own writer), .h5, reference values."""
    d = OUT / case
    clear_case_dir(d)
    d.mkdir(parents=True)
    proto = d / "deploy.prototxt"
    proto.write_text(text)
    net = make_net(proto, text)
    rng = np.random.default_rng(seed)
    fill_weights(net, rng, scale=scale, bn=bn)
    files = {"prototxt": "deploy.prototxt", "caffemodel": f"{case}.caffemodel",
             "h5": f"{case}.caffemodel.h5"}
    net.save(str(d / files["caffemodel"]))
    write_h5(net, d / files["h5"])
    input_name = net.inputs[0]
    if extra_checks:
        notes = notes + " " + extra_checks(net, x)
    write_case(case, text=text, fmt="V2", seed=seed, x=x, input_name=input_name, net=net,
               notes=notes, files=files, extra=extra)
    return net


# ------------------------------------------------------------------ numpy references

def caffe_pool_size(n, k, s, p, ceil=True, minus_one_rule=True):
    span = n + 2 * p - k
    out = (int(math.ceil(span / s)) if ceil else span // s) + 1
    if p and minus_one_rule and (out - 1) * s >= n + p:
        out -= 1
    return out


def np_caffe_pool(x, kind, kh, kw, sh, sw, ph, pw, oh, ow):
    """Caffe's CPU pooling for a given output size: MAX over the window clipped to the
    image; AVE sum over the clipped window divided by the window size clipped to the
    padded image (H + pad), i.e. padding counts, the ceil overhang beyond it does not."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            win = x[:, :, a0:a1, b0:b1].astype(np.float64)
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "MAX" else win.sum(axis=(2, 3)) / size
    return y.astype(np.float32)


def pool_geometry(lp, h, w):
    pp = lp.pooling_param
    if pp.global_pooling:
        return h, w, 1, 1, 0, 0
    kh = pp.kernel_h if pp.HasField("kernel_h") else pp.kernel_size
    kw = pp.kernel_w if pp.HasField("kernel_w") else pp.kernel_size
    sh = pp.stride_h if pp.HasField("stride_h") else pp.stride
    sw = pp.stride_w if pp.HasField("stride_w") else pp.stride
    ph = pp.pad_h if pp.HasField("pad_h") else pp.pad
    pw = pp.pad_w if pp.HasField("pad_w") else pp.pad
    return kh, kw, sh, sw, ph, pw


def check_pool(net, name, bottom_val, top_val):
    """Checks Caffe's pooling against the numpy model; returns a one-line description
    with the Caffe, plain-ceil and floor output sizes."""
    lp = net_layer_param(net, name)
    pp = lp.pooling_param
    kind = caffe_pb2.PoolingParameter.PoolMethod.Name(pp.pool)
    n, c, h, w = bottom_val.shape
    kh, kw, sh, sw, ph, pw = pool_geometry(lp, h, w)
    oh, ow = top_val.shape[2:]
    assert (oh, ow) == (caffe_pool_size(h, kh, sh, ph), caffe_pool_size(w, kw, sw, pw)), name
    ref = np_caffe_pool(bottom_val, kind, kh, kw, sh, sw, ph, pw, oh, ow)
    assert np.allclose(ref, top_val, atol=1e-5, rtol=1e-5), f"{name}: numpy pooling model"
    plain = (caffe_pool_size(h, kh, sh, ph, minus_one_rule=False),
             caffe_pool_size(w, kw, sw, pw, minus_one_rule=False))
    floor = (caffe_pool_size(h, kh, sh, ph, ceil=False), caffe_pool_size(w, kw, sw, pw, ceil=False))
    geo = ("global" if pp.global_pooling else
           f"k {kh}x{kw} s {sh}x{sw} pad {ph}x{pw}")
    s = (f"{name} ({kind} {geo}): {h}x{w} -> Caffe {oh}x{ow}, floor mode {floor[0]}x{floor[1]}")
    if plain != (oh, ow):
        s += (f", plain ceil formula {plain[0]}x{plain[1]} (Caffe dropped the last window "
              f"because it would start in the padding: (pooled-1)*stride >= size+pad)")
    if kind == "AVE" and not pp.global_pooling:
        over_h = (oh - 1) * sh - ph + kh > h + ph
        over_w = (ow - 1) * sw - pw + kw > w + pw
        if over_h or over_w:
            s += ("; the last window overhangs the padded input and its divisor is clipped "
                  "to size+pad (padding counts, the overhang does not)")
    return s + "."


# ----------------------------------------------------------------------------- cases

ALEXNET_MINI = """\
name: "alexnet_mini"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 2 dim: 3 dim: 41 dim: 41 } }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param {
    num_output: 8
    kernel_size: 5
    stride: 2
    pad: 1
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "norm1"
  type: "LRN"
  bottom: "conv1"
  top: "norm1"
  lrn_param {
    local_size: 5
    alpha: 0.1
    beta: 0.75
    k: 2
  }
}
layer {
  name: "pool1"
  type: "Pooling"
  bottom: "norm1"
  top: "pool1"
  pooling_param {
    pool: MAX
    kernel_size: 3
    stride: 2
  }
}
layer {
  name: "conv2"
  type: "Convolution"
  bottom: "pool1"
  top: "conv2"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param {
    num_output: 16
    pad: 1
    kernel_size: 3
    group: 2
  }
}
layer {
  name: "relu2"
  type: "ReLU"
  bottom: "conv2"
  top: "conv2"
}
layer {
  name: "norm2"
  type: "LRN"
  bottom: "conv2"
  top: "norm2"
  lrn_param {
    local_size: 3
    alpha: 0.1
    beta: 0.75
    norm_region: WITHIN_CHANNEL
  }
}
layer {
  name: "pool2"
  type: "Pooling"
  bottom: "norm2"
  top: "pool2"
  pooling_param {
    pool: AVE
    kernel_size: 3
    stride: 2
    pad: 1
  }
}
layer {
  name: "conv3"
  type: "Convolution"
  bottom: "pool2"
  top: "conv3"
  convolution_param {
    num_output: 12
    kernel_h: 3
    kernel_w: 2
    pad_h: 1
    pad_w: 0
    stride_h: 1
    stride_w: 2
  }
}
layer {
  name: "fc6"
  type: "InnerProduct"
  bottom: "conv3"
  top: "fc6"
  inner_product_param {
    num_output: 32
  }
}
layer {
  name: "relu6"
  type: "ReLU"
  bottom: "fc6"
  top: "fc6"
}
layer {
  name: "drop6"
  type: "Dropout"
  bottom: "fc6"
  top: "fc6"
  dropout_param {
    dropout_ratio: 0.5
  }
}
layer {
  name: "fc7"
  type: "InnerProduct"
  bottom: "fc6"
  top: "fc7"
  inner_product_param {
    num_output: 10
  }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "fc7"
  top: "prob"
}
"""


def np_lrn_across(x, n, alpha, beta, k):
    sq = x.astype(np.float64) ** 2
    c = x.shape[1]
    pre = (n - 1) // 2
    s = np.zeros_like(sq)
    for i in range(c):
        s[:, i] = sq[:, max(0, i - pre):min(c, i - pre + n)].sum(axis=1)
    return (x / (k + alpha / n * s) ** beta).astype(np.float32)


def np_lrn_within(x, n, alpha, beta):
    sq = x.astype(np.float64) ** 2
    p = (n - 1) // 2
    padded = np.pad(sq, ((0, 0), (0, 0), (p, p), (p, p)))
    h, w = x.shape[2:]
    s = np.zeros_like(sq)
    for i in range(n):
        for j in range(n):
            s += padded[:, :, i:i + h, j:j + w]
    return (x / (1 + alpha / (n * n) * s) ** beta).astype(np.float32)


def case_alexnet_mini():
    seed = 201
    rng = np.random.default_rng(seed + 1000)
    x = (rng.standard_normal((2, 3, 41, 41)) * 50).astype(np.float32)

    def checks(net, x):
        vals = run_layers(net, "data", x, set(net._layer_names))
        v = {n: vals[n][0][1] for n in vals}
        assert np.allclose(np_lrn_across(v["relu1"], 5, 0.1, 0.75, 2.0), v["norm1"],
                           rtol=1e-5, atol=1e-5)
        assert np.allclose(np_lrn_within(v["relu2"], 3, 0.1, 0.75), v["norm2"],
                           rtol=1e-5, atol=1e-5)
        p1 = check_pool(net, "pool1", v["norm1"], v["pool1"])
        p2 = check_pool(net, "pool2", v["norm2"], v["pool2"])
        assert v["pool1"].shape[2] != caffe_pool_size(20, 3, 2, 0, ceil=False)
        return (f"Pooling: {p1} {p2} LRN checked against numpy: ACROSS_CHANNELS "
                "y = x / (k + alpha/local_size * sum of x^2 over the local_size channels "
                "centred on c, zero outside)^beta; WITHIN_CHANNEL y = x / (1 + alpha/"
                "local_size^2 * sum of x^2 over the local_size x local_size window, zero "
                "padded)^beta: Caffe divides by local_size^2 even at the border and ignores "
                "lrn_param.k for WITHIN_CHANNEL (its power layer uses shift 1).")

    notes = ("AlexNet-style V2 net. conv1 k5 s2 p1 41x41 -> 20x20 + in-place ReLU (so "
             "layers/conv1.npy is before and layers/relu1.npy after the ReLU) + LRN "
             "ACROSS_CHANNELS local_size 5 alpha 0.1 beta 0.75 k 2; conv2 group 2 "
             "(8 -> 16 channels, weight [16,4,3,3]) + ReLU + LRN WITHIN_CHANNEL local_size 3 "
             "alpha 0.1; conv3 kernel 3x2 pad 1x0 stride 1x2 (6x6 -> 6x3); fc6 reads the "
             "[2,12,6,3] blob flattened in C,H,W order; in-place ReLU and Dropout (TEST "
             "phase: identity, no scaling); fc7 (weights scaled so the softmax is "
             "neither one-hot nor flat); Softmax over channels. Input is normal*50 (a mean-subtracted "
             "image scale).")
    v2_case("alexnet_mini", ALEXNET_MINI, seed, x, notes, scale={"fc7": 1.5},
            extra_checks=checks)


VGGFACE_MINI = """\
name: "VGG_FACE_mini"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 1 dim: 3 dim: 32 dim: 32 } }
}
""" + "".join(
    f"""layer {{
  name: "conv{b}_{i}"
  type: "Convolution"
  bottom: "{bottom}"
  top: "conv{b}_{i}"
  param {{ lr_mult: 1 decay_mult: 1 }}
  param {{ lr_mult: 2 decay_mult: 0 }}
  convolution_param {{
    num_output: {ch}
    pad: 1
    kernel_size: 3
  }}
}}
layer {{
  name: "relu{b}_{i}"
  type: "ReLU"
  bottom: "conv{b}_{i}"
  top: "conv{b}_{i}"
}}
""" + (f"""layer {{
  name: "pool{b}"
  type: "Pooling"
  bottom: "conv{b}_{i}"
  top: "pool{b}"
  pooling_param {{
    pool: MAX
    kernel_size: 2
    stride: 2
  }}
}}
""" if i == n else "")
    for b, ch, n in ((1, 8, 2), (2, 16, 2), (3, 16, 3))
    for i, bottom in [(j, ("data" if b == 1 else f"pool{b - 1}") if j == 1 else f"conv{b}_{j - 1}")
                      for j in range(1, n + 1)]
) + """\
layer {
  name: "fc6"
  type: "InnerProduct"
  bottom: "pool3"
  top: "fc6"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  inner_product_param {
    num_output: 64
  }
}
layer {
  name: "relu6"
  type: "ReLU"
  bottom: "fc6"
  top: "fc6"
}
layer {
  name: "drop6"
  type: "Dropout"
  bottom: "fc6"
  top: "fc6"
  dropout_param {
    dropout_ratio: 0.5
  }
}
layer {
  name: "fc7"
  type: "InnerProduct"
  bottom: "fc6"
  top: "fc7"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  inner_product_param {
    num_output: 64
  }
}
layer {
  name: "relu7"
  type: "ReLU"
  bottom: "fc7"
  top: "fc7"
}
layer {
  name: "drop7"
  type: "Dropout"
  bottom: "fc7"
  top: "fc7"
  dropout_param {
    dropout_ratio: 0.5
  }
}
layer {
  name: "fc8"
  type: "InnerProduct"
  bottom: "fc7"
  top: "fc8"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  inner_product_param {
    num_output: 10
  }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "fc8"
  top: "prob"
}
"""


def to_v1(v2_text, blobs=None, with_input=True):
    """The V1 NetParameter of a V2 deploy text: `input:` + 4 `input_dim` instead of the
    Input layer, `layers {}` with enum types, blobs_lr / weight_decay from the param
    specs, and (if `blobs`) the weights in the legacy 4-D blob form."""
    p = parse_net(v2_text)
    v1 = caffe_pb2.NetParameter()
    v1.name = p.name
    for l in p.layer:
        if l.type == "Input":
            if with_input:
                v1.input.extend(l.top)
                v1.input_dim.extend(l.input_param.shape[0].dim)
            continue
        n = v1.layers.add()
        n.name = l.name
        n.bottom.extend(l.bottom)
        n.top.extend(l.top)
        n.type = caffe_pb2.V1LayerParameter.LayerType.Value(V2_TO_V1[l.type])
        for ps in l.param:
            n.blobs_lr.append(ps.lr_mult)
            n.weight_decay.append(ps.decay_mult)
        field = V1_PARAM_FIELD[l.type]
        if l.HasField(field):
            getattr(n, field).CopyFrom(getattr(l, field))
        if blobs is not None:
            for arr in blobs.get(l.name, []):
                n.blobs.add().CopyFrom(legacy_blob(arr))
    return v1


VGG_NOTES = ("VGG-Face layout shrunk to 3 blocks (32x32 input, 8/16/16 channels, 2+2+3 "
             "conv 3x3 pad 1, MAX 2x2 s2 pools, fc6 64 from pool3 [1,16,4,4] flattened, "
             "fc7 64, fc8 10, prob) with in-place ReLU and Dropout like "
             "VGG_FACE_deploy.prototxt; batch 1 as in the published deploy file; input "
             "normal*50. vggface_mini_v1 and vggface_mini_v2 hold the same weights and "
             "give bit-identical outputs in Caffe.")


def case_vggface_mini():
    seed = 202
    rng = np.random.default_rng(seed + 1000)
    x = (rng.standard_normal((1, 3, 32, 32)) * 50).astype(np.float32)

    # V2: deploy + caffemodel written by Caffe
    v2_notes = VGG_NOTES + (" V2 form (layer {} + Input layer; blobs with shape {}) of "
                            "vggface_mini_v1.")
    net2 = v2_case("vggface_mini_v2", VGGFACE_MINI, seed, x, v2_notes,
                   scale={"fc8": 2.0})
    ref2 = forward(net2, "data", x)
    blobs = net_blobs(net2)

    # V1: deploy_v1.prototxt + caffemodel built with caffe_pb2
    case = "vggface_mini_v1"
    d = OUT / case
    clear_case_dir(d)
    d.mkdir(parents=True)
    # header written by hand so `input:` / `input_dim:` come first, as in the published
    # VGG_FACE_deploy.prototxt (text_format would print them after the layers)
    v1_deploy = to_v1(VGGFACE_MINI)
    header = f'name: "{v1_deploy.name}"\ninput: "{v1_deploy.input[0]}"\n' + "".join(
        f"input_dim: {d}\n" for d in v1_deploy.input_dim)
    del v1_deploy.input[:], v1_deploy.input_dim[:]
    v1_deploy.ClearField("name")
    v1_text = header + text_format.MessageToString(v1_deploy)
    assert parse_net(v1_text).input_dim == [1, 3, 32, 32]
    (d / "deploy_v1.prototxt").write_text(v1_text)
    v1_model = to_v1(VGGFACE_MINI, blobs=blobs, with_input=False)
    files = {"prototxt": "deploy_v1.prototxt", "caffemodel": f"{case}.caffemodel",
             "h5": f"{case}.caffemodel.h5"}
    (d / files["caffemodel"]).write_bytes(v1_model.SerializeToString(deterministic=True))
    net1 = load_net(d / "deploy_v1.prototxt", d / files["caffemodel"])
    _LAYER_PARAMS[id(net1)] = {l.name: l for l in parse_net(VGGFACE_MINI).layer}
    write_h5(net1, d / files["h5"])
    got = forward(net1, "data", x)
    check_same(got, ref2, "V1 prototxt + V1 caffemodel vs V2 net")
    # cross loads: V2 deploy + V1 weights, V1 deploy + V2 weights
    check_same(forward(load_net(OUT / "vggface_mini_v2" / "deploy.prototxt",
                                d / files["caffemodel"]), "data", x), ref2, "V2 deploy + V1 model")
    check_same(forward(load_net(d / "deploy_v1.prototxt",
                                OUT / "vggface_mini_v2" / "vggface_mini_v2.caffemodel"),
                       "data", x), ref2, "V1 deploy + V2 model")
    n_legacy = sum(1 for l in v1_model.layers for b in l.blobs
                   if b.HasField("num") and not b.HasField("shape"))
    notes = VGG_NOTES + (
        " V1 form: deploy_v1.prototxt has `input: \"data\"` + 4 `input_dim` and `layers {}` "
        "with enum types (CONVOLUTION, RELU, POOLING, INNER_PRODUCT, DROPOUT, SOFTMAX) and "
        "blobs_lr / weight_decay; the caffemodel (written with caffe_pb2, Caffe cannot write "
        "V1) has `layers {}` entries (field 2) carrying their params and blobs, no input "
        f"fields, and all {n_legacy} blobs in the legacy num/channels/height/width form "
        "(no shape): conv weights N,C,H,W; InnerProduct weights 1,1,out,in; biases 1,1,1,N. "
        "Caffe loads it (it upgrades V1 to V2 and matches legacy 4-D blob shapes against "
        "its 2-D / 1-D blobs by padding with leading 1s) and gives bit-identical outputs "
        "to the V2 net; V2 deploy + V1 caffemodel and V1 deploy + V2 caffemodel also load "
        "and agree. Caffe turns the V1 input fields into an Input layer named \"input\"; "
        "the manifest lists it first (file input.npy). The .h5 was written from the net "
        "Caffe built from the V1 files (groups \"input\" and one per layer).")
    write_case(case, text=VGGFACE_MINI, fmt="V1", seed=seed, x=x, input_name="data",
               net=net1, notes=notes, files=files,
               proto_layers=[("input", "Input", [], ["data"])] + legacy_net_layers(v1_text))


RESNET_BLOCK = """\
name: "resnet_block"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 2 dim: 4 dim: 12 dim: 12 } }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  convolution_param {
    num_output: 8
    kernel_size: 3
    pad: 1
    bias_term: false
  }
}
layer {
  name: "bn1"
  type: "BatchNorm"
  bottom: "conv1"
  top: "conv1"
  batch_norm_param {
    use_global_stats: true
    eps: 0.0001
  }
}
layer {
  name: "scale1"
  type: "Scale"
  bottom: "conv1"
  top: "conv1"
  scale_param {
    bias_term: true
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "split1"
  type: "Split"
  bottom: "conv1"
  top: "conv1_s0"
  top: "conv1_s1"
  top: "conv1_s2"
}
layer {
  name: "conv2a"
  type: "Convolution"
  bottom: "conv1_s0"
  top: "conv2a"
  convolution_param {
    num_output: 8
    kernel_size: 3
    pad: 1
  }
}
layer {
  name: "prelu2a"
  type: "PReLU"
  bottom: "conv2a"
  top: "prelu2a"
}
layer {
  name: "conv2b"
  type: "Convolution"
  bottom: "conv1_s1"
  top: "conv2b"
  convolution_param {
    num_output: 8
    kernel_size: 3
    pad: 2
    dilation: 2
  }
}
layer {
  name: "sig2b"
  type: "Sigmoid"
  bottom: "conv2b"
  top: "sig2b"
}
layer {
  name: "tanh2b"
  type: "TanH"
  bottom: "conv2b"
  top: "tanh2b"
}
layer {
  name: "sum"
  type: "Eltwise"
  bottom: "prelu2a"
  bottom: "conv1_s2"
  top: "sum"
  eltwise_param {
    operation: SUM
    coeff: 1
    coeff: -0.5
  }
}
layer {
  name: "prod"
  type: "Eltwise"
  bottom: "sum"
  bottom: "sig2b"
  top: "prod"
  eltwise_param {
    operation: PROD
  }
}
layer {
  name: "emax"
  type: "Eltwise"
  bottom: "prod"
  bottom: "tanh2b"
  top: "emax"
  eltwise_param {
    operation: MAX
  }
}
layer {
  name: "cat"
  type: "Concat"
  bottom: "emax"
  bottom: "sum"
  top: "cat"
  concat_param {
    axis: 1
  }
}
layer {
  name: "bn2"
  type: "BatchNorm"
  bottom: "cat"
  top: "bn2"
  batch_norm_param {
    use_global_stats: true
  }
}
layer {
  name: "bias"
  type: "Bias"
  bottom: "bn2"
  top: "biased"
}
layer {
  name: "pow"
  type: "Power"
  bottom: "biased"
  top: "pow"
  power_param {
    power: 2
    scale: 0.5
    shift: 1
  }
}
layer {
  name: "gap"
  type: "Pooling"
  bottom: "pow"
  top: "gap"
  pooling_param {
    pool: AVE
    global_pooling: true
  }
}
layer {
  name: "gmp"
  type: "Pooling"
  bottom: "biased"
  top: "gmp"
  pooling_param {
    pool: MAX
    global_pooling: true
  }
}
layer {
  name: "pooled"
  type: "Concat"
  bottom: "gap"
  bottom: "gmp"
  top: "pooled"
}
layer {
  name: "flat"
  type: "Flatten"
  bottom: "pooled"
  top: "flat"
}
layer {
  name: "fc"
  type: "InnerProduct"
  bottom: "flat"
  top: "fc"
  inner_product_param {
    num_output: 10
    transpose: true
  }
}
layer {
  name: "reshape"
  type: "Reshape"
  bottom: "fc"
  top: "reshape"
  reshape_param {
    shape { dim: 0 dim: -1 dim: 1 dim: 1 }
  }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "reshape"
  top: "prob"
}
"""


def case_resnet_block():
    seed = 204
    rng = np.random.default_rng(seed + 1000)
    x = rng.standard_normal((2, 4, 12, 12)).astype(np.float32)
    sf1, sf2 = 0.5, 999.98

    def checks(net, x):
        vals = run_layers(net, "data", x, set(net._layer_names))
        v = {n: vals[n][0][1] for n in vals}
        msgs = []
        for name, bottom, eps, sf in (("bn1", "conv1", 1e-4, sf1), ("bn2", "cat", 1e-5, sf2)):
            b = net.params[name]
            assert np.float32(b[2].data[0]) == np.float32(sf)
            mean = b[0].data / b[2].data[0]
            var = b[1].data / b[2].data[0]
            ref = (v[bottom] - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)
            assert np.allclose(ref, v[name], atol=1e-4, rtol=1e-4), name
            wrong = (v[bottom] - b[0].data[None, :, None, None]) / np.sqrt(
                b[1].data[None, :, None, None] + eps)
            assert not np.allclose(wrong, v[name], atol=1e-3), name
            msgs.append(f"{name}: stored mean/variance are the statistics times blob 2 = "
                        f"{float(np.float32(sf)):g}; Caffe divides both by it "
                        f"(y = (x - m/s) / sqrt(v/s + eps), eps {eps:g}); using them "
                        "undivided does not match")
        w = net.params["fc"][0].data
        assert w.shape == (32, 10)
        ref = v["flat"] @ w + net.params["fc"][1].data
        assert np.allclose(ref, v["fc"], atol=1e-4, rtol=1e-4)
        s2 = dict(vals["split1"])["conv1_s2"]
        assert np.allclose(v["sum"], v["prelu2a"] - 0.5 * s2, atol=1e-5, rtol=1e-5)
        return ("Checked: " + "; ".join(msgs) + ". InnerProduct transpose: true stores "
                "the weight as [K=32, N=10] (input x output) and computes y = x W + b.")

    notes = ("ResNet-style V2 DAG, input [2,4,12,12] normal(0,1). conv1 (bias_term false) "
             "then BatchNorm, Scale (bias_term true) and ReLU all in place on blob conv1 "
             "(each has its own layers/ file). Explicit Split into three tops (one file per "
             "top, split1__conv1_s0.npy ...). conv2b has dilation 2 pad 2. conv2b, sum and "
             "biased are each read by two layers, so Caffe inserts its own Split layers for "
             "them (run, not recorded). Eltwise SUM coeff [1, -0.5] (prelu2a - 0.5*conv1_s2), "
             "PROD, MAX; Concat axis 1 (8+8 channels); bn2 not in place, scale factor 999.98 "
             "(what a long-trained Caffe BatchNorm holds: s <- 0.999 s + 1 tends to 1000); Bias layer "
             "(one learned blob [16], axis 1); Power y = (1 + 0.5 x)^2; global AVE pool of "
             "pow and global MAX pool of biased concatenated to [2,32,1,1]; Flatten [2,32]; "
             "InnerProduct transpose true; Reshape dim [0,-1,1,1] -> [2,10,1,1]; Softmax "
             "over axis 1. PReLU is channel-wise (slopes blob [8]).")
    v2_case("resnet_block", RESNET_BLOCK, seed, x, notes, bn={"bn1": sf1, "bn2": sf2},
            scale={"fc": 0.5}, extra_checks=checks)


POOLING_EDGES = """\
name: "pooling_edges"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 2 dim: 3 dim: 10 dim: 11 } }
}
layer {
  name: "max_k2s2p1"
  type: "Pooling"
  bottom: "data"
  top: "max_k2s2p1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 }
}
layer {
  name: "max_k3s2p1"
  type: "Pooling"
  bottom: "data"
  top: "max_k3s2p1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }
}
layer {
  name: "ave_k3s2p1"
  type: "Pooling"
  bottom: "data"
  top: "ave_k3s2p1"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }
}
layer {
  name: "ave_k2s3"
  type: "Pooling"
  bottom: "data"
  top: "ave_k2s3"
  pooling_param { pool: AVE kernel_size: 2 stride: 3 }
}
layer {
  name: "max_k3s3"
  type: "Pooling"
  bottom: "data"
  top: "max_k3s3"
  pooling_param { pool: MAX kernel_size: 3 stride: 3 }
}
layer {
  name: "ave_k5s2p2"
  type: "Pooling"
  bottom: "data"
  top: "ave_k5s2p2"
  pooling_param { pool: AVE kernel_size: 5 stride: 2 pad: 2 }
}
layer {
  name: "split"
  type: "Split"
  bottom: "data"
  top: "data_a"
  top: "data_b"
}
layer {
  name: "global_max"
  type: "Pooling"
  bottom: "data_a"
  top: "global_max"
  pooling_param { pool: MAX global_pooling: true }
}
layer {
  name: "global_ave"
  type: "Pooling"
  bottom: "data_a"
  top: "global_ave"
  pooling_param { pool: AVE global_pooling: true }
}
layer {
  name: "ave_rect"
  type: "Pooling"
  bottom: "data_b"
  top: "ave_rect"
  pooling_param {
    pool: AVE
    kernel_h: 3
    kernel_w: 2
    stride_h: 2
    stride_w: 3
    pad_h: 1
    pad_w: 0
  }
}
layer {
  name: "max_rect"
  type: "Pooling"
  bottom: "data_b"
  top: "max_rect"
  pooling_param {
    pool: MAX
    kernel_h: 2
    kernel_w: 4
    stride_h: 3
    stride_w: 2
    pad_h: 1
    pad_w: 2
  }
}
"""


def case_pooling_edges():
    seed = 205
    rng = np.random.default_rng(seed + 1000)
    x = (rng.standard_normal((2, 3, 10, 11)) * 50).astype(np.float32)
    pools = [l.name for l in parse_net(POOLING_EDGES).layer if l.type == "Pooling"]

    def checks(net, x):
        vals = run_layers(net, "data", x, set(net._layer_names))
        lines = [check_pool(net, p, x, vals[p][0][1]) for p in pools]
        # the cases this fixture promises
        sh = {p: vals[p][0][1].shape[2:] for p in pools}
        assert sh["max_k2s2p1"] == (6, 6), sh          # W 11: plain ceil 7, Caffe 6
        assert sh["max_k3s3"] == (4, 4), sh            # floor would be 3x3
        assert sh["ave_k3s2p1"] == (6, 6), sh          # H 10: floor 5, overhang window
        auto = [n for n, l in zip(net._layer_names, net.layers)
                if l.type == "Split" and n != "split"]
        assert len(auto) == 3, auto
        return (" ".join(lines) + " Caffe inserted 3 Split layers of its own (" +
                ", ".join(auto) + "): for data (read by six Pooling layers and the explicit "
                "Split) and for data_a and data_b (two readers each); they run but are not "
                "recorded. net.outputs lists the ten unconsumed pool tops in name order "
                "(Caffe keeps them in a std::set), not layer order. "
                "k3 s2 pad 1 can never trigger the 'start inside the image' rule "
                "(ceil((n-1)/2)*2 < n+1 for every n); k2 s2 pad 1 on an odd size does.")

    notes = ("Pooling edge cases on one [2,3,10,11] input (normal*50), H and W differing "
             "on purpose. Caffe's output size: pooled = ceil((in + 2*pad - kernel) / stride) "
             "+ 1, then if pad > 0 and (pooled - 1) * stride >= in + pad, pooled -= 1 "
             "(the last window must start inside the image or its left/top padding). "
             "MAX takes the max over the window clipped to the image (padding never wins); "
             "AVE sums the clipped window and divides by the window clipped to in + pad "
             "(padding counts, the ceil overhang beyond the padding does not). Checked "
             "against a numpy model for every layer. Several net outputs (every pool top); "
             "output.npy is the last layer's (max_rect). Per layer:")
    v2_case("pooling_edges", POOLING_EDGES, seed, x, notes, extra_checks=checks)


TRAIN_VAL = """\
name: "train_net"
layer {
  name: "data"
  type: "DummyData"
  top: "data"
  top: "label"
  include { phase: TRAIN }
  dummy_data_param {
    shape { dim: 4 dim: 3 dim: 16 dim: 16 }
    shape { dim: 4 }
    data_filler { type: "gaussian" std: 1 }
    data_filler { type: "constant" value: 1 }
  }
}
layer {
  name: "data"
  type: "Input"
  top: "data"
  top: "label"
  include { phase: TEST }
  input_param {
    shape { dim: 2 dim: 3 dim: 16 dim: 16 }
    shape { dim: 2 }
  }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param {
    num_output: 8
    kernel_size: 3
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" value: 0.1 }
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "pool1"
  type: "Pooling"
  bottom: "conv1"
  top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "conv2"
  type: "Convolution"
  bottom: "pool1"
  top: "conv2"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  convolution_param {
    num_output: 16
    kernel_size: 3
    pad: 1
    weight_filler { type: "xavier" }
    bias_filler { type: "constant" value: 0.1 }
  }
}
layer {
  name: "relu2"
  type: "ReLU"
  bottom: "conv2"
  top: "conv2"
}
layer {
  name: "pool2"
  type: "Pooling"
  bottom: "conv2"
  top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "drop"
  type: "Dropout"
  bottom: "pool2"
  top: "pool2"
  include { phase: TRAIN }
  dropout_param { dropout_ratio: 0.3 }
}
layer {
  name: "fc"
  type: "InnerProduct"
  bottom: "pool2"
  top: "fc"
  param { lr_mult: 1 decay_mult: 1 }
  param { lr_mult: 2 decay_mult: 0 }
  inner_product_param {
    num_output: 10
    weight_filler { type: "gaussian" std: 0.01 }
    bias_filler { type: "constant" value: 0 }
  }
}
layer {
  name: "loss"
  type: "SoftmaxWithLoss"
  bottom: "fc"
  bottom: "label"
  top: "loss"
  include { phase: TRAIN }
}
layer {
  name: "accuracy"
  type: "Accuracy"
  bottom: "fc"
  bottom: "label"
  top: "accuracy"
  include { phase: TEST }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "fc"
  top: "prob"
  include { phase: TEST }
}
"""

TRAIN_DEPLOY = """\
name: "train_net"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 2 dim: 3 dim: 16 dim: 16 } }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  convolution_param {
    num_output: 8
    kernel_size: 3
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "pool1"
  type: "Pooling"
  bottom: "conv1"
  top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "conv2"
  type: "Convolution"
  bottom: "pool1"
  top: "conv2"
  convolution_param {
    num_output: 16
    kernel_size: 3
    pad: 1
  }
}
layer {
  name: "relu2"
  type: "ReLU"
  bottom: "conv2"
  top: "conv2"
}
layer {
  name: "pool2"
  type: "Pooling"
  bottom: "conv2"
  top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layer {
  name: "fc"
  type: "InnerProduct"
  bottom: "pool2"
  top: "fc"
  inner_product_param {
    num_output: 10
  }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "fc"
  top: "prob"
}
"""


def case_train_net():
    seed = 206
    case = "train_net"
    rng = np.random.default_rng(seed + 1000)
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32) * 20
    notes = ("A training-style model. train_val.prototxt has two layers named \"data\": "
             "DummyData (data + label, include TRAIN) and Input (data + label, include "
             "TEST); conv/ReLU/pool x2, Dropout (include TRAIN, in place), InnerProduct "
             "\"fc\", SoftmaxWithLoss \"loss\" (TRAIN), Accuracy \"accuracy\" and Softmax "
             "\"prob\" (TEST), param {lr_mult decay_mult} and weight/bias fillers. "
             "train_net.caffemodel holds EVERY layer of train_val in file order (both "
             "phases, include rules kept, both \"data\" layers) with blobs on conv1, conv2 "
             "and fc only. srtool must apply the TEST phase rules (drop include TRAIN "
             "layers, keep include TEST), then drop the label input top and the Accuracy "
             "and loss layers to get the inference graph: exactly deploy.prototxt. The "
             "reference values come from deploy.prototxt + train_net.caffemodel; "
             "train_val.prototxt in the TEST phase with the same caffemodel gives an "
             "identical prob, and the TRAIN-phase net builds too. pool2 is MAX k2 s2 on "
             "7x7: ceil gives 4x4 (floor would be 3x3), so fc reads 16*4*4 = 256 values.")
    d = OUT / case
    clear_case_dir(d)
    d.mkdir(parents=True)
    (d / "train_val.prototxt").write_text(TRAIN_VAL)
    (d / "deploy.prototxt").write_text(TRAIN_DEPLOY)
    net = make_net(d / "deploy.prototxt", TRAIN_DEPLOY)
    fill_weights(net, np.random.default_rng(seed), scale={"fc": 0.3})
    blobs = net_blobs(net)
    tv = parse_net(TRAIN_VAL)
    for l in tv.layer:
        for arr in blobs.get(l.name, []):
            l.blobs.add().CopyFrom(shape_blob(arr))
    files = {"prototxt": "deploy.prototxt", "train_val": "train_val.prototxt",
             "caffemodel": f"{case}.caffemodel", "h5": f"{case}.caffemodel.h5"}
    (d / files["caffemodel"]).write_bytes(tv.SerializeToString(deterministic=True))
    write_h5(net, d / files["h5"])
    ref = forward(load_net(d / "deploy.prototxt", d / files["caffemodel"]), "data", x)
    check_same(ref, forward(net, "data", x), "deploy + train_net.caffemodel")
    test_net = load_net(d / "train_val.prototxt", d / files["caffemodel"], caffe.TEST)
    assert [l for l in test_net._layer_names if "split" not in l] == \
        ["data", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "fc", "accuracy", "prob"]
    test_net.blobs["data"].data[...] = x
    test_net.blobs["label"].data[...] = 0
    test_net.forward()
    assert np.array_equal(test_net.blobs["prob"].data, ref["prob"]), "train_val TEST phase"
    train = load_net(d / "train_val.prototxt", d / files["caffemodel"], caffe.TRAIN)
    assert "loss" in train._layer_names and "prob" not in train._layer_names
    write_case(case, text=TRAIN_DEPLOY, fmt="V2", seed=seed, x=x, input_name="data",
               net=net, notes=notes, files=files,
               extra={"phase": "TEST",
                      "train_val_layers": [
                          {"name": l.name, "type": l.type,
                           "include": [caffe_pb2.Phase.Name(r.phase) for r in l.include],
                           "blobs": len(l.blobs)} for l in tv.layer]})


CASES = {
    "alexnet_mini": case_alexnet_mini,
    "vggface_mini": case_vggface_mini,        # writes vggface_mini_v2 and vggface_mini_v1
    "resnet_block": case_resnet_block,
    "pooling_edges": case_pooling_edges,
    "train_net": case_train_net,
}
ALIASES = {"vggface_mini_v1": "vggface_mini", "vggface_mini_v2": "vggface_mini"}


def main(argv):
    wanted = []
    for w in argv or list(CASES):
        w = ALIASES.get(w, w)
        if w not in CASES:
            raise SystemExit(f"unknown case {w!r}; known: {list(CASES)} "
                             f"(vggface_mini writes vggface_mini_v1 and _v2)")
        if w not in wanted:
            wanted.append(w)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"caffe {caffe.__version__}, protobuf {google.protobuf.__version__}, "
          f"numpy {np.__version__}, h5py {h5py.__version__}")
    for w in wanted:
        CASES[w]()


if __name__ == "__main__":
    main(sys.argv[1:])
