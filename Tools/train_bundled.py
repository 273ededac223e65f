#!/usr/bin/env python3
"""Train the bundled demo model ("shapes") and write its fixtures.

What it does
------------
1. Generates a synthetic data set in memory: 64x64 RGB images, each holding one
   object of one of 4 classes -- circle, square, triangle, cross -- (size 14-28 px,
   random position, random colour, tilted by up to +-15 degrees; the training
   augmentation adds flips and transposes, so triangles point any of 4 ways) drawn
   over a cluttered background: per-image base colour + Gaussian noise + 1-3 thin
   lines and 1-3 small elliptic blobs in other colours. Clutter is kept ~2.5 px away
   from the object, so the object's binary mask is exactly the object; masks are
   kept so attribution methods can be scored against where the object really is.
2. Trains a small CNN without batch norm on CPU (2 threads, fixed seeds):
     conv3x3(3->16)-relu-maxpool2    64 -> 32
     conv3x3(16->32)-relu-maxpool2   32 -> 16
     conv3x3(32->48)-relu-maxpool2   16 -> 8
     conv3x3(48->64)-relu-maxpool8    8 -> 1   (a global max pool as a plain MaxPool)
     flatten, linear(64->64)-relu-dropout(0.2), linear(64->4)
   ONNX ops: Conv, Relu, MaxPool, Flatten, Gemm. 51,092 parameters, ~205 KB.
3. Exports it to ONNX (opset 13, fixed batch 1, input `input` [1,3,64,64] float32,
   output `logits` [1,4], pre-softmax) and checks onnxruntime agrees with PyTorch.
4. Writes the fixtures to Fixtures/bundled/ (or --out):
     shapes.onnx              the model
     labels.txt               one class name per line, in class-index order
     samples/<class>_<i>.png  2 images per class from a separate generator seed
                              (never in the training data), correctly classified
     samples/<class>_<i>_mask.png   object masks (8-bit grey, 0 or 255)
     samples/circle_0.npy     preprocessed input [1,3,64,64] float32 of circle_0.png
     expected.json            onnxruntime logits for every sample, computed from the
                              PNG file as written (PIL load, RGB, /255, imagenet
                              mean/std, NCHW; 64x64 so no resize)
     manifest.json            generator, versions, seeds, accuracy, preprocessing

Preprocessing (the `imagenet-full` preset): x = (pixel / 255 - mean) / std per channel,
RGB order, mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225), NCHW.

Usage:  python3 Tools/train_bundled.py [--out Fixtures/bundled]
Needs:  torch, numpy, pillow, onnx, onnxruntime. About 2 minutes on 2 idle cores
        (torch.set_num_threads(2)); progress goes to stderr.
Re-running gives the same data and, with the same torch build, the same weights.
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

CLASSES = ["circle", "square", "triangle", "cross"]
SIZE = 64
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

SEED_TORCH = 1234
SEED_TRAIN = 1
SEED_TEST = 2
SEED_SAMPLES = 3
N_TRAIN = 10000
N_TEST = 2000
EPOCHS = 8
BATCH = 32
LR = 2e-3
ROT_DEG = 15.0   # squares, triangles and crosses are tilted by up to +-15 degrees

_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------

def _rotate(dx, dy, theta):
    c, s = math.cos(theta), math.sin(theta)
    return c * dx + s * dy, -s * dx + c * dy


def shape_mask(cls, cx, cy, size, theta):
    """Boolean [64,64] mask of one shape whose extent is about `size` px."""
    dx, dy = _rotate(_XX - cx, _YY - cy, theta)
    h = size / 2.0
    if cls == 0:  # circle
        return dx * dx + dy * dy <= h * h
    if cls == 1:  # square (side = size)
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if cls == 2:  # equilateral triangle, circumradius chosen so its side ~ size
        r = size / math.sqrt(3.0)
        inside = np.ones_like(dx, dtype=bool)
        for k in range(3):
            a = math.pi / 2 + k * 2 * math.pi / 3 + math.pi  # edge normals
            nx, ny = math.cos(a), math.sin(a)
            inside &= dx * nx + dy * ny <= r / 2.0
        return inside
    if cls == 3:  # plus-shaped cross, arm width ~ size/3
        w = max(2.0, size / 6.0)
        return ((np.abs(dx) <= w) & (np.abs(dy) <= h)) | ((np.abs(dy) <= w) & (np.abs(dx) <= h))
    raise ValueError(cls)


def _colour_far_from(rng, others, min_dist=110.0):
    for _ in range(100):
        c = rng.integers(0, 256, size=3).astype(np.float32)
        if all(np.linalg.norm(c - o) >= min_dist for o in others):
            return c
    return c


def _segment_dist(x0, y0, x1, y1):
    vx, vy = x1 - x0, y1 - y0
    L2 = vx * vx + vy * vy + 1e-6
    t = np.clip(((_XX - x0) * vx + (_YY - y0) * vy) / L2, 0.0, 1.0)
    return np.hypot(_XX - (x0 + t * vx), _YY - (y0 + t * vy))


def make_image(rng, cls):
    """Returns (uint8 [64,64,3] image, uint8 [64,64] mask 0/1).

    Clutter never touches the object: it is kept out of a band ~2.5 px wide around
    it, so the object's silhouette is intact and the mask is exactly the object."""
    size = rng.uniform(14.0, 28.0)
    margin = size / 2.0 + 1.0
    cx = rng.uniform(margin, SIZE - margin)
    cy = rng.uniform(margin, SIZE - margin)
    theta = 0.0 if cls == 0 else math.radians(rng.uniform(-ROT_DEG, ROT_DEG))
    mask = shape_mask(cls, cx, cy, size, theta)
    free = ~shape_mask(cls, cx, cy, size + 5.0, theta)

    bg = rng.integers(0, 256, size=3).astype(np.float32)
    img = np.broadcast_to(bg, (SIZE, SIZE, 3)).copy()
    img += rng.normal(0.0, rng.uniform(2.0, 10.0), size=img.shape).astype(np.float32)
    obj_col = _colour_far_from(rng, [bg], 120.0)

    # Clutter: thin lines and small elliptic blobs in colours other than the object's.
    for _ in range(int(rng.integers(1, 4))):
        col = _colour_far_from(rng, [bg, obj_col], 60.0)
        d = _segment_dist(*rng.uniform(0, SIZE, size=4))
        img[(d <= rng.uniform(0.5, 1.0)) & free] = col
    for _ in range(int(rng.integers(1, 4))):
        col = _colour_far_from(rng, [bg, obj_col], 60.0)
        bx, by = rng.uniform(0, SIZE, size=2)
        ax, ay = rng.uniform(1.5, 3.5, size=2)
        dx, dy = _rotate(_XX - bx, _YY - by, rng.uniform(0, math.pi))
        img[((dx / ax) ** 2 + (dy / ay) ** 2 <= 1.0) & free] = col

    shade = obj_col + rng.normal(0.0, 4.0, size=(SIZE, SIZE, 3)).astype(np.float32)
    img[mask] = shade[mask]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask.astype(np.uint8)


