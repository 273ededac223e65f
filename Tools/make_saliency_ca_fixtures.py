#!/usr/bin/env python3
"""Reference implementation of srtool's context-aware saliency and its fixtures.

srtool's context-aware saliency follows Goferman, Zelnik-Manor & Tal (CVPR 2010 /
TPAMI 2012) with every free choice pinned down, so that the Swift implementation
(written independently from the same spec) can be compared number for number.
This file is the reference: a deliberately plain, brute-force (all pairs, O(N^2)),
float64 NumPy implementation that follows the spec below literally. It is slow by
design; keep the images small.

SPEC (the same text is written into manifest.json as "spec")
------------------------------------------------------------
 1. Input: RGB uint8 image W x H. Working image: Pillow
    `img.resize((w_ws, h_ws), Image.BILINEAR)` so that the LONGER side is exactly
    `workingSize` (default 250; the other side = round(short * workingSize / long),
    Python round, at least 1). If the longer side already equals workingSize, no
    resize.
 2. Colour: sRGB -> CIELab (D65): c = v/255; linear = c/12.92 if c <= 0.04045 else
    ((c+0.055)/1.055)^2.4; XYZ = M . linear with
    M = [[0.4124564,0.3575761,0.1804375],[0.2126729,0.7151522,0.0721750],
         [0.0193339,0.1191920,0.9503041]];
    X, Y, Z divided by the white (0.95047, 1.0, 1.08883);
    f(t) = t^(1/3) if t > (6/29)^3 else t/(3*(6/29)^2) + 4/29;
    L = 116 f(Y) - 16, a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z)).
    Normalise: L/100, (a+128)/255, (b+128)/255 (fixed, not per image). float64, at
    the working size.
 3. Scales r in R = {1.0, 0.8, 0.5, 0.3}; for the multi-scale search also r/2 and
    r/4. The image at scale s is the Lab working image resized with separable
    bilinear interpolation with half-pixel centres (torch.nn.functional.interpolate
    mode="bilinear", align_corners=False, no antialiasing) to
    (max(7, round(h_ws*s)), max(7, round(w_ws*s))).
 4. Patches 7x7, stride 3; top-left corners y = 0, 3, 6, ... while y + 7 <= h_s
    (same for x). A patch vector is its 7*7*3 = 147 Lab values. Its position is its
    centre (y+3, x+3) divided by max(h_s, w_s) of its own scale image.
 5. d_color = ||p - q||_2 / sqrt(147); d_pos = ||pos_p - pos_q||_2;
    d = d_color / (1 + 3 d_pos).
 6. For every patch i at scale r: candidates = all patches at scales r, r/2, r/4
    except i itself; take the K = 64 candidates with the smallest d (fewer if fewer
    exist); S_i = 1 - exp(-mean of those d).
 7. Per-scale map: the patch saliencies form a grid gh x gw (rows = patch rows);
    resize the grid with the same half-pixel bilinear to h_ws x w_ws. Average the 4
    scale maps -> S_bar.
 8. Min-max normalise S_bar to [0,1] (max == min -> all zeros). Attended pixels:
    S_bar > 0.8. d_foci = Euclidean distance in pixels to the nearest attended
    pixel, divided by the maximum d_foci over the image (max 0 -> d_foci = 0).
    S_hat = S_bar * (1 - d_foci), then min-max normalise again.
 9. Output: S_hat at the working size as float32, and S_hat resized back to the
    input size with the same half-pixel bilinear (float32).

How this file resolves what the spec leaves open (also in manifest "resolutions")
---------------------------------------------------------------------------------
 * "round" everywhere (steps 1 and 3) is Python's round(): half to EVEN. Step 1
   computes round((short * ws) / long) with an exact integer product and one float64
   division. Step 3 computes s = r * f in float64 (f in {1, 0.5, 0.25}, so r/2 and
   r/4 are exact) and then round(float64(h_ws) * s). Exact ties really occur in the
   fixtures (90 * 0.25 = 22.5 -> 22; tiny_ws70: 30 * 70 / 40 = 52.5 -> 52); the
   per-fixture sizes are in the manifest.
 * Bilinear resize, per axis (in size n, out size m): scale = n / m (NOT 1/s),
   src = (dst + 0.5) * scale - 0.5, clamped below at 0; i0 = floor(src),
   i1 = min(i0 + 1, n - 1), w1 = src - i0, w0 = 1 - w1. Rows first, then columns
   (separable; the order only changes float rounding). This is torch's
   upsample_bilinear2d with a size argument; a resize to the same size is the
   identity.
 * The "self" exclusion in step 6 removes only patch i at scale r. Its copies at the
   other scales (same pixel content after resizing, or even the identical patch when
   the max(7, .) clamp makes two scale images equal) stay candidates.
 * The mean of the K smallest d does not depend on how ties are broken.
 * Pixel distance (step 8) is between integer pixel coordinates (row, col).
   Attended pixels have d_foci = 0. If no pixel is attended (only possible when
   S_bar is constant, i.e. all zeros after step 8's first normalisation), d_foci = 0
   everywhere.
 * The input-size map is resized from the float64 S_hat and cast to float32 after;
   the working-size map is the float64 S_hat cast to float32.
 * The image is converted with Pillow's .convert("RGB") before step 1 (fixtures are
   RGB PNGs already).

Fixtures (Fixtures/ca_saliency/)
--------------------------------
    scene_<name>.png               4 synthetic 120x90 scenes: a distinct object on a
    scene_<name>_mask.png          cluttered / textured background, with its binary mask
    scene_<name>_saliency.npy      float32 working-size map (workingSize = 120, the
    scene_<name>_saliency_input.npy  image's own longer side: no Pillow resize), and the
                                   input-size map; manifest: ROC AUC of the input-size
                                   map against the mask (rank formula, mid-ranks for ties)
    tiny.png                       40x30, workingSize = 40 (no resize), with every
    tiny_saliency.npy / _input.npy intermediate (float64 unless noted):
    tiny_lab.npy                     step 2, [h, w, 3]
    tiny_scaleimg_<s>.npy            step 3, the Lab image at every distinct scale s
    tiny_scale_<r>.npy               step 6, the patch-saliency grid of scale r [gh, gw]
    tiny_scale_<r>_map.npy           step 7, that grid resized to the working size
    tiny_mean.npy                    step 7, S_bar (average of the 4 maps, NOT normalised)
    tiny_mean_norm.npy               step 8, S_bar min-max normalised
    tiny_dfoci.npy                   step 8, normalised d_foci
    natural_coffee.png / natural_astronaut.png
                                   skimage.data images, downsized with Pillow BILINEAR to
                                   100 px long side; workingSize = 100 (no resize)
    resize_scene_disk_ws64_*       the Pillow path of step 1: scene_disk with
    resize_tiny_ws70_*             workingSize = 64 (downscale) and tiny with
                                   workingSize = 70 (upscale, with a round() tie);
                                   *_working.png is the working image Pillow made
    manifest.json                  spec, constants, resolutions, per-fixture sizes
                                   (working size, every scale image and patch grid),
                                   AUCs, checks, suggested tolerances

Usage
-----
    python3 Tools/make_saliency_ca_fixtures.py            # writes Fixtures/ca_saliency/
    python3 Tools/make_saliency_ca_fixtures.py --out DIR
    python3 Tools/make_saliency_ca_fixtures.py --compute IMAGE [--working-size N] OUT.npy
                                                          # one map, for debugging

Needs numpy and Pillow; scikit-image (`pip install scikit-image`) only for the two
natural images (skipped with a note if it is missing). torch, if importable, is used
only for an optional check of the bilinear resize. CPU, ~10-20 s. Deterministic:
re-running gives the same files for the same numpy / Pillow builds (the synthetic
scenes use numpy's default_rng, whose streams numpy does not promise to keep across
versions; the PNGs are the fixture, not the generator). The output folder is only
replaced if its manifest says this script made it.
"""

