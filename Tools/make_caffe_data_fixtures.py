#!/usr/bin/env python3
"""Write the Caffe data-layer fixtures: prototxts whose input shape comes from an ImageData layer.

Into Fixtures/caffe/data_layers/ (no Caffe needed; the shapes follow Caffe's own rules,
quoted below, and are listed in the manifest):

    image_data_crop.prototxt     V2 ImageData, batch_size 2, new 40x48, crop_size 32
    image_data_gray.prototxt     V2 ImageData, is_color: false, new 20x24, no crop
    image_data_v1.prototxt       V1 `layers { type: IMAGE_DATA }` with the deprecated
                                 image_data_param { crop_size } (Caffe's
                                 UpgradeNetDataTransformation moves it to transform_param)
    image_data_unsized.prototxt  ImageData with neither new_height/new_width nor crop_size:
                                 the shape depends on the images, so it must be refused
    data_layers.caffemodel       a NetParameter with one weightless layer, the weights
                                 each prototxt finds beside it (Pooling needs none)
    manifest.json                generator, the rule, per prototxt the expected input
                                 shape or the expected error line

Caffe's rule (image_data_layer.cpp, data_transformer.cpp): the top is `batch_size`
(default 1) images of 3 channels, 1 with `is_color: false`; `new_height`/`new_width`
(both set or neither) resize every image; `transform_param { crop_size }` then crops it
square. Each net then average-pools 2x2, so a test can check the output shape too.

Usage: python3 Tools/make_caffe_data_fixtures.py
"""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fixture_folders import clear_case_dir  # noqa: E402

GENERATOR = "Tools/make_caffe_data_fixtures.py"
OUT = pathlib.Path(__file__).resolve().parent.parent / "Fixtures" / "caffe" / "data_layers"

POOL_V2 = """layer {
  name: "pool"
  type: "Pooling"
  bottom: "data"
  top: "pool"
  pooling_param { pool: AVE kernel_size: 2 stride: 2 }
}
"""


def image_data_v2(name, image_data_param, transform_param=""):
    transform = f"  transform_param {{ {transform_param} }}\n" if transform_param else ""
    return f"""name: "{name}"
layer {{
  name: "data"
  type: "ImageData"
  top: "data"
  top: "label"
  include {{ phase: TEST }}
{transform}  image_data_param {{ source: "test.txt" {image_data_param} }}
}}
""" + POOL_V2


CASES = {
    "image_data_crop.prototxt": (
        image_data_v2("crop", "batch_size: 2 new_height: 40 new_width: 48",
                      "crop_size: 32 mirror: false mean_value: 104 mean_value: 117 mean_value: 123"),
        {"input_shape": [2, 3, 32, 32], "output_shape": [2, 3, 16, 16]}),
    "image_data_gray.prototxt": (
        image_data_v2("gray", "new_height: 20 new_width: 24 is_color: false"),
        {"input_shape": [1, 1, 20, 24], "output_shape": [1, 1, 10, 12]}),
    "image_data_v1.prototxt": (
        """name: "v1"
layers {
  name: "data"
  type: IMAGE_DATA
  top: "data"
  top: "label"
  image_data_param { source: "test.txt" batch_size: 3 new_height: 24 new_width: 24 crop_size: 16 }
}
layers {
  name: "pool"
  type: POOLING
  bottom: "data"
  top: "pool"
  pooling_param { pool: AVE kernel_size: 2 stride: 2 }
}
""",
        {"input_shape": [3, 3, 16, 16], "output_shape": [3, 3, 8, 8]}),
    "image_data_unsized.prototxt": (
        image_data_v2("unsized", "batch_size: 4"),
        {"error": "input 'data' has no declared shape: give --input-shape N,C,H,W", "exit": 64}),
}


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def f_bytes(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def main():
    clear_case_dir(OUT, GENERATOR)
    OUT.mkdir(parents=True)
    for name, (text, _) in CASES.items():
        (OUT / name).write_text(text)
    # NetParameter name (1) + layer (100) { name (1) "pool", type (2) "Pooling" }.
    model = f_bytes(1, b"data_layers") + f_bytes(100, f_bytes(1, b"pool") + f_bytes(2, b"Pooling"))
    (OUT / "data_layers.caffemodel").write_bytes(model)
    manifest = {
        "generator": GENERATOR,
        "reference": "Caffe's ImageDataLayer::DataLayerSetUp and DataTransformer::InferBlobShape "
                     "(shape rules, written out; Caffe not run)",
        "weights": "data_layers.caffemodel",
        "cases": {name: expected for name, (_, expected) in CASES.items()},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(OUT)


if __name__ == "__main__":
    main()
