#!/usr/bin/env python3
"""Write the image decoding / preprocessing fixtures into Fixtures/images/.

What it does
------------
1. Draws two small deterministic synthetic RGB images with numpy (fixed seed):
   `landscape` 48 wide x 40 high and `portrait` 40 wide x 56 high. Each is a colour
   gradient with a filled disc, a rectangle, a one-pixel diagonal line, a fine
   checkerboard patch (so resizing has to low-pass filter) and mild noise.
2. Saves each as PNG (lossless) and as baseline JPEG with PIL (quality 90, PIL's
   default 4:2:0 chroma subsampling, not progressive, not optimised).
3. Writes, per image <name>:
     <name>.png, <name>.jpg        the images
     <name>_rgb.npy                uint8 [H,W,3]: the pixels drawn (= PNG decoded)
     <name>_jpeg_decoded.npy       uint8 [H,W,3]: what PIL (libjpeg-turbo) decodes from
                                   <name>.jpg; compare a JPEG decoder against it (±1)
     <name>_resized.npy            uint8 [h,w,3]: the PNG after Resize(36) (PIL bilinear),
                                   before the crop, to debug the resize step alone
     <name>_imagenet.npy           float32 [1,3,32,32]: the PNG through the torchvision
                                   ImageNet eval transform Resize(36) -> CenterCrop(32)
                                   -> ToTensor -> Normalize(ImageNet mean/std)
   and manifest.json (generator, reference versions, seed, tolerances, per-image sizes,
   resize and crop geometry, notes on the exact resize algorithm).

The expected tensors come from torchvision.transforms when torch + torchvision
import; otherwise the same steps are done with PIL + numpy (torchvision's PIL path is
exactly `img.resize((w, h), Image.BILINEAR)`, a crop and /255); when torchvision is
present both are computed and must agree bit for bit.

Usage
-----
    python3 Tools/make_image_fixtures.py

Re-running gives identical files for the same numpy / Pillow (libjpeg-turbo, zlib)
versions. Needs numpy and Pillow; torch + torchvision optional.
"""

import json
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "images"
GENERATOR = "Tools/make_image_fixtures.py"
SEED = 7
RESIZE = 36
CROP = 32
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
JPEG_QUALITY = 90
IMAGES = {"landscape": (48, 40), "portrait": (40, 56)}    # (width, height)