import argparse
import hashlib
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

GENERATOR = "Tools/make_saliency_ca_fixtures.py"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "Fixtures" / "ca_saliency"

# ---------------------------------------------------------------- constants
WORKING_SIZE = 250
SCALES = (1.0, 0.8, 0.5, 0.3)          # R
SEARCH_FACTORS = (1.0, 0.5, 0.25)      # r, r/2, r/4
PATCH = 7
STRIDE = 3
K = 64
C_POS = 3.0
THRESHOLD = 0.8
MIN_SIDE = 7
LAB_M = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]], dtype=np.float64)
WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)
SEED = 20240611

SPEC = [
    "1. Input: RGB uint8 image W x H (Pillow .convert('RGB')). Working image: Pillow img.resize((w_ws, h_ws), Image.BILINEAR) so that the LONGER side is exactly workingSize (default 250); other side = round(short * workingSize / long) (Python round, half to even; integer product, one float64 division), at least 1. If the longer side already equals workingSize: no resize.",
    "2. sRGB -> CIELab (D65): c = v/255; linear = c/12.92 if c <= 0.04045 else ((c+0.055)/1.055)^2.4; XYZ = M . linear (M in constants.lab_matrix); X,Y,Z /= white (0.95047, 1.0, 1.08883); f(t) = t^(1/3) if t > (6/29)^3 else t/(3*(6/29)^2) + 4/29; L = 116 f(Y) - 16, a = 500 (f(X)-f(Y)), b = 200 (f(Y)-f(Z)); normalised L/100, (a+128)/255, (b+128)/255 (fixed). float64 at the working size.",
    "3. Scales r in R = {1.0, 0.8, 0.5, 0.3}; search scales r, r/2, r/4. Scale image s: the Lab working image resized with separable half-pixel bilinear (torch interpolate bilinear, align_corners=False, no antialias; per axis scale = in/out, src = (dst+0.5)*scale-0.5 clamped at 0, i0 = floor(src), i1 = min(i0+1, n-1)) to (max(7, round(h_ws*s)), max(7, round(w_ws*s))), s = r*f in float64, round = Python round (half to even) of float64(h_ws)*s.",
    "4. Patches 7x7, stride 3: top-left y = 0, 3, 6, ... while y+7 <= h_s (same for x). Patch vector: the 147 Lab values. Position: centre (y+3, x+3) / max(h_s, w_s) of its own scale image.",
    "5. d_color = ||p - q||_2 / sqrt(147); d_pos = ||pos_p - pos_q||_2; d = d_color / (1 + 3 d_pos).",
    "6. For every patch i at scale r: candidates = all patches at scales r, r/2, r/4 except i itself (copies at other scales stay); the K = 64 smallest d (fewer if fewer exist); S_i = 1 - exp(-mean of those d).",
    "7. Per-scale map: patch saliencies as a grid gh x gw, resized with the same half-pixel bilinear to h_ws x w_ws. S_bar = average of the 4 scale maps.",
    "8. S_bar min-max normalised to [0,1] (max == min -> all zeros). Attended: S_bar > 0.8. d_foci = Euclidean distance (pixels, integer coordinates) to the nearest attended pixel, divided by its maximum over the image (max 0 or no attended pixel -> d_foci = 0). S_hat = S_bar * (1 - d_foci), then min-max normalised again (max == min -> zeros).",
    "9. Output: S_hat at the working size (float64 cast to float32) and S_hat resized from float64 with the same half-pixel bilinear to the input size, cast to float32.",
]

