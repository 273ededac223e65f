#!/usr/bin/env python3
"""Writes the ONNX backend node tests for the ops srtool supports.

The `onnx` wheel ships the node test *generators* (onnx/backend/test/case/node/*.py), not
their data. This script runs them (onnx's own reference values) and writes each case as
`<out>/<test name>/model.onnx` + `test_data_set_N/{input,output}_K.pb`, the layout of
onnx's backend test data. SRFormatsTests' ONNXNodeConformanceTests reads the folder named
by $SRTOOL_ONNX_NODE_TESTS.

    python3 Tools/make_onnx_node_tests.py [--out /tmp/srtool-onnx-node-tests]

Needs: pip install onnx==1.23.2 (numpy comes with it). Takes a few seconds.
"""
import argparse
import os
import shutil
import warnings

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
    "Split", "LayerNormalization", "Gather",
}


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
    with open(os.path.join(args.out, "VERSION"), "w") as f:
        f.write(f"onnx {onnx.__version__}\n")
    print(f"wrote {written} node tests (onnx {onnx.__version__}) to {args.out}")


if __name__ == "__main__":
    main()
