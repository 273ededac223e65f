#!/usr/bin/env python3
"""Write a full-size VGG-Face-layout Caffe model (V1 or V2 format, random weights) for benchmarks.

What it writes (into --out, default /tmp/srtool-bench/vggface, or vggface_v2 with
--format v2; never the repo):

    VGG_FACE.caffemodel        ~580 MB binary NetParameter in the old V1 form, the way
                               the published VGG_FACE.caffemodel is stored: NetParameter
                               name + `layers` (field 2) of V1LayerParameter with enum
                               types, blobs_lr / weight_decay, the layer params, and the
                               blobs in the legacy num/channels/height/width form (conv
                               weights N,C,H,W; InnerProduct weights 1,1,out,in; biases
                               1,1,1,N), float data packed
    VGG_FACE_deploy.prototxt   the V1 deploy net: `input: "data"` + input_dim 1,3,224,224,
                               `layers {}` as in the published VGG_FACE_deploy.prototxt
    (--format v2: the same net and the same weights as Caffe's own Net::ToProto saves
    them after loading that model: an Input layer first, `layer` (field 100) of
    LayerParameter with string types, `param` lr/decay mults, phase TEST, the blobs with
    a `shape` (conv weights O,C,H,W; InnerProduct weights out,in; biases N) written after
    their data, and a V2 deploy prototxt with an Input layer)
    input.npy                  a [1,3,224,224] float32 input (normal * 50, fixed seed) for
                               the benchmark to feed both Caffe and srtool
    meta.json                  seed, layer list with blob shapes and float64 sums of every
                               blob (for checking a loader), file size, writer version

Net: 13 conv 3x3 pad 1 in 5 blocks (64, 128, 256, 512, 512 channels), each followed by
an in-place ReLU, MAX pool 2x2 stride 2 after each block, fc6 4096 (from 512x7x7),
relu6, drop6, fc7 4096, relu7, drop7, fc8 2622, prob (SOFTMAX). Weights are float32
normal with std sqrt(2 / fan_in), biases normal * 0.01; every layer has its own
generator, numpy.random.default_rng([seed, layer index]), so a checker can regenerate
any one layer alone.

The protobuf wire format is written by hand, so neither Caffe nor a protobuf package is
needed: each layer's length is computed from the blob shapes first and the weights are
generated and written in chunks of a few million floats, so memory stays ~100 MB
whatever the layer size. Field numbers (checked against caffe.proto): NetParameter
name 1, layers 2; V1LayerParameter bottom 2, top 3, name 4, type 5 (enum: CONVOLUTION 4,
DROPOUT 6, INNER_PRODUCT 14, POOLING 17, RELU 18, SOFTMAX 20), blobs 6, blobs_lr 7,
weight_decay 8, convolution_param 10, dropout_param 12, inner_product_param 17,
pooling_param 19; BlobProto num 1, channels 2, height 3, width 4, data 5 (packed float);
ConvolutionParameter num_output 1, pad 3, kernel_size 4; PoolingParameter pool 1 (MAX 0),
kernel_size 2, stride 3; InnerProductParameter num_output 1; DropoutParameter
dropout_ratio 1. Fields are written in field-number order, as protobuf itself does.
V2 (caffe.proto): NetParameter layer 100; LayerParameter name 1, type 2, bottom 3, top 4,
param 6 (ParamSpec lr_mult 3, decay_mult 4), blobs 7, phase 10 (TEST 1),
convolution_param 106, dropout_param 108, inner_product_param 117, pooling_param 121,
input_param 143 (InputParameter shape 1); BlobProto data 5 (packed float), shape 7
(BlobShape dim 1, packed int64). The weights are the same numbers as the V1 file's (the
Input layer takes no generator), so the two files import to identical tensors.

An existing model with the same seed and writer version is kept unless --force.

Usage:
  python3 Tools/bench/make_vggface_caffemodel.py [--format v1|v2] [--out DIR] [--seed 0]
      [--force]
      [--verify-caffe PYTHON [--caffe-pythonpath DIR]]
--verify-caffe loads the written files in real Caffe (through bench_caffe.py's Caffe
worker run by that interpreter, e.g. a pycaffe venv), compares every blob's sum with
meta.json, runs one forward pass and prints Caffe's load time and peak RSS.
Needs: numpy.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np

WRITER = "make_vggface_caffemodel.py v1"
INPUT_SHAPE = (1, 3, 224, 224)
CHUNK = 1 << 23                     # floats generated and written at a time (32 MB)

# V1LayerParameter.LayerType
CONVOLUTION, DROPOUT, INNER_PRODUCT, POOLING, RELU, SOFTMAX = 4, 6, 14, 17, 18, 20
TYPE_NAMES = {CONVOLUTION: "CONVOLUTION", DROPOUT: "DROPOUT", INNER_PRODUCT: "INNER_PRODUCT",
              POOLING: "POOLING", RELU: "RELU", SOFTMAX: "SOFTMAX"}
# LayerParameter.type (V2), as Caffe's UpgradeV1LayerType names them.
V2_TYPES = {CONVOLUTION: "Convolution", DROPOUT: "Dropout", INNER_PRODUCT: "InnerProduct",
            POOLING: "Pooling", RELU: "ReLU", SOFTMAX: "Softmax"}
TEST = 1                            # Phase


# --------------------------------------------------------------------------- the net

def vggface_layers():
    """[(name, type, bottom, top, params, blob shapes)] in file order."""
    layers = []
    bottom, channels = "data", 3
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
                                           start=1):
        for i in range(1, convs + 1):
            name = f"conv{block}_{i}"
            layers.append((name, CONVOLUTION, bottom, name, {"num_output": width},
                           [(width, channels, 3, 3), (width,)]))
            layers.append((f"relu{block}_{i}", RELU, name, name, {}, []))
            bottom, channels = name, width
        layers.append((f"pool{block}", POOLING, bottom, f"pool{block}", {}, []))
        bottom = f"pool{block}"
    fan = 512 * 7 * 7
    for name, out, nxt in (("fc6", 4096, 6), ("fc7", 4096, 7)):
        layers.append((name, INNER_PRODUCT, bottom, name, {"num_output": out}, [(out, fan), (out,)]))
        layers.append((f"relu{nxt}", RELU, name, name, {}, []))
        layers.append((f"drop{nxt}", DROPOUT, name, name, {}, []))
        bottom, fan = name, out
    layers.append(("fc8", INNER_PRODUCT, bottom, "fc8", {"num_output": 2622},
                   [(2622, fan), (2622,)]))
    layers.append(("prob", SOFTMAX, "fc8", "prob", {}, []))
    return layers


# --------------------------------------------------------------------------- wire format

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def legacy_dims(shape):
    return (1,) * (4 - len(shape)) + tuple(shape)


def blob_header(shape):
    """BlobProto up to the start of the packed float bytes; returns (header, total size)."""
    n, c, h, w = legacy_dims(shape)
    count = n * c * h * w
    head = (f_varint(1, n) + f_varint(2, c) + f_varint(3, h) + f_varint(4, w)
            + key(5, 2) + varint(4 * count))
    return head, len(head) + 4 * count


def layer_parts(name, ltype, bottom, top, params, shapes):
    pre = f_bytes(2, bottom.encode()) + f_bytes(3, top.encode()) + f_bytes(4, name.encode()) \
        + f_varint(5, ltype)
    post = b""
    if shapes:
        post += f_float(7, 1.0) + f_float(7, 2.0) + f_float(8, 1.0) + f_float(8, 0.0)
    if ltype == CONVOLUTION:
        post += f_bytes(10, f_varint(1, params["num_output"]) + f_varint(3, 1) + f_varint(4, 3))
    elif ltype == DROPOUT:
        post += f_bytes(12, f_float(1, 0.5))
    elif ltype == INNER_PRODUCT:
        post += f_bytes(17, f_varint(1, params["num_output"]))
    elif ltype == POOLING:
        post += f_bytes(19, f_varint(1, 0) + f_varint(2, 2) + f_varint(3, 2))
    return pre, post


def packed_varints(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


def v2_blob_parts(shape):
    """BlobProto as Caffe's Blob::ToProto writes it: data (5, packed) first, then shape (7).
    Returns (bytes before the floats, bytes after them, total size)."""
    count = int(np.prod(shape))
    head = key(5, 2) + varint(4 * count)
    tail = f_bytes(7, packed_varints(1, shape))
    return head, tail, len(head) + 4 * count + len(tail)


def v2_layer_parts(name, ltype, bottom, top, params, shapes):
    """LayerParameter up to its blobs, and after them, fields in field-number order."""
    pre = f_bytes(1, name.encode()) + f_bytes(2, V2_TYPES[ltype].encode())
    if bottom is not None:
        pre += f_bytes(3, bottom.encode())
    pre += f_bytes(4, top.encode())
    if shapes:  # the upgraded blobs_lr / weight_decay: param { lr_mult decay_mult }
        pre += f_bytes(6, f_float(3, 1.0) + f_float(4, 1.0)) + f_bytes(6, f_float(3, 2.0) + f_float(4, 0.0))
    post = f_varint(10, TEST)
    if ltype == CONVOLUTION:
        post += f_bytes(106, f_varint(1, params["num_output"]) + f_varint(3, 1) + f_varint(4, 3))
    elif ltype == DROPOUT:
        post += f_bytes(108, f_float(1, 0.5))
    elif ltype == INNER_PRODUCT:
        post += f_bytes(117, f_varint(1, params["num_output"]))
    elif ltype == POOLING:
        post += f_bytes(121, f_varint(1, 0) + f_varint(2, 2) + f_varint(3, 2))
    return pre, post


def v2_input_layer():
    """The Input layer Caffe's UpgradeNetInput makes of `input` + `input_dim`:
    input_param { shape { dim ... } } (InputParameter shape 1, BlobShape dim 1)."""
    return (f_bytes(1, b"input") + f_bytes(2, b"Input") + f_bytes(4, b"data")
            + f_varint(10, TEST) + f_bytes(143, f_bytes(1, packed_varints(1, INPUT_SHAPE))))


def write_caffemodel(path, seed, fmt="v1", log=print):
    """Streams the model to `path` in form `fmt` ("v1" or "v2"); returns meta (per-layer
    blob shapes and sums). Each layer's length is computed before its floats are made."""
    layers = vggface_layers()
    meta_layers = []
    tmp = path + ".tmp"
    layer_field, blob_field = (2, 6) if fmt == "v1" else (100, 7)
    with open(tmp, "wb") as f:
        f.write(f_bytes(1, b"VGG_FACE_16_layers"))
        if fmt == "v2":
            f.write(f_bytes(100, v2_input_layer()))
        for idx, (name, ltype, bottom, top, params, shapes) in enumerate(layers):
            if fmt == "v1":
                pre, post = layer_parts(name, ltype, bottom, top, params, shapes)
                parts = [(head, b"", size) for head, size in map(blob_header, shapes)]
            else:
                pre, post = v2_layer_parts(name, ltype, bottom, top, params, shapes)
                parts = [v2_blob_parts(s) for s in shapes]
            body = len(pre) + len(post) + sum(len(key(blob_field, 2)) + len(varint(size)) + size
                                              for _, _, size in parts)
            f.write(key(layer_field, 2) + varint(body) + pre)
            rng = np.random.default_rng([seed, idx])
            sums = []
            for bi, (shape, (head, tail, size)) in enumerate(zip(shapes, parts)):
                f.write(key(blob_field, 2) + varint(size) + head)
                count = int(np.prod(shape))
                std = np.float32(np.sqrt(2.0 / np.prod(shape[1:]))) if bi == 0 else np.float32(0.01)
                total = 0.0
                done = 0
                while done < count:
                    n = min(CHUNK, count - done)
                    chunk = rng.standard_normal(n, dtype=np.float32)
                    chunk *= std
                    total += float(chunk.sum(dtype=np.float64))
                    f.write(chunk.astype("<f4", copy=False).tobytes())
                    done += n
                f.write(tail)
                sums.append(total)
            f.write(post)
            meta_layers.append({"name": name, "type": TYPE_NAMES[ltype], "bottom": bottom,
                                "top": top, "blob_shapes": [list(s) for s in shapes],
                                "blob_sums": sums})
            if shapes:
                log(f"  {name:8s} {' + '.join('x'.join(map(str, s)) for s in shapes)}")
    os.replace(tmp, path)
    return meta_layers


