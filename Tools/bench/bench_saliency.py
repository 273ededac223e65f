#!/usr/bin/env python3
"""Saliency benchmark: srtool vs Captum 0.9.0 and pytorch-grad-cam 1.5.7 on VGG-16,
ResNet-50, DenseNet-121 and EfficientNet-B0.

Same model, same weights, same input, same class, one run; reports the ratio and how far
the maps are apart.

Models (--models, default vgg16):
  vgg16     bench_lrp.py's, made by its helpers (imported from it): the torchvision vgg16
            with random weights (weights=None, fixed seed, eval mode) exported to
            `<cache>/vgg16.logits.onnx` (input `input`, output `logits`). Every peer worker
            rebuilds the model from the seed and refuses to run if the weights' hash
            differs from the export's.
  resnet50, densenet121, efficientnet_b0, mobilenet_v2
            bench_zoo_forward.py's export `<cache>/zoo-<model>.onnx` (seeded weights,
            batch-norm statistics from seeded batches, opset 17) and bench_lrp_modern.py's
            torch weights of that export, `<cache>/lrp-modern-<model>.pt` (checked against
            the export with onnxruntime when made); the peer loads those.
The input of every model is bench_lrp.py's smooth random image
`<cache>/lrp_input_224_seed<S>.npy` (default cache /tmp/srtool-bench, never the repo). A
run of any of these scripts reuses the others' files.
Methods per model: VGG-16 all three; ResNet-50 gradient and guided; DenseNet-121 and
EfficientNet-B0 gradient only (DenseNet's last ReLU is torch.nn.functional.relu, which
Captum's GuidedBackprop cannot hook, and EfficientNet has SiLUs, for which guided backprop
is not defined). Ask for a method a model does not have and it is left out with a note.

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
  python3 Tools/bench/bench_saliency.py [--models vgg16,resnet50,densenet121,efficientnet_b0,mobilenet_v2]
      [--methods gradient,guided,gradcam] [--repeat 3]
      [--threads 2] [--srtool .build/release/srtool] [--cache /tmp/srtool-bench]
      [--json results.json] [--float64]
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
MODELS = {"vgg16": METHODS, "resnet50": ("gradient", "guided"), "densenet121": ("gradient",),
          "efficientnet_b0": ("gradient",), "mobilenet_v2": ("gradient",)}
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

def peer_worker(model_name, method, x_path, out_path, weights, seed, threads, repeat):
    """method: gradient, guided, gradcam (timed), or, computed once and untimed,
    layergradcam (Captum's raw Grad-CAM map) or gradient64 / guided64 (Captum's map with
    the model and input in float64: --float64's reference). weights: the export's weights
    hash (vgg16, tiny: the model is rebuilt from the seed) or the path of the zoo model's
    state dict."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    if model_name in ("vgg16", "tiny"):
        model = build_model(model_name, seed)
        have = weights_hash(model)
        if have != weights:
            raise SystemExit(f"weights differ from the ONNX export's (hash {have} != {weights}); "
                             "delete the cache or use the torch/torchvision that made it")
    else:
        import torchvision
        model = getattr(torchvision.models, model_name)(weights=None)
        model.load_state_dict(torch.load(weights))
        model.eval()
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.from_numpy(np.load(x_path))
    with torch.no_grad():
        logits = model(x)
    target = int(logits.argmax(1))
    layer = last_conv(model)
    if model_name == "vgg16" and layer is not model.features[28]:
        raise SystemExit("the last Conv2d of VGG-16 is not features[28]")

    def fresh():
        return x.clone().requires_grad_(True)

    def captum_attribution(method, model):
        from captum.attr import GuidedBackprop, Saliency
        warnings.filterwarnings("ignore", "Setting backward hooks on ReLU", UserWarning)
        return Saliency(model) if method == "gradient" else GuidedBackprop(model)

    if method in ("gradient64", "guided64"):
        attr = captum_attribution(method[:-2], model.double())
        out = attr.attribute(x.double().requires_grad_(True), target=target).detach().numpy()
        np.save(out_path, out)
        print(json.dumps({"target": target}))
        return
    if method == "layergradcam":
        from captum.attr import LayerGradCam
        cam = LayerGradCam(model, layer).attribute(fresh(), target=target, relu_attributions=True)
        np.save(out_path, cam.detach().numpy().astype(np.float32))
        print(json.dumps({"target": target, "captum": package_version("captum")}))
        return
    if method in ("gradient", "guided"):
        attr = captum_attribution(method, model)

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
    ap.add_argument("--models", default="vgg16",
                    help="comma-separated subset of: " + ", ".join(MODELS) + " (default vgg16)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for all (default 2)")
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--cache", default="/tmp/srtool-bench", help="model, input, outputs")
    ap.add_argument("--seed", type=int, default=0, help="weights and input seed")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--float64", action="store_true",
                    help="gradient, guided: also run Captum once in float64 and report how far "
                         "srtool's and Captum's float32 maps are from it")
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
    models = ["tiny"] if args.tiny else [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS and m != "tiny"]
    if bad or not models:
        ap.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")
    os.makedirs(args.cache, exist_ok=True)

    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; peer numbers only")
    log(f"peak RSS via {'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; "
        f"threads {args.threads}, {args.repeat} timed runs after 1 warm-up")
    load = os.getloadavg()
    if load[0] > 0.5:
        log(f"warning: load average {load[0]:.2f} - other processes compete for the CPU; with "
            f"--threads > 1 the timings (PyTorch's OpenMP barriers especially) can be many "
            f"times too slow")
    results = []
    for model in models:
        results += bench_model(model, methods, args, use_time, srtool if have_srtool else None)
    return report(results, args, load)


