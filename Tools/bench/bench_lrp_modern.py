#!/usr/bin/env python3
"""LRP benchmark on gated CNNs: srtool vs the same rules in PyTorch, EfficientNet-B0 and
ConvNeXt-Tiny.

Same ONNX file, same weights, same input, same class, one run; reports the time ratio, the
peak memory of each and how far the two input relevances are apart. Issue #15's target is
srtool at most 0.5x PyTorch's time.

Models: torchvision efficientnet_b0 and convnext_tiny (batch 1, 224x224) with
bench_zoo_forward.py's seeded weights (torch.manual_seed(SEED), weights=None, then
make_zoo_fixtures.py's randomize() and calibrate(): batch-norm running statistics from
four seeded batches in train mode), exported by bench_zoo_forward.py's ensure_model (it is
imported: TorchScript exporter, opset 17, constant folding) into its cache
(/tmp/srtool-bench/zoo-<model>.onnx, shared with that benchmark). The torch weights are
kept beside the export as lrp-modern-<model>.pt, made once by the same recipe and checked
against the export with onnxruntime (logits within 1e-4 of their largest). The input is
bench_forward.py's input_seed<SEED>.npy (standard normal, float32, [1,3,224,224]).

PyTorch: the rules srtool's epsilon-plus-flat applies to these graphs, as
Tools/make_gated_lrp_fixtures.py writes them (its canonize() and composite() are
imported; its fixtures check srtool against them): zennit 0.5.1's EpsilonPlusFlat hooks
(Flat on the stem, Epsilon on linear layers, Pass on SiLU / GELU / layer norm, Norm on
residual sums and average pooling) with z+ on convolutions extended by srtool's fallback,
squeeze-and-excitation gates as constants, batch norm folded and LayerScale merged. It runs
in a child process (so its peak RSS is its own): torch.set_num_threads(THREADS), inter-op 1,
parameters frozen, canonize() once (srtool folds at load, outside its timing too), class =
argmax of the logits, then 1 warm-up and N timed runs of

    with Gradient(model=model, composite=composite()) as attributor:
        out, rel = attributor(x, lambda o: o * one_hot(target))

(hook registration, forward and modified backward inside the timing). The last input
relevance is saved.

srtool: `SRTOOL explain zoo-<model>.onnx --input X.npy --composite epsilon-plus-flat
--target K --save R.npy --threads THREADS --repeat N` (K = PyTorch's class), timed from its
`timing:` line (its first run is one of the N), peak RSS from /usr/bin/time -f %M (else
os.wait4's rusage). Accuracy: max |srtool - torch| / max |torch| and the Pearson correlation
over all elements.

Usage:
  /work/ref/bin/python Tools/bench/bench_lrp_modern.py [--models efficientnet_b0,convnext_tiny]
      [--runs 5] [--threads 2] [--srtool .build/release/srtool] [--cache /tmp/srtool-bench]
      [--seed 0] [--json results.json]
`--tiny` runs the two fixture models of Fixtures/lrp/gated_* instead (seconds; plumbing).
Exit status 1 if PyTorch or srtool failed (a missing srtool binary is not a failure).
Needs: torch, torchvision, timm (make_zoo_fixtures.py imports it), zennit 0.5.1, onnx,
onnxruntime, numpy.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)
from measure import _time_works, error_line, fmt, log, print_table, run_measured, time_srtool  # noqa: E402

MODELS = ("efficientnet_b0", "convnext_tiny")
TINY = {"efficientnet_b0": "gated_efficientnet", "convnext_tiny": "gated_convnext"}
COMPOSITE = "epsilon-plus-flat"
ZENNIT_VERSION = "0.5.1"
RECIPE = ("torchvision weights=None after torch.manual_seed(seed), make_zoo_fixtures randomize() + "
          "calibrate() at 224x224")


# ---------------------------------------------------------------------------
# Models (the torch weights beside bench_zoo_forward.py's export)
# ---------------------------------------------------------------------------

def build_model(name, seed):
    """The model by the recipe: full size (224x224) or, for a fixture case, tiny."""
    import torch
    import torchvision
    import make_zoo_fixtures as zoo
    torch.manual_seed(seed)
    if name in TINY.values():
        import make_gated_lrp_fixtures as gated
        spec = gated.CASES[name]
        torch.manual_seed(spec["seed"])
        model = getattr(zoo, spec["builder"])()[0]
        zoo.randomize(model, spec["seed"])
        zoo.calibrate(model, spec["seed"], spec["hw"])
        return model
    model = getattr(torchvision.models, name)(weights=None)
    zoo.randomize(model, seed)
    zoo.calibrate(model, seed, (224, 224))
    return model


def ensure_state(name, cache, seed, onnx_path, x_path):
    """lrp-modern-<model>.pt: the torch weights of the export, made once and checked
    against it with onnxruntime."""
    import torch
    path = os.path.join(cache, f"lrp-modern-{name}.pt")
    meta_path = path + ".meta.json"
    want = {"model": name, "seed": seed, "recipe": RECIPE, "onnx": os.path.basename(onnx_path),
            "onnx_bytes": os.path.getsize(onnx_path)}
    if os.path.exists(path) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                if json.load(f) == want:
                    return path
        except (OSError, ValueError):
            pass
    log(f"{name}: building the torch weights ...")
    model = build_model(name, seed).eval()
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    x = np.load(x_path)
    y_ort = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    d = float(np.abs(y - y_ort).max())
    if d > 1e-4 * float(np.abs(y_ort).max()):
        raise SystemExit(f"{name}: the torch model differs from {onnx_path} by {d:.3g}: the export was made "
                         "with other weights; delete it and run again")
    tmp = path + ".tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    with open(meta_path, "w") as f:
        json.dump(want, f, indent=2)
    return path


# ---------------------------------------------------------------------------
# PyTorch worker (a child process: `--torch-worker`)
# ---------------------------------------------------------------------------

def torch_worker(name, state_path, x_path, out_path, seed, threads, runs):
    import torch
    import torch.nn.functional as F
    import torchvision
    from zennit.attribution import Gradient
    import make_gated_lrp_fixtures as gated
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    if state_path == "-":
        model = build_model(name, seed)
    else:
        model = getattr(torchvision.models, name)(weights=None)
        model.load_state_dict(torch.load(state_path))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model = gated.canonize(model)
    x = torch.from_numpy(np.load(x_path))
    with torch.no_grad():
        logits = model(x)
    target = int(logits.argmax(1))
    one_hot = F.one_hot(torch.tensor([target]), logits.shape[1]).to(logits)
    counts = {}

    def once():
        xin = x.clone().requires_grad_(True)
        with Gradient(model=model, composite=gated.composite(counts)) as attributor:
            out, rel = attributor(xin, lambda o: o * one_hot)
        return out, rel

    out, rel = once()                        # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out, rel = once()
        times.append(time.perf_counter() - t0)
    np.save(out_path, rel.detach().numpy().astype(np.float32))
    from importlib.metadata import version
    print(json.dumps({"best": min(times), "median": statistics.median(times), "runs": runs, "target": target,
                      "logit": float(logits[0, target]), "relevance_sum": float(rel.double().sum()),
                      "zplus_fallback_outputs": sum(counts.values()) // (runs + 1),
                      "zennit": version("zennit"), "torch": torch.__version__}))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def compare(got, ref):
    got, ref = got.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    d = float(np.max(np.abs(got - ref)))
    scale = float(np.max(np.abs(ref))) or 1.0
    gs, rs = got - got.mean(), ref - ref.mean()
    den = float(np.sqrt((gs * gs).sum() * (rs * rs).sum()))
    return d, d / scale, (float((gs * rs).sum() / den) if den > 0 else None)


def main():
    ap = argparse.ArgumentParser(description="LRP on EfficientNet-B0 and ConvNeXt-Tiny: srtool vs PyTorch")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of: " + ", ".join(MODELS))
    ap.add_argument("--runs", "--repeat", dest="runs", type=int, default=5, help="timed runs (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="models, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--tiny", action="store_true", help="the Fixtures/lrp/gated_* models instead (plumbing)")
    ap.add_argument("--torch-worker", nargs=4, metavar=("MODEL", "STATE", "X", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.torch_worker:
        torch_worker(*args.torch_worker, args.seed, args.threads, args.runs)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    if args.runs < 1 or args.threads < 1:
        ap.error("--runs and --threads must be >= 1")

    os.makedirs(args.cache, exist_ok=True)
    files = {}
    if args.tiny:
        for m in models:
            d = os.path.join(ROOT, "Fixtures", "lrp", TINY[m])
            files[m] = (TINY[m], os.path.join(d, "model.onnx"), "-", os.path.join(d, "input.npy"))
    else:
        from bench_forward import ensure_input
        from bench_zoo_forward import ensure_model
        x_path = ensure_input(args.cache, args.seed)
        for m in models:
            onnx_path = ensure_model(m, args.cache, args.seed, x_path)
            files[m] = (m, onnx_path, ensure_state(m, args.cache, args.seed, onnx_path, x_path), x_path)

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; PyTorch numbers only")
    load = os.getloadavg()
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; threads {args.threads}, "
        f"{args.runs} timed runs; load average {load[0]:.2f}")
    if load[0] > 0.5:
        log(f"warning: load average {load[0]:.2f} - other processes compete for the CPU")

    results = []
    for m in models:
        name, onnx_path, state, x_path = files[m]
        r = {"model": m if not args.tiny else name, "onnx": onnx_path, "threads": args.threads, "runs": args.runs}
        t_out = os.path.join(args.cache, f"lrp-modern-{name}.torch.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", name, state, x_path, t_out,
               "--seed", str(args.seed), "--threads", str(args.threads), "--runs", str(args.runs)]
        log(f"{r['model']}: PyTorch ...")
        code, out, err, rss = run_measured(cmd, use_time)
        if code != 0:
            log(f"  PyTorch failed (exit {code}): {error_line(err)}")
            r["torch_error"] = f"exit {code}: {error_line(err)}"
            results.append(r)
            continue
        o = json.loads(out.strip().splitlines()[-1])
        if o["zennit"] != ZENNIT_VERSION:
            log(f"  warning: zennit {o['zennit']} (this benchmark expects {ZENNIT_VERSION})")
        r.update(zennit_version=o["zennit"], torch_version=o["torch"], target=o["target"], logit=o["logit"],
                 torch_best_s=o["best"], torch_median_s=o["median"], torch_rss_mb=rss,
                 torch_relevance_sum=o["relevance_sum"], zplus_fallback_outputs=o["zplus_fallback_outputs"])
        log(f"  class {o['target']} (logit {o['logit']:.4g}), best {o['best']:.3f} s, median {o['median']:.3f} s, "
            f"peak RSS {fmt(rss, '.0f')} MB, z+ fallbacks {o['zplus_fallback_outputs']}")

        if have_srtool:
            s_out = os.path.join(args.cache, f"lrp-modern-{name}.srtool.npy")
            if os.path.exists(s_out):
                os.remove(s_out)
            cmd = [srtool, "explain", onnx_path, "--input", x_path, "--composite", COMPOSITE,
                   "--target", str(o["target"]), "--save", s_out, "--threads", str(args.threads),
                   "--repeat", str(args.runs)]
            log(f"{r['model']}: srtool ...")
            code = time_srtool(cmd, use_time, r, r["torch_best_s"])
            if code == 0 and os.path.exists(s_out):
                got, ref = np.load(s_out), np.load(t_out)
                if got.shape != ref.shape:
                    r["srtool_error"] = f"relevance shape {got.shape} != {ref.shape}"
                else:
                    d, rel, corr = compare(got, ref)
                    r.update(max_abs_diff=d, max_rel_diff=rel, correlation=corr,
                             srtool_relevance_sum=float(got.astype(np.float64).sum()))
                    log(f"  max |srtool - torch| = {d:.3g} ({rel:.3g} of max |torch|), correlation "
                        f"{fmt(corr, '.6f')}; relevance sum {r['srtool_relevance_sum']:.4g} vs "
                        f"{r['torch_relevance_sum']:.4g}")
            elif code == 0:
                r["srtool_error"] = f"no relevance written to {s_out}"
        results.append(r)

    hdr = ("model", "torch best s", "torch med s", "srtool best s", "srtool med s", "srtool/torch",
           "torch RSS MB", "srtool RSS MB", "max diff (rel)", "corr")
    rows = [(r["model"], fmt(r.get("torch_best_s"), ".3f"), fmt(r.get("torch_median_s"), ".3f"),
             fmt(r.get("srtool_best_s"), ".3f"), fmt(r.get("srtool_median_s"), ".3f"), fmt(r.get("ratio"), ".2f"),
             fmt(r.get("torch_rss_mb"), ".0f"), fmt(r.get("srtool_rss_mb"), ".0f"),
             fmt(r.get("max_rel_diff"), ".1e"), fmt(r.get("correlation"), ".6f")) for r in results]
    print(f"LRP {COMPOSITE}, batch 1, {args.threads} threads, best/median of {args.runs} runs (PyTorch: zennit "
          f"{next((r['zennit_version'] for r in results if 'zennit_version' in r), '?')} hooks, srtool's rules), "
          f"load average at start {load[0]:.2f}; target srtool/torch <= 0.5")
    print_table(hdr, rows, left=1)
    for r in results:
        if "srtool_error" in r:
            print(f"{r['model']}: srtool: {r['srtool_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.runs, "seed": args.seed, "load_average": load[0],
                       "results": results}, f, indent=2)
    return 1 if any("torch_best_s" not in r or "srtool_error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
