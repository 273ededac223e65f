#!/usr/bin/env python3
"""Run the full-size torchvision and timm classifiers through srtool and compare with onnxruntime.

What it does
------------
For each model (every `torchvision.models` classifier but the giants the issue leaves out:
ViT-L/H, RegNet-32/128GF, EfficientNet-B6/B7/V2-L, ConvNeXt-Large; and the popular timm
families) it builds the model with random weights made non-trivial the way
Tools/make_zoo_fixtures.py makes them (`randomize`: linear layers PyTorch's default init,
norm affine parameters, tokens, layer scales; `calibrate`: batch-norm statistics from four
seeded batches of 8 in train mode, so no batch norm is the identity and deep nets do not
collapse to constant outputs), exports it the way people commonly do,

    torch.onnx.export(model, torch.randn(1, 3, S, S), path, opset_version=17, dynamo=False,
                      do_constant_folding=True, input_names=['input'], output_names=['output'])

(batch 1; S = 224, 299 for Inception v3), runs onnxruntime (CPU, graph optimisations off)
on each of two seeded images, and runs

    SRTOOL run model.onnx --input input.npy -o out.npy

once on the batch of both images (srtool runs a batch-1 file on any batch). A row is ok when
|srtool - ort| <= 1e-4 + 1e-3·|ort| everywhere, or when srtool is no further from
onnxruntime than torch's own float32 output is (+ 1e-4): random-weight deep nets amplify
float32 rounding, and torch vs onnxruntime measures how much. Otherwise MISMATCH; an import
that fails is "refused" with srtool's error line. The logits' spread (std across classes)
is printed so a near-constant output shows.

Files go to --out (default /tmp/srtool-model-zoo), each model's ONNX file deleted after
its row unless --keep. results.json there holds the rows.

Usage
-----
    /work/ref/bin/python Tools/check_model_zoo.py --srtool .build/release/srtool
    /work/ref/bin/python Tools/check_model_zoo.py --srtool ... vit_b_16 swin_t   # only these

Needs torch, torchvision, timm, onnx, onnxruntime, numpy. Takes ~30-60 minutes on 2 cores
for all of them; run it on an otherwise idle machine.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo_fixtures import calibrate, randomize, session  # noqa: E402

import numpy as np
import timm
import torch
import torchvision

GIANTS = {"vit_l_16", "vit_l_32", "vit_h_14", "regnet_x_32gf", "regnet_y_32gf", "regnet_y_128gf",
          "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l", "convnext_large"}
TIMM = ["resnet50d", "efficientnet_b0", "mobilenetv3_large_100", "convnext_tiny", "vit_base_patch16_224",
        "deit_small_distilled_patch16_224", "regnety_016", "ghostnet_100", "mixnet_s", "densenet121",
        "xception41", "swin_tiny_patch4_window7_224"]


def models():
    tv = [m for m in torchvision.models.list_models(module=torchvision.models) if m not in GIANTS]
    return [("torchvision", m) for m in tv] + [("timm", m) for m in TIMM]


def build(library, name):
    if library == "torchvision":
        kw = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
        return torchvision.models.get_model(name, weights=None, **kw)
    return timm.create_model(name, pretrained=False)


def check(library, name, srtool, out, seed, keep):
    size = 299 if name == "inception_v3" else 224
    torch.manual_seed(seed)
    model = build(library, name)
    randomize(model, seed)
    calibrate(model, seed, (size, size), batches=2, batch=4)
    model.eval()
    x = np.random.default_rng(seed).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).numpy()
    path = out / f"{library}-{name}.onnx"
    started = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x[:1]),), str(path), opset_version=17, dynamo=False,
                          do_constant_folding=True, input_names=["input"], output_names=["output"])
    export_s = time.time() - started
    params = int(sum(p.numel() for p in model.parameters()))
    del model
    sess = session(str(path))
    y_ort = np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(2)])
    del sess
    np.save(out / "input.npy", x)
    started = time.time()
    run = subprocess.run([srtool, "run", str(path), "--input", str(out / "input.npy"), "-o", str(out / "srtool.npy")],
                         capture_output=True, text=True)
    srtool_s = time.time() - started
    if not keep:
        path.unlink()
        data = Path(str(path) + ".data")
        if data.exists():
            data.unlink()
    row = {"library": library, "model": name, "params": params, "export_s": round(export_s, 1),
           "srtool_s": round(srtool_s, 2), "logit_std": float(y_ort.std(axis=1).mean())}
    if run.returncode != 0:
        row["status"] = "refused"
        row["error"] = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f"exit {run.returncode}"
        return row
    y = np.load(out / "srtool.npy")
    diff = float(np.abs(y - y_ort).max()) if y.shape == y_ort.shape else float("inf")
    torch_diff = float(np.abs(y_torch - y_ort).max())
    within = y.shape == y_ort.shape and bool((np.abs(y - y_ort) <= 1e-4 + 1e-3 * np.abs(y_ort)).all())
    row.update(max_abs_diff=diff, torch_vs_ort=torch_diff)
    row["status"] = "ok" if within else ("ok (float32 noise)" if diff <= torch_diff + 1e-4 else "MISMATCH")
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--srtool", required=True)
    p.add_argument("--out", default="/tmp/srtool-model-zoo")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true")
    p.add_argument("only", nargs="*")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    rows = []
    todo = [(lib, m) for lib, m in models() if not a.only or m in a.only]
    for lib, m in todo:
        try:
            row = check(lib, m, a.srtool, out, a.seed, a.keep)
        except Exception as e:  # a model the reference side cannot build or export
            row = {"library": lib, "model": m, "status": "not checked", "error": f"{type(e).__name__}: {e}"[:300]}
        rows.append(row)
        extra = row.get("error") or (f"max |diff| {row['max_abs_diff']:.1e} (torch vs ort {row['torch_vs_ort']:.1e}), "
                                     f"logit std {row['logit_std']:.2f}, srtool {row['srtool_s']:.1f} s")
        print(f"{lib:12s} {m:34s} {row['status']:20s} {extra}", flush=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    ok = sum(r["status"].startswith("ok") for r in rows)
    print(f"\n{ok} of {len(rows)} match")


if __name__ == "__main__":
    main()