RESOLUTIONS = [
    "round() in steps 1 and 3 is Python's round (half to EVEN), e.g. round(22.5) = 22, round(52.5) = 52. Step 1: round((short*ws)/long) with an exact integer product and one float64 division. Step 3: s = r*f in float64 (f in 1, 0.5, 0.25: exact), then round(float64(h_ws) * s). Exact ties occur in these fixtures; see fixtures[*].scale_images.",
    "Bilinear: the coordinate scale per axis is in_size/out_size (what torch uses when given a size), not 1/s. Same-size resize is the identity.",
    "Self-exclusion (step 6) removes only patch i of scale r itself; its copies at r/2, r/4 remain candidates, even when the max(7, .) clamp makes two scale images identical (d = 0 then).",
    "The mean of the K smallest d is tie-independent; the summation order is free (differences ~1e-16).",
    "d_foci uses integer pixel coordinates (row, col); attended pixels have distance 0. No attended pixel (S_bar constant) -> d_foci = 0 everywhere.",
    "The input-size map is resized from the float64 S_hat; both outputs are cast to float32 last.",
    "tiny_mean.npy is S_bar before step 8 (not normalised); tiny_mean_norm.npy is after the first min-max.",
]


# ---------------------------------------------------------------- algorithm
def py_round(x):
    """Python's round (half to even) -> int."""
    return int(round(x))


def working_dims(w, h, ws):
    """Step 1 target size (w_ws, h_ws)."""
    long_side, short_side = max(w, h), min(w, h)
    if long_side == ws:
        return w, h
    other = max(1, py_round((short_side * ws) / long_side))
    return (ws, other) if w >= h else (other, ws)


def working_image(img, ws):
    img = img.convert("RGB")
    w, h = img.size
    tw, th = working_dims(w, h, ws)
    if (tw, th) == (w, h) and max(w, h) == ws:
        return img, False
    return img.resize((tw, th), Image.BILINEAR), True


def rgb_to_lab_norm(rgb):
    """Step 2: uint8 [h, w, 3] -> normalised CIELab float64 [h, w, 3]."""
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ LAB_M.T
    t = xyz / WHITE
    eps = (6.0 / 29.0) ** 3
    f = np.where(t > eps, np.cbrt(np.maximum(t, 0.0)), t / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L / 100.0, (a + 128.0) / 255.0, (b + 128.0) / 255.0], axis=-1)


