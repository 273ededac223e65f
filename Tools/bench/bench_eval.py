#!/usr/bin/env python3
"""Pixel-flipping benchmark: `srtool eval` vs Quantus 0.6.0 on VGG-16, one image.

Same model, weights, input, attribution and class, one run each; prints both times, the
ratio (the issue's target: srtool at most 0.3x Quantus' time) and how far the two curves
are apart.

Model and input are bench_lrp.py's: torchvision VGG-16 with random weights (weights=None,
seed 0, eval mode) exported to ONNX in the cache folder (default /tmp/srtool-bench), and
its smooth random 224x224 image, ImageNet-normalised. The attribution is seeded Gaussian
noise, [1, 1, 224, 224] float32 (`eval_attribution_224_seed<S>.npy`; no ties, so both
tools remove the same pixels at every step). Class = argmax of the model's logits.

Pixel flipping, 100 steps: 502 pixels per step (the last takes the 478 left), baseline
black, most relevant first, softmax probability of the class:
  * Quantus runs in a child process: torch.set_num_threads(THREADS), build the model from
    the seed (refusing a weights hash other than the export's), then one timed call of
        quantus.PixelFlipping(features_in_step=3*502, perturb_baseline="black")(
            model=model, x_batch=x, y_batch=[k], a_batch=a, device="cpu")
    with Quantus' assert that H*W divides by features_in_step bypassed (it counts H*W
    features while the metric steps over the 3*H*W of the channel-broadcast map; see
    Tools/make_eval_fixtures.py). One untimed forward pass first (PyTorch's warm-up).
  * srtool runs as `SRTOOL eval MODEL --input X.npy --attribution A.npy --metric
    pixel-flipping --features-per-step 502 --threads THREADS --batch B --json`, timed as a
    whole process (model load included), after one untimed run.
Usage:
  python3 Tools/bench/bench_eval.py [--threads 2] [--batch 8] [--srtool .build/release/srtool]
      [--cache /tmp/srtool-bench]
Needs: torch, torchvision, numpy, quantus 0.6.0.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lrp import build_model, ensure_input, ensure_model, weights_hash  # noqa: E402
from measure import log  # noqa: E402

PIXELS_PER_STEP = 502   # ceil(224*224 / 502) = 100 steps
SEED = 0


def ensure_attribution(cache, seed, size):
    path = os.path.join(cache, f"eval_attribution_{size}_seed{seed}.npy")
    if not os.path.exists(path):
        a = np.random.default_rng(seed).standard_normal((1, 1, size, size)).astype(np.float32)
        np.save(path + ".tmp.npy", a)
        os.replace(path + ".tmp.npy", path)
    return path


def quantus_worker(x_path, a_path, out_path, want_hash, threads):
    import warnings
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    import torch
    import torchvision  # noqa: F401  (before quantus: torchvision after tensorflow aborts in LLVM)
    torch.set_num_threads(threads)
    import quantus
    import quantus.helpers.asserts as qasserts
    model = build_model("vgg16", SEED)
    if weights_hash(model) != want_hash:
        raise SystemExit("the rebuilt VGG-16 differs from the export")
    x, a = np.load(x_path), np.load(a_path)
    with torch.no_grad():
        k = int(model(torch.from_numpy(x)).argmax(1)[0])
    qasserts.assert_features_in_step = lambda **kw: None
    metric = quantus.PixelFlipping(features_in_step=3 * PIXELS_PER_STEP, perturb_baseline="black",
                                   disable_warnings=True)
    t0 = time.perf_counter()
    curve = metric(model=model, x_batch=x, y_batch=np.array([k]), a_batch=a, device="cpu")[0]
    seconds = time.perf_counter() - t0
    with open(out_path, "w") as f:
        json.dump(dict(seconds=seconds, target=k, curve=[float(v) for v in curve]), f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--srtool", default=".build/release/srtool")
    p.add_argument("--cache", default="/tmp/srtool-bench")
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return quantus_worker(*args.worker, args.threads)
    os.makedirs(args.cache, exist_ok=True)
    model, want_hash = ensure_model("vgg16", args.cache, SEED)
    x = ensure_input(args.cache, SEED, 224)
    a = ensure_attribution(args.cache, SEED, 224)
    out = os.path.join(args.cache, "eval_quantus.json")
    log("Quantus 0.6.0 pixel flipping (100 steps) ...")
    subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--worker", x, a, out, want_hash], check=True)
    with open(out) as f:
        q = json.load(f)
    cmd = [args.srtool, "eval", model, "--input", x, "--attribution", a, "--metric", "pixel-flipping",
           "--features-per-step", str(PIXELS_PER_STEP), "--threads", str(args.threads), "--batch", str(args.batch),
           "--target", str(q["target"]), "--json"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # untimed
    t0 = time.perf_counter()
    r = subprocess.run(cmd, check=True, capture_output=True, env=env, text=True)
    seconds = time.perf_counter() - t0
    curve = json.loads(r.stdout)["results"][0]["curve"]
    got, want = np.array(curve[1:]), np.array(q["curve"])
    diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("nan")
    print(f"pixel flipping, VGG-16, 224x224, {len(want)} steps of {PIXELS_PER_STEP} pixels, {args.threads} threads")
    print(f"  quantus 0.6.0 (pytorch): {q['seconds']:.2f} s")
    print(f"  srtool (batch {args.batch}):      {seconds:.2f} s (whole process, model load included)")
    print(f"  ratio srtool / quantus:  {seconds / q['seconds']:.3f}")
    print(f"  curves: max |srtool - quantus| = {diff:.2e} (probabilities, start {curve[0]:.4g})")


if __name__ == "__main__":
    main()
