#!/usr/bin/env python3
"""Writes Fixtures/colormaps/zennit.json: zennit's 256-entry palettes for each built-in
colour map (zennit.image.palette, level 1), which SRRenderTests compares with srtool's.

    python3 Tools/make_colormap_fixtures.py

Needs: pip install zennit (0.5.1).
"""
import json
import os

import zennit
from zennit.image import palette

NAMES = ["gray", "wred", "wblue", "hot", "cold", "coldnhot", "bwr", "france", "seismic"]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "colormaps")

os.makedirs(OUT, exist_ok=True)
from importlib.metadata import version
data = {"generator": "Tools/make_colormap_fixtures.py", "reference": f"zennit {version('zennit')}",
        "palettes": {n: palette(n).tolist() for n in NAMES}}
with open(os.path.join(OUT, "zennit.json"), "w") as f:
    json.dump(data, f)
print("wrote", len(NAMES), "palettes")
