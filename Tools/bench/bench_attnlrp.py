#!/usr/bin/env python3
"""AttnLRP on ViT-B/16: srtool vs LXT 2.1, the same model, weights and input, one run.

What it does
------------
Builds torchvision's vit_b_16 (weights=None, torch.manual_seed(SEED)) with the weights
Tools/make_zoo_fixtures.py gives its tiny models (randomize(): every Linear
U(±1/sqrt(fan_in)), norm affines and tokens re-drawn, so the head is not zero), exports it

    torch.onnx.export(model, x, path, opset_version=17, dynamo=False, do_constant_folding=True,
                      input_names=['input'], output_names=['output'])

at batch 1 into the cache folder (default /tmp/srtool-bench, never the repo; reused when
present) with a seeded N(0, 1) input, then times, on THREADS threads:
  * LXT: the attnlrp patches of Tools/make_attnlrp_fixtures.py (LXT's GELU identity rule,
    its layer norm with a constant σ, its uniform attention wrapper around
    scaled_dot_product_attention; torch.backends.mha.set_fastpath_enabled(False)), one
    forward and one backward from the top logit (float32, CPU): 1 warm-up, then best and
    median of RUNS;
  * srtool: `SRTOOL explain MODEL --input X --composite attnlrp --threads THREADS --repeat
    RUNS --save OUT.npy`, whose stderr timing line gives best and median;
and prints both, their ratio, the peak RSS of each (this process's for LXT, /usr/bin/time's
for srtool), and the largest difference
between the two input relevances relative to LXT's largest.

Usage (in a venv with lxt 2.1, transformers 4.52.4, torch, torchvision, timm, onnx — see
Tools/make_attnlrp_fixtures.py):
    /work/lxt-venv/bin/python Tools/bench/bench_attnlrp.py [--srtool .build/release/srtool]
        [--threads 2] [--runs 5] [--cache /tmp/srtool-bench]
"""

import argparse
import json
import re
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import make_zoo_fixtures as zoo  # noqa: E402
from make_attnlrp_fixtures import patched  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

SEED = 0


def model_and_input(cache):
    torch.manual_seed(SEED)
    model = torchvision.models.vit_b_16(weights=None)
    zoo.randomize(model, SEED)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = np.random.default_rng(SEED).standard_normal((1, 3, 224, 224)).astype(np.float32)
    path = cache / "attn-vit_b_16.onnx"
    if not path.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.from_numpy(x),), str(path), opset_version=17, dynamo=False,
                              do_constant_folding=True, input_names=["input"], output_names=["output"])
    np.save(cache / "attn-input.npy", x)
    return model, x, path


def lxt_times(model, x, runs):
    times = []
    with patched("attnlrp"):
        for i in range(runs + 1):
            started = time.perf_counter()
            xt = torch.from_numpy(x).requires_grad_(True)
            y = model(xt)
            y[0, int(y.argmax())].backward()
            relevance = (xt * xt.grad).detach().numpy()
            if i > 0:
                times.append(time.perf_counter() - started)
    return sorted(times), relevance


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srtool", default=str(Path(__file__).resolve().parents[2] / ".build" / "release" / "srtool"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cache", default="/tmp/srtool-bench")
    a = ap.parse_args()
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(a.threads)
    torch.backends.mha.set_fastpath_enabled(False)
    model, x, path = model_and_input(cache)

    lxt, lxt_relevance = lxt_times(model, x, a.runs)
    lxt_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    out = cache / "attn-srtool.npy"
    cmd = [a.srtool, "explain", str(path), "--input", str(cache / "attn-input.npy"), "--composite", "attnlrp",
           "--threads", str(a.threads), "--repeat", str(a.runs), "--save", str(out)]
    # Peak RSS by /usr/bin/time: a child forked from this 2 GB Python process starts with
    # that process's maximum RSS in its own rusage.
    child = subprocess.run(["/usr/bin/time", "-f", "peak %M"] + cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    err = child.stderr
    peak = re.search(r"peak ([0-9]+)", err)
    timing = re.search(r"best ([0-9.]+) s, median ([0-9.]+) s", err)
    if child.returncode != 0 or timing is None:
        raise SystemExit(f"srtool failed: {err.strip().splitlines()[-1] if err.strip() else child.returncode}")
    best, median = float(timing.group(1)), float(timing.group(2))
    srtool_rss = int(peak.group(1)) / 1024 if peak else float("nan")
    mine = np.load(out)
    diff = float(np.abs(mine - lxt_relevance).max() / np.abs(lxt_relevance).max())
    print(f"ViT-B/16 AttnLRP, batch 1, 224x224, {a.threads} threads, best/median of {a.runs}")
    print(f"  LXT 2.1   best {lxt[0]:.3f} s, median {lxt[len(lxt) // 2]:.3f} s, peak RSS {lxt_rss:.0f} MB")
    print(f"  srtool    best {best:.3f} s, median {median:.3f} s, peak RSS {srtool_rss:.0f} MB")
    print(f"  srtool / LXT {best / lxt[0]:.2f} (best), input relevance max |diff| / max |LXT| {diff:.1e}")
    print(json.dumps({"lxt_best": lxt[0], "srtool_best": best, "ratio": best / lxt[0], "relative_diff": diff}))


if __name__ == "__main__":
    main()