def deploy_prototxt_v2(layers):
    """The V2 deploy net: an Input layer, then `layer {}` with string types."""
    out = ['name: "VGG_FACE_16_layers"', "layer {", '  name: "input"', '  type: "Input"',
           '  top: "data"', "  input_param {",
           "    shape { " + " ".join(f"dim: {d}" for d in INPUT_SHAPE) + " }", "  }", "}"]
    for name, ltype, bottom, top, params, shapes in layers:
        out += ["layer {", f'  name: "{name}"', f'  type: "{V2_TYPES[ltype]}"',
                f'  bottom: "{bottom}"', f'  top: "{top}"']
        if shapes:
            out += ["  param { lr_mult: 1 decay_mult: 1 }", "  param { lr_mult: 2 decay_mult: 0 }"]
        out += layer_param_lines(ltype, params)
        out.append("}")
    return "\n".join(out) + "\n"


def layer_param_lines(ltype, params):
    """The `*_param { }` block of one layer, the same in the V1 and V2 prototxt."""
    if ltype == CONVOLUTION:
        return ["  convolution_param {", f"    num_output: {params['num_output']}",
                "    pad: 1", "    kernel_size: 3", "  }"]
    if ltype == POOLING:
        return ["  pooling_param {", "    pool: MAX", "    kernel_size: 2", "    stride: 2", "  }"]
    if ltype == INNER_PRODUCT:
        return ["  inner_product_param {", f"    num_output: {params['num_output']}", "  }"]
    if ltype == DROPOUT:
        return ["  dropout_param {", "    dropout_ratio: 0.5", "  }"]
    return []