def prepare(model, cache, seed):
    """(onnx path, the peer's `weights` argument, input path) of a model."""
    x_path = ensure_input(cache, seed, input_size(model))
    if model in ("vgg16", "tiny"):
        onnx_path, whash = ensure_model(model, cache, seed)
        return onnx_path, whash, x_path
    from bench_forward import ensure_input as ensure_normal_input
    from bench_lrp_modern import ensure_state
    from bench_zoo_forward import ensure_model as ensure_zoo_model
    x_export = ensure_normal_input(cache, seed)
    onnx_path = ensure_zoo_model(model, cache, seed, x_export)
    return onnx_path, ensure_state(model, cache, seed, onnx_path, x_export), x_path


def bench_model(model, methods, args, use_time, srtool):
    """One row per method of `model` that it has (MODELS)."""
    available = MODELS.get(model, METHODS)
    skipped = [m for m in methods if m not in available]
    if skipped:
        log(f"note: {model}: no {', '.join(skipped)} (see the module docstring)")
    methods = [m for m in methods if m in available]
    if not methods:
        return []
    onnx_path, weights, x_path = prepare(model, args.cache, args.seed)
    size = (input_size(model), input_size(model))
    layer_name = None
    if srtool and "gradcam" in methods:
        try:
            layer_name = onnx_last_conv_output(onnx_path)
        except ImportError:
            log("note: no onnx package; srtool's Grad-CAM runs without --layer (its default "
                "is the last convolution too)")

    def worker_cmd(what, out):
        return [sys.executable, os.path.abspath(__file__), "--peer-worker", model, what, x_path,
                out, weights, "--seed", str(args.seed), "--threads", str(args.threads),
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

        if srtool:
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
                    if args.float64:
                        float64_reference(r, m, model, np.abs(got) if m == "gradient" else got, ref,
                                          worker_cmd, args.cache)
            elif code == 0:
                r["srtool_error"] = f"no map written to {s_out}"
                log(f"  {r['srtool_error']}")
        results.append(r)
    return results


def report(results, args, load):
    """Prints the table (and writes --json); the exit status."""
    if not results:
        print("no model has any of the methods asked for")
        return 1
    hdr = ("model", "method", "peer", "peer best s", "peer med s", "srtool best s", "srtool med s",
           "srtool/peer", "peer RSS MB", "srtool RSS MB", "max diff (rel)", "corr")
    if args.float64:
        hdr += ("peer vs f64", "srtool vs f64")
    rows = []
    for r in results:
        rows.append((r["model"], r["method"], r["peer"], fmt(r.get("peer_best_s"), ".3f"),
                     fmt(r.get("peer_median_s"), ".3f"), fmt(r.get("srtool_best_s"), ".3f"),
                     fmt(r.get("srtool_median_s"), ".3f"), fmt(r.get("ratio"), ".2f"),
                     fmt(r.get("peer_rss_mb"), ".0f"), fmt(r.get("srtool_rss_mb"), ".0f"),
                     fmt(r.get("max_rel_diff"), ".1e"), fmt(r.get("correlation"), ".6f"))
                    + ((fmt(r.get("peer_vs_float64"), ".1e"), fmt(r.get("srtool_vs_float64"), ".1e"))
                       if args.float64 else ()))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    versions = sorted({f"{r['peer_package']} {r['peer_version']}" for r in results
                       if "peer_version" in r})
    print(f"Saliency, batch 1, {args.threads} threads, best/median of {args.repeat} "
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
            print(f"{r['model']} {r['method']}: {r['peer']}: {r['peer_error']}")
        if "srtool_error" in r:
            print(f"{r['model']} {r['method']}: srtool: {r['srtool_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "runs": args.repeat,
                       "seed": args.seed, "load_average": load[0], "results": results}, f, indent=2)
    failed = any("peer_best_s" not in r or "srtool_error" in r for r in results)
    return 1 if failed else 0


def float64_reference(r, method, model, got, ref, worker_cmd, cache):
    """Captum in float64 (a child, one untimed run): how far srtool's and Captum's float32
    maps are from it (for the gradient, both as |g|, as Saliency returns it)."""
    path = os.path.join(cache, f"{model}.{method}.peer64.npy")
    log(f"{model} {method}: captum float64 ...")
    code, out, err, _ = run_measured(worker_cmd(method + "64", path), False)
    if code != 0:
        log(f"  captum float64 failed (exit {code}): {error_line(err)}")
        r["float64_error"] = f"exit {code}: {error_line(err)}"
        return
    ref64 = np.load(path)
    if json.loads(last_line(out))["target"] != r["target"] or ref64.shape != got.shape:
        r["float64_error"] = "class or shape differs from the float32 run's"
        log(f"  captum float64: {r['float64_error']}")
        return
    _, peer_rel, peer_corr = compare(ref, ref64)
    _, rel, corr = compare(got, ref64)
    r.update(peer_vs_float64=peer_rel, srtool_vs_float64=rel)
    log(f"  captum float32 vs float64: {peer_rel:.2e} of max |g64|, correlation {fmt(peer_corr, '.6f')}")
    log(f"  srtool float32 vs float64: {rel:.2e} of max |g64|, correlation {fmt(corr, '.6f')}")


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
