#!/usr/bin/env python3
"""Writes Fixtures/malformed/: broken or unsupported model files and the exact stderr line
and exit code srtool must give for each (manifest.json). SRToolTests runs `inspect` and
`run` on every case.

    python3 Tools/make_malformed_fixtures.py

Needs: pip install onnx==1.23.2 numpy h5py. Deterministic.
"""
import json
import os
import shutil

import h5py
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

    def case(file, code, line, note, inspect_code=None, run_input=None):
        c = {"file": file, "exit_code": code, "stderr": line, "note": note}
        if inspect_code is not None:
            c["inspect_exit_code"] = inspect_code  # inspect reports it instead of refusing
        if run_input is not None:
            c["input"] = run_input  # `run` reads this input (default: Fixtures/onnx/conv_basic/input.npy)
        cases.append(c)

    write("truncated.onnx", good_bytes[: len(good_bytes) // 2])
    case("truncated.onnx", 65, None, "cut in half inside the weight bytes")
    write("garbage.onnx", bytes(rng.integers(0, 256, 512, dtype=np.uint8)))
    case("garbage.onnx", 65, "srtool: error: Fixtures/malformed/garbage.onnx: not a model srtool recognises (expected ONNX, Caffe, Keras or .srm)",
         "random bytes")
    write("empty.onnx", b"")
    case("empty.onnx", 65, "srtool: error: Fixtures/malformed/empty.onnx: empty file", "zero bytes")

    m = small_model([helper.make_node("Sin", ["x"], ["y"], name="sin")], [])
    write("unsupported_op.onnx", m.SerializeToString())
    case("unsupported_op.onnx", 69, "srtool: error: node 'sin': op 'Sin' is not supported", "a valid model with an op srtool lacks")

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
         "srtool: error: initializer 'w': 20 bytes of float data for shape [2, 2, 3, 3] (want 144)",
         "raw_data shorter than the shape says")

    # Memory bombs: a few hundred bytes claiming gigabytes. The initializer was allocated
    # (8 GB, zero-filled) before its length was checked; the activation and the MACs are
    # refused by the run budget before anything is allocated (the test runs srtool under a
    # 4 GiB address-space limit, so the budget is 3.2 GB).
    for dtype, name in [(TensorProto.FLOAT, "float"), (TensorProto.FLOAT16, "float16")]:
        bomb = TensorProto(name="w", data_type=dtype, dims=[(1 << 31) - 1], raw_data=b"\0" * 8)
        m = small_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [bomb])
        write(f"huge_initializer_{name}.onnx", m.SerializeToString())
        size = 4 if name == "float" else 2
        case(f"huge_initializer_{name}.onnx", 65,
             f"srtool: error: initializer 'w': 8 bytes of {name} data for shape [2147483647] (want {((1 << 31) - 1) * size})",
             f"a {name} initializer claiming 2^31-1 elements with 8 bytes of data")
    x1 = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])]
    one = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[23000] * 4)], [one], inputs=x1)
    write("activation_bomb.onnx", m.SerializeToString())
    np.save(os.path.join(OUT, "activation_bomb_input.npy"), np.ones((1, 1, 1, 1), np.float32))
    case("activation_bomb.onnx", 65, None, "a Conv on a 1x1 input padded by 23000: a 2^31-element (8.5 GB) activation "
         "from a 200-byte file; inspect shows it, run refuses it", inspect_code=0,
         run_input="Fixtures/malformed/activation_bomb_input.npy")
    x128 = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256, 128, 128])]
    shape = numpy_helper.from_array(np.array([256, 256, 3, 3], np.int64), "wshape")
    nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"], name="weights",
                              value=numpy_helper.from_array(np.array([1e-3], np.float32), "v"))]
    prev = "x"
    for i in range(1200):
        out = "y" if i == 1199 else f"t{i}"
        nodes.append(helper.make_node("Conv", [prev, "w"], [out], name=f"c{i}", pads=[1, 1, 1, 1]))
        prev = out
    m = small_model(nodes, [shape], inputs=x128)
    write("macs_bomb.onnx", m.SerializeToString())
    case("macs_bomb.onnx", 65, f"srtool: error: the model needs {1200 * 128 * 128 * 256 * 256 * 9} multiply-accumulates per image, more than "
         "the budget of 1000000000000 (--max-macs)",
         "1,200 3x3 convolutions sharing one folded weight: 11.9 T MACs from a small file; inspect shows it, run refuses it",
         inspect_code=0)
    big = numpy_helper.from_array(np.array([1 << 26], np.int64), "bigshape")
    nodes = [helper.make_node("ConstantOfShape", ["bigshape"], [f"k{i}"], name=f"fill{i}",
                              value=numpy_helper.from_array(np.array([1.0], np.float32), "v")) for i in range(8)]
    nodes.append(helper.make_node("Relu", ["x"], ["y"], name="relu"))
    m = small_model(nodes, [big])
    write("folded_constant_bomb.onnx", m.SerializeToString())
    case("folded_constant_bomb.onnx", 65, "srtool: error: node 'fill4' (ConstantOfShape): constants made from shapes reach "
         f"{5 << 26} elements, more than srtool builds ({1 << 28})",
         "eight ConstantOfShape nodes of 2^26 floats each (2 GiB) from a 300-byte file: the folded total is capped at 1 GiB")
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])], [w], opset=999)
    write("opset_999.onnx", m.SerializeToString())
    case("opset_999.onnx", 69, "srtool: error: the model uses ONNX opset 999; srtool reads opsets up to 28",
         "an opset newer than srtool knows (onnxruntime refuses it too)")
    m = small_model([helper.make_node("Sin", ["x"], ["y"], name="sin\n\x1b[31mred\x1b[0m")], [])
    write("terminal_escape.onnx", m.SerializeToString())
    case("terminal_escape.onnx", 69, "srtool: error: node 'sin\\n\\e[31mred\\e[0m': op 'Sin' is not supported",
         "a node name with a newline and ANSI colour codes: shown escaped, on one line")

    bad = numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "w")
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [bad])
    write("weight_mismatch.onnx", m.SerializeToString())
    case("weight_mismatch.onnx", 65,
         "srtool: error: node 'conv' (conv2d): weight [2, 3, 3, 3] does not fit input [1, 2, 4, 4] with group 1",
         "conv weight for 3 input channels on a 2-channel input")

    # Shape arithmetic on hostile values: a product past 2^63, a NaN where an integer must be,
    # a dilation whose span overflows (each trapped the importer before it was checked).
    huge = numpy_helper.from_array(np.array([1, 1 << 40, 1 << 40, -1], dtype=np.int64), "shape")
    m = small_model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")], [huge])
    write("reshape_overflow.onnx", m.SerializeToString())
    case("reshape_overflow.onnx", 65, "srtool: error: node 'r' (Reshape): cannot reshape [1, 2, 4, 4] to "
         "[1, 1099511627776, 1099511627776, -1]", "a Reshape target whose known dims multiply past 2^63")
    nan_shape = helper.make_tensor("v", TensorProto.FLOAT, [1], [float("nan")])
    m = small_model([helper.make_node("Constant", [], ["s"], name="c", value=nan_shape),
                     helper.make_node("ConstantOfShape", ["s"], ["z"], name="fill"),
                     helper.make_node("Add", ["x", "z"], ["y"], name="add")], [])
    write("nan_shape.onnx", m.SerializeToString())
    case("nan_shape.onnx", 65, "srtool: error: node 'fill' (ConstantOfShape): shape value nan is not an integer",
         "a folded shape computed from a NaN constant")
    m = small_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", auto_pad="SAME_UPPER",
                                      kernel_shape=[(1 << 40) - 1] * 2, dilations=[(1 << 40) - 1] * 2)], [w])
    write("dilation_overflow.onnx", m.SerializeToString())
    case("dilation_overflow.onnx", 65, "srtool: error: node 'conv' (Conv): bad kernel_shape/strides/dilations for auto_pad",
         "SAME padding with a kernel and dilation whose span (k−1)·d overflows")

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

    # Caffe: each case in its own folder, so that a caffemodel finds its deploy prototxt
    # (and a prototxt its caffemodel) beside it as a user's files would be. All derive
    # from the Fixtures/caffe/vggface_mini_v2 net (made with Caffe by make_caffe_fixtures.py).
    src = os.path.join(ROOT, "Fixtures", "caffe", "vggface_mini_v2")
    model = open(os.path.join(src, "vggface_mini_v2.caffemodel"), "rb").read()
    deploy = open(os.path.join(src, "deploy.prototxt")).read()

    def caffe_case(folder, prototxt, caffemodel=model, entry="model.caffemodel"):
        os.makedirs(os.path.join(OUT, folder))
        if caffemodel is not None:
            write(f"{folder}/model.caffemodel", caffemodel)
        if prototxt is not None:
            write(f"{folder}/deploy.prototxt", prototxt.encode())
        return f"{folder}/{entry}"

    f = caffe_case("caffe_truncated", None, model[: len(model) // 2])
    case(f, 65, f"srtool: error: Fixtures/malformed/{f}: truncated caffemodel (a length runs past the end of the file)",
         "a caffemodel cut in half, no prototxt beside it")
    bad_syntax = deploy.replace("    num_output: 8\n", "    num_output 8\n", 1)
    assert bad_syntax != deploy
    f = caffe_case("caffe_syntax", bad_syntax, entry="deploy.prototxt")
    line = bad_syntax.split("num_output 8")[0].count("\n") + 1
    case(f, 65, f"srtool: error: deploy.prototxt:{line}:16: expected ':' or '{{' after 'num_output', found '8'",
         "a prototxt with a missing colon: the line and column are named")
    mismatch = deploy.replace("    num_output: 8\n", "    num_output: 16\n", 1)
    f = caffe_case("caffe_mismatch", mismatch)
    case(f, 65, "srtool: error: layer 'conv1_1' (Convolution): weight blob in model.caffemodel has shape [8, 3, 3, 3], "
         "deploy.prototxt implies [16, 3, 3, 3]", "the deploy prototxt disagrees with the caffemodel's weights")
    missing = deploy.replace('name: "fc8"', 'name: "fc8_new"').replace('bottom: "fc8"', 'bottom: "fc8_new"')
    f = caffe_case("caffe_missing_weights", missing)
    case(f, 65, "srtool: error: layer 'fc8_new' (InnerProduct) has no weights in model.caffemodel",
         "a deploy layer (renamed for fine-tuning) that the caffemodel has no blobs for")
    unsupported = deploy.replace('type: "ReLU"', 'type: "ELU"', 1)
    f = caffe_case("caffe_unsupported", unsupported)
    case(f, 69, "srtool: error: layer 'relu1_1' has type 'ELU', which srtool does not support",
         "a layer type srtool lacks")
    fork = deploy.replace("    pool: MAX\n", "    pool: MAX\n    avg_include_pad: false\n", 1)
    assert fork != deploy
    f = caffe_case("caffe_fork_field", fork)
    line = fork.split("avg_include_pad")[0].count("\n") + 1
    case(f, 69, f"srtool: error: deploy.prototxt:{line}:5: layer 'pool1' (Pooling): 'avg_include_pad' in pooling_param is not in "
         "Caffe's schema and could change the result",
         "a fork's pooling field whose meaning srtool cannot know (ceil_mode, which has one meaning, is read)")

    no_bottom = deploy + 'layer {\n  name: "cat"\n  type: "Concat"\n  top: "cat"\n}\n'
    f = caffe_case("caffe_no_bottom", no_bottom)
    case(f, 65, "srtool: error: layer 'cat' (Concat): needs 1 bottom blob(s), has 0",
         "a Concat without bottoms (found by the prototxt fuzzer, which crashed the importer)")

    reshape = deploy + ('layer {\n  name: "flat"\n  type: "Reshape"\n  bottom: "prob"\n  top: "flat"\n'
                        '  reshape_param { shape { dim: 0 dim: 4000000000 dim: 4000000000 dim: -1 } }\n}\n')
    f = caffe_case("caffe_reshape_overflow", reshape)
    case(f, 65, "srtool: error: layer 'flat' (Reshape): cannot reshape [1, 10] to [0, 4000000000, 4000000000, -1]",
         "a Reshape whose dims multiply past 2^63 (trapped the importer before it was checked)")

    lrn = deploy + ('layer {\n  name: "norm"\n  type: "LRN"\n  bottom: "conv1_2"\n  top: "norm"\n'
                    '  lrn_param { local_size: 4294967295 norm_region: WITHIN_CHANNEL }\n}\n')
    f = caffe_case("caffe_lrn_size", lrn)
    case(f, 65, "srtool: error: node 'norm' (lrn): size 4294967295 must be in 1..<2^31",
         "an LRN window of 2^32−1 (its window area overflowed in the kernel before it was checked)")

    # Length fields and dimensions that claim more than the file holds.
    write("huge_length.caffemodel", bytes([0x0a, 0x01, 0x61, 0xa2, 0x06]) + bytes([0xff] * 8) + bytes([0x3f]) + b"layer")
    case("huge_length.caffemodel", 65,
         "srtool: error: Fixtures/malformed/huge_length.caffemodel: truncated caffemodel (a length runs past the end of the file)",
         "a layer whose length varint claims 2^62 bytes")

    def varint(v):
        out = bytearray()
        while True:
            b = v & 0x7f
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)

    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    dims = b"".join(varint(d) for d in (1 << 30, 1 << 30, 1 << 30))
    blob = field(7, field(1, dims))
    layer = field(1, b"conv") + field(2, b"Convolution") + field(7, blob)
    write("overflow_blob.caffemodel", field(1, b"n") + field(100, layer))
    case("overflow_blob.caffemodel", 65,
         "srtool: error: Fixtures/malformed/overflow_blob.caffemodel: not a valid caffemodel (blob shape [1073741824, 1073741824, 1073741824] overflows)",
         "a blob whose dims multiply past 2^63")
    flipped = bytearray(good_bytes)
    for i in range(20, len(flipped), 37):
        flipped[i] ^= 1 << (i % 8)
    write("bitflips.onnx", bytes(flipped))
    case("bitflips.onnx", 65, None, "one bit flipped in every 37 bytes of a valid model")

    # Keras: the broken files Tools/make_keras_fixtures.py writes with Keras and h5py.
    keras = os.path.join(ROOT, "Fixtures", "keras", "malformed")
    for file, code, line, note in [
        ("not_keras.h5", 65, "srtool: error: Fixtures/malformed/keras_not_keras.h5: an HDF5 file that is neither Caffe-HDF5 weights nor a Keras model",
         "an HDF5 file with one dataset"),
        ("truncated.h5", 65, "srtool: error: Fixtures/malformed/keras_truncated.h5: not a readable HDF5 file",
         "the first 1000 bytes of a Keras .h5"),
        ("missing_weights.h5", 65, "srtool: error: layer 'conv1' (Conv2D) has no weights in keras_missing_weights.h5",
         "a layer's weight group deleted"),
        ("wrong_shape.h5", 65, "srtool: error: layer 'conv1' (Conv2D): kernel of shape [4, 3, 3, 3] does not fit kernel_size [3, 3] and 3 input channels",
         "a kernel stored transposed"),
        ("unsupported_layer.h5", 69, "srtool: error: layer 'lambda' has class 'Lambda', which srtool does not support",
         "a Lambda layer (Python code)"),
        ("no_weights.keras", 65, "srtool: error: keras_no_weights.keras: a .keras file without model.weights.h5",
         "a .keras zip without its weights"),
        ("not_keras.keras", 65, "srtool: error: keras_not_keras.keras: a zip without config.json, not a Keras 3 .keras file",
         "a zip that is not a Keras file"),
    ]:
        shutil.copyfile(os.path.join(keras, file), os.path.join(OUT, "keras_" + file))
        case("keras_" + file, code, line, note)

    # A config stride of 0 (Keras' "same" padding divides by it).
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "keras", "sequential_cnn", "model.h5"), os.path.join(OUT, "keras_zero_stride.h5"))
    with h5py.File(os.path.join(OUT, "keras_zero_stride.h5"), "r+") as h:
        config = json.loads(h.attrs["model_config"])
        config["config"]["layers"][1]["config"].update(strides=[0, 0], padding="same")
        h.attrs["model_config"] = json.dumps(config)
    case("keras_zero_stride.h5", 65, "srtool: error: layer 'conv1' (Conv2D): 'strides' is [0, 0]",
         "a Conv2D with stride 0 and same padding (a division by zero before it was checked)")

    # A negative 'filters' (the kernel's own shape decided; the config was not checked).
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "keras", "sequential_cnn", "model.h5"), os.path.join(OUT, "keras_negative_filters.h5"))
    with h5py.File(os.path.join(OUT, "keras_negative_filters.h5"), "r+") as h:
        config = json.loads(h.attrs["model_config"])
        config["config"]["layers"][1]["config"].update(filters=-8)
        h.attrs["model_config"] = json.dumps(config)
    case("keras_negative_filters.h5", 65, "srtool: error: layer 'conv1' (Conv2D): 'filters' is -8",
         "a Conv2D whose config says filters -8")

    # A layer class srtool has no lowering for: the error names the layer and its class.
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "keras", "sequential_cnn", "model.h5"), os.path.join(OUT, "keras_unknown_class.h5"))
    with h5py.File(os.path.join(OUT, "keras_unknown_class.h5"), "r+") as h:
        config = json.loads(h.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "Conv3D"
        h.attrs["model_config"] = json.dumps(config)
    case("keras_unknown_class.h5", 69, "srtool: error: layer 'conv1' has class 'Conv3D', which srtool does not support",
         "a Conv2D relabelled Conv3D")

    # Keras 2: a tf.* call srtool does not lower (TFOpLambda names its function).
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "keras", "prelu_positions", "keras2.h5"), os.path.join(OUT, "keras2_unsupported_tfop.h5"))
    with h5py.File(os.path.join(OUT, "keras2_unsupported_tfop.h5"), "r+") as h:
        config = json.loads(h.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["name"] == "gap":
                layer.update(class_name="TFOpLambda", config={"name": "gap", "function": "math.cos"})
        h.attrs["model_config"] = json.dumps(config)
    case("keras2_unsupported_tfop.h5", 69, "srtool: error: layer 'gap' has class 'TFOpLambda' (tf.math.cos), which srtool does not support",
         "a Keras 2 file whose GlobalAveragePooling2D is replaced by a TFOpLambda of tf.math.cos")

    # A zip bomb: model.weights.h5 (deflated) declares 1,000 bytes and unpacks to more. Its
    # size fields in the local header and the central directory are patched.
    import struct
    import zipfile
    with zipfile.ZipFile(os.path.join(ROOT, "Fixtures", "keras", "sequential_cnn", "model.keras")) as z:
        members = {n: z.read(n) for n in z.namelist()}
    bomb = os.path.join(OUT, "keras_zip_bomb.keras")
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    raw = bytearray(open(bomb, "rb").read())
    name = b"model.weights.h5"
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", raw, at + offset, 1000)
            at = raw.find(signature, at + 4)
    open(bomb, "wb").write(bytes(raw))
    case("keras_zip_bomb.keras", 65, "srtool: error: keras_zip_bomb.keras: model.weights.h5 unpacks to more than its declared 1000 bytes",
         "a .keras whose weights entry declares 1,000 bytes and inflates to more (a zip bomb's shape)")

    # A Concatenate axis of 2^31 (it indexed the axis table before the range check).
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "keras", "functional_branches", "model.h5"), os.path.join(OUT, "keras_concat_axis.h5"))
    with h5py.File(os.path.join(OUT, "keras_concat_axis.h5"), "r+") as h:
        config = json.loads(h.attrs["model_config"])
        layer = next(l for l in config["config"]["layers"] if l["class_name"] == "Concatenate")
        layer["config"]["axis"] = 1 << 31
        h.attrs["model_config"] = json.dumps(config)
    case("keras_concat_axis.h5", 69, "srtool: error: layer 'concat' (Concatenate): axis 2147483648 is not supported",
         "a Concatenate axis out of range (found by Tools/fuzz/sweep.py)")

    # Found by Tools/fuzz/run (keras-h5): libhdf5 1.10.8 spins forever in H5HG_read on this
    # file. srtool reads HDF5 in a child process and gives up after SRTOOL_HDF5_TIMEOUT
    # seconds (the test sets 3).
    shutil.copyfile(os.path.join(ROOT, "Tools", "fuzz", "findings", "libhdf5-hang-h5hg-read.h5"), os.path.join(OUT, "hdf5_hang.h5"))
    shutil.copyfile(os.path.join(ROOT, "Tools", "fuzz", "findings", "libhdf5-segv-h5hg-read.h5"), os.path.join(OUT, "hdf5_segv.h5"))
    case("hdf5_segv.h5", 65, "srtool: error: Fixtures/malformed/hdf5_segv.h5: libhdf5 crashed reading it (signal 11); refusing it",
         "a fuzzer-made Keras .h5 on which libhdf5 1.10.8 reads out of bounds in H5HG_read (a string attribute)")
    # A Caffe-HDF5 file whose damaged datatype claims ~2 GB elements; libhdf5 filled ~2 GB
    # before failing. srtool now checks element sizes and stored bytes first.
    os.makedirs(os.path.join(OUT, "caffe_hdf5_claims"))
    shutil.copyfile(os.path.join(ROOT, "Tools", "fuzz", "findings", "caffe-hdf5-dataset-claims-gigabytes.h5"),
                    os.path.join(OUT, "caffe_hdf5_claims", "model.caffemodel.h5"))
    shutil.copyfile(os.path.join(ROOT, "Fixtures", "caffe", "resnet_block", "deploy.prototxt"),
                    os.path.join(OUT, "caffe_hdf5_claims", "deploy.prototxt"))
    case("caffe_hdf5_claims/model.caffemodel.h5", 65,
         "srtool: error: Fixtures/malformed/caffe_hdf5_claims/model.caffemodel.h5: dataset 'data/conv1/0' has 1962934276-byte elements",
         "a fuzzer-made Caffe-HDF5 file whose dataset claims far more bytes than it stores")
    shutil.copyfile(os.path.join(ROOT, "Tools", "fuzz", "findings", "keras-zip-element-size-claims-gigabytes.keras"),
                    os.path.join(OUT, "keras_element_size.keras"))
    case("keras_element_size.keras", 65, "srtool: error: keras_element_size.keras/model.weights.h5: dataset "
         "'layers/conv2d_1/vars/1' has 1979711492-byte elements",
         "a fuzzer-made .keras whose weights' datatype claims ~2 GB elements")
    # Found by Tools/fuzz/run (keras-zip): libhdf5 overflows a heap buffer in H5HG_read
    # (a variable-length string attribute of model.weights.h5) and glibc aborts the reading
    # child with "free(): invalid size" on stderr; srtool must still say one line.
    shutil.copyfile(os.path.join(ROOT, "Tools", "fuzz", "findings", "libhdf5-heap-overflow-h5hg-read.keras"),
                    os.path.join(OUT, "keras_libc_abort.keras"))
    case("keras_libc_abort.keras", 65, "srtool: error: Fixtures/malformed/keras_libc_abort.keras: libhdf5 crashed reading it "
         "(signal 6); refusing it", "a fuzzer-made .keras on which libhdf5 corrupts the heap and glibc aborts, printing a line of its own")
    case("hdf5_hang.h5", 65, "srtool: error: Fixtures/malformed/hdf5_hang.h5: reading it did not finish within 3 s "
         "(libhdf5 hangs on some damaged files); refusing it", "a fuzzer-made Keras .h5 on which libhdf5 never returns")

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "Tools/make_malformed_fixtures.py", "reference": "srtool's documented error lines",
                   "onnx": onnx.__version__, "seed": 3,
                   "notes": "stderr null: only the exit code and a single 'srtool: error:' line are checked",
                   "cases": cases}, f, indent=2)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