def _axis_weights(n, m):
    """Half-pixel (align_corners=False) linear weights for in size n -> out size m."""
    scale = n / m
    src = (np.arange(m, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = src - i0
    return i0, i1, 1.0 - w1, w1


def resize_bilinear(a, out_h, out_w):
    """Separable half-pixel bilinear, no antialiasing. a: [h, w] or [h, w, c] float64."""
    a = np.asarray(a, dtype=np.float64)
    h, w = a.shape[:2]
    i0, i1, w0, w1 = _axis_weights(h, out_h)
    extra = (1,) * (a.ndim - 1)
    rows = a[i0] * w0.reshape(-1, *extra) + a[i1] * w1.reshape(-1, *extra)
    j0, j1, v0, v1 = _axis_weights(w, out_w)
    extra = (1,) * (a.ndim - 2)
    return rows[:, j0] * v0.reshape(1, -1, *extra) + rows[:, j1] * v1.reshape(1, -1, *extra)


def scale_dims(h, w, s):
    return max(MIN_SIDE, py_round(float(h) * s)), max(MIN_SIDE, py_round(float(w) * s))


def extract_patches(img):
    """Step 4: patches [N, 147], positions [N, 2], grid (gh, gw)."""
    h, w = img.shape[:2]
    ys = list(range(0, h - PATCH + 1, STRIDE))
    xs = list(range(0, w - PATCH + 1, STRIDE))
    norm = float(max(h, w))
    vecs, pos = [], []
    for y in ys:
        for x in xs:
            vecs.append(img[y:y + PATCH, x:x + PATCH, :].reshape(-1))
            pos.append(((y + 3) / norm, (x + 3) / norm))
    return np.array(vecs, dtype=np.float64), np.array(pos, dtype=np.float64), (len(ys), len(xs))


def patch_saliency(P, posP, Q, posQ, chunk=16):
    """Steps 5-6, brute force: P are the scale-r patches and also Q[:len(P)]."""
    n, m = len(P), len(Q)
    k = min(K, m - 1)
    out = np.empty(n, dtype=np.float64)
    root = math.sqrt(PATCH * PATCH * 3)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        diff = P[start:stop, None, :] - Q[None, :, :]
        d_color = np.sqrt(np.sum(diff * diff, axis=2)) / root
        dp = posP[start:stop, None, :] - posQ[None, :, :]
        d_pos = np.sqrt(np.sum(dp * dp, axis=2))
        d = d_color / (1.0 + C_POS * d_pos)
        rows = np.arange(stop - start)
        d[rows, start + rows] = np.inf          # exclude patch i itself
        smallest = np.partition(d, k - 1, axis=1)[:, :k]
        out[start:stop] = 1.0 - np.exp(-np.mean(smallest, axis=1))
    return out


def minmax(a):
    lo, hi = float(a.min()), float(a.max())
    if hi == lo:
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def foci_distance(mask, chunk=512):
    """Brute-force Euclidean distance from every pixel to the nearest True pixel."""
    h, w = mask.shape
    pts = np.argwhere(mask).astype(np.float64)
    if len(pts) == 0:
        return np.zeros((h, w), dtype=np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    pix = np.stack([yy.ravel(), xx.ravel()], axis=1).astype(np.float64)
    best = np.full(len(pix), np.inf)
    for s in range(0, len(pts), chunk):
        p = pts[s:s + chunk]
        d2 = (pix[:, None, 0] - p[None, :, 0]) ** 2 + (pix[:, None, 1] - p[None, :, 1]) ** 2
        best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(best).reshape(h, w)


def context_aware_saliency(img, working_size=WORKING_SIZE):
    """The whole spec. img: PIL image. Returns a dict with the outputs and intermediates."""
    img = img.convert("RGB")
    W, H = img.size
    work, resized = working_image(img, working_size)
    rgb = np.asarray(work, dtype=np.uint8)
    hw, ww = rgb.shape[:2]
    lab = rgb_to_lab_norm(rgb)

    scale_images, scale_info, patches = {}, {}, {}
    for r in SCALES:
        for f in SEARCH_FACTORS:
            s = r * f
            if s in scale_images:
                continue
            hs, ws_ = scale_dims(hw, ww, s)
            simg = resize_bilinear(lab, hs, ws_)
            scale_images[s] = simg
            P, pos, grid = extract_patches(simg)
            patches[s] = (P, pos, grid)
            scale_info[repr(s)] = {
                "raw": [float(hw) * s, float(ww) * s],
                "size": [hs, ws_],
                "patch_grid": list(grid),
                "patches": int(len(P)),
            }

    grids, maps = {}, {}
    for r in SCALES:
        P, posP, grid = patches[r]
        Qs = [patches[r * f] for f in SEARCH_FACTORS]
        Q = np.concatenate([q[0] for q in Qs], axis=0)
        posQ = np.concatenate([q[1] for q in Qs], axis=0)
        sal = patch_saliency(P, posP, Q, posQ).reshape(grid)
        grids[r] = sal
        maps[r] = resize_bilinear(sal, hw, ww)
    mean = sum(maps[r] for r in SCALES) / len(SCALES)

    mean_norm = minmax(mean)
    attended = mean_norm > THRESHOLD
    dist = foci_distance(attended)
    dmax = float(dist.max())
    dfoci = dist / dmax if dmax > 0 else np.zeros_like(dist)
    final = minmax(mean_norm * (1.0 - dfoci))
    final_input = resize_bilinear(final, H, W)

    margin = float(np.min(np.abs(mean_norm - THRESHOLD)))
    return {
        "input_size": [H, W], "working_size_param": working_size, "working_hw": [hw, ww],
        "resized": resized, "working_rgb": rgb, "lab": lab,
        "scale_images": scale_images, "scale_info": scale_info,
        "grids": grids, "maps": maps, "mean": mean, "mean_norm": mean_norm,
        "attended": int(attended.sum()), "threshold_margin": margin,
        "dfoci": dfoci, "final": final, "final_input": final_input,
    }


def roc_auc(scores, labels):
    """ROC AUC by the rank (Mann-Whitney) formula with mid-ranks for ties."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=bool).ravel()
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


# ---------------------------------------------------------------- synthetic scenes
SCENE_W, SCENE_H = 120, 90


def _lowfreq(rng, h, w, cells, channels=3):
    g = rng.random((cells[0], cells[1], channels))
    return resize_bilinear(g, h, w)


def _to_u8(a):
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def scene_disk(rng):
    """Orange-red disk on a green/blue mottled texture."""
    h, w = SCENE_H, SCENE_W
    base = _lowfreq(rng, h, w, (6, 8))
    bg = np.stack([0.10 + 0.15 * base[..., 0], 0.35 + 0.35 * base[..., 1], 0.30 + 0.40 * base[..., 2]], -1)
    bg += rng.normal(0.0, 0.06, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (yy - 52.0) ** 2 + (xx - 78.0) ** 2 <= 14.0 ** 2
    obj = np.array([0.95, 0.35, 0.10]) + rng.normal(0.0, 0.03, (h, w, 3))
    img = np.where(mask[..., None], obj, bg)
    return _to_u8(img), mask


def scene_square(rng):
    """Bright yellow square on clutter of many small muted rectangles."""
    h, w = SCENE_H, SCENE_W
    img = np.full((h, w, 3), 0.45) + rng.normal(0.0, 0.03, (h, w, 3))
    palette = np.array([[0.45, 0.38, 0.30], [0.30, 0.30, 0.34], [0.55, 0.52, 0.48],
                        [0.25, 0.22, 0.18], [0.40, 0.45, 0.50], [0.60, 0.55, 0.45]])
    for _ in range(140):
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        rh, rw = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        img[y0:y0 + rh, x0:x0 + rw] = palette[int(rng.integers(0, len(palette)))]
    mask = np.zeros((h, w), dtype=bool)
    mask[22:46, 24:48] = True
    img[mask] = np.array([0.98, 0.90, 0.15])
    img += rng.normal(0.0, 0.02, (h, w, 3))
    return _to_u8(img), mask


def scene_text(rng):
    """A text-like blob of dark-blue strokes ('S R' built from bars) on a beige stripe texture."""
    h, w = SCENE_H, SCENE_W
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = 0.5 + 0.5 * np.sin((xx + 0.6 * yy) * 0.9)
    img = np.stack([0.80 - 0.12 * stripes, 0.74 - 0.12 * stripes, 0.60 - 0.10 * stripes], -1)
    img += rng.normal(0.0, 0.03, (h, w, 3))
    mask = np.zeros((h, w), dtype=bool)
    t = 4
    # "S" at x 30..50, y 30..62
    for (y0, y1, x0, x1) in [(30, 30 + t, 30, 50), (30, 46, 30, 30 + t), (44, 44 + t, 30, 50),
                             (44, 62, 50 - t, 50), (58, 62, 30, 50),
                             # "R" at x 58..80
                             (30, 62, 58, 58 + t), (30, 30 + t, 58, 78), (30, 48, 78 - t, 78),
                             (44, 44 + t, 58, 78)]:
        mask[y0:y1, x0:x1] = True
    diag = (yy >= 48) & (yy < 62) & (np.abs((xx - 62) - (yy - 48)) <= 2)
    mask |= diag
    img[mask] = np.array([0.10, 0.15, 0.55])
    img += rng.normal(0.0, 0.02, (h, w, 3))
    return _to_u8(img), mask


def scene_triangle(rng):
    """Magenta triangle on grey noise with many small multi-coloured dots."""
    h, w = SCENE_H, SCENE_W
    img = 0.5 + 0.12 * rng.standard_normal((h, w, 1)) + 0.04 * rng.standard_normal((h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(60):
        cy, cx, rad = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1.0, 3.0)
        col = 0.3 + 0.4 * rng.random(3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= rad * rad] = col
    A, B, Cc = np.array([18.0, 40.0]), np.array([70.0, 18.0]), np.array([70.0, 64.0])  # (y, x)

    def side(p, q):
        return (xx - p[1]) * (q[0] - p[0]) - (yy - p[0]) * (q[1] - p[1])
    s1, s2, s3 = side(A, B), side(B, Cc), side(Cc, A)
    mask = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    img[mask] = np.array([0.85, 0.10, 0.75])
    img += rng.normal(0.0, 0.02, (h, w, 3))
    return _to_u8(img), mask


SCENES = [("disk", scene_disk), ("square", scene_square), ("text", scene_text),
          ("triangle", scene_triangle)]


def tiny_image(rng):
    """40x30: a small teal blob on a warm noisy gradient."""
    h, w = 30, 40
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([0.55 + 0.3 * xx / w, 0.35 + 0.2 * yy / h, 0.25 + 0.0 * xx], -1)
    img += rng.normal(0.0, 0.05, (h, w, 3))
    blob = ((yy - 11.0) / 6.0) ** 2 + ((xx - 27.0) / 8.0) ** 2 <= 1.0
    img[blob] = np.array([0.10, 0.70, 0.65])
    return _to_u8(img)


# ---------------------------------------------------------------- fixtures
def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_bilinear_torch():
    try:
        import torch
        import torch.nn.functional as F
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"torch not importable ({type(exc).__name__})"}
    rng = np.random.default_rng(1)
    worst = 0.0
    cases = [((30, 40), (7, 7)), ((30, 40), (22, 30)), ((9, 13), (90, 120)), ((90, 120), (14, 18)),
             ((5, 8), (70, 52))]
    for (h, w), (oh, ow) in cases:
        a = rng.random((h, w, 3))
        ours = resize_bilinear(a, oh, ow)
        t = torch.from_numpy(a.transpose(2, 0, 1)[None].copy())
        ref = F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False, antialias=False)
        ref = ref[0].numpy().transpose(1, 2, 0)
        worst = max(worst, float(np.max(np.abs(ours - ref))))
    return {"torch": torch.__version__, "cases": [[list(a), list(b)] for a, b in cases],
            "max_abs_diff_vs_torch_float64": worst}


def check_lab_skimage(lab_rgb_u8):
    try:
        from skimage.color import rgb2lab
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"scikit-image not importable ({type(exc).__name__})"}
    ours = rgb_to_lab_norm(lab_rgb_u8)
    ref = rgb2lab(lab_rgb_u8)  # skimage's own (slightly different) matrix: loose check only
    ref = np.stack([ref[..., 0] / 100.0, (ref[..., 1] + 128.0) / 255.0, (ref[..., 2] + 128.0) / 255.0], -1)
    return {"note": "skimage.color.rgb2lab uses a slightly different sRGB matrix; loose sanity check",
            "max_abs_diff_normalised": float(np.max(np.abs(ours - ref)))}


def check_naive_tiny(res):
    """Pure-Python loops (no vectorisation) for steps 4-6 at every scale of the tiny image,
    and for d_foci, against the vectorised code."""
    imgs = res["scale_images"]

    def plist(img):
        h, w = img.shape[:2]
        n = float(max(h, w))
        return [(img[y:y + PATCH, x:x + PATCH, :].ravel().tolist(), ((y + 3) / n, (x + 3) / n))
                for y in range(0, h - PATCH + 1, STRIDE) for x in range(0, w - PATCH + 1, STRIDE)]
    worst = 0.0
    for r in SCALES:
        own = plist(imgs[r])
        cands = own + plist(imgs[r * 0.5]) + plist(imgs[r * 0.25])
        vals = []
        for i, (p, pp) in enumerate(own):
            ds = []
            for j, (q, pq) in enumerate(cands):
                if j == i:
                    continue
                dc = math.sqrt(sum((a - b) ** 2 for a, b in zip(p, q))) / math.sqrt(147.0)
                dpos = math.hypot(pp[0] - pq[0], pp[1] - pq[1])
                ds.append(dc / (1.0 + 3.0 * dpos))
            ds.sort()
            top = ds[:K]
            vals.append(1.0 - math.exp(-sum(top) / len(top)))
        worst = max(worst, float(np.max(np.abs(np.array(vals) - res["grids"][r].ravel()))))
    att = res["mean_norm"] > THRESHOLD
    pts = [(y, x) for y, x in zip(*np.nonzero(att))]
    h, w = att.shape
    dist = np.array([[min(math.hypot(y - py, x - px) for py, px in pts) for x in range(w)]
                     for y in range(h)])
    dfo = dist / dist.max() if dist.max() > 0 else np.zeros_like(dist)
    return {"patch_saliency_max_abs_diff": worst,
            "dfoci_max_abs_diff": float(np.max(np.abs(dfo - res["dfoci"])))}


def save_npy(out, name, arr, files, dtype):
    arr = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
    np.save(out / name, arr)
    files[name] = {"shape": list(arr.shape), "dtype": str(arr.dtype),
                   "min": float(arr.min()), "max": float(arr.max())}
    return arr


def save_png(out, name, rgb_or_mask):
    Image.fromarray(rgb_or_mask).save(out / name, optimize=False)


def run_case(out, name, png_name, img, working_size, files, intermediates=False):
    t0 = time.perf_counter()
    res = context_aware_saliency(img, working_size)
    secs = time.perf_counter() - t0
    entry = {
        "image": png_name, "input_hw": res["input_size"], "working_size": working_size,
        "working_hw": res["working_hw"], "pillow_resize": res["resized"],
        "scale_images": res["scale_info"], "attended_pixels": res["attended"],
        "threshold_margin": res["threshold_margin"],
        "saliency": f"{name}_saliency.npy", "saliency_input": f"{name}_saliency_input.npy",
    }
    save_npy(out, entry["saliency"], res["final"], files, np.float32)
    save_npy(out, entry["saliency_input"], res["final_input"], files, np.float32)
    if res["resized"]:
        entry["working_image"] = f"{name}_working.png"
        save_png(out, entry["working_image"], res["working_rgb"])
    if intermediates:
        inter = {"lab": f"{name}_lab.npy"}
        save_npy(out, inter["lab"], res["lab"], files, np.float64)
        inter["scale_images"] = {}
        for s, simg in res["scale_images"].items():
            fn = f"{name}_scaleimg_{s!r}.npy"
            save_npy(out, fn, simg, files, np.float64)
            inter["scale_images"][repr(s)] = fn
        inter["scale_grids"], inter["scale_maps"] = {}, {}
        for r in SCALES:
            fn = f"{name}_scale_{r!r}.npy"
            save_npy(out, fn, res["grids"][r], files, np.float64)
            inter["scale_grids"][repr(r)] = fn
            fn = f"{name}_scale_{r!r}_map.npy"
            save_npy(out, fn, res["maps"][r], files, np.float64)
            inter["scale_maps"][repr(r)] = fn
        for key, fn in (("mean", f"{name}_mean.npy"), ("mean_norm", f"{name}_mean_norm.npy"),
                        ("dfoci", f"{name}_dfoci.npy")):
            save_npy(out, fn, res[key], files, np.float64)
            inter[key] = fn
        entry["intermediates"] = inter
    print(f"  {name}: {secs:.1f} s", flush=True)
    return entry, res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--compute", nargs=2, metavar=("IMAGE", "OUT_NPY"))
    ap.add_argument("--working-size", type=int, default=WORKING_SIZE)
    args = ap.parse_args()

    if args.compute:
        res = context_aware_saliency(Image.open(args.compute[0]), args.working_size)
        np.save(args.compute[1], res["final"].astype(np.float32))
        print(f"working {res['working_hw']}, attended {res['attended']}, wrote {args.compute[1]}")
        return

    t_start = time.perf_counter()
    out = args.out
    man_path = out / "manifest.json"
    if out.exists():
        if not man_path.exists() or json.loads(man_path.read_text()).get("generator") != GENERATOR:
            sys.exit(f"{out} exists and was not made by {GENERATOR}; not touching it")
        shutil.rmtree(out)
    out.mkdir(parents=True)

    files, fixtures, notes = {}, {}, []
    rng = np.random.default_rng(SEED)

    # synthetic scenes
    scene_imgs = {}
    for sname, fn in SCENES:
        rgb, mask = fn(rng)
        name = f"scene_{sname}"
        save_png(out, f"{name}.png", rgb)
        save_png(out, f"{name}_mask.png", (mask.astype(np.uint8) * 255))
        img = Image.open(out / f"{name}.png")
        scene_imgs[sname] = img
        entry, res = run_case(out, name, f"{name}.png", img, max(img.size), files)
        entry["mask"] = f"{name}_mask.png"
        entry["mask_pixels"] = int(mask.sum())
        entry["auc"] = roc_auc(res["final_input"].astype(np.float32), mask)
        entry["description"] = fn.__doc__
        fixtures[name] = entry
        print(f"  {name}: AUC {entry['auc']:.4f}", flush=True)

    # tiny, with intermediates
    save_png(out, "tiny.png", tiny_image(rng))
    tiny = Image.open(out / "tiny.png")
    entry, res = run_case(out, "tiny", "tiny.png", tiny, 40, files, intermediates=True)
    entry["description"] = tiny_image.__doc__
    fixtures["tiny"] = entry
    tiny_res = res

    # Pillow resize path (step 1)
    entry, _ = run_case(out, "resize_scene_disk_ws64", "scene_disk.png", scene_imgs["disk"], 64, files)
    entry["description"] = "scene_disk.png with workingSize 64: Pillow BILINEAR downscale 120x90 -> 64x48"
    fixtures["resize_scene_disk_ws64"] = entry
    entry, _ = run_case(out, "resize_tiny_ws70", "tiny.png", tiny, 70, files)
    entry["description"] = ("tiny.png with workingSize 70: Pillow BILINEAR upscale 40x30 -> 70x52 "
                            "(30*70/40 = 52.5, Python round -> 52)")
    fixtures["resize_tiny_ws70"] = entry

    # natural images
    try:
        import skimage
        import skimage.data as skdata
        for nname in ("coffee", "astronaut"):
            src = Image.fromarray(getattr(skdata, nname)())
            tw, th = working_dims(src.size[0], src.size[1], 100)
            small = src.convert("RGB").resize((tw, th), Image.BILINEAR)
            png = f"natural_{nname}.png"
            small.save(out / png, optimize=False)
            img = Image.open(out / png)
            name = f"natural_{nname}"
            entry, _ = run_case(out, name, png, img, 100, files)
            entry["description"] = (f"skimage.data.{nname}() (scikit-image {skimage.__version__}), "
                                    f"Pillow BILINEAR resize to {tw}x{th}; no mask")
            fixtures[name] = entry
    except ImportError:
        notes.append("scikit-image not installed: natural images skipped")

    checks = {
        "bilinear_vs_torch": check_bilinear_torch(),
        "lab_vs_skimage": check_lab_skimage(np.asarray(tiny.convert("RGB"))),
        "same_size_bilinear_is_identity": bool(np.array_equal(
            resize_bilinear(tiny_res["lab"], *tiny_res["lab"].shape[:2]), tiny_res["lab"])),
        "tiny_naive_loops_vs_vectorised": check_naive_tiny(tiny_res),
        "min_threshold_margin": min(f["threshold_margin"] for f in fixtures.values()),
    }

    for p in sorted(out.iterdir()):
        if p.suffix == ".png":
            files.setdefault(p.name, {})
        if p.name in files:
            files[p.name]["sha256"] = sha256(p)

    import PIL
    manifest = {
        "generator": GENERATOR,
        "reference": "this script (brute-force float64 NumPy implementation of the spec below)",
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "seed": SEED,
        "spec": SPEC,
        "resolutions": RESOLUTIONS,
        "constants": {
            "default_working_size": WORKING_SIZE, "scales": list(SCALES),
            "search_factors": list(SEARCH_FACTORS), "patch": PATCH, "stride": STRIDE, "k": K,
            "c": C_POS, "threshold": THRESHOLD, "min_scale_side": MIN_SIDE,
            "lab_matrix": LAB_M.tolist(), "white_point": WHITE.tolist(),
            "lab_epsilon": "(6/29)^3", "lab_normalisation": "L/100, (a+128)/255, (b+128)/255",
            "pillow_resample": "Image.BILINEAR",
            "bilinear": "half-pixel, align_corners=False, no antialias, scale = in/out",
        },
        "tolerances": {
            "note": ("suggested. Most outputs are continuous in the inputs; the one discontinuity "
                     "is the 0.8 threshold of step 8, see fixtures[*].threshold_margin (the "
                     "smallest |S_bar_norm - 0.8| of each fixture)."),
            "float64_implementation": {"atol": 1e-6, "rtol": 0},
            "float32_implementation": {"atol": 1e-3, "rtol": 0},
            "tiny_intermediates_float64": {"atol": 1e-9, "rtol": 0},
            "auc_abs": 1e-3,
        },
        "fixtures": fixtures,
        "files": files,
        "checks": checks,
        "notes": notes + [
            "Scenes, tiny and natural images use workingSize = their own longer side, so no "
            "Pillow resize happens and they test the algorithm only; the resize_* fixtures test "
            "step 1 (Pillow BILINEAR, which antialiases when downscaling) on top.",
            "AUC: ROC AUC of the float32 input-size map against mask > 127, Mann-Whitney rank "
            "formula with mid-ranks for ties.",
        ],
    }
    man_path.write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(list(out.iterdir()))} files, {size / 1e6:.2f} MB, "
          f"{time.perf_counter() - t_start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
