#!/usr/bin/env python3
"""Writes Fixtures/malformed/: broken or unsupported model files and the exact stderr line
and exit code srtool must give for each (manifest.json). SRToolTests runs `inspect` and
`run` on every case.

    python3 Tools/make_malformed_fixtures.py

Needs: pip install onnx==1.23.2 numpy. Deterministic.
"""
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Fixtures", "malformed")


def small_model(nodes, initializers, inputs=None, outputs=None, opset=13):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])]
    outputs = outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="srtool-malformed")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), "w")
    good = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])], [w])
    good_bytes = good.SerializeToString()
    cases = []

    def case(file, code, line, note, inspect_code=None):
        c = {"file": file, "exit_code": code, "stderr": line, "note": note}
        if inspect_code is not None:
            c["inspect_exit_code"] = inspect_code  # inspect reports it instead of refusing
        cases.append(c)

    write("truncated.onnx", good_bytes[: len(good_bytes) // 2])
    case("truncated.onnx", 65, None, "cut in half inside the weight bytes")
    write("garbage.onnx", bytes(rng.integers(0, 256, 512, dtype=np.uint8)))
    case("garbage.onnx", 65, "srtool: error: Fixtures/malformed/garbage.onnx: not a model srtool recognises (expected ONNX or .srm)",
         "random bytes")
    write("empty.onnx", b"")
    case("empty.onnx", 65, "srtool: error: Fixtures/malformed/empty.onnx: empty file", "zero bytes")

    m = small_model([helper.make_node("Erf", ["x"], ["y"], name="erf")], [])
    write("unsupported_op.onnx", m.SerializeToString())
    case("unsupported_op.onnx", 69, "srtool: error: node 'erf': op 'Erf' is not supported", "a valid model with an op srtool lacks")

    m = small_model([helper.make_node("Relu", ["t"], ["u"], name="a"), helper.make_node("Relu", ["u"], ["t"], name="b"),
                     helper.make_node("Add", ["x", "t"], ["y"], name="c")], [])
    write("cycle.onnx", m.SerializeToString())
    case("cycle.onnx", 65, "srtool: error: node 'a' (Relu) is part of a cycle", "a → b → a")

    m = small_model([helper.make_node("Relu", ["nowhere"], ["y"], name="r")], [])
    write("dangling.onnx", m.SerializeToString())
    case("dangling.onnx", 65,
         "srtool: error: node 'r' (Relu): input 'nowhere' is not produced by any node, initializer or graph input",
         "an input nobody produces")

    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40, 3, 3], raw_data=b"\0" * 16)
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [big])
    write("overflow_dims.onnx", m.SerializeToString())
    case("overflow_dims.onnx", 65, "srtool: error: initializer 'w': dimensions [1099511627776, 1099511627776, 3, 3] overflow",
         "dims whose product overflows 64 bits")

    neg = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, -2, 3, 3], raw_data=b"\0" * 16)
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [neg])
    write("negative_dims.onnx", m.SerializeToString())
    case("negative_dims.onnx", 65, "srtool: error: initializer 'w': negative dimension -2", "a negative dim")

    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2, 3, 3], raw_data=b"\0" * 20)
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [short])
    write("short_raw_data.onnx", m.SerializeToString())
    case("short_raw_data.onnx", 65,
         "srtool: error: initializer 'w': 20 bytes of data for shape [2, 2, 3, 3] of float (want 144)",
         "raw_data shorter than the shape says")

    bad = numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "w")
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [bad])
    write("weight_mismatch.onnx", m.SerializeToString())
    case("weight_mismatch.onnx", 65,
         "srtool: error: node 'conv' (conv2d): weight [2, 3, 3, 3] does not fit input [1, 2, 4, 4] with group 1",
         "conv weight for 3 input channels on a 2-channel input")

    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [w])
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    write("int8_input.onnx", m.SerializeToString())
    case("int8_input.onnx", 69, "srtool: error: input 'x' has element type 3; only float32 inputs are supported",
         "an int8 graph input")

    nan = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    nan[0, 1, 2, 0] = np.nan
    nan[1, 0, 0, 0] = np.inf
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                    [numpy_helper.from_array(nan, "w")])
    write("nan_weight.onnx", m.SerializeToString())
    case("nan_weight.onnx", 65,
         "srtool: error: weight 'w' holds 2 NaN/Inf value(s); pass --allow-nonfinite to run anyway",
         "a NaN and an Inf in the conv weight: inspect reports them, run refuses", inspect_code=0)

    write("image_as_model.onnx", open(os.path.join(ROOT, "Fixtures", "images", "landscape.png"), "rb").read())
    case("image_as_model.onnx", 65,
         "srtool: error: Fixtures/malformed/image_as_model.onnx: an image, not a model (pass it with --image)",
         "a PNG under an .onnx name")

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "Tools/make_malformed_fixtures.py", "reference": "srtool's documented error lines",
                   "onnx": onnx.__version__, "seed": 3,
                   "notes": "stderr null: only the exit code and a single 'srtool: error:' line are checked",
                   "cases": cases}, f, indent=2)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
