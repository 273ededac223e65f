#!/usr/bin/env python3
"""Checks that an .srm file written by srtool is a valid safetensors file: Python's
`safetensors` package loads every tensor, the metadata holds srtool's graph, the graph's
parameters name exactly the stored tensors, the data section is 8-byte aligned, and
every tensor is finite float32.

    python3 Tools/check_srm_safetensors.py model.srm

Needs: pip install safetensors numpy.
"""
import json
import struct
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def main(path):
    tensors = load_file(path)
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == "srtool", meta.keys()
    graph = json.loads(meta["graph"])
    names = {p for n in graph["nodes"] for p in n["params"].values()}
    assert names == set(tensors), (names ^ set(tensors))
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        assert (8 + n) % 8 == 0, "data section not 8-byte aligned"
    for name, t in tensors.items():
        assert t.dtype == np.float32 and np.isfinite(t).all(), name
    print(f"OK: {path}: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} values, "
          f"{len(graph['nodes'])} nodes, safetensors loads it")


if __name__ == "__main__":
    main(sys.argv[1])
