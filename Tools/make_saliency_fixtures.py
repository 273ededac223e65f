#!/usr/bin/env python3
"""Write the saliency reference fixtures: gradient-family, perturbation and CAM maps
for the three tiny CNNs of make_lrp_fixtures.py, from Captum and pytorch-grad-cam.

What it does
------------
It imports Tools/make_lrp_fixtures.py as a module and rebuilds its models exactly as
that script does (same classes, seeds, weight init, BN calibration and input), checks
that the input is bit-identical to Fixtures/lrp/<model>/input.npy and the logits equal
Fixtures/lrp/<model>/logits.npy, and then writes, per model, into
Fixtures/saliency/<model>/ (float32 .npy; target = argmax of the logits):

    gradient.npy                      d logit_target / d x, [1,3,H,W], plain torch autograd
                                      (eval mode, grad_output = one_hot(target), NOT times
                                      the logit)
    saliency.npy                      Captum Saliency(abs=True) = |gradient|
    input_x_gradient.npy              Captum InputXGradient = x * gradient
    guided_backprop.npy               Captum GuidedBackprop
    deconvnet.npy                     Captum Deconvolution
    integrated_gradients_riemann.npy  Captum IntegratedGradients, baseline 0, 50 steps,
                                      method "riemann_trapezoid"
    integrated_gradients_gl.npy       the same with method "gausslegendre" (Captum default)
    occlusion.npy                     Captum Occlusion, window (3,4,4), strides (3,2,2),
                                      baseline 0
    smoothgrad_mean.npy               Captum NoiseTunnel(Saliency) smoothgrad, abs=False,
                                      nt_samples 10000 (batches of 1000), stdevs
                                      0.15*(max x - min x)
    smoothgrad_stderr.npy             per-element Monte-Carlo standard error of that mean
                                      (sample std / sqrt(N)) from the same noise draws
    gradcam_layer.npy                 Captum LayerGradCam, raw (no ReLU), [1,1,h,w]
    gradcam_layer_relu.npy            the same with relu_attributions=True
    gradcam_upsampled.npy             Captum LayerAttribution.interpolate(relu map, (H,W),
                                      "bilinear") [1,1,H,W] (align_corners=False)
    gradcam_pgc.npy                   pytorch-grad-cam GradCAM(...)(x, [ClassifierOutputTarget])
                                      [1,H,W]: ReLU, min-max, cv2 resize, min-max again
    guided_gradcam.npy                Captum GuidedGradCam (nearest upsampling, its default)
    cam.npy                           resnet_mini, avgpool_concat only: plain CAM
                                      sum_k fc.weight[target,k] * A_k, A = input of the global
                                      average pool, [1,1,h,w], no ReLU, no bias
    cam_relu_upsampled.npy            ReLU(cam), bilinear (align_corners=False) to H x W
    manifest.json                     versions, seeds, target, every file with its exact call,
                                      shape, max|ref|, tolerance; IG alphas / weights, Occlusion
                                      normalisation, checks

The model and the input are NOT copied: use Fixtures/lrp/<model>/model.onnx and
input.npy (tensor names = torch module names, so a `layer` recorded here is also the
ONNX tensor name of the map's source, see manifest.gradcam_layer).

Checks (manifest "checks"): input bit-identical and logits equal to the LRP fixtures;
independent re-implementations in plain torch / numpy of IG (both methods), Occlusion,
Grad-CAM, pytorch-grad-cam's scaling and Guided Grad-CAM (max |diff| / max|ref|);
float64 re-run of every deterministic method (worst |f32 - f64| / (atol + rtol*|f32|),
must be well below 1); two SmoothGrad runs with different seeds (max |diff|); CAM
identities (mean(cam) + bias = logit; for resnet_mini Grad-CAM on the GAP input =
cam / (h*w)); cv2 vs torch bilinear resize.

Usage:  python3 Tools/make_saliency_fixtures.py [model ...]   (default: all three)
Needs:  everything make_lrp_fixtures.py imports (torch, zennit, onnx, onnxruntime,
        torchvision), plus captum 0.9.0 and grad-cam 1.5.7 (pytorch-grad-cam; pulls in
        opencv). CPU, one thread, ~20 s. Re-running gives the same files for the same
        torch / captum / opencv builds. A model folder is only replaced if its manifest
        says this script made it.
"""

import copy
import json
import sys
import warnings
from importlib.metadata import version as pkg_version
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)
import make_lrp_fixtures as lrp  # noqa: E402  (same models, seeds, input)