def draw(width, height, rng):
    """A uint8 [H,W,3] synthetic picture."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = xx / (width - 1), yy / (height - 1)
    img = np.stack([40 + 180 * u, 30 + 190 * v, 200 - 150 * (u + v) / 2], axis=-1)
    # filled disc
    cx, cy, r = 0.35 * width, 0.45 * height, 0.22 * min(width, height)
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = [235, 60, 40]
    # rectangle
    x0, x1, y0, y1 = int(0.6 * width), int(0.9 * width), int(0.15 * height), int(0.4 * height)
    img[y0:y1, x0:x1] = [30, 170, 60]
    # one-pixel diagonal line
    for t in range(min(width, height)):
        img[t, t] = [250, 250, 250]
    # fine checkerboard patch (period 2 px) in the lower right
    cy0, cx0 = int(0.65 * height), int(0.6 * width)
    patch = ((yy[cy0:, cx0:] + xx[cy0:, cx0:]) % 2) * 200 + 20
    img[cy0:, cx0:] = patch[..., None]
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def resized_size(w, h, size):
    """torchvision Resize(int): the shorter side becomes `size`, the longer side is
    int(size * long / short) (truncated)."""
    if w <= h:
        return size, int(size * h / w)
    return int(size * w / h), size


def crop_box(w, h, size):
    """torchvision CenterCrop: top = int(round((h - size) / 2)), Python round (half to
    even), same for left."""
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return top, left


def preprocess_pil(img):
    w, h = img.size
    nw, nh = resized_size(w, h, RESIZE)
    r = img.resize((nw, nh), Image.BILINEAR)
    top, left = crop_box(nw, nh, CROP)
    c = np.asarray(r.crop((left, top, left + CROP, top + CROP)), np.float32) / 255.0
    c = (c - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.asarray(r), c.transpose(2, 0, 1)[None].astype(np.float32), (nw, nh), (top, left)


def preprocess_torchvision(img):
    import torchvision.transforms as T
    t = T.Compose([T.Resize(RESIZE, interpolation=T.InterpolationMode.BILINEAR),
                   T.CenterCrop(CROP), T.ToTensor(), T.Normalize(MEAN, STD)])
    return t(img).unsqueeze(0).numpy().astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    man_path = OUT / "manifest.json"
    if man_path.exists() and json.loads(man_path.read_text()).get("generator") != GENERATOR:
        raise SystemExit(f"refusing to overwrite {man_path}: not made by {GENERATOR}")
    try:
        import torch
        import torchvision
        tv = f"torchvision {torchvision.__version__} (torch {torch.__version__})"
    except ImportError:
        tv = None
    rng = np.random.default_rng(SEED)
    entries = {}
    for name, (w, h) in IMAGES.items():
        rgb = draw(w, h, rng)
        img = Image.fromarray(rgb, "RGB")
        img.save(OUT / f"{name}.png", optimize=False)
        img.save(OUT / f"{name}.jpg", quality=JPEG_QUALITY, optimize=False, progressive=False)

        png = Image.open(OUT / f"{name}.png").convert("RGB")
        assert np.array_equal(np.asarray(png), rgb)
        jpg = np.asarray(Image.open(OUT / f"{name}.jpg").convert("RGB"))
        resized, x_pil, (nw, nh), (top, left) = preprocess_pil(png)
        if tv:
            x = preprocess_torchvision(png)
            assert np.array_equal(x, x_pil), "torchvision and PIL paths disagree"
        else:
            x = x_pil

        np.save(OUT / f"{name}_rgb.npy", rgb)
        np.save(OUT / f"{name}_jpeg_decoded.npy", jpg)
        np.save(OUT / f"{name}_resized.npy", resized)
        np.save(OUT / f"{name}_imagenet.npy", x)
        diff = np.abs(jpg.astype(int) - rgb.astype(int))
        entries[name] = {
            "png": f"{name}.png", "jpeg": f"{name}.jpg",
            "width": w, "height": h,
            "rgb": f"{name}_rgb.npy",
            "jpeg_decoded": f"{name}_jpeg_decoded.npy",
            "resized": f"{name}_resized.npy", "resized_width": nw, "resized_height": nh,
            "crop_top": top, "crop_left": left,
            "imagenet": f"{name}_imagenet.npy",
            "jpeg_vs_drawn_max_abs": int(diff.max()),
        }
        print(f"{name}: {w}x{h} -> resize {nw}x{nh} -> crop at (top {top}, left {left}); "
              f"jpeg max |decoded - drawn| = {diff.max()}")

    manifest = {
        "generator": GENERATOR,
        "reference": (f"{tv}, Pillow {PIL.__version__}" if tv else
                      f"Pillow {PIL.__version__} (torchvision not installed)"),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "numpy": np.__version__,
        "seed": SEED,
        "atol": 1e-5,
        "rtol": 1e-5,
        "pixel_tolerance": 1,
        "transform": {"resize_shorter_side": RESIZE, "interpolation": "bilinear (PIL)",
                      "center_crop": CROP, "scale": "1/255", "mean": MEAN, "std": STD,
                      "layout": "NCHW [1,3,32,32] float32, RGB"},
        "jpeg": {"quality": JPEG_QUALITY, "subsampling": "4:2:0 (PIL default)",
                 "progressive": False, "optimize": False},
        "images": entries,
        "notes": (
            "atol/rtol apply to *_imagenet.npy when the resize reproduces Pillow exactly; "
            "pixel_tolerance applies to uint8 comparisons (*_jpeg_decoded.npy against another "
            "JPEG decoder, *_resized.npy against another resize). One uint8 step after the "
            "resize is 1/(255*std) ~ 0.0175 in *_imagenet.npy. Pillow's BILINEAR resize "
            "(libImaging/Resample.c) is a separable triangle filter whose support is scaled "
            "by the downscale factor (so it anti-aliases), coefficients normalised per output "
            "pixel and quantised to 22-bit fixed point; the horizontal pass runs first and its "
            "result is rounded and clipped to uint8 before the vertical pass. Sample centres: "
            "(i + 0.5) * in/out. Resize(36) sets the shorter side to 36 and the longer to "
            "int(36*long/short); CenterCrop offsets use Python round() (half to even). "
            "*_rgb.npy equals the decoded PNG exactly."),
    }
    man_path.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