def deploy_prototxt(layers):
    out = ['name: "VGG_FACE_16_layers"', 'input: "data"'] + \
          [f"input_dim: {d}" for d in INPUT_SHAPE]
    for name, ltype, bottom, top, params, shapes in layers:
        out += ["layers {", f'  bottom: "{bottom}"', f'  top: "{top}"', f'  name: "{name}"',
                f"  type: {TYPE_NAMES[ltype]}"]
        out += layer_param_lines(ltype, params)
        if shapes:
            out += ["  blobs_lr: 1", "  blobs_lr: 2", "  weight_decay: 1", "  weight_decay: 0"]
        out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main

def verify_with_caffe(out, meta, python, pythonpath):
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, GLOG_minloglevel="2")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    res_path = os.path.join(out, "caffe_check.json")
    cmd = [python, os.path.join(here, "bench_caffe.py"), "--caffe-worker",
           os.path.join(out, "VGG_FACE_deploy.prototxt"), os.path.join(out, "VGG_FACE.caffemodel"),
           os.path.join(out, "input.npy"), os.path.join(out, "caffe_out.npy"), res_path,
           "--repeat", "1", "--sums"]
    print("verifying with Caffe ...", file=sys.stderr)
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0:
        raise SystemExit(f"Caffe failed to load the model (exit {r.returncode})")
    with open(res_path) as f:
        got = json.load(f)
    bad = []
    for l in meta["layers"]:
        for i, want in enumerate(l["blob_sums"]):
            have = got["sums"][l["name"]][i]
            if abs(have - want) > 1e-6 * max(1.0, abs(want)) + 1e-3:
                bad.append((l["name"], i, want, have))
    if bad or set(got["sums"]) != {l["name"] for l in meta["layers"] if l["blob_sums"]}:
        raise SystemExit(f"blob sums differ: {bad[:5]}")
    print(f"Caffe loaded it: load {got['load_s']:.2f} s, forward {got['forward_best_s']:.2f} s, "
          f"peak RSS after load {got['rss_after_load_mb']:.0f} MB, at the end "
          f"{got['rss_peak_mb']:.0f} MB; all {sum(len(l['blob_sums']) for l in meta['layers'])} "
          f"blob sums match; output {got['output_shape']}, argmax {got['argmax']}")
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=("v1", "v2"), default="v1",
                    help="V1 `layers` (as the published file) or V2 `layer` (as Caffe saves)")
    ap.add_argument("--out", help="default /tmp/srtool-bench/vggface, or vggface_v2 for v2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="rewrite even if present")
    ap.add_argument("--verify-caffe", metavar="PYTHON",
                    help="a Python interpreter with pycaffe: load the files in Caffe")
    ap.add_argument("--caffe-pythonpath", help="PYTHONPATH for that interpreter")
    args = ap.parse_args()

    if args.out is None:
        args.out = "/tmp/srtool-bench/vggface" + ("_v2" if args.format == "v2" else "")
    os.makedirs(args.out, exist_ok=True)
    model = os.path.join(args.out, "VGG_FACE.caffemodel")
    proto = os.path.join(args.out, "VGG_FACE_deploy.prototxt")
    meta_path = os.path.join(args.out, "meta.json")
    x_path = os.path.join(args.out, "input.npy")
    meta = None
    if not args.force and os.path.exists(model) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                meta = json.load(f)
            if (meta.get("seed") != args.seed or meta.get("writer") != WRITER
                    or meta.get("format", "v1") != args.format
                    or meta.get("bytes") != os.path.getsize(model)):
                meta = None
        except (OSError, ValueError):
            meta = None
    if meta is None:
        print(f"writing {model} ...", file=sys.stderr)
        t0 = time.perf_counter()
        layers_meta = write_caffemodel(model, args.seed, args.format,
                                       log=lambda m: print(m, file=sys.stderr))
        meta = {"writer": WRITER, "format": args.format, "seed": args.seed,
                "input_shape": list(INPUT_SHAPE),
                "bytes": os.path.getsize(model), "layers": layers_meta}
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=1)
        print(f"  {meta['bytes'] / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    else:
        print(f"{model} is up to date ({meta['bytes'] / 1e6:.1f} MB)", file=sys.stderr)
    with open(proto, "w") as f:
        f.write((deploy_prototxt_v2 if args.format == "v2" else deploy_prototxt)(vggface_layers()))
    if not os.path.exists(x_path) or args.force:
        x = (np.random.default_rng([args.seed, 1000]).standard_normal(INPUT_SHAPE) * 50)
        np.save(x_path, x.astype(np.float32))
    print(args.out)
    if args.verify_caffe:
        verify_with_caffe(args.out, meta, args.verify_caffe, args.caffe_pythonpath)
    return 0


if __name__ == "__main__":
    sys.exit(main())