import cv2  # noqa: E402
from captum.attr import (  # noqa: E402
    Deconvolution, GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,
    LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion, Saliency)
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "saliency"
LRP = ROOT / "Fixtures" / "lrp"
GENERATOR = "Tools/make_saliency_fixtures.py"
REL_ATOL, RTOL = 1e-5, 1e-4            # atol = REL_ATOL * max|ref| of the compared array
IG_STEPS = 50
OCC_WINDOW, OCC_STRIDES = (3, 4, 4), (3, 2, 2)
NT_SAMPLES, NT_BATCH, NT_SCALE = 10000, 1000, 0.15   # 2000 samples: 2-seed spread ~10% of max
NT_OTHER_M = 2000                     # sample count the smoothgrad atol assumes for the compared run
NT_SEED_OFFSETS = (500, 600)          # smoothgrad seeds = model seed + offset (fixture, check)
GRADCAM_LAYER = {"vgg_mini": "features.5", "resnet_mini": "layer1", "avgpool_concat": "conv"}
GRADCAM_TENSOR = {"vgg_mini": "features.5", "resnet_mini": "layer1.relu2", "avgpool_concat": "conv"}
GAP = {"resnet_mini": ("avgpool", "fc"), "avgpool_concat": ("gap", "fc")}   # CAM models

torch.set_num_threads(1)            # (interop threads: already set to 1 by make_lrp_fixtures)
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")


# --------------------------------------------------------------------------- model

def build(name):
    """Exactly the preamble of make_lrp_fixtures.make(): model in eval mode and input."""
    seed = lrp.SEEDS[name]
    cls, _ = lrp.MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cls()
    lrp.init_weights(model, gen)
    model.eval()
    x = lrp.make_input(seed + 7)
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        lrp.calibrate_bn(model, x)
    return model, x, seed


def relu_usage(model, x):
    """How often each nn.ReLU module runs in one forward (Captum's ReLU hooks assume 1)."""
    calls, hs = {}, []
    for n, m in model.named_modules():
        if isinstance(m, nn.ReLU):
            calls[n] = 0
            hs.append(m.register_forward_hook(lambda mod, i, o, n=n: calls.__setitem__(n, calls[n] + 1)))
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return calls


def module(model, name):
    return dict(model.named_modules())[name]


# --------------------------------------------------------------------------- methods

def raw_gradient(model, x, t):
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    (g,) = torch.autograd.grad(out[0, t], xg)
    return g.detach()


def pgc_scale(cam, size=None):
    """pytorch_grad_cam.utils.image.scale_cam_image for one 2-D map."""
    cam = cam - cam.min()
    cam = cam / (1e-7 + cam.max())
    if size is not None:
        cam = cv2.resize(np.float32(cam), size)
    return np.float32(cam)


def deterministic(model, x, t, layer_name, cam_spec):
    """Every deterministic map, computed in the dtype of model / x. Returns
    ({file stem: tensor}, extras)."""
    layer = module(model, layer_name)
    H, W = x.shape[2:]
    r = {}
    r["gradient"] = raw_gradient(model, x, t)
    r["saliency"] = Saliency(model).attribute(x.clone(), target=t, abs=True)
    r["input_x_gradient"] = InputXGradient(model).attribute(x.clone(), target=t)
    r["guided_backprop"] = GuidedBackprop(model).attribute(x.clone(), target=t)
    r["deconvnet"] = Deconvolution(model).attribute(x.clone(), target=t)
    ig = IntegratedGradients(model)
    extras = {}
    for key, method in (("riemann", "riemann_trapezoid"), ("gl", "gausslegendre")):
        a, delta = ig.attribute(x.clone(), baselines=0, target=t, n_steps=IG_STEPS, method=method,
                                return_convergence_delta=True)
        r[f"integrated_gradients_{key}"] = a
        extras[f"ig_{key}_delta"] = float(delta)
    r["occlusion"] = Occlusion(model).attribute(x.clone(), target=t, sliding_window_shapes=OCC_WINDOW,
                                                strides=OCC_STRIDES, baselines=0)
    lgc = LayerGradCam(model, layer)
    r["gradcam_layer"] = lgc.attribute(x.clone(), target=t)
    relu_map = lgc.attribute(x.clone(), target=t, relu_attributions=True)
    r["gradcam_layer_relu"] = relu_map
    r["gradcam_upsampled"] = LayerAttribution.interpolate(relu_map, (H, W), interpolate_mode="bilinear")
    with GradCAM(model=model, target_layers=[layer]) as pgc:
        r["gradcam_pgc"] = torch.from_numpy(pgc(input_tensor=x.clone(), targets=[ClassifierOutputTarget(t)]))
    model.zero_grad(set_to_none=True)
    r["guided_gradcam"] = GuidedGradCam(model, layer).attribute(x.clone(), target=t)
    if cam_spec:
        cam, _ = plain_cam(model, x, t, *cam_spec)
        r["cam"] = cam
        r["cam_relu_upsampled"] = F.interpolate(cam.clamp(min=0), (H, W), mode="bilinear", align_corners=False)
    return {k: v.detach() for k, v in r.items()}, extras


