#!/usr/bin/env python3
"""Renders the README's picture: for each bundled sample, the image, srtool's LRP heatmap
(epsilon-plus-flat) and srtool's overlay, side by side, 3× enlarged.

    swift build -c release && python3 Tools/readme/make_images.py

Needs: pip install pillow. Writes Tools/readme/lrp-shapes.png.
"""
import os
import subprocess
import tempfile

from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SRTOOL = os.path.join(ROOT, ".build", "release", "srtool")
SAMPLES = ["circle_1", "square_0", "triangle_1", "cross_0"]
SCALE = 3


def main():
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SAMPLES:
            image = os.path.join(ROOT, "Fixtures", "bundled", "samples", name + ".png")
            row = [Image.open(image).convert("RGB")]
            for extra, out in (([], "heat.png"), (["--overlay"], "overlay.png")):
                path = os.path.join(tmp, name + out)
                subprocess.run([SRTOOL, "explain", os.path.join(ROOT, "Fixtures", "bundled", "shapes.onnx"),
                                "--image", image, "-o", path] + extra, check=True, capture_output=True)
                row.append(Image.open(path).convert("RGB"))
            tiles.append(row)
    w, h = tiles[0][0].size
    gap = 6
    sheet = Image.new("RGB", (3 * w * SCALE + 2 * gap, len(tiles) * h * SCALE + (len(tiles) - 1) * gap), "white")
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            sheet.paste(tile.resize((w * SCALE, h * SCALE), Image.NEAREST), (c * (w * SCALE + gap), r * (h * SCALE + gap)))
    sheet.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lrp-shapes.png"), optimize=True)


if __name__ == "__main__":
    main()
