#!/usr/bin/env python3
"""Forward-pass benchmark on full-size modern architectures: srtool vs onnxruntime.

Same model file, same weights, same input, one run; reports the ratio and how far
srtool's output is from onnxruntime's.

Models: torchvision mobilenet_v2, mobilenet_v3_large, efficientnet_b0, densenet121,
convnext_tiny, shufflenet_v2_x1_0, vit_b_16, and timm's vit_base_patch16_224 (the same ViT-B/16
architecture, as timm exports its attention), built with weights=None after
torch.manual_seed(SEED),
then given the weights Tools/make_zoo_fixtures.py gives its tiny models (its
randomize() and calibrate(), imported from it: every Linear U(+-1/sqrt(fan_in)),
norm affines and layer scales re-drawn, batch-norm running statistics the cumulative
average of four seeded N(0,1) batches of 8 at 224x224 in train mode), so no output is
constant (torchvision zero-inits ViT's head; ConvNeXt's 1e-6 layer scales would make
its blocks near-identities). Eval mode, exported with the TorchScript exporter

    torch.onnx.export(model, x, path, dynamo=False, opset_version=17,
                      do_constant_folding=True, input_names=['input'],
                      output_names=['output'])

at batch 1, 224x224, into the cache folder (default /tmp/srtool-bench, never the repo)
as zoo-<model>.onnx with zoo-<model>.meta.json. An export whose meta matches (model,
seed, opset, weight recipe) is reused, so torch / torchvision / timm are only needed
the first time. The input is bench_forward.py's input_seed<SEED>.npy (standard normal,
float32, [1,3,224,224]).

For each model:
  * onnxruntime runs in a child process exactly as in bench_forward.py (its worker is
    reused): CPU, intra_op_num_threads=THREADS, inter_op 1, sequential, default graph
    optimisations; session load, 1 warm-up run, then best and median of N timed
    `session.run` calls. Its output is the reference.
  * srtool runs as `SRTOOL run MODEL.onnx --input X.npy -o OUT.npy --threads THREADS
    --repeat N` and must print on stderr a line like
      timing: load 0.512 s, forward best 0.3012 s, median 0.3104 s (5 runs)
    If it refuses the model (exit 69), its one-line refusal is printed and the
    benchmark goes on with the next model; a refusal is not a failure.
  * Peak RSS of each child: `/usr/bin/time -f %M` when available, else os.wait4's rusage.
  * srtool's output vs onnxruntime's: max |diff|, max |diff| / max |ref|, both argmaxes;
    it matches when max |diff| <= TOL * max |ref| (--tol, default 1e-4) and the
    argmaxes agree.
If the srtool binary does not exist, only the onnxruntime numbers are printed.

Usage:
  python3 Tools/bench/bench_zoo_forward.py [--models mobilenet_v3_large,vit_b_16]
      [--runs 5] [--threads 2] [--srtool .build/release/srtool]
      [--cache /tmp/srtool-bench] [--seed 0] [--tol 1e-4] [--json results.json]
Exit status 1 if onnxruntime failed, srtool failed other than by refusing (exit 69),
or an output does not match.
Needs: torch + torchvision + timm (only to export the first time; Tools/
make_zoo_fixtures.py imports timm), onnx, onnxruntime, numpy.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_forward import ensure_input, ort_worker  # noqa: E402
from measure import _time_works, fmt, log, run_measured, time_srtool  # noqa: E402

MODELS = ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "densenet121", "convnext_tiny",
          "shufflenet_v2_x1_0", "vit_b_16", "timm_vit_base_patch16_224")
OPSET = 17
INPUT_SHAPE = (1, 3, 224, 224)
REFUSED = 69            # srtool's exit code for a model it does not support
WEIGHTS = ("torchvision weights=None, then Tools/make_zoo_fixtures.py randomize() + "
           "calibrate() (4 seeded batches of 8 at 224x224)")
MIN_LOGIT_STD = 1e-3


# ---------------------------------------------------------------------------
# Cache: models
# ---------------------------------------------------------------------------

def ensure_model(name, cache, seed, x_path):
    path = os.path.join(cache, f"zoo-{name}.onnx")
    meta_path = os.path.join(cache, f"zoo-{name}.meta.json")
    want = {"model": name, "seed": seed, "opset": OPSET, "weights": WEIGHTS,
            "input_shape": list(INPUT_SHAPE)}
    if os.path.exists(path) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                have = json.load(f)
            if all(have.get(k) == v for k, v in want.items()):
                return path
        except (OSError, ValueError):
            pass
    import torch
    import torchvision
    sys.path.insert(0, os.path.dirname(HERE))               # Tools/
    import make_zoo_fixtures as zoo
    log(f"exporting {name} to {path} ...")
    t0 = time.time()
    torch.manual_seed(seed)
    if name.startswith("timm_"):
        import timm
        model = timm.create_model(name[len("timm_"):], pretrained=False)
    else:
        model = getattr(torchvision.models, name)(weights=None)
    zoo.randomize(model, seed)
    n_bn = zoo.calibrate(model, seed, INPUT_SHAPE[2:])      # leaves the model in eval mode
    x = torch.from_numpy(np.load(x_path))
    with torch.no_grad():
        y = model(x).numpy()
    std = float(y.std())
    if std < MIN_LOGIT_STD:
        raise SystemExit(f"{name}: logits near-constant (std across classes {std:.2e})")
    tmp = path + ".tmp"
    # Not under no_grad: there nn.MultiheadAttention (vit_b_16) takes its fused fast path,
    # aten::_native_multi_head_attention, which the TorchScript exporter cannot export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # legacy-exporter deprecation, TracerWarnings
        torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
    os.replace(tmp, path)
    want.update(torch=torch.__version__, torchvision=torchvision.__version__,
                batch_norm_layers=n_bn, logit_std=std, bytes=os.path.getsize(path))
    with open(meta_path, "w") as f:
        json.dump(want, f, indent=2)
    log(f"  {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t0:.0f} s "
        f"({n_bn} batch norms, logit std {std:.3f})")
    return path


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def compare(r, ref_path, got_path, tol):
    ref = np.load(ref_path)
    got = np.load(got_path)
    if got.shape != ref.shape:
        r["srtool_error"] = f"output shape {got.shape} != {ref.shape}"
        log(f"  {r['srtool_error']}")
        return
    d = float(np.max(np.abs(got.astype(np.float64) - ref)))
    scale = float(np.max(np.abs(ref))) or 1.0
    a_got, a_ref = int(got.argmax()), int(ref.argmax())
    r.update(max_abs_diff=d, max_rel_diff=d / scale, argmax_srtool=a_got, argmax_ort=a_ref,
             match=bool(d <= tol * scale and a_got == a_ref))
    log(f"  max |srtool - ort| = {d:.3g} ({d / scale:.3g} of max |ref| {scale:.3g}); "
        f"argmax {a_got} vs {a_ref}: {'match' if r['match'] else 'MISMATCH'}")


def profile_summary(srtool, model, x_path, threads, runs):
    """`srtool run --profile`'s layer times summed by op kind, the convolutions split by
    their multiply-adds per output (from `srtool inspect --json`): `conv1x1` (as many as
    input channels), `depthwise` (fewer than the input channels: one channel per group),
    `conv` (the rest); the five largest shares."""
    layers = json.loads(subprocess.run([srtool, "inspect", model, "--json"], capture_output=True,
                                       text=True).stdout)["layers"]
    kind = {}
    for l in layers:
        if l["op"] != "conv2d":
            continue
        c, out = l["input_shapes"][0][1], l["output_shape"]
        per_output = l["macs"] // max(1, int(np.prod(out)))
        kind[l["name"]] = ("conv1x1" if per_output == c else
                           "depthwise" if per_output < c else "conv")
    out = subprocess.run([srtool, "run", model, "--input", x_path, "--threads", str(threads),
                          "--profile", "--repeat", str(runs)], capture_output=True, text=True)
    times = {}
    for line in out.stderr.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].endswith("%"):
            continue
        try:
            ms = float(parts[2])
        except ValueError:
            continue
        op = kind.get(parts[0], parts[1])
        times[op] = times.get(op, 0.0) + ms
    total = sum(times.values()) or 1.0
    ranked = sorted(times.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{op} {100 * t / total:.0f} %" for op, t in ranked[:5]) + \
        f" (sum {total:.1f} ms)"


def main():
    ap = argparse.ArgumentParser(
        description="srtool vs onnxruntime forward benchmark on full-size modern models")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ", ".join(MODELS))
    ap.add_argument("--runs", "--repeat", dest="runs", type=int, default=5,
                    help="timed runs (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="models, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="match if max |diff| <= TOL * max |ort output| (default 1e-4)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--profile", action="store_true",
                    help="also print where srtool's time goes: `srtool run --profile` "
                         "summed by op kind, the convolutions by kernel shape")
    ap.add_argument("--ort-worker", nargs=3, metavar=("MODEL", "X", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.ort_worker:
        ort_worker(*args.ort_worker, args.threads, args.runs)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    if args.runs < 1 or args.threads < 1:
        ap.error("--runs and --threads must be >= 1")

    os.makedirs(args.cache, exist_ok=True)
    x_path = ensure_input(args.cache, args.seed)
    paths = {m: ensure_model(m, args.cache, args.seed, x_path) for m in models}

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; onnxruntime numbers only")
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; "
        f"threads {args.threads}, {args.runs} timed runs (onnxruntime after 1 warm-up)")

    results = []
    for m in models:
        r = {"model": m, "onnx": paths[m], "mb": os.path.getsize(paths[m]) / 1e6,
             "threads": args.threads, "runs": args.runs}
        ort_out = os.path.join(args.cache, f"zoo-{m}.ort_out.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker", paths[m], x_path,
               ort_out, "--threads", str(args.threads), "--runs", str(args.runs)]
        log(f"{m}: onnxruntime ...")
        code, out, err, rss = run_measured(cmd, use_time)
        if code != 0:
            log(f"{m}: onnxruntime failed (exit {code}): {err.strip().splitlines()[-1:]}")
            r["ort_error"] = f"exit {code}"
            results.append(r)
            continue
        o = json.loads(out.strip().splitlines()[-1])
        r.update(ort_version=o["version"], ort_load_s=o["load"], ort_best_s=o["best"],
                 ort_median_s=o["median"], ort_rss_mb=rss)
        log(f"  load {o['load']:.3f} s, best {o['best']:.3f} s, median {o['median']:.3f} s, "
            f"peak RSS {fmt(rss, '.0f')} MB")

        if have_srtool:
            s_out = os.path.join(args.cache, f"zoo-{m}.srtool_out.npy")
            if os.path.exists(s_out):
                os.remove(s_out)
            cmd = [srtool, "run", paths[m], "--input", x_path, "-o", s_out,
                   "--threads", str(args.threads), "--repeat", str(args.runs)]
            log(f"{m}: srtool ...")
            code = time_srtool(cmd, use_time, r, r.get("ort_best_s"))
            if code == REFUSED:
                r["srtool_refused"] = r.pop("srtool_error").split(": ", 1)[1]
            elif code == 0 and os.path.exists(s_out):
                compare(r, ort_out, s_out, args.tol)
            elif code == 0 and "srtool_error" not in r:
                r["srtool_error"] = "no output file"
                log(f"  srtool wrote no {s_out}")
        results.append(r)

    hdr = ("model", "MB", "ort best s", "ort med s", "srtool best s", "srtool med s",
           "srtool/ort", "ort RSS MB", "srtool RSS MB", "max diff (rel)", "output")
    rows = []
    for r in results:
        diff = None
        if "max_abs_diff" in r:
            diff = f"{r['max_abs_diff']:.2e} ({r['max_rel_diff']:.1e})"
        state = ("refused" if "srtool_refused" in r else "error" if "srtool_error" in r
                 else ("match" if r["match"] else "MISMATCH") if "match" in r else "-")
        rows.append((r["model"], f"{r['mb']:.0f}", fmt(r.get("ort_best_s"), ".4f"),
                     fmt(r.get("ort_median_s"), ".4f"), fmt(r.get("srtool_best_s"), ".4f"),
                     fmt(r.get("srtool_median_s"), ".4f"), fmt(r.get("ratio"), ".2f"),
                     fmt(r.get("ort_rss_mb"), ".0f"), fmt(r.get("srtool_rss_mb"), ".0f"),
                     diff or "-", state))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) if i in (0, len(hdr) - 1) else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    print(f"batch 1, 224x224, {args.threads} threads, best/median of {args.runs} runs, "
          f"opset {OPSET}")
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    for r in results:
        if "srtool_refused" in r:
            print(f"{r['model']}: srtool refused it (exit {REFUSED}): {r['srtool_refused']}")
        elif "srtool_error" in r:
            print(f"{r['model']}: srtool failed: {r['srtool_error']}")
    if args.profile and have_srtool:
        print(f"\nwhere srtool's time goes (run --profile, mean of {args.runs} runs, "
              f"{args.threads} threads): share of the summed layer times")
        for m in models:
            print(f"  {m}: {profile_summary(srtool, paths[m], x_path, args.threads, args.runs)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.runs, "seed": args.seed,
                       "opset": OPSET, "tol": args.tol, "results": results}, f, indent=2)
    failed = any("ort_best_s" not in r or "srtool_error" in r or r.get("match") is False
                 for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
