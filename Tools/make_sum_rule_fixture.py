#!/usr/bin/env python3
"""Write Fixtures/lrp/opposite_sums: a tiny pre-activation residual network whose additions
sum tensors of opposite signs, the case `--sum-rule norm-plus` is for (ResNet50V2).

    input [1,3,16,16] -> stem conv 3x3 (3->8, bias) = h
    4 blocks: h <- h + conv_b(relu(conv_a(relu(h))))   (3x3, 8->8, bias; conv_a's centre tap
              +identity, conv_b's -0.9 * identity, plus seeded taps N(0, 0.03)), so the
              branch opposes h wherever h > 0 (about half the summands, per block)
    -> relu -> global average pool -> flatten -> fc (8->3, class 0 positive) -> logits

zennit's norm rule splits those additions into shares outside [0, 1], the paths carry
relevance of both signs, and the input relevance reaches several times the score in
magnitude (6x here; Keras ResNet50V2: thousands). The tests check that norm-plus keeps it
within the score (every share in [0, 1]; no reference tool has norm-plus, its equation is
checked in Tests/SRExplainTests/SumPlusTwinTests.swift). Seeded (numpy default_rng(7));
onnxruntime checks the export against a float64 numpy forward pass.

Usage: python3 Tools/make_sum_rule_fixture.py    Needs: numpy, onnx, onnxruntime.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

BLOCKS, OPPOSE, NOISE = 4, 0.9, 0.03
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "lrp", "opposite_sums")


def conv(x, w, b):
    n, c, h, wd = x.shape
    o = w.shape[0]
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, o, h, wd), np.float64)
    for i in range(3):
        for j in range(3):
            y += np.einsum("nchw,oc->nohw", p[:, :, i:i + h, j:j + wd], w[:, :, i, j])
    return y + b[None, :, None, None]


def main():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    x = np.stack([np.sin(3 * xx + c) * np.cos(2 * yy - c) for c in range(3)])[None].astype(np.float32) * 1.5
    arrays, nodes = {}, []

    def add_conv(name, src, w, b):
        arrays[name + ".w"], arrays[name + ".b"] = w, b
        nodes.append(helper.make_node("Conv", [src, name + ".w", name + ".b"], [name], name=name,
                                      pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
        return name

    def near_identity(scale, noise):
        w = rng.normal(0, noise, (8, 8, 3, 3)).astype(np.float32)
        w[:, :, 1, 1] += scale * np.eye(8, dtype=np.float32)
        return w

    h = add_conv("stem", "input", rng.normal(0, 0.4, (8, 3, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32))
    reference = conv(x.astype(np.float64), arrays["stem.w"], arrays["stem.b"])
    opposite = []
    for k in range(BLOCKS):
        # Pre-activation block: h + conv_b(relu(conv_a(relu(h)))), conv_b ~ -OPPOSE * identity.
        nodes.append(helper.make_node("Relu", [h], [f"b{k}.preact"], name=f"b{k}.preact"))
        a = add_conv(f"b{k}.conv_a", f"b{k}.preact", near_identity(1.0, NOISE), rng.normal(0, 0.05, 8).astype(np.float32))
        nodes.append(helper.make_node("Relu", [a], [f"b{k}.relu"], name=f"b{k}.relu"))
        b = add_conv(f"b{k}.conv_b", f"b{k}.relu", near_identity(-OPPOSE, NOISE), rng.normal(0, 0.05, 8).astype(np.float32))
        nodes.append(helper.make_node("Add", [h, b], [f"b{k}.out"], name=f"b{k}.out"))
        branch = conv(np.maximum(conv(np.maximum(reference, 0), arrays[a + ".w"], arrays[a + ".b"]), 0),
                      arrays[b + ".w"], arrays[b + ".b"])
        opposite.append(float(np.mean(np.sign(reference) * np.sign(branch) < 0)))
        reference = reference + branch
        h = f"b{k}.out"
    wf = rng.normal(0, 1.0, (3, 8)).astype(np.float32)
    wf[0] = np.abs(wf[0]) + 0.5  # class 0 wins, with a positive logit
    arrays["fc.w"], arrays["fc.b"] = wf, rng.normal(0, 0.1, 3).astype(np.float32)
    nodes += [helper.make_node("Relu", [h], ["post"], name="post"),
              helper.make_node("GlobalAveragePool", ["post"], ["pool"], name="pool"),
              helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "opposite_sums",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
                              [numpy_helper.from_array(v, n) for n, v in arrays.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_sum_rule_fixture")
    onnx.checker.check_model(model)

    want = np.maximum(reference, 0).mean(axis=(2, 3)) @ wf.T.astype(np.float64) + arrays["fc.b"]
    got = ort.InferenceSession(model.SerializeToString()).run(None, {"input": x})[0]
    assert np.allclose(got, want, atol=1e-4), (got, want)

    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    np.save(os.path.join(OUT, "input.npy"), x)
    np.save(os.path.join(OUT, "logits.npy"), got.astype(np.float32))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "Tools/make_sum_rule_fixture.py", "seed": 7, "reference": "onnxruntime (forward), numpy float64",
                   "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                   "opposite_sign_fraction_per_block": [round(v, 3) for v in opposite]}, f, indent=1)
    print(f"wrote {OUT}: logits {got.ravel()}, opposite signs per block {[round(v, 2) for v in opposite]}")


if __name__ == "__main__":
    main()
