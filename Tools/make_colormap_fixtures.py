#!/usr/bin/env python3
"""Writes Fixtures/colormaps/zennit.json: zennit's 256-entry palettes for each built-in
colour map (zennit.image.palette, level 1), and Fixtures/colormaps/matplotlib.json:
matplotlib's viridis, magma and jet sampled at 256 points, which SRRenderTests compare
with srtool's palettes. It also prints the 17 control points srtool's registry uses for
the matplotlib maps (matplotlib sampled every 1/16).

    python3 Tools/make_colormap_fixtures.py

Needs: pip install zennit (0.5.1) matplotlib.
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

from matplotlib import colormaps
mpl = {}
for name in ["viridis", "magma", "jet"]:
    cmap = colormaps[name]
    mpl[name] = [[int(round(v * 255)) for v in cmap(i / 255)[:3]] for i in range(256)]
    if name == "jet":  # piecewise linear: its own breakpoints (matplotlib's segment data)
        stops = [0.0, 0.11, 0.125, 0.34, 0.35, 0.375, 0.64, 0.65, 0.66, 0.89, 0.91, 1.0]
    else:
        stops = [i / 16 for i in range(17)]
    spec = []
    for i, p in enumerate(stops):
        colour = "%02x%02x%02x" % tuple(int(round(v * 255)) for v in cmap(float(p))[:3])
        spec.append(colour if name != "jet" or i in (0, len(stops) - 1) else "%02x:%s" % (round(p * 255), colour))
    print(name, ",".join(spec))
with open(os.path.join(OUT, "matplotlib.json"), "w") as f:
    json.dump({"generator": "Tools/make_colormap_fixtures.py", "reference": f"matplotlib {version('matplotlib')}",
               "palettes": mpl}, f)