def plain_cam(model, x, t, gap_name, fc_name):
    """CAM = sum_k w[t,k] * A_k, A = the input of the global average pool."""
    store = {}
    h = module(model, gap_name).register_forward_hook(lambda m, i, o: store.__setitem__("A", i[0].detach()))
    with torch.no_grad():
        logits = model(x)
    h.remove()
    w = module(model, fc_name).weight[t].detach()
    cam = torch.einsum("k,nkhw->nhw", w, store["A"]).unsqueeze(1)
    return cam, logits


def smoothgrad(model, x, t, seed, stdev):
    torch.manual_seed(seed)
    nt = NoiseTunnel(Saliency(model))
    return nt.attribute(x.clone(), nt_type="smoothgrad", nt_samples=NT_SAMPLES,
                        nt_samples_batch_size=NT_BATCH, stdevs=stdev, target=t, abs=False).detach()


def smoothgrad_samples(model, x, t, seed, stdev):
    """Re-draw Captum's noise exactly (same global-RNG calls, one per batch of NT_BATCH)
    and return the per-sample gradients, [N,3,H,W]."""
    assert NT_SAMPLES % NT_BATCH == 0
    torch.manual_seed(seed)
    size = (NT_BATCH,) + tuple(x.shape[1:])
    gs = []
    for _ in range(NT_SAMPLES // NT_BATCH):
        noise = torch.normal(0, torch.tensor(stdev).repeat(size))
        xs = (x.repeat_interleave(NT_BATCH, dim=0) + noise).requires_grad_(True)
        out = model(xs)
        (g,) = torch.autograd.grad(out[:, t].sum(), xs)
        gs.append(g.detach())
    return torch.cat(gs)


# --------------------------------------------------------------------------- independent checks

def ig_params(method, n):
    if method == "riemann_trapezoid":
        alphas = torch.linspace(0, 1, n).tolist()
        w = [1 / n] * n
        w[0] /= 2
        w[-1] /= 2
    else:
        nodes, weights = np.polynomial.legendre.leggauss(n)
        alphas = (0.5 * (1 + nodes)).tolist()
        w = (0.5 * weights).tolist()
    return alphas, w


def my_ig(model, x, t, method):
    alphas, w = ig_params(method, IG_STEPS)
    xs = torch.cat([a * x for a in alphas]).requires_grad_(True)
    out = model(xs)
    (g,) = torch.autograd.grad(out[:, t].sum(), xs)
    wt = torch.tensor(w).float().to(x.dtype).view(-1, 1, 1, 1)
    return (g * wt).sum(0, keepdim=True) * x


def my_occlusion(model, x, t):
    _, C, H, W = x.shape
    kc, kh, kw = OCC_WINDOW
    sc, sh, sw = OCC_STRIDES
    total = torch.zeros_like(x)
    count = torch.zeros_like(x)
    with torch.no_grad():
        base = model(x)[0, t]
        for c0 in range(0, C - kc + 1, sc):
            for i in range(0, H - kh + 1, sh):
                for j in range(0, W - kw + 1, sw):
                    m = torch.zeros_like(x)
                    m[:, c0:c0 + kc, i:i + kh, j:j + kw] = 1
                    total += (base - model(x * (1 - m))[0, t]) * m
                    count += m
    return total / count, count


def my_gradcam(model, x, t, layer_name):
    store = {}
    layer = module(model, layer_name)

    def hook(m, i, o):
        store["A"] = o
        o.register_hook(lambda g: store.__setitem__("G", g))
    h = layer.register_forward_hook(hook)
    out = model(x.clone())
    out[0, t].backward()
    h.remove()
    model.zero_grad(set_to_none=True)
    A, G = store["A"].detach(), store["G"].detach()
    alpha = G.mean(dim=(2, 3), keepdim=True)
    return (alpha * A).sum(1, keepdim=True)


def ig_rescaled_delta(model, x, t, res):
    """Convergence delta of the riemann_trapezoid result after multiplying by n/(n-1), i.e.
    of the true trapezoid rule on the same alphas (shows the (n-1)/n factor is the bias)."""
    with torch.no_grad():
        df = float(model(x)[0, t].double() - model(torch.zeros_like(x))[0, t].double())
    return float(res["integrated_gradients_riemann"].double().sum() * IG_STEPS / (IG_STEPS - 1) - df)


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30))


def tol_ratio(a32, b64):
    a = a32.double()
    return float(((a - b64.double()).abs() / (REL_ATOL * a.abs().max() + RTOL * a.abs())).max())


