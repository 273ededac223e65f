#!/usr/bin/env python3
"""Writes the ONNX backend node tests for the ops srtool supports.

The `onnx` wheel ships the node test *generators* (onnx/backend/test/case/node/*.py), not
their data. This script runs them (onnx's own reference values) and writes each case as
`<out>/<test name>/model.onnx` + `test_data_set_N/{input,output}_K.pb`, the layout of
onnx's backend test data; and the wheel's light model zoo as `<out>/light_<name>/` in the
same layout. SRFormatsTests' ONNXNodeConformanceTests reads the folder named
by $SRTOOL_ONNX_NODE_TESTS.

    python3 Tools/make_onnx_node_tests.py [--out /tmp/srtool-onnx-node-tests]

Needs: pip install onnx==1.23.2 (numpy comes with it). Takes a few seconds.
"""
import argparse
import os
import shutil
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases

# The op types srtool imports (README: "ONNX operators"), plus those folded at import.
OPS = {
    "Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "LRN", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Clip", "Add",
    "Mul", "Sum", "Sub", "Div", "Max", "Concat", "Flatten", "Reshape", "Transpose", "Pad",
    "Softmax", "Dropout", "Identity", "Squeeze", "Unsqueeze", "Pow", "ThresholdedRelu",
    "Erf", "Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "HardSwish", "HardSigmoid", "Elu", "Selu",
    "Softplus", "Softsign", "Mish", "Gelu", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Slice",
    "Split", "LayerNormalization", "Gather", "ConvTranspose", "Resize", "Upsample", "Einsum", "Expand",
    "ReduceL2", "RMSNormalization",
}


def write_light_models(out):
    """The wheel's "light" model zoo (onnx/backend/test/data/light: AlexNet, DenseNet-121,
    Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512 with weights made
    by ConstantOfShape) as `light_<name>/`, with the input onnx's own runner feeds them
    (`arange(n)/n` in the input's shape, `generate_dummy_data(random=False)`) and the
    shipped expected output."""
    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    count = 0
    for name in sorted(os.listdir(light)):
        if not name.endswith(".onnx"):
            continue
        stem = name[:-len(".onnx")]
        model = onnx.load(os.path.join(light, name))
        inits = {i.name for i in model.graph.initializer}
        feeds = [i for i in model.graph.input if i.name not in inits]
        folder = os.path.join(out, stem)
        data = os.path.join(folder, "test_data_set_0")
        os.makedirs(data)
        shutil.copy(os.path.join(light, name), os.path.join(folder, "model.onnx"))
        for j, vi in enumerate(feeds):
            shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            x = (np.arange(n).reshape(shape) / n).astype(np.float32)
            with open(os.path.join(data, f"input_{j}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, vi.name).SerializeToString())
        shutil.copy(os.path.join(light, f"{stem}_output_0.pb"), os.path.join(data, "output_0.pb"))
        count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/srtool-onnx-node-tests")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases()
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    written = 0
    for case in cases:
        ops = {n.op_type for n in case.model.graph.node}
        if len(ops) != 1 or not ops <= OPS or case.kind != "node":
            continue
        if not all(v.type.HasField("tensor_type") for v in list(case.model.graph.input) + list(case.model.graph.output)):
            continue  # sequence / optional values: not tensors
        folder = os.path.join(args.out, case.name)
        os.makedirs(folder)
        with open(os.path.join(folder, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            data = os.path.join(folder, f"test_data_set_{i}")
            os.makedirs(data)
            for kind, values, infos in (("input", inputs, case.model.graph.input),
                                        ("output", outputs, case.model.graph.output)):
                for j, value in enumerate(values):
                    proto = value if isinstance(value, onnx.TensorProto) else numpy_helper.from_array(value, infos[j].name)
                    with open(os.path.join(data, f"{kind}_{j}.pb"), "wb") as f:
                        f.write(proto.SerializeToString())
        written += 1
    written += write_light_models(args.out)
    with open(os.path.join(args.out, "VERSION"), "w") as f:
        f.write(f"onnx {onnx.__version__}\n")
    print(f"wrote {written} node tests (onnx {onnx.__version__}) to {args.out}")


if __name__ == "__main__":
    main()
