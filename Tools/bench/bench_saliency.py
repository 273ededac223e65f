#!/usr/bin/env python3
"""Saliency benchmark: srtool vs Captum 0.9.0 and pytorch-grad-cam 1.5.7 on VGG-16.

Same model, same weights, same input, same class, one run; reports the ratio and how far
the maps are apart.

Model, weights and input are bench_lrp.py's, made by its helpers (imported from it): the
torchvision vgg16 with random weights (weights=None, fixed seed, eval mode) exported to
`<cache>/vgg16.logits.onnx` (input `input`, output `logits`) and the smooth random image
`<cache>/lrp_input_224_seed<S>.npy` (default cache /tmp/srtool-bench, never the repo). A
run of either script reuses the other's files. Every peer worker rebuilds the model from
the seed and refuses to run if the weights' hash differs from the export's.

Methods (srtool --method -> peer):
    gradient  captum.attr.Saliency(model).attribute(x, target=K)         (abs=True default)
    guided    captum.attr.GuidedBackprop(model).attribute(x, target=K)
    gradcam   pytorch_grad_cam.GradCAM(model, target_layers=[L])(
                  input_tensor=x, targets=[ClassifierOutputTarget(K)])
              L = the last nn.Conv2d (model.features[28] for VGG-16)

For each method:
  * the peer runs in a child process of this script (one per method, so that its peak
    RSS is that method's): torch.set_num_threads(THREADS), build the model, set
    `inplace=False` on every nn.ReLU (see below), freeze the parameters (no weight
    gradients: srtool computes none), class K = argmax of the plain model's logits,
    build the attribution object once, then 1 warm-up and N timed calls, each on a fresh
    `x.clone().requires_grad_(True)` (forward, backward and - for Grad-CAM - the
    min-max scaling and cv2 resize inside the timing). The last call's map is saved.
  * srtool runs as `SRTOOL explain MODEL --input X.npy --method M --target K
    --save OUT.npy --threads THREADS --repeat N` (gradcam adds `--layer T`, T = the
    output tensor of the ONNX graph's last Conv node, read with the onnx package) and
    must print on stderr
      timing: load 0.512 s, explain best 0.3012 s, median 0.3104 s (3 runs)
  * Peak RSS of each child is measured with `/usr/bin/time -f %M` when available,
    else with os.wait4's rusage for that child.
  * Accuracy: max |diff| / max |peer| and the Pearson correlation over all elements of
      gradient  |srtool's raw gradient| vs Saliency's |gradient|
      guided    srtool vs GuidedBackprop, raw
      gradcam   srtool saves the layer map [1,1,h,w] after the ReLU: the max diff is
                against captum.attr.LayerGradCam(model, L).attribute(x, K,
                relu_attributions=True) (the same map, computed once in its own untimed
                child); the correlation is of
                relu(srtool) min-max scaled and bilinearly upsampled (torch interpolate,
                align_corners=False) against pytorch-grad-cam's output, which is resized
                with cv2 - so only the correlation is meaningful there.
In-place ReLUs: torchvision's VGG uses nn.ReLU(inplace=True) after every conv.
pytorch-grad-cam keeps a detached alias of the hooked conv output, which the in-place ReLU
then overwrites, so its Grad-CAM would weight the post-ReLU activations (up to 0.26 off
on its [0,1] scale for this model); Captum's results are the same either way. All peers
therefore run with inplace=False (same weights, same logits).
If the srtool binary does not exist or exits non-zero, only the peers' numbers are printed.

Usage:
  python3 Tools/bench/bench_saliency.py [--methods gradient,guided,gradcam] [--repeat 3]
      [--threads 2] [--srtool .build/release/srtool] [--cache /tmp/srtool-bench]
      [--json results.json]
Needs: torch, torchvision, captum 0.9.0, grad-cam 1.5.7, numpy, onnx (for the layer name).
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
from bench_lrp import (_time_works, build_model, compare, ensure_input,  # noqa: E402
                       ensure_model, error_line, fmt, input_size, last_line, log,
                       run_measured, weights_hash)
from measure import time_srtool  # noqa: E402

METHODS = ("gradient", "guided", "gradcam")
PEERS = {"gradient": "captum Saliency", "guided": "captum GuidedBackprop",
         "gradcam": "pytorch-grad-cam GradCAM"}
PACKAGES = {"gradient": "captum", "guided": "captum", "gradcam": "grad-cam"}
VERSIONS = {"captum": "0.9.0", "grad-cam": "1.5.7"}


def package_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "unknown"


def last_conv(model):
    import torch.nn as nn
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1]


def onnx_last_conv_output(path):
    """The output tensor of the last Conv node of the ONNX graph (Grad-CAM's layer)."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    return convs[-1].output[0] if convs else None


# ---------------------------------------------------------------------------
# Peer worker (runs in a child process: `--peer-worker`)
# ---------------------------------------------------------------------------

def peer_worker(model_name, method, x_path, out_path, want_hash, seed, threads, repeat):
    """method: gradient, guided, gradcam (timed), or layergradcam (Captum's raw
    Grad-CAM map, computed once, untimed)."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    model = build_model(model_name, seed)
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    for p in model.parameters():
        p.requires_grad_(False)
    have = weights_hash(model)
    if have != want_hash:
        raise SystemExit(f"weights differ from the ONNX export's (hash {have} != {want_hash}); "
                         "delete the cache or use the torch/torchvision that made it")
    x = torch.from_numpy(np.load(x_path))
    with torch.no_grad():
        logits = model(x)
    target = int(logits.argmax(1))
    layer = last_conv(model)
    if model_name == "vgg16" and layer is not model.features[28]:
        raise SystemExit("the last Conv2d of VGG-16 is not features[28]")

    def fresh():
        return x.clone().requires_grad_(True)

    if method == "layergradcam":
        from captum.attr import LayerGradCam
        cam = LayerGradCam(model, layer).attribute(fresh(), target=target, relu_attributions=True)
        np.save(out_path, cam.detach().numpy().astype(np.float32))
        print(json.dumps({"target": target, "captum": package_version("captum")}))
        return
    if method in ("gradient", "guided"):
        from captum.attr import GuidedBackprop, Saliency
        warnings.filterwarnings("ignore", "Setting backward hooks on ReLU", UserWarning)
        attr = Saliency(model) if method == "gradient" else GuidedBackprop(model)

        def once():
            return attr.attribute(fresh(), target=target).detach().numpy()
    elif method == "gradcam":
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        cam = GradCAM(model, target_layers=[layer])
        targets = [ClassifierOutputTarget(target)]

        def once():
            return cam(input_tensor=fresh(), targets=targets)
    else:
        raise SystemExit(f"unknown method {method}")

    out = once()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = once()
        times.append(time.perf_counter() - t0)
    np.save(out_path, np.asarray(out, dtype=np.float32))
    package = PACKAGES[method]
    print(json.dumps({"best": min(times), "median": statistics.median(times), "runs": repeat,
                      "target": target, "logit": float(logits[0, target]),
                      "package": package, "version": package_version(package),
                      "shape": list(np.shape(out)), "torch": torch.__version__}))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def upsampled_cam(raw, size):
    """relu(raw [1,1,h,w]), min-max scaled as pytorch-grad-cam does, bilinearly resized
    to size (torch interpolate, align_corners=False): [1, H, W]."""
    import torch
    import torch.nn.functional as F
    cam = np.maximum(raw.astype(np.float32), 0)
    cam = cam - cam.min()
    cam = cam / (1e-7 + cam.max())
    up = F.interpolate(torch.from_numpy(cam), size=size, mode="bilinear", align_corners=False)
    return up[:, 0].numpy()


def main():
    ap = argparse.ArgumentParser(description="srtool vs Captum / pytorch-grad-cam saliency benchmark")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for all (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="model, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer-worker", nargs=5, metavar=("MODEL", "METHOD", "X", "OUT", "HASH"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.peer_worker:
        peer_worker(*args.peer_worker, args.seed, args.threads, args.repeat)
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        ap.error(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")

    model = "tiny" if args.tiny else "vgg16"
    os.makedirs(args.cache, exist_ok=True)
    onnx_path, whash = ensure_model(model, args.cache, args.seed)
    x_path = ensure_input(args.cache, args.seed, input_size(model))
    size = (input_size(model), input_size(model))

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; peer numbers only")
    layer_name = None
    if have_srtool and "gradcam" in methods:
        try:
            layer_name = onnx_last_conv_output(onnx_path)
        except ImportError:
            log("note: no onnx package; srtool's Grad-CAM runs without --layer (its default "
                "is the last convolution too)")
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; "
        f"threads {args.threads}, {args.repeat} timed runs after 1 warm-up")
    load = os.getloadavg()
    if load[0] > 0.5:
        log(f"warning: load average {load[0]:.2f} - other processes compete for the CPU; with "
            f"--threads > 1 the timings (PyTorch's OpenMP barriers especially) can be many "
            f"times too slow")

    def worker_cmd(what, out):
        return [sys.executable, os.path.abspath(__file__), "--peer-worker", model, what, x_path,
                out, whash, "--seed", str(args.seed), "--threads", str(args.threads),
                "--repeat", str(args.repeat)]

    results = []
    for m in methods:
        r = {"model": model, "method": m, "peer": PEERS[m], "onnx": onnx_path,
             "threads": args.threads, "runs": args.repeat}
        p_out = os.path.join(args.cache, f"{model}.{m}.peer.npy")
        log(f"{model} {m}: {PEERS[m]} ...")
        code, out, err, rss = run_measured(worker_cmd(m, p_out), use_time)
        if code != 0:
            log(f"  {PEERS[m]} failed (exit {code}): {error_line(err)}")
            r["peer_error"] = f"exit {code}: {error_line(err)}"
            results.append(r)
            continue
        o = json.loads(last_line(out))
        want = VERSIONS[o["package"]]
        if o["version"] != want:
            log(f"  warning: {o['package']} {o['version']} (this benchmark expects {want})")
        r.update(peer_package=o["package"], peer_version=o["version"], torch_version=o["torch"],
                 target=o["target"], logit=o["logit"], peer_best_s=o["best"],
                 peer_median_s=o["median"], peer_rss_mb=rss)
        log(f"  class {o['target']} (logit {o['logit']:.4g}), best {o['best']:.3f} s, "
            f"median {o['median']:.3f} s, peak RSS {fmt(rss, '.0f')} MB")

        if have_srtool:
            s_out = os.path.join(args.cache, f"{model}.{m}.srtool.npy")
            if os.path.exists(s_out):
                os.remove(s_out)
            cmd = [srtool, "explain", onnx_path, "--input", x_path, "--method", m,
                   "--target", str(o["target"]), "--save", s_out,
                   "--threads", str(args.threads), "--repeat", str(args.repeat)]
            if m == "gradcam" and layer_name:
                cmd += ["--layer", layer_name]
                r["layer"] = layer_name
            log(f"{model} {m}: srtool ...")
            code = time_srtool(cmd, use_time, r, r.get("peer_best_s"))
            if code == 0 and os.path.exists(s_out):
                got = np.load(s_out)
                ref = np.load(p_out)
                if m == "gradcam":
                    accuracy_gradcam(r, got, ref, size, worker_cmd, args.cache, model)
                elif got.shape != ref.shape:
                    r["srtool_error"] = f"map shape {got.shape} != {ref.shape}"
                    log(f"  {r['srtool_error']}")
                else:
                    d, rel, corr = compare(np.abs(got) if m == "gradient" else got, ref)
                    r.update(max_abs_diff=d, max_rel_diff=rel, correlation=corr)
                    log(f"  max |{'|srtool|' if m == 'gradient' else 'srtool'} - peer| = {d:.3g} "
                        f"({rel:.3g} of max |peer|), correlation {fmt(corr, '.6f')}")
            elif code == 0:
                r["srtool_error"] = f"no map written to {s_out}"
                log(f"  {r['srtool_error']}")
        results.append(r)

    hdr = ("method", "peer", "peer best s", "peer med s", "srtool best s", "srtool med s",
           "srtool/peer", "peer RSS MB", "srtool RSS MB", "max diff (rel)", "corr")
    rows = []
    for r in results:
        rows.append((r["method"], r["peer"], fmt(r.get("peer_best_s"), ".3f"),
                     fmt(r.get("peer_median_s"), ".3f"), fmt(r.get("srtool_best_s"), ".3f"),
                     fmt(r.get("srtool_median_s"), ".3f"), fmt(r.get("ratio"), ".2f"),
                     fmt(r.get("peer_rss_mb"), ".0f"), fmt(r.get("srtool_rss_mb"), ".0f"),
                     fmt(r.get("max_rel_diff"), ".1e"), fmt(r.get("correlation"), ".6f")))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    versions = sorted({f"{r['peer_package']} {r['peer_version']}" for r in results
                       if "peer_version" in r})
    print(f"Saliency, {model}, batch 1, {args.threads} threads, best/median of {args.repeat} "
          f"runs ({', '.join(versions) or 'no peer ran'}), load average at start {load[0]:.2f}")
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    if any(r["method"] == "gradcam" for r in results):
        print("gradcam: max diff = layer map vs Captum LayerGradCam (ReLU'd); corr = upsampled map vs "
              "pytorch-grad-cam's (cv2 resize)")
    for r in results:
        if "peer_error" in r:
            print(f"{r['method']}: {r['peer']}: {r['peer_error']}")
        if "srtool_error" in r:
            print(f"{r['method']}: srtool: {r['srtool_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model, "threads": args.threads, "runs": args.repeat,
                       "seed": args.seed, "load_average": load[0], "results": results}, f, indent=2)
    failed = any("peer_best_s" not in r or "srtool_error" in r for r in results)
    return 1 if failed else 0


def accuracy_gradcam(r, got, ref, size, worker_cmd, cache, model):
    """Fills r with the Grad-CAM comparisons (see the module docstring)."""
    if got.ndim != 4 or got.shape[:2] != (1, 1):
        r["srtool_error"] = f"Grad-CAM map shape {got.shape}, expected [1, 1, h, w]"
        log(f"  {r['srtool_error']}")
        return
    up = upsampled_cam(got, size)
    if up.shape != ref.shape:
        r["srtool_error"] = f"upsampled map shape {up.shape} != pytorch-grad-cam's {ref.shape}"
        log(f"  {r['srtool_error']}")
        return
    _, _, corr = compare(up, ref)
    r["correlation"] = corr
    if not np.any(ref):
        log("  note: pytorch-grad-cam's map is all zero (no positive Grad-CAM evidence)")
    log(f"  correlation with pytorch-grad-cam's map {fmt(corr, '.6f')}")
    c_out = os.path.join(cache, f"{model}.gradcam.layergradcam.npy")
    code, out, err, _ = run_measured(worker_cmd("layergradcam", c_out), False)
    if code != 0:
        log(f"  Captum LayerGradCam failed (exit {code}): {error_line(err)}; no max diff")
        r["layergradcam_error"] = f"exit {code}: {error_line(err)}"
        return
    o = json.loads(last_line(out))
    lgc = np.load(c_out)
    if o["target"] != r["target"] or lgc.shape != got.shape:
        r["layergradcam_error"] = f"class {o['target']} / shape {lgc.shape} do not match"
        log(f"  Captum LayerGradCam: {r['layergradcam_error']}")
        return
    d, rel, c2 = compare(got, lgc)
    r.update(max_abs_diff=d, max_rel_diff=rel, layergradcam_correlation=c2,
             layergradcam_captum=o["captum"])
    log(f"  layer map vs Captum LayerGradCam: max |diff| = {d:.3g} ({rel:.3g} of max |Captum|), "
        f"correlation {fmt(c2, '.6f')}")


if __name__ == "__main__":
    sys.exit(main())