# --------------------------------------------------------------------------- main

def versions():
    out = {"torch": torch.__version__, "numpy": np.__version__, "opencv": cv2.__version__}
    for k, p in (("captum", "captum"), ("grad-cam", "grad-cam")):
        try:
            out[k] = pkg_version(p)
        except Exception:  # pragma: no cover
            out[k] = "unknown"
    return out


def make(name):
    model, x, seed = build(name)
    H, W = x.shape[2:]
    lrp_x = np.load(LRP / name / "input.npy")
    lrp_logits = np.load(LRP / name / "logits.npy")
    with torch.no_grad():
        logits = model(x)
    assert np.array_equal(lrp_x, x.numpy()), f"{name}: input differs from Fixtures/lrp"
    logit_diff = float(np.abs(lrp_logits - logits.numpy()).max())
    assert logit_diff <= 1e-6, f"{name}: logits differ from Fixtures/lrp by {logit_diff}"
    t = int(logits.argmax(1))
    relus = relu_usage(model, x)
    assert all(v == 1 for v in relus.values()), f"{name}: a ReLU module is used twice: {relus}"

    layer_name = GRADCAM_LAYER[name]
    cam_spec = GAP.get(name)
    res, extras = deterministic(model, x, t, layer_name, cam_spec)

    # float64 re-run of every deterministic method
    m64, x64 = copy.deepcopy(model).double(), x.double()
    res64, extras64 = deterministic(m64, x64, t, layer_name, cam_spec)
    f64 = {k: tol_ratio(res[k], res64[k]) for k in res}

    # SmoothGrad: fixture run, a second seed, and the per-sample gradients of the fixture run
    stdev = float(NT_SCALE * (x.max() - x.min()))
    s1, s2 = (seed + o for o in NT_SEED_OFFSETS)
    sg = smoothgrad(model, x, t, s1, stdev)
    sg2 = smoothgrad(model, x, t, s2, stdev)
    samples = smoothgrad_samples(model, x, t, s1, stdev)
    sg_mine = samples.mean(0, keepdim=True)
    stderr = samples.double().std(0, keepdim=True) / NT_SAMPLES ** 0.5
    res["smoothgrad_mean"] = sg
    res["smoothgrad_stderr"] = stderr.float()
    sg_diff = (sg - sg2).abs()

    # independent re-implementations
    occ_mine, occ_count = my_occlusion(model, x, t)
    gc_mine = my_gradcam(model, x, t, layer_name)
    gc_relu = gc_mine.clamp(min=0)[0, 0].numpy()
    pgc_mine = pgc_scale(pgc_scale(gc_relu, (W, H)))      # cv2 dsize is (width, height)
    up_torch = F.interpolate(gc_mine.clamp(min=0), (H, W), mode="bilinear", align_corners=False)
    up_cv2 = cv2.resize(np.float32(gc_relu), (W, H), interpolation=cv2.INTER_LINEAR)
    ggc_mine = res["guided_backprop"] * F.interpolate(res["gradcam_layer_relu"], (H, W), mode="nearest")
    checks = {
        "input_bit_identical_to_lrp_fixture": True,
        "logits_max_abs_diff_vs_lrp_fixture": logit_diff,
        "relu_module_calls_per_forward": relus,
        "saliency_vs_abs_gradient": rel(res["saliency"], res["gradient"].abs()),
        "input_x_gradient_vs_x_times_gradient": rel(res["input_x_gradient"], x * res["gradient"]),
        "ig_riemann_vs_own_implementation": rel(res["integrated_gradients_riemann"], my_ig(model, x, t, "riemann_trapezoid")),
        "ig_gl_vs_own_implementation": rel(res["integrated_gradients_gl"], my_ig(model, x, t, "gausslegendre")),
        "occlusion_vs_own_implementation": rel(res["occlusion"], occ_mine),
        "occlusion_window_count_min_max": [int(occ_count.min()), int(occ_count.max())],
        "gradcam_layer_vs_own_implementation": rel(res["gradcam_layer"], gc_mine),
        "gradcam_upsampled_vs_torch_bilinear_align_corners_false": rel(res["gradcam_upsampled"], up_torch),
        "cv2_inter_linear_vs_torch_bilinear_align_corners_false_on_relu_map": rel(torch.from_numpy(up_cv2)[None, None], up_torch),
        "gradcam_pgc_vs_scale(cv2resize(scale(relu(gradcam_layer))))": rel(res["gradcam_pgc"], torch.from_numpy(pgc_mine)[None]),
        "guided_gradcam_vs_guided_backprop_times_nearest_upsampled_relu_gradcam": rel(res["guided_gradcam"], ggc_mine),
        "smoothgrad_vs_mean_of_redrawn_samples": rel(sg, sg_mine),
        "smoothgrad_two_seeds_max_abs_diff": float(sg_diff.max()),
        "smoothgrad_two_seeds_max_abs_diff_over_max_abs": float(sg_diff.max() / sg.abs().max()),
        "smoothgrad_max_stderr": float(stderr.max()),
        "smoothgrad_max_abs_diff_over_stderr": float((sg_diff.double() / stderr).max()),
        "smoothgrad_max_abs_diff_over_max_stderr": float(sg_diff.max() / stderr.max()),
        "smoothgrad_seeds": [s1, s2],
        "float64_vs_these_float32_worst_tolerance_ratio": f64,
        "ig_riemann_delta_if_weights_rescaled_by_n_over_n_minus_1": ig_rescaled_delta(model, x, t, res),
        "ig_convergence_delta_float64": {"riemann_trapezoid": extras64["ig_riemann_delta"],
                                         "gausslegendre": extras64["ig_gl_delta"]},
    }
    if cam_spec:
        cam, _ = plain_cam(model, x, t, *cam_spec)
        bias = float(module(model, cam_spec[1]).bias[t].detach())
        checks["cam_mean_plus_bias_minus_logit"] = float(cam.double().mean() + bias - logits[0, t].double())
        if name == "resnet_mini":
            h, w = cam.shape[2:]
            checks["gradcam_layer_vs_cam_over_hw"] = rel(res["gradcam_layer"], cam / (h * w))

    d = OUT / name
    fixture_folders.clear_case_dir(d, GENERATOR)
    d.mkdir(parents=True)
    files = {}
    desc = describe(name, t, stdev, layer_name, cam_spec)
    for k, v in res.items():
        arr = v.numpy().astype(np.float32)
        np.save(d / f"{k}.npy", np.ascontiguousarray(arr))
        mx = float(np.abs(arr).max())
        entry = {"file": f"{k}.npy", "shape": list(arr.shape), "max_abs": mx, "sum": float(arr.astype(np.float64).sum()),
                 "atol": REL_ATOL * mx, "rtol": RTOL, **desc[k]}
        files[k] = entry
    files["smoothgrad_mean"]["atol"] = 6 * (1 + NT_SAMPLES / NT_OTHER_M) ** 0.5 * float(stderr.max())
    files["smoothgrad_mean"]["rtol"] = 0.0
    files["smoothgrad_mean"]["tolerance_note"] = (
        f"Monte-Carlo. An implementation with its own RNG and M samples (same stdev) differs per element "
        f"by ~N(0, stderr[i]^2 * (1 + {NT_SAMPLES}/M)); per-sample std sigma[i] = stderr[i] * sqrt({NT_SAMPLES}). "
        f"Suggested per-element test: |a-b| <= 6 * stderr[i] * sqrt(1 + {NT_SAMPLES}/M) + 1e-5*max|ref| "
        f"(smoothgrad_stderr.npy). The atol given is that bound with the largest stderr for M = {NT_OTHER_M}: "
        f"6 * sqrt(1 + {NT_SAMPLES}/{NT_OTHER_M}) * max(stderr) (for M = {NT_SAMPLES} use 6*sqrt(2)*max(stderr)). "
        f"Exact agreement needs Captum's torch RNG stream.")
    files["smoothgrad_stderr"]["atol"] = None
    files["smoothgrad_stderr"]["rtol"] = None
    files["smoothgrad_stderr"]["tolerance_note"] = "not a reference to match; used to set the smoothgrad tolerance"
    files["gradcam_pgc"]["atol"] = 1e-5
    files["gradcam_pgc"]["tolerance_note"] = "values in [0,1]; atol 1e-5 absolute"

    a_r, w_r = ig_params("riemann_trapezoid", IG_STEPS)
    a_g, w_g = ig_params("gausslegendre", IG_STEPS)
    manifest = {
        "generator": GENERATOR,
        "reference": f"captum {versions()['captum']}, pytorch-grad-cam {versions()['grad-cam']} (CPU, float32, one thread)",
        "versions": versions(),
        "model": name,
        "seed": seed,
        "input_seed": seed + 7,
        "model_file": f"Fixtures/lrp/{name}/model.onnx",
        "input_file": f"Fixtures/lrp/{name}/input.npy",
        "input": {"shape": list(x.shape), "min": float(x.min()), "max": float(x.max())},
        "logits": logits[0].tolist(),
        "target": t,
        "target_rule": "argmax of the logits; every method explains logit[target] (pre-softmax)",
        "tolerance": {"compare": "|a - b| <= atol + rtol*|b| elementwise, b = reference",
                      "atol": "1e-5 * max|ref| of that array unless the file entry says otherwise",
                      "rel_atol": REL_ATOL, "rtol": RTOL},
        "gradcam_layer": {"module": layer_name, "onnx_tensor": GRADCAM_TENSOR[name],
                          "resolution": list(res["gradcam_layer"].shape[2:]), "note": layer_note(name)},
        "integrated_gradients": {
            "baseline": 0.0, "n_steps": IG_STEPS,
            "formula": "attr = (x - baseline) * sum_i w_i * grad f_t(baseline + alpha_i*(x - baseline)); "
                       "the 50 points are one batch",
            "riemann_trapezoid": {
                "alphas": "torch.linspace(0, 1, n) in float32 (alpha_i = i/(n-1))",
                "weights": "[1/n]*n with the first and last halved (1/(2n), 1/n, ..., 1/n, 1/(2n)); "
                           "they sum to (n-1)/n = 0.98, NOT 1: Captum's trapezoid uses step 1/n although "
                           "the alphas are 1/(n-1) apart, so the result is (n-1)/n times the true "
                           "trapezoid rule",
                "weights_sum": float(sum(w_r)),
                "alpha_values": a_r, "weight_values": w_r,
                "convergence_delta": extras["ig_riemann_delta"]},
            "gausslegendre": {
                "alphas": "0.5 * (1 + numpy.polynomial.legendre.leggauss(n)[0]) (float64, ascending)",
                "weights": "0.5 * numpy.polynomial.legendre.leggauss(n)[1]",
                "weights_sum": float(sum(w_g)),
                "alpha_values": a_g, "weight_values": w_g,
                "convergence_delta": extras["ig_gl_delta"]},
            "precision": "alpha enters as a Python float times a float32 tensor (computed in float32); "
                         "the weights are cast with torch.tensor(step_sizes).float()",
            "convergence_delta": "sum(attr) - (f_t(x) - f_t(baseline)), Captum compute_convergence_delta",
        },
        "occlusion": {
            "sliding_window_shapes": list(OCC_WINDOW), "strides": list(OCC_STRIDES), "baselines": 0,
            "window_positions": "per dim d: ceil((size_d - window_d) / stride_d) + 1 positions at "
                                "k*stride_d (here 1 x 7 x 7 = 49 windows at rows/cols 0,2,...,12); if the "
                                "last one overhangs, F.pad with negative padding crops it",
            "normalisation": "attr = sum over windows covering the element of (f_t(x) - f_t(x with the "
                             "window set to the baseline)) / number of windows covering the element "
                             "(FeatureAblation with use_weights=True: total_attrib / weights)",
            "coverage_count_min_max": checks["occlusion_window_count_min_max"],
            "ablated_input": "x * (1 - mask) + baseline * mask",
        },
        "gradcam": {
            "captum_LayerGradCam": "alpha_k = mean over h,w of d f_t / d A_k (spatial MEAN, not sum); "
                                   "map = sum_k alpha_k * A_k, keepdim -> [1,1,h,w]; relu_attributions=True "
                                   "applies ReLU after the sum. A = the module OUTPUT.",
            "captum_interpolate": "LayerAttribution.interpolate = F.interpolate(map, (H,W), mode) with "
                                  "align_corners left at None (= False, half-pixel centres)",
            "pytorch_grad_cam": "weights = np.mean(grads, axis=(2,3)); cam = sum_k w_k A_k; np.maximum(cam, 0); "
                                "scale_cam_image: cam -= cam.min(); cam /= (1e-7 + cam.max()); "
                                "cv2.resize(np.float32(cam), (W, H)) [dsize is (width, height); default "
                                "INTER_LINEAR, half-pixel centres, edge-clamped]; then aggregate_multi_layers: "
                                "np.maximum(.,0), mean over target layers (one here), scale_cam_image AGAIN "
                                "(min-max with 1e-7, no resize), so the maximum is ~0.9999999, not 1. Output numpy float32 "
                                "[N,H,W] = [1,H,W] (no channel axis).",
            "guided_gradcam": "GuidedBackprop(x) * F.interpolate(relu LayerGradCam map, (H,W), mode='nearest') "
                              "(Captum's default interpolate_mode), broadcast over the 3 input channels",
        },
        "captum_guided_backprop": "Captum hooks every nn.ReLU module: GuidedBackprop replaces the gradient "
                                  "at the ReLU input by relu(grad_in) (= relu(grad_out * 1[x>0])); "
                                  "Deconvolution replaces it by relu(grad_out) (forward mask ignored). All other "
                                  "layers (max pool: to the argmax, BN, Linear, add) plain gradient. The hook sits "
                                  "on the ReLU's input tensor, i.e. it rewrites the gradient summed over all "
                                  "consumers of that tensor; here every ReLU input has one consumer and every "
                                  "ReLU module runs once per forward (checks.relu_module_calls_per_forward).",
        "smoothgrad": {
            "call": f"torch.manual_seed({s1}); NoiseTunnel(Saliency(model)).attribute(x, nt_type='smoothgrad', "
                    f"nt_samples={NT_SAMPLES}, nt_samples_batch_size={NT_BATCH}, stdevs={stdev!r}, target={t}, "
                    f"abs=False)",
            "stdevs": stdev, "stdevs_rule": f"{NT_SCALE} * (x.max() - x.min())",
            "nt_samples": NT_SAMPLES, "nt_samples_batch_size": NT_BATCH,
            "why_not_2000": "with 2000 samples two seeds differed by up to ~10% of max|ref| on vgg_mini",
            "noise": "x_i = x + eps_i, eps_i ~ N(0, stdevs^2) i.i.d. per element (torch.normal on the global "
                     "RNG, seeded torch.manual_seed(seed) right before the call, one draw per batch); result = mean_i grad f_t(x_i) "
                     "(raw gradient, not abs, not squared)",
            "seed": s1, "check_seed": s2,
            "stderr_file": "smoothgrad_stderr.npy",
            "max_stderr": float(stderr.max()),
            "two_seed_max_abs_diff": float(sg_diff.max()),
        },
        "files": files,
        "checks": checks,
        "notes": notes(name),
    }
    if cam_spec:
        manifest["cam"] = {
            "feature_map": f"input of module `{cam_spec[0]}` (AdaptiveAvgPool2d(1)) = ONNX tensor "
                           f"`{'layer1.relu2' if name == 'resnet_mini' else 'relu'}`",
            "weights": f"`{cam_spec[1]}`.weight[target, :]",
            "formula": "cam[h,w] = sum_k W[target,k] * A[k,h,w]; no ReLU, no bias; mean(cam) + bias[target] "
                       "= logit[target]",
            "upsampled": "ReLU, then F.interpolate(.., (H,W), mode='bilinear', align_corners=False)",
        }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    print(f"{name}: target {t}, IG delta riemann {extras['ig_riemann_delta']:.3e} gl {extras['ig_gl_delta']:.3e}, "
          f"smoothgrad 2-seed diff {float(sg_diff.max()):.2e} (max stderr {float(stderr.max()):.2e}), "
          f"worst f64 ratio {max(f64.values()):.3f}, {size / 1024:.0f} KiB", flush=True)


