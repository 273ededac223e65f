#!/usr/bin/env python3
"""Forward-pass benchmark: srtool vs onnxruntime on VGG-16 and ResNet-50.

Same model file, same weights, same input, one run; reports the ratio.

Models come from torchvision with random weights (weights=None, fixed seed, eval
mode), exported to ONNX (opset 13, batch 1, input `input` [1,3,224,224] float32,
output `output`) into a cache folder (default /tmp/srtool-bench, never the repo).
Exports and the input (`input.npy`, standard normal, fixed seed) are reused when
present and made with the same seed / opset.

For each model:
  * onnxruntime (CPU, intra_op_num_threads=THREADS, inter_op 1, sequential) runs in a
    child process of this script: session load, 1 warm-up run, then best and median
    of N timed `session.run` calls. Its output is the reference.
  * srtool runs as `SRTOOL run MODEL.onnx --input X.npy -o OUT.npy --threads THREADS
    --repeat N` and must print on stderr a line like
      timing: load 0.512 s, forward best 0.3012 s, median 0.3104 s (5 runs)
  * Peak RSS of each child is measured with `/usr/bin/time -f %M` when available,
    else with os.wait4's rusage for that child.
  * srtool's output is compared with onnxruntime's: max |diff| and max |diff| / max |ref|.
If the srtool binary does not exist, only the onnxruntime numbers are printed.

Usage:
  python3 Tools/bench/bench_forward.py [--models vgg16,resnet50] [--repeat 5]
      [--threads 2] [--srtool .build/release/srtool] [--cache /tmp/srtool-bench]
      [--json results.json]
Needs: torch + torchvision (only to export the first time), onnx, onnxruntime, numpy.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import _time_works, fmt, log, run_measured, time_srtool  # noqa: E402

MODELS = ("vgg16", "resnet50")
OPSET = 13
INPUT_SHAPE = (1, 3, 224, 224)



# ---------------------------------------------------------------------------
# Cache: models and input
# ---------------------------------------------------------------------------

def ensure_model(name, cache, seed):
    path = os.path.join(cache, f"{name}.onnx")
    meta_path = os.path.join(cache, f"{name}.meta.json")
    want = {"model": name, "seed": seed, "opset": OPSET, "weights": "random (weights=None)"}
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
    log(f"exporting {name} to {path} ...")
    t0 = time.time()
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None).eval()
    tmp = path + ".tmp"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript exporter
        torch.onnx.export(model, (torch.zeros(INPUT_SHAPE),), tmp, dynamo=False,
                          opset_version=OPSET, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
    os.replace(tmp, path)
    want.update(torch=torch.__version__, torchvision=torchvision.__version__,
                bytes=os.path.getsize(path))
    with open(meta_path, "w") as f:
        json.dump(want, f, indent=2)
    log(f"  {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t0:.0f} s")
    return path


def ensure_input(cache, seed):
    path = os.path.join(cache, f"input_seed{seed}.npy")
    if not os.path.exists(path):
        x = np.random.default_rng(seed).standard_normal(INPUT_SHAPE).astype(np.float32)
        tmp = path + ".tmp.npy"
        np.save(tmp, x)
        os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------
# Child processes with peak RSS
# ---------------------------------------------------------------------------



# ---------------------------------------------------------------------------
# onnxruntime worker (runs in a child process: `--ort-worker`)
# ---------------------------------------------------------------------------

def ort_worker(model, x_path, out_path, threads, repeat):
    import onnxruntime as ort
    x = np.load(x_path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - t0
    feed = {sess.get_inputs()[0].name: x}
    y = sess.run(None, feed)[0]  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        y = sess.run(None, feed)[0]
        times.append(time.perf_counter() - t0)
    np.save(out_path, y)
    print(json.dumps({"load": load, "best": min(times), "median": statistics.median(times),
                      "runs": repeat, "version": ort.__version__}))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="srtool vs onnxruntime forward benchmark")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ", ".join(MODELS))
    ap.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="models, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--ort-worker", nargs=3, metavar=("MODEL", "X", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.ort_worker:
        ort_worker(*args.ort_worker, args.threads, args.repeat)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")

    os.makedirs(args.cache, exist_ok=True)
    x_path = ensure_input(args.cache, args.seed)
    paths = {m: ensure_model(m, args.cache, args.seed) for m in models}

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; onnxruntime numbers only")
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; "
        f"threads {args.threads}, {args.repeat} timed runs after 1 warm-up")

    results = []
    for m in models:
        r = {"model": m, "onnx": paths[m], "threads": args.threads, "runs": args.repeat}
        ort_out = os.path.join(args.cache, f"{m}.ort_out.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker", paths[m], x_path,
               ort_out, "--threads", str(args.threads), "--repeat", str(args.repeat)]
        log(f"{m}: onnxruntime ...")
        code, out, err, rss = run_measured(cmd, use_time)
        if code != 0:
            log(f"{m}: onnxruntime failed (exit {code}): {err.strip().splitlines()[-1:]}")
            results.append(r)
            continue
        o = json.loads(out.strip().splitlines()[-1])
        r.update(ort_version=o["version"], ort_load_s=o["load"], ort_best_s=o["best"],
                 ort_median_s=o["median"], ort_rss_mb=rss)
        log(f"  load {o['load']:.3f} s, best {o['best']:.3f} s, median {o['median']:.3f} s, "
            f"peak RSS {fmt(rss, '.0f')} MB")

        if have_srtool:
            s_out = os.path.join(args.cache, f"{m}.srtool_out.npy")
            if os.path.exists(s_out):
                os.remove(s_out)
            cmd = [srtool, "run", paths[m], "--input", x_path, "-o", s_out,
                   "--threads", str(args.threads), "--repeat", str(args.repeat)]
            log(f"{m}: srtool ...")
            code = time_srtool(cmd, use_time, r, r.get("ort_best_s"))
            if code == 0 and os.path.exists(s_out):
                ref = np.load(ort_out)
                got = np.load(s_out)
                if got.shape != ref.shape:
                    r["srtool_error"] = f"output shape {got.shape} != {ref.shape}"
                    log(f"  {r['srtool_error']}")
                else:
                    d = float(np.max(np.abs(got.astype(np.float64) - ref)))
                    scale = float(np.max(np.abs(ref))) or 1.0
                    r.update(max_abs_diff=d, max_rel_diff=d / scale)
                    log(f"  max |srtool - ort| = {d:.3g} ({d / scale:.3g} of max |ref| "
                        f"{scale:.3g}); argmax {int(got.argmax())} vs {int(ref.argmax())}")
        results.append(r)

    hdr = ("model", "ort best s", "ort med s", "srtool best s", "srtool med s",
           "srtool/ort", "ort RSS MB", "srtool RSS MB", "max diff (rel)")
    rows = []
    for r in results:
        diff = None
        if "max_abs_diff" in r:
            diff = f"{r['max_abs_diff']:.2e} ({r['max_rel_diff']:.1e})"
        rows.append((r["model"], fmt(r.get("ort_best_s"), ".3f"), fmt(r.get("ort_median_s"), ".3f"),
                     fmt(r.get("srtool_best_s"), ".3f"), fmt(r.get("srtool_median_s"), ".3f"),
                     fmt(r.get("ratio"), ".2f"), fmt(r.get("ort_rss_mb"), ".0f"),
                     fmt(r.get("srtool_rss_mb"), ".0f"), diff or "-"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(f"batch 1, {args.threads} threads, best/median of {args.repeat} runs")
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.repeat, "seed": args.seed,
                       "results": results}, f, indent=2)
    failed = any("ort_best_s" not in r or "srtool_error" in r for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