def make_dataset(seed, n):
    rng = np.random.default_rng(seed)
    xs = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    ms = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    ys = np.empty((n,), dtype=np.int64)
    for i in range(n):
        cls = i % len(CLASSES)
        xs[i], ms[i] = make_image(rng, cls)
        ys[i] = cls
    return xs, ms, ys


def preprocess(u8_hwc):
    """uint8 [...,64,64,3] -> float32 [...,3,64,64] with the imagenet-full preset."""
    x = u8_hwc.astype(np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    return np.ascontiguousarray(np.moveaxis(x, -1, -3), dtype=np.float32)


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

class ShapesNet(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 48, 3, padding=1)
        self.conv4 = nn.Conv2d(48, 64, 3, padding=1)
        self.fc1 = nn.Linear(64, 64)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(64, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 16 x 32 x 32
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 32 x 16 x 16
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)   # 48 x 8 x 8
        x = F.max_pool2d(F.relu(self.conv4(x)), 8)   # 64 x 1 x 1 (global max)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return correct / len(x)


def augment(xb, gen):
    """Random flips and transposes (the 8 symmetries of the square). No class changes
    under them; triangles just end up pointing up, down, left or right."""
    n = xb.shape[0]
    xb = xb.clone()
    for flag, op in ((torch.rand(n, generator=gen) < 0.5, lambda t: t.flip(3)),
                     (torch.rand(n, generator=gen) < 0.5, lambda t: t.flip(2)),
                     (torch.rand(n, generator=gen) < 0.5, lambda t: t.transpose(2, 3))):
        xb[flag] = op(xb[flag])
    return xb


def train(log):
    torch.manual_seed(SEED_TORCH)
    t0 = time.time()
    xtr_u8, _, ytr = make_dataset(SEED_TRAIN, N_TRAIN)
    xte_u8, _, yte = make_dataset(SEED_TEST, N_TEST)
    xtr = torch.from_numpy(preprocess(xtr_u8))
    xte = torch.from_numpy(preprocess(xte_u8))
    ytr = torch.from_numpy(ytr)
    yte = torch.from_numpy(yte)
    log(f"data: {N_TRAIN} train, {N_TEST} test images in {time.time() - t0:.1f} s")

    model = ShapesNet(len(CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = EPOCHS * math.ceil(N_TRAIN / BATCH)
    warm = steps // 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
    gen = torch.Generator().manual_seed(SEED_TORCH)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(N_TRAIN, generator=gen)
        total = 0.0
        for i in range(0, N_TRAIN, BATCH):
            idx = perm[i:i + BATCH]
            xb = augment(xtr[idx], gen)
            loss = F.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = evaluate(model, xte, yte)
        log(f"epoch {epoch + 1:2d}/{EPOCHS}  loss {total / N_TRAIN:.4f}  "
            f"test acc {acc * 100:.2f}%  ({time.time() - t0:.0f} s)")
    model.eval()
    return model, acc


# ---------------------------------------------------------------------------
# Export and fixtures
# ---------------------------------------------------------------------------

def add_srtool_metadata(m):
    """srtool reads these ONNX metadata_props: how to feed the model, and its class names."""
    del m.metadata_props[:]
    for key, value in (("srtool.preprocess", "imagenet-full"), ("srtool.labels", "\n".join(CLASSES))):
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value


def export_onnx(model, path):
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    tmp = path + ".tmp"
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, still fine
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (dummy,), tmp, dynamo=False, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)
    import onnx
    m = onnx.load(tmp)
    onnx.checker.check_model(m)
    m.doc_string = "srtool bundled demo model: 4-class synthetic shapes (Tools/train_bundled.py)"
    m.producer_name = "srtool Tools/train_bundled.py"
    add_srtool_metadata(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "Fixtures", "bundled"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    sdir = os.path.join(out, "samples")
    os.makedirs(sdir, exist_ok=True)

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    log = lambda s: print(s, file=sys.stderr, flush=True)
    t0 = time.time()

    model, acc = train(log)
    if acc < 0.95:
        log(f"warning: test accuracy {acc * 100:.2f}% is below 95%")

    onnx_path = os.path.join(out, "shapes.onnx")
    export_onnx(model, onnx_path)
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")

    # Samples: separate seed, keep the first 2 per class that the model gets right.
    rng = np.random.default_rng(SEED_SAMPLES)
    picked = {c: [] for c in range(len(CLASSES))}
    tries = 0
    while any(len(v) < 2 for v in picked.values()):
        cls = tries % len(CLASSES)
        tries += 1
        img, mask = make_image(rng, cls)
        if len(picked[cls]) >= 2:
            continue
        with torch.no_grad():
            pred = model(torch.from_numpy(preprocess(img[None]))).argmax(1).item()
        if pred == cls:
            picked[cls].append((img, mask))

    samples = []
    max_torch_diff = 0.0
    for cls, items in picked.items():
        for i, (img, mask) in enumerate(items):
            name = f"{CLASSES[cls]}_{i}"
            png = os.path.join(sdir, name + ".png")
            Image.fromarray(img, "RGB").save(png)
            Image.fromarray(mask * 255, "L").save(os.path.join(sdir, name + "_mask.png"))
            # Reference: reload the PNG exactly as a user of srtool would.
            loaded = np.asarray(Image.open(png).convert("RGB"))
            assert loaded.shape == (SIZE, SIZE, 3) and np.array_equal(loaded, img)
            x = preprocess(loaded[None])
            if name == "circle_0":
                np.save(os.path.join(sdir, name + ".npy"), x)
            logits = sess.run(["logits"], {"input": x})[0][0].astype(np.float64)
            with torch.no_grad():
                tl = model(torch.from_numpy(x))[0].numpy().astype(np.float64)
            max_torch_diff = max(max_torch_diff, float(np.abs(tl - logits).max()))
            p = np.exp(logits - logits.max())
            p /= p.sum()
            samples.append({
                "name": name,
                "image": f"samples/{name}.png",
                "mask": f"samples/{name}_mask.png",
                "label": CLASSES[cls],
                "class_index": cls,
                "mask_pixels": int(mask.sum()),
                "logits": [float(v) for v in logits.astype(np.float32)],
                "probabilities": [round(float(v), 6) for v in p],
                "argmax": int(np.argmax(logits)),
            })
    log(f"max |torch - onnxruntime| over samples: {max_torch_diff:.2e}")

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({
            "model": "shapes.onnx",
            "reference": "onnxruntime CPUExecutionProvider",
            "input_name": "input",
            "output_name": "logits",
            "input_npy": {"file": "samples/circle_0.npy", "image": "samples/circle_0.png",
                          "shape": [1, 3, SIZE, SIZE], "dtype": "float32"},
            "samples": samples,
        }, f, indent=2)
        f.write("\n")

    import onnx
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({
            "generator": "Tools/train_bundled.py",
            "model": "shapes.onnx",
            "architecture": "conv3x3(3-16)-relu-maxpool2, conv3x3(16-32)-relu-maxpool2, "
                            "conv3x3(32-48)-relu-maxpool2, conv3x3(48-64)-relu-maxpool8 (global), "
                            "flatten, linear(64-64)-relu-dropout(0.2), linear(64-4); no batch norm",
            "onnx_ops": sorted({n.op_type for n in onnx.load(onnx_path).graph.node}),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "onnx_opset": 13,
            "input": {"name": "input", "shape": [1, 3, SIZE, SIZE], "dtype": "float32"},
            "output": {"name": "logits", "shape": [1, len(CLASSES)], "softmax": False},
            "labels": CLASSES,
            "torch_version": torch.__version__,
            "onnx_version": onnx.__version__,
            "onnxruntime_version": ort.__version__,
            "numpy_version": np.__version__,
            "seeds": {"torch": SEED_TORCH, "train_data": SEED_TRAIN, "test_data": SEED_TEST,
                      "samples": SEED_SAMPLES},
            "data": {"image_size": SIZE, "object_size_px": [14, 28], "tilt_deg": ROT_DEG,
                     "clutter": "Gaussian noise, 1-3 thin lines, 1-3 small blobs, kept off the object"},
            "train_images": N_TRAIN,
            "test_images": N_TEST,
            "epochs": EPOCHS,
            "test_accuracy": round(acc, 4),
            "preprocessing": {
                "preset": "imagenet-full",
                "color": "RGB",
                "layout": "NCHW",
                "size": [SIZE, SIZE],
                "resize": "none (images are already 64x64)",
                "scale": "1/255",
                "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225],
                "formula": "(pixel / 255 - mean[c]) / std[c]",
            },
            "samples": "2 per class from generator seed %d, never in the training data; "
                       "only correctly classified draws are kept" % SEED_SAMPLES,
        }, f, indent=2)
        f.write("\n")
    log(f"done in {time.time() - t0:.0f} s; test accuracy {acc * 100:.2f}%")


if __name__ == "__main__":
    main()