def layer_note(name):
    return {
        "vgg_mini": "last Conv2d; its output is pre-ReLU (features.6 follows), 16 channels at 8x8",
        "resnet_mini": "the residual block module `layer1` (like pytorch-grad-cam's usual model.layer4[-1]); "
                       "its output is after the block's final ReLU = ONNX tensor layer1.relu2 = the GAP input, "
                       "8 channels at 16x16 (no downsampling in this model, so upsampling is the identity); "
                       "Grad-CAM here equals cam / (h*w)",
        "avgpool_concat": "last Conv2d; its output is pre-ReLU (module `relu` follows, then GAP), 8 channels at 8x8",
    }[name]


def describe(name, t, stdev, layer_name, cam_spec):
    L = {"vgg_mini": "model.features[5]", "resnet_mini": "model.layer1", "avgpool_concat": "model.conv"}[name]
    d = {
        "gradient": ("raw input gradient d logit[target] / d x, model.eval(), plain torch autograd, "
                     "grad_output one-hot (not times the logit)",
                     f"torch.autograd.grad(model(x)[0, {t}], x)"),
        "saliency": ("|gradient|", f"Saliency(model).attribute(x, target={t}, abs=True)"),
        "input_x_gradient": ("x * gradient", f"InputXGradient(model).attribute(x, target={t})"),
        "guided_backprop": ("guided backpropagation (ReLU: relu(grad_in))",
                            f"GuidedBackprop(model).attribute(x, target={t})"),
        "deconvnet": ("deconvnet (ReLU: relu(grad_out))", f"Deconvolution(model).attribute(x, target={t})"),
        "integrated_gradients_riemann": ("integrated gradients, baseline 0, riemann_trapezoid (see manifest.integrated_gradients)",
                                         f"IntegratedGradients(model).attribute(x, baselines=0, target={t}, "
                                         f"n_steps={IG_STEPS}, method='riemann_trapezoid')"),
        "integrated_gradients_gl": ("integrated gradients, baseline 0, Gauss-Legendre (Captum default)",
                                    f"IntegratedGradients(model).attribute(x, baselines=0, target={t}, "
                                    f"n_steps={IG_STEPS}, method='gausslegendre')"),
        "occlusion": ("occlusion, mean over covering windows of the logit drop",
                      f"Occlusion(model).attribute(x, target={t}, sliding_window_shapes={OCC_WINDOW}, "
                      f"strides={OCC_STRIDES}, baselines=0)"),
        "smoothgrad_mean": ("SmoothGrad mean of raw gradients (Monte-Carlo, see manifest.smoothgrad)",
                            f"torch.manual_seed(seed); NoiseTunnel(Saliency(model)).attribute(x, nt_type='smoothgrad', "
                            f"nt_samples={NT_SAMPLES}, nt_samples_batch_size={NT_BATCH}, stdevs={stdev!r}, "
                            f"target={t}, abs=False)"),
        "smoothgrad_stderr": ("per-element Monte-Carlo standard error of smoothgrad_mean: std (ddof=1) of the "
                              f"{NT_SAMPLES} per-sample gradients / sqrt({NT_SAMPLES})",
                              "own re-draw of Captum's noise (same seed), float64 std"),
        "gradcam_layer": ("Grad-CAM at layer resolution, no ReLU, [1,1,h,w]",
                          f"LayerGradCam(model, {L}).attribute(x, target={t})"),
        "gradcam_layer_relu": ("Grad-CAM at layer resolution, ReLU'd",
                               f"LayerGradCam(model, {L}).attribute(x, target={t}, relu_attributions=True)"),
        "gradcam_upsampled": ("ReLU'd Grad-CAM, bilinear to the input size, align_corners=False (not normalised)",
                              "LayerAttribution.interpolate(gradcam_layer_relu, (H, W), interpolate_mode='bilinear')"),
        "gradcam_pgc": ("pytorch-grad-cam GradCAM: ReLU, min-max, cv2 bilinear resize, min-max; [1,H,W]",
                        f"GradCAM(model=model, target_layers=[{L}])(input_tensor=x, "
                        f"targets=[ClassifierOutputTarget({t})])"),
        "guided_gradcam": ("guided backprop * nearest-upsampled ReLU'd Grad-CAM",
                           f"GuidedGradCam(model, {L}).attribute(x, target={t})"),
    }
    if cam_spec:
        d["cam"] = ("plain CAM at layer resolution, no ReLU, no bias, [1,1,h,w]",
                    f"einsum('k,nkhw->nhw', model.{cam_spec[1]}.weight[{t}], A).unsqueeze(1), "
                    f"A = input of model.{cam_spec[0]}")
        d["cam_relu_upsampled"] = ("ReLU(cam) bilinear to H x W, align_corners=False",
                                   "F.interpolate(cam.clamp(min=0), (H, W), mode='bilinear', align_corners=False)")
    return {k: {"description": a, "call": b} for k, (a, b) in d.items()}


