#!/usr/bin/env python3
"""Writes Fixtures/hostile/: valid models whose strings attack where srtool shows them.

    python3 Tools/make_hostile_fixtures.py

`names.onnx` is a small working CNN whose node names carry HTML that runs script if
interpolated into the report (an <img onerror>, a </title></svg><script> breakout), a
newline and ANSI colour codes for the terminal, and tensor names that are unsafe as file
names or collide once made safe (`a/b`, `a:b`, `../up`, a BEL character). Its labels
(metadata_props `srtool.labels`) carry script too. SRToolTests and Tools/check_report run
`inspect`, `run --dump`, `explain` and `render` on it: no script may run, no control
character may reach the terminal or a file name, no file may overwrite another.

Needs: pip install onnx==1.23.2 numpy. Deterministic (seed 5).
"""
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Fixtures", "hostile")

# Each payload sets data-pwned on the report's <body> if it ever runs.
IMG = "<img src=x onerror=\"document.body.dataset.pwned='img'\">"
BREAKOUT = "</title></svg><script>document.body.dataset.pwned='script'</script>"
TERMINAL = "red\n\x1b[31mALERT\x1b[0m\r"


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    rng = np.random.default_rng(5)

    def weight(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["a/b"], name=IMG, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a/b"], ["a:b"], name=BREAKOUT),
        helper.make_node("Conv", ["a:b", "w2", "b2"], ["../up"], name=TERMINAL, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["../up"], ["bell\x07"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["bell\x07"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["logits"], name="fc", transB=1),
    ]
    inits = [weight("w1", (4, 3, 3, 3)), weight("b1", (4,)), weight("w2", (4, 4, 3, 3)), weight("b2", (4,)),
             weight("w3", (3, 4)), weight("b3", (3,))]
    graph = helper.make_graph(nodes, "hostile", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="srtool-hostile")
    labels = [IMG, BREAKOUT, "plain"]
    model.metadata_props.add(key="srtool.labels", value="\n".join(labels))
    model.metadata_props.add(key="srtool.preprocess", value="imagenet")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "names.onnx"))
    np.save(os.path.join(OUT, "input.npy"), rng.standard_normal((1, 3, 16, 16)).astype(np.float32))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "Tools/make_hostile_fixtures.py", "reference": "none: the checks are on escaping, not numbers",
                   "onnx": onnx.__version__, "seed": 5,
                   "node_names": [IMG, BREAKOUT, TERMINAL], "tensor_names": ["a/b", "a:b", "../up", "bell\x07"],
                   "labels": labels}, f, indent=2)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
