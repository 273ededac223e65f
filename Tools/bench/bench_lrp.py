#!/usr/bin/env python3
"""LRP benchmark: srtool vs zennit 0.5.1 on VGG-16 (and optionally ResNet-50).

Same model, same weights, same input, same class, one run; reports the ratio and how far
the two input relevances are apart.

Models come from torchvision with random weights (weights=None, fixed seed, eval mode),
exported once to ONNX (opset 13, dynamo=False, batch 1, input `input` [1,3,224,224]
float32, output `logits`) into a cache folder (default /tmp/srtool-bench, never the repo)
as `<model>.logits.onnx` (bench_forward.py's `<model>.onnx` names its output `output`).
The input (`lrp_input_224_seed<S>.npy`) is a smooth random image in [0,1] (coarse noise,
bicubic-upsampled, plus a little fine noise), ImageNet mean/std normalised, as in
Tools/make_lrp_fixtures.py. Exports and the input are reused when present and made with
the same seed / opset; the export's meta file records a hash of the weights, and every
zennit worker rebuilds the model from the seed and refuses to run if the hash differs.

Composites (srtool name -> zennit class, zennit defaults: epsilon = stabilizer = 1e-6,
gamma 0.25, alpha 2 / beta 1):
    epsilon-plus-flat     EpsilonPlusFlat
    epsilon-gamma-box     EpsilonGammaBox(low, high) with the ImageNet box per channel,
                          low_c = (0 - mean_c)/std_c, high_c = (1 - mean_c)/std_c; srtool
                          gets the same numbers as --low/--high
    epsilon-alpha2-beta1  EpsilonAlpha2Beta1
Canonizers: zennit.torchvision.VGGCanonizer (vgg16), ResNetCanonizer (resnet50).

For each model and composite:
  * zennit runs in a child process of this script (one per composite, so that its peak
    RSS is that composite's): torch.set_num_threads(THREADS), build the model, class =
    argmax of the plain model's logits, then 1 warm-up and N timed runs of
        with Gradient(model=model, composite=composite) as attributor:
            out, rel = attributor(x, lambda o: o * one_hot(target))
    (hook registration, canonizer, forward and modified backward all inside the timing,
    as in Tools/make_lrp_fixtures.py). The last run's input relevance is saved.
  * srtool runs as `SRTOOL explain MODEL --input X.npy --method lrp --composite NAME
    [--low=a,b,c --high=a,b,c] --target K --save R.npy --threads THREADS --repeat N`
    (K = zennit's class; srtool also does one untimed run first) and must print on stderr
      timing: load 0.512 s, explain best 0.3012 s, median 0.3104 s (3 runs)
  * Peak RSS of each child is measured with `/usr/bin/time -f %M` when available,
    else with os.wait4's rusage for that child.
  * srtool's relevance is compared with zennit's: max |diff| / max |zennit| and the
    Pearson correlation over all elements.
If the srtool binary does not exist or exits non-zero, only zennit's numbers are printed.

Usage:
  python3 Tools/bench/bench_lrp.py [--models vgg16,resnet50] [--repeat 3]
      [--composites epsilon-plus-flat,...] [--threads 2] [--srtool .build/release/srtool]
      [--cache /tmp/srtool-bench] [--json results.json]
Needs: torch, torchvision, zennit 0.5.1, numpy (onnx is not needed: torch exports).
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import _time_works, error_line, fmt, log, print_table, run_measured, time_srtool  # noqa: E402

MODELS = ("vgg16", "resnet50")
COMPOSITES = ("epsilon-plus-flat", "epsilon-gamma-box", "epsilon-alpha2-beta1")
OPSET = 13
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ZENNIT_VERSION = "0.5.1"



def imagenet_box():
    """(low, high) per channel: what pixel values 0 and 1 become after normalisation."""
    low = [(0.0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    high = [(1.0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    return low, high


def csv_floats(values):
    # float32 round trip, 9 significant digits: srtool parses exactly what zennit uses
    return ",".join(format(float(np.float32(v)), ".9g") for v in values)


# ---------------------------------------------------------------------------
# Models (built in the parent to export, and again in every zennit worker)
# ---------------------------------------------------------------------------

def input_size(name):
    return 32 if name == "tiny" else 224


def build_model(name, seed):
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    if name == "tiny":  # hidden --tiny: a stand-in that finishes in seconds
        model = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 16 * 16, 10))
    else:
        import torchvision
        model = getattr(torchvision.models, name)(weights=None)
    return model.eval()


def canonizers(name):
    if name == "vgg16":
        from zennit.torchvision import VGGCanonizer
        return [VGGCanonizer()]
    if name == "resnet50":
        from zennit.torchvision import ResNetCanonizer
        return [ResNetCanonizer()]
    return []


def weights_hash(model):
    h = hashlib.blake2b(digest_size=16)
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().data)
    return h.hexdigest()


def make_composite(cname, model_name):
    import torch
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat
    can = canonizers(model_name)
    if cname == "epsilon-plus-flat":
        return EpsilonPlusFlat(canonizers=can)
    if cname == "epsilon-gamma-box":
        low, high = imagenet_box()
        low = torch.tensor(low, dtype=torch.float32).view(1, 3, 1, 1)
        high = torch.tensor(high, dtype=torch.float32).view(1, 3, 1, 1)
        return EpsilonGammaBox(low=low, high=high, canonizers=can)
    if cname == "epsilon-alpha2-beta1":
        return EpsilonAlpha2Beta1(canonizers=can)
    raise ValueError(f"unknown composite {cname}")


# ---------------------------------------------------------------------------
# Cache: models and input
# ---------------------------------------------------------------------------

def ensure_model(name, cache, seed):
    path = os.path.join(cache, f"{name}.logits.onnx")
    meta_path = os.path.join(cache, f"{name}.logits.meta.json")
    want = {"model": name, "seed": seed, "opset": OPSET, "weights": "random (weights=None)",
            "input": "input", "output": "logits"}
    if os.path.exists(path) and os.path.exists(meta_path):
        try:
            with open(meta_path) as f:
                have = json.load(f)
            if all(have.get(k) == v for k, v in want.items()) and have.get("weights_hash"):
                return path, have["weights_hash"]
        except (OSError, ValueError):
            pass
    import torch
    import torchvision
    log(f"exporting {name} to {path} ...")
    t0 = time.time()
    model = build_model(name, seed)
    s = input_size(name)
    tmp = path + ".tmp"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based export"
        torch.onnx.export(model, (torch.zeros(1, 3, s, s),), tmp, dynamo=False,
                          opset_version=OPSET, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)
    os.replace(tmp, path)
    want.update(torch=torch.__version__, torchvision=torchvision.__version__,
                bytes=os.path.getsize(path), weights_hash=weights_hash(model))
    with open(meta_path, "w") as f:
        json.dump(want, f, indent=2)
    log(f"  {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t0:.0f} s")
    return path, want["weights_hash"]


def ensure_input(cache, seed, size):
    path = os.path.join(cache, f"lrp_input_{size}_seed{seed}.npy")
    if not os.path.exists(path):
        import torch
        import torch.nn.functional as F
        gen = torch.Generator().manual_seed(seed)
        coarse = torch.rand(1, 3, size // 32 + 2, size // 32 + 2, generator=gen)
        img = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
        img = (img + 0.05 * torch.randn(1, 3, size, size, generator=gen)).clamp(0, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = ((img - mean) / std).float().numpy()
        tmp = path + ".tmp.npy"
        np.save(tmp, x)
        os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------
# Child processes with peak RSS
# ---------------------------------------------------------------------------



def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""



# ---------------------------------------------------------------------------
# zennit worker (runs in a child process: `--zennit-worker`)
# ---------------------------------------------------------------------------

def zennit_worker(model_name, cname, x_path, out_path, want_hash, seed, threads, repeat, double=False):
    import torch
    import torch.nn.functional as F
    from zennit.attribution import Gradient
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    model = build_model(model_name, seed)
    for p in model.parameters():
        p.requires_grad_(False)
    have = weights_hash(model)
    if have != want_hash:
        raise SystemExit(f"weights differ from the ONNX export's (hash {have} != {want_hash}); "
                         "delete the cache or use the torch/torchvision that made it")
    x = torch.from_numpy(np.load(x_path))
    if double:  # --float64: the reference, one run, nothing timed
        model, x, repeat = model.double(), x.double(), 0
    with torch.no_grad():
        logits = model(x)
    target = int(logits.argmax(1))
    one_hot = F.one_hot(torch.tensor([target]), logits.shape[1]).to(logits)
    composite = make_composite(cname, model_name)

    def once():
        xin = x.clone().requires_grad_(True)
        with Gradient(model=model, composite=composite) as attributor:
            # zennit 0.5.1's MergeBatchNorm folds each batch norm into its conv and resets it
            # to mean 0, variance 1, but keeps its eps: the canonized model divides by
            # √(1 + ε) at every batch norm (ResNet-50's logit 1.3e-4 low, and LRP starts from
            # it). With eps 0 while merged the batch norms are the identity, as in the ONNX
            # export srtool reads; restored before the canonizer puts the originals back.
            merged = [(m, m.eps) for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            for m, _ in merged:
                m.eps = 0.0
            try:
                out, rel = attributor(xin, lambda o: o * one_hot)
            finally:
                for m, eps in merged:
                    m.eps = eps
        return out, rel

    out, rel = once()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out, rel = once()
        times.append(time.perf_counter() - t0)
    np.save(out_path, rel.detach().numpy().astype(np.float64 if double else np.float32))
    try:
        from importlib.metadata import version
        zv = version("zennit")
    except Exception:  # pragma: no cover
        zv = "unknown"
    print(json.dumps({"best": min(times) if times else None,
                      "median": statistics.median(times) if times else None, "runs": repeat,
                      "target": target, "logit": float(logits[0, target]),
                      "start": float(out.detach()[0, target]),
                      "relevance_sum": float(rel.double().sum()),
                      "zennit": zv, "torch": torch.__version__}))


def float64_reference(r, m, c, x_path, whash, z32_path, s_path, z64_path, args, use_time):
    """zennit in float64 (a child, one untimed run): how far each float32 result is from it."""
    cmd = [sys.executable, os.path.abspath(__file__), "--zennit-worker", m, c, x_path, z64_path, whash,
           "--seed", str(args.seed), "--threads", str(args.threads), "--double"]
    log(f"{m} {c}: zennit float64 ...")
    code, out, err, _ = run_measured(cmd, use_time)
    if code != 0:
        log(f"  zennit float64 failed (exit {code}): {error_line(err)}")
        return
    ref = np.load(z64_path)
    _, rel, corr = compare(np.load(z32_path), ref)
    r["zennit_f32_vs_f64"] = (rel, corr)
    log(f"  zennit float32 vs float64: {rel:.2e} of max |R64|, correlation {corr:.6f}")
    if os.path.exists(s_path):
        _, rel, corr = compare(np.load(s_path), ref)
        r["srtool_vs_f64"] = (rel, corr)
        log(f"  srtool float32 vs float64: {rel:.2e} of max |R64|, correlation {corr:.6f}")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def compare(got, ref):
    got = got.astype(np.float64).ravel()
    ref = ref.astype(np.float64).ravel()
    d = float(np.max(np.abs(got - ref)))
    scale = float(np.max(np.abs(ref))) or 1.0
    gs, rs = got - got.mean(), ref - ref.mean()
    den = float(np.sqrt((gs * gs).sum() * (rs * rs).sum()))
    corr = float((gs * rs).sum() / den) if den > 0 else None
    return d, d / scale, corr


def main():
    ap = argparse.ArgumentParser(description="srtool vs zennit LRP benchmark")
    ap.add_argument("--models", default="vgg16",
                    help="comma-separated subset of: " + ", ".join(MODELS) + " (default vgg16)")
    ap.add_argument("--composites", default=",".join(COMPOSITES),
                    help="comma-separated subset of: " + ", ".join(COMPOSITES))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="models, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--float64", action="store_true",
                    help="also run zennit in float64 and report how far zennit's and srtool's "
                         "float32 relevances are from it")
    ap.add_argument("--zennit-worker", nargs=5, metavar=("MODEL", "COMPOSITE", "X", "OUT", "HASH"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--double", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.zennit_worker:
        zennit_worker(*args.zennit_worker, args.seed, args.threads, args.repeat, double=args.double)
        return 0

    models = ["tiny"] if args.tiny else [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS + ("tiny",)]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    comps = [c.strip() for c in args.composites.split(",") if c.strip()]
    bad = [c for c in comps if c not in COMPOSITES]
    if bad or not comps:
        ap.error(f"unknown composite(s) {bad}; choose from {', '.join(COMPOSITES)}")
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")

    os.makedirs(args.cache, exist_ok=True)
    exports = {m: ensure_model(m, args.cache, args.seed) for m in models}
    inputs = {m: ensure_input(args.cache, args.seed, input_size(m)) for m in models}

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; zennit numbers only")
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; "
        f"threads {args.threads}, {args.repeat} timed runs after 1 warm-up")
    load = os.getloadavg()
    if load[0] > 0.5:
        log(f"warning: load average {load[0]:.2f} - other processes compete for the CPU; with "
            f"--threads > 1 the timings (zennit's OpenMP barriers especially) can be many "
            f"times too slow")
    low, high = imagenet_box()

    results = []
    for m in models:
        onnx_path, whash = exports[m]
        x_path = inputs[m]
        for c in comps:
            r = {"model": m, "composite": c, "onnx": onnx_path, "threads": args.threads,
                 "runs": args.repeat}
            z_out = os.path.join(args.cache, f"{m}.{c}.zennit.npy")
            cmd = [sys.executable, os.path.abspath(__file__), "--zennit-worker", m, c, x_path,
                   z_out, whash, "--seed", str(args.seed), "--threads", str(args.threads),
                   "--repeat", str(args.repeat)]
            log(f"{m} {c}: zennit ...")
            code, out, err, rss = run_measured(cmd, use_time)
            if code != 0:
                log(f"  zennit failed (exit {code}): {error_line(err)}")
                r["zennit_error"] = f"exit {code}: {error_line(err)}"
                results.append(r)
                continue
            o = json.loads(last_line(out))
            if o["zennit"] != ZENNIT_VERSION:
                log(f"  warning: zennit {o['zennit']} (this benchmark expects {ZENNIT_VERSION})")
            r.update(zennit_version=o["zennit"], torch_version=o["torch"], target=o["target"],
                     logit=o["logit"], zennit_best_s=o["best"], zennit_median_s=o["median"],
                     zennit_rss_mb=rss, zennit_relevance_sum=o["relevance_sum"])
            log(f"  class {o['target']} (logit {o['logit']:.4g}), best {o['best']:.3f} s, "
                f"median {o['median']:.3f} s, peak RSS {fmt(rss, '.0f')} MB")

            if have_srtool:
                s_out = os.path.join(args.cache, f"{m}.{c}.srtool.npy")
                if os.path.exists(s_out):
                    os.remove(s_out)
                cmd = [srtool, "explain", onnx_path, "--input", x_path, "--method", "lrp",
                       "--composite", c]
                if c == "epsilon-gamma-box":  # `=`: the values start with '-'
                    cmd += [f"--low={csv_floats(low)}", f"--high={csv_floats(high)}"]
                cmd += ["--target", str(o["target"]), "--save", s_out,
                        "--threads", str(args.threads), "--repeat", str(args.repeat)]
                log(f"{m} {c}: srtool ...")
                code = time_srtool(cmd, use_time, r, r.get("zennit_best_s"))
                if code == 0 and os.path.exists(s_out):
                    ref = np.load(z_out)
                    got = np.load(s_out)
                    if got.shape != ref.shape:
                        r["srtool_error"] = f"relevance shape {got.shape} != {ref.shape}"
                        log(f"  {r['srtool_error']}")
                    else:
                        d, rel, corr = compare(got, ref)
                        r.update(max_abs_diff=d, max_rel_diff=rel, correlation=corr,
                                 srtool_relevance_sum=float(got.astype(np.float64).sum()))
                        log(f"  max |srtool - zennit| = {d:.3g} ({rel:.3g} of max |zennit|), "
                            f"correlation {fmt(corr, '.6f')}; relevance sum "
                            f"{r['srtool_relevance_sum']:.4g} vs {r['zennit_relevance_sum']:.4g}")
                elif code == 0:
                    r["srtool_error"] = f"no relevance written to {s_out}"
                    log(f"  {r['srtool_error']}")
            if args.float64:
                float64_reference(r, m, c, x_path, whash, z_out, os.path.join(args.cache, f"{m}.{c}.srtool.npy"),
                                  os.path.join(args.cache, f"{m}.{c}.zennit64.npy"), args, use_time)
            results.append(r)

    if args.float64:
        print("float32 against zennit in float64 (max |diff| / max |R64|, correlation):")
        for r in results:
            if "zennit_f32_vs_f64" in r:
                z, zc = r["zennit_f32_vs_f64"]
                sv = r.get("srtool_vs_f64")
                print(f"  {r['model']} {r['composite']}: zennit float32 {z:.2e} ({zc:.6f})"
                      + (f", srtool {sv[0]:.2e} ({sv[1]:.6f})" if sv else ""))
    hdr = ("model", "composite", "zennit best s", "zennit med s", "srtool best s",
           "srtool med s", "srtool/zennit", "zennit RSS MB", "srtool RSS MB",
           "max diff (rel)", "corr")
    rows = []
    for r in results:
        rows.append((r["model"], r["composite"], fmt(r.get("zennit_best_s"), ".3f"),
                     fmt(r.get("zennit_median_s"), ".3f"), fmt(r.get("srtool_best_s"), ".3f"),
                     fmt(r.get("srtool_median_s"), ".3f"), fmt(r.get("ratio"), ".2f"),
                     fmt(r.get("zennit_rss_mb"), ".0f"), fmt(r.get("srtool_rss_mb"), ".0f"),
                     fmt(r.get("max_rel_diff"), ".1e"), fmt(r.get("correlation"), ".6f")))
    print(f"LRP, batch 1, {args.threads} threads, best/median of {args.repeat} runs "
          f"(zennit {next((r['zennit_version'] for r in results if 'zennit_version' in r), '?')}), "
          f"load average at start {load[0]:.2f}")
    print_table(hdr, rows, left=2)
    for r in results:
        if "srtool_error" in r:
            print(f"{r['model']} {r['composite']}: srtool: {r['srtool_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.repeat, "seed": args.seed,
                       "load_average": load[0], "results": results}, f, indent=2)
    failed = any("zennit_best_s" not in r or "srtool_error" in r for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