def notes(name):
    n = [
        "Model and input: Fixtures/lrp/<model>/model.onnx and input.npy (this script checks the input is "
        "bit-identical and the logits equal). Module names = ONNX tensor names.",
        "Every Captum call runs on the float32 model in eval mode, batch 1, CPU, one thread.",
        "checks.float64_vs_these_float32_worst_tolerance_ratio: the same calls on a float64 copy; "
        "max |f32 - f64| / (atol + rtol*|f32|) per file, < 1 means float32 rounding alone passes.",
    ]
    if name == "vgg_mini":
        n.append("Dropout (classifier.2) is the identity in eval mode. The ReLU in the classifier "
                 "(classifier.1) is also hooked by GuidedBackprop / Deconvolution.")
    if name == "resnet_mini":
        n.append("BatchNorm layers run in eval mode with their real running statistics (no zennit canonizer "
                 "here). Grad-CAM layer resolution = input resolution (16x16): gradcam_upsampled equals "
                 "gradcam_layer_relu and the cv2 resize is the identity.")
    if name == "avgpool_concat":
        n.append("Both branches' ReLUs (branch_a.1, branch_b.1) and `relu` are separate nn.ReLU modules, "
                 "all hooked by GuidedBackprop / Deconvolution.")
    return n


def main(argv):
    names = argv or list(lrp.MODELS)
    bad = [n for n in names if n not in lrp.MODELS]
    if bad:
        raise SystemExit(f"unknown model(s) {bad}; choose from {list(lrp.MODELS)}")
    v = versions()
    if v["captum"] != "0.9.0" or v["grad-cam"] != "1.5.7":
        print(f"warning: captum {v['captum']}, grad-cam {v['grad-cam']} (fixtures were made with 0.9.0 / 1.5.7)",
              file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    for n in names:
        make(n)


if __name__ == "__main__":
    main(sys.argv[1:])
