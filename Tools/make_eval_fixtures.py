#!/usr/bin/env python3
"""Write the `srtool eval` reference fixtures: Quantus 0.6.0's metrics on the bundled
shapes model, per sample.

What it does
------------
1. Rebuilds the bundled model (Fixtures/bundled/shapes.onnx) in PyTorch: ShapesNet from
   Tools/train_bundled.py with the ONNX file's initializers (a PyTorch twin; the script
   checks its logits against Fixtures/bundled/expected.json).
2. Reads the 8 samples (Fixtures/bundled/samples/<class>_<i>.png) as train_bundled.py
   does (PIL, RGB, /255, imagenet mean/std: the imagenet-full preset, NCHW float32) and their masks (*_mask.png,
   pixel > 127 = object). Target = the sample's class (all are classified correctly).
3. Attribution: integrated gradients, [8, 3, 64, 64] float32 (torch autograd on the
   twin; zero baseline, 32 midpoint steps; chosen because it has no ties, see
   integrated_gradients). Quantus is given its signed sum over channels,
   [8, 1, 64, 64], as quantus.explain returns it; srtool reads the [8, 3, 64, 64] file and
   makes that sum itself.
4. Runs Quantus 0.6.0 (CPU, float32, softmax scores as Quantus' defaults) and writes
   Fixtures/eval/shapes/:
     attribution.npy  the attribution above
     attributions.h5  the same attribution summed over channels in ViRelAy's HDF5 layout
                      (index, attribution [8, 1, 64, 64], label, prediction), rows in
                      reverse sample order (index = 7 … 0), for `eval --attributions`
     imputed.npy      Quantus' noisy_linear_imputation of sample 0 with its 30 % most
                      relevant pixels removed (noise 0), [3, 64, 64]
     reference.json   every metric per sample (see "cases"), the start scores, the
                      checks below, and "uniform_distribution" (below)
     manifest.json    generator, versions, seeds, tolerances

5. The uniform baseline is random (Quantus: np.random.uniform(0, 1, size=batch) in
   get_baseline_dict, one value per sample per step, for pixel flipping and region
   perturbation alike), so srtool can match it in distribution only: each case of
   UNIFORM is run UNIFORM_RUNS times, np.random.seed(k) before run k, and
   reference.json's "uniform_distribution" keeps per sample the mean and the sample
   standard deviation (ddof = 1) over the runs of each curve point (pixel flipping: the
   score after each step; region perturbation: Quantus' drops) and of the AUC.

Quantus 0.6.0 needs three interventions, all recorded in reference.json:
  * PixelFlipping steps over the C*H*W features of the channel-broadcast attribution but
    asserts that H*W divides by features_in_step, so whole-pixel steps (3*N features) on an
    RGB 64x64 image are refused: the assert is bypassed; the metric itself is unchanged.
  * ROAD ranks the channel-broadcast attribution (C*H*W indices) and hands those indices
    to noisy_linear_imputation, which indexes H*W pixels: on RGB input it raises
    IndexError. The fixture runs ROAD's evaluate_batch with that one line fixed (the
    attribution's single channel is ranked) and also records the target's probability at
    each percentage.
  * utils.calculate_auc (PixelFlipping's return_auc_per_sample, get_auc_score) calls
    np.trapz, which numpy 2.4 removed: the AUCs are np.trapezoid(curve, dx=1), its
    successor, on the curves Quantus returns.
  * PixelFlipping and ROAD only remove the most relevant first; "lerf" cases are Quantus
    on the negated attribution.
Orderings: Quantus sorts with numpy's unstable argsort of the max-normalised attribution;
the script checks that every step removes exactly the pixels (patches) a stable sort of
the raw channel sum removes, which is srtool's rule (ties by raster index), so the
curves are comparable per sample.

Usage:  /work/ref/bin/python Tools/make_eval_fixtures.py
Needs:  torch, numpy, pillow, onnx, h5py, quantus 0.6.0 (pip install quantus==0.6.0). ~2 min.
"""

import json
import math
import os
import sys
import warnings
from importlib.metadata import version as pkg_version
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_folders  # noqa: E402
import train_bundled  # noqa: E402

warnings.filterwarnings("ignore")
import quantus  # noqa: E402
from quantus.functions.perturb_func import noisy_linear_imputation  # noqa: E402
import quantus.helpers.asserts as qasserts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "Fixtures" / "bundled"
OUT = ROOT / "Fixtures" / "eval" / "shapes"
GENERATOR = "Tools/make_eval_fixtures.py"
NAMES = ["circle_0", "circle_1", "square_0", "square_1", "triangle_0", "triangle_1", "cross_0", "cross_1"]
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
ROAD_SEED = 7
IG_STEPS = 32
ATOL, RTOL = 2e-6, 1e-4

# srtool's options for each case: pixels per step (pixel-flipping), patch / regions
# (region-perturbation), percentages as fractions (road); baseline and order.
PIXEL_FLIPPING = {
    "pf_black_morf": dict(pixels=64, baseline="black", order="morf"),
    "pf_white_lerf": dict(pixels=128, baseline="white", order="lerf"),
    "pf_mean_morf_partial": dict(pixels=100, baseline="mean", order="morf"),
    "pf_zero_morf": dict(pixels=256, baseline="zero", order="morf"),
}
REGION_PERTURBATION = {
    "rp_p8_black_morf": dict(patch=8, regions=100, baseline="black", order="morf"),
    "rp_p12_mean_lerf": dict(patch=12, regions=20, baseline="mean", order="lerf"),
    "rp_p7_white_morf": dict(patch=7, regions=30, baseline="white", order="morf"),
}
ROAD_PERCENTAGES = list(range(1, 100, 2))
# Random baselines, compared in distribution over UNIFORM_RUNS seeded runs.
UNIFORM_RUNS = 200
UNIFORM = {
    "pf_uniform_morf": dict(metric="pixel-flipping", pixels=512, baseline="uniform", order="morf"),
    "rp_p16_uniform_morf": dict(metric="region-perturbation", patch=16, regions=16, baseline="uniform", order="morf"),
}
ROAD = {
    "road_morf": dict(percentages=ROAD_PERCENTAGES, order="morf", noise=0.0),
    "road_lerf": dict(percentages=[10, 30, 50, 70, 90], order="lerf", noise=0.0),
    "road_morf_noise": dict(percentages=ROAD_PERCENTAGES, order="morf", noise=0.01),
}


def load_twin():
    m = onnx.load(str(BUNDLED / "shapes.onnx"))
    net = train_bundled.ShapesNet()
    net.load_state_dict({i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer})
    return net.eval()


def load_samples():
    xs, masks = [], []
    for n in NAMES:
        rgb = np.asarray(Image.open(BUNDLED / "samples" / f"{n}.png").convert("RGB"), np.float32)
        xs.append(((rgb / 255.0 - MEAN) / STD).transpose(2, 0, 1))
        masks.append((np.asarray(Image.open(BUNDLED / "samples" / f"{n}_mask.png").convert("L")) > 127)[None])
    return np.stack(xs).astype(np.float32), np.stack(masks)


def stable_order(values, order):
    """srtool's rule: descending (morf) or ascending (lerf), ties by index."""
    v = values.astype(np.float64)
    return np.argsort(-v if order == "morf" else v, kind="stable")


def probabilities(net, x):
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(np.ascontiguousarray(x, np.float32))), -1).numpy()


def quantus_baseline(name):
    return 0.0 if name == "zero" else name


def pixel_flipping(net, x, y, a, case, checks):
    n, c, h, w = x.shape
    fis = case["pixels"] * c
    sign = 1 if case["order"] == "morf" else -1
    saved = qasserts.assert_features_in_step
    qasserts.assert_features_in_step = lambda **kw: None  # H*W vs C*H*W: see the docstring
    try:
        metric = quantus.PixelFlipping(features_in_step=fis, perturb_baseline=quantus_baseline(case["baseline"]),
                                       disable_warnings=True, return_auc_per_sample=False)
        curves = np.array(metric(model=net, x_batch=x, y_batch=y, a_batch=sign * a, device="cpu", batch_size=n))
    finally:
        qasserts.assert_features_in_step = saved
    auc = [float(np.trapezoid(cv, dx=1)) for cv in curves]
    # The pixels each step removes: Quantus' argsort of the normalised broadcast map.
    an = quantus.normalise_func.normalise_by_max(sign * a)
    q_order = np.argsort(-np.broadcast_to(an, x.shape).reshape(n, -1), axis=1)
    steps = math.ceil(c * h * w / fis)
    for i in range(n):
        mine = stable_order(a[i, 0].reshape(-1), case["order"])
        for s in range(steps):
            q = set(q_order[i, s * fis:(s + 1) * fis].tolist())
            m = {ch * h * w + p for p in mine[s * case["pixels"]:(s + 1) * case["pixels"]].tolist() for ch in range(c)}
            if q != m:
                checks.append(f"pixel order differs: sample {i} step {s}")
                break
    return dict(curves=curves.tolist(), auc=auc)


def region_perturbation(net, x, y, a, case, checks):
    metric = quantus.RegionPerturbation(patch_size=case["patch"], regions_evaluation=case["regions"],
                                        order=case["order"], perturb_baseline=quantus_baseline(case["baseline"]),
                                        disable_warnings=True)
    diffs = np.array(metric(model=net, x_batch=x, y_batch=y, a_batch=a, device="cpu", batch_size=len(x)))
    auc = [float(np.trapezoid(d, dx=1)) for d in diffs]
    # Patch order check: Quantus' sums (normalised, broadcast, float32) vs float64 sums.
    p, (n, c, h, w) = case["patch"], x.shape
    ph = quantus.helpers.utils.get_padding_size(h, p)
    pw = quantus.helpers.utils.get_padding_size(w, p)
    an = quantus.normalise_func.normalise_by_max(a)
    for i in range(n):
        q_pad = np.pad(np.broadcast_to(an[i], (c, h, w)), ((0, 0), ph, pw))
        r_pad = np.pad(a[i, 0].astype(np.float64), (ph, pw))
        gh, gw = q_pad.shape[1] // p, q_pad.shape[2] // p
        q_sums = np.array([q_pad[:, r * p:(r + 1) * p, k * p:(k + 1) * p].sum() for r in range(gh) for k in range(gw)])
        r_sums = np.array([r_pad[r * p:(r + 1) * p, k * p:(k + 1) * p].sum() for r in range(gh) for k in range(gw)])
        q_order = np.argsort(-q_sums if case["order"] == "morf" else q_sums)[:case["regions"]]
        if not np.array_equal(q_order, stable_order(r_sums, case["order"])[:case["regions"]]):
            checks.append(f"patch order differs: sample {i}")
    return dict(differences=diffs.tolist(), auc=auc)


class FixedROAD(quantus.ROAD):
    """Quantus 0.6.0's ROAD.evaluate_batch with one line changed: the attribution's own
    single channel is ranked instead of its broadcast to the input's channels (whose
    C*H*W indices noisy_linear_imputation cannot take). Also keeps the probabilities."""

    probs = correct = None

    def evaluate_batch(self, model, x_batch, y_batch, a_batch, **kwargs):
        batch_size = a_batch.shape[0]
        a_batch = a_batch.reshape(batch_size, -1)  # was: np.broadcast_to(a_batch, x_batch.shape) first
        ordered_indices = np.argsort(-a_batch, axis=1)
        results, probs = [], []
        for p in self.percentages:
            top_k_indices = ordered_indices[:, : int(self.a_size * p / 100)]
            x_perturbed = np.stack([self.perturb_func(arr=xe, indices=ti) for xe, ti in zip(x_batch, top_k_indices)])
            x_input = model.shape_input(x_perturbed, x_batch.shape, channel_first=True, batched=True)
            pred = model.predict(x_input)
            results.append(y_batch == np.argmax(pred, axis=-1))
            probs.append(pred[np.arange(batch_size), y_batch])
        FixedROAD.probs = np.stack(probs, axis=1)
        FixedROAD.correct = np.stack(results, axis=1).astype(int)
        return [FixedROAD.correct]


def road(net, x, y, a, case, checks):
    sign = 1 if case["order"] == "morf" else -1
    np.random.seed(ROAD_SEED)
    metric = FixedROAD(percentages=case["percentages"], noise=case["noise"], disable_warnings=True)
    metric(model=net, x_batch=x, y_batch=y, a_batch=sign * a, device="cpu", batch_size=len(x))
    an = quantus.normalise_func.normalise_by_max(sign * a).reshape(len(x), -1)
    for i in range(len(x)):
        q, mine = np.argsort(-an[i]), stable_order(a[i, 0].reshape(-1), case["order"])
        for p in case["percentages"]:
            k = int(a[i].size * p / 100)
            if set(q[:k].tolist()) != set(mine[:k].tolist()):
                checks.append(f"road top set differs: sample {i} at {p} %")
    return dict(correct=FixedROAD.correct.tolist(), probabilities=FixedROAD.probs.tolist(),
                mean_correct=[float(v) for v in metric.evaluation_scores.values()])


def uniform_distribution(net, x, y, a, checks):
    """Mean and standard deviation (ddof = 1) over UNIFORM_RUNS runs, np.random.seed(k)
    before run k, of every curve point and the AUC, per sample. Only run 0 adds to
    `checks` (the order does not depend on the baseline)."""
    out = {}
    for name, case in UNIFORM.items():
        options = {k: v for k, v in case.items() if k != "metric"}
        run = pixel_flipping if case["metric"] == "pixel-flipping" else region_perturbation
        key = "curves" if case["metric"] == "pixel-flipping" else "differences"
        curves, aucs = [], []
        for k in range(UNIFORM_RUNS):
            np.random.seed(k)
            r = run(net, x, y, a, options, checks if k == 0 else [])
            curves.append(r[key])
            aucs.append(r["auc"])
        curves, aucs = np.array(curves, np.float64), np.array(aucs, np.float64)  # [runs, N, L], [runs, N]
        out[name] = {"metric": case["metric"], "options": options,
                     f"mean_{key}": curves.mean(0).tolist(), f"sd_{key}": curves.std(0, ddof=1).tolist(),
                     "mean_auc": aucs.mean(0).tolist(), "sd_auc": aucs.std(0, ddof=1).tolist()}
    return dict(runs=UNIFORM_RUNS, seeds="np.random.seed(k) before run k, k = 0 ... runs - 1",
                sd="sample standard deviation over the runs (ddof = 1)", cases=out)


def integrated_gradients(net, x, y, steps=IG_STEPS):
    """x * mean over alpha = (k + 1/2) / steps of d logit_target / dx at alpha * x (zero
    baseline, midpoint rule): the max-pool winners change along the path, so unlike
    gradient x input the map has no exact zeros and no ties that would leave Quantus'
    unstable sort to decide the order."""
    total = np.zeros_like(x)
    for k in range(steps):
        xa = torch.from_numpy(x * np.float32((k + 0.5) / steps)).requires_grad_()
        net(xa)[np.arange(len(x)), y].sum().backward()
        total += xa.grad.numpy()
    return (x * total / steps).astype(np.float32)


def main():
    torch.set_num_threads(1)
    net = load_twin()
    x, masks = load_samples()
    expected = json.loads((BUNDLED / "expected.json").read_text())
    with torch.no_grad():
        logits = net(torch.from_numpy(x)).numpy()
    y = logits.argmax(1)
    want = np.array([s["logits"] for s in expected["samples"] if s["name"] in NAMES])
    assert np.abs(logits - want).max() < 1e-4, "the PyTorch twin disagrees with onnxruntime"
    assert list(y) == [s["class_index"] for s in expected["samples"] if s["name"] in NAMES]
    attribution = integrated_gradients(net, x, y)
    a = attribution.sum(1, keepdims=True)
    start = probabilities(net, x)[np.arange(len(x)), y]

    checks = []
    cases = {}
    for name, case in PIXEL_FLIPPING.items():
        cases[name] = dict(metric="pixel-flipping", options=case, **pixel_flipping(net, x, y, a, case, checks))
    for name, case in REGION_PERTURBATION.items():
        cases[name] = dict(metric="region-perturbation", options=case,
                           **region_perturbation(net, x, y, a, case, checks))
    for name, case in ROAD.items():
        cases[name] = dict(metric="road", options=dict(case, percentages=[p / 100 for p in case["percentages"]]),
                           **road(net, x, y, a, case, checks))
    # Sparseness and Complexity normalise by the maximum over the whole call: one sample
    # per call, as srtool evaluates them.
    one = lambda metric, i, **kw: float(metric(model=net, x_batch=x[i:i + 1], y_batch=y[i:i + 1],  # noqa: E731
                                               a_batch=a[i:i + 1], device="cpu", **kw)[0])
    cases["sparseness"] = dict(metric="sparseness", scores=[one(quantus.Sparseness(disable_warnings=True), i) for i in range(len(x))])
    cases["complexity"] = dict(metric="complexity", scores=[one(quantus.Complexity(disable_warnings=True), i) for i in range(len(x))])
    for name, cls in [("pointing-game", quantus.PointingGame), ("relevance-mass", quantus.RelevanceMassAccuracy),
                      ("relevance-rank", quantus.RelevanceRankAccuracy)]:
        scores = [float(cls(disable_warnings=True)(model=net, x_batch=x[i:i + 1], y_batch=y[i:i + 1], a_batch=a[i:i + 1],
                                                   s_batch=masks[i:i + 1].astype(np.float32), device="cpu")[0])
                  for i in range(len(x))]
        cases[name] = dict(metric=name, scores=scores)
    for i in range(len(x)):  # relevance rank: the top-|mask| sets agree
        k = int(masks[i].sum())
        q = set(np.argsort(-quantus.normalise_func.normalise_by_max(a[i:i + 1]).reshape(-1))[:k].tolist())
        if q != set(stable_order(a[i, 0].reshape(-1), "morf")[:k].tolist()):
            checks.append(f"relevance-rank top set differs: sample {i}")

    uniform = uniform_distribution(net, x, y, a, checks)

    k30 = int(64 * 64 * 30 / 100)
    imputed = noisy_linear_imputation(arr=x[0], indices=stable_order(a[0, 0].reshape(-1), "morf")[:k30], noise=0.0)

    fixture_folders.clear_case_dir(OUT, GENERATOR)
    OUT.mkdir(parents=True)
    np.save(OUT / "attribution.npy", attribution)
    np.save(OUT / "imputed.npy", imputed.astype(np.float32))
    with h5py.File(OUT / "attributions.h5", "w") as f:  # ViRelAy's database layout
        rows = np.arange(len(x))[::-1]
        f.create_dataset("index", data=rows.astype(np.uint32))
        f.create_dataset("attribution", data=a[rows])
        f.create_dataset("label", data=y[rows].astype(np.uint16)[:, None])
        f.create_dataset("prediction", data=probabilities(net, x)[rows])
    (OUT / "reference.json").write_text(json.dumps(dict(
        samples=[f"Fixtures/bundled/samples/{n}.png" for n in NAMES],
        masks=[f"Fixtures/bundled/samples/{n}_mask.png" for n in NAMES],
        targets=y.tolist(), start_probabilities=start.tolist(), cases=cases,
        imputed=dict(sample=0, fraction=0.3, pixels=k30, noise=0.0),
        ordering_checks=checks or ["every step removes the pixels / patches of srtool's stable order"],
        uniform_distribution=uniform,
    ), indent=1) + "\n")
    (OUT / "manifest.json").write_text(json.dumps(dict(
        generator=GENERATOR,
        reference=f"quantus {pkg_version('quantus')} on a PyTorch twin of Fixtures/bundled/shapes.onnx",
        versions=dict(torch=torch.__version__, numpy=np.__version__, quantus=pkg_version("quantus")),
        road_seed=ROAD_SEED, uniform_runs=UNIFORM_RUNS, atol=ATOL, rtol=RTOL,
        tolerance="|srtool - quantus| <= atol + rtol*|quantus| per value; road_morf_noise is random: "
                  "compared in distribution (share of equal correct/incorrect entries); uniform_distribution: "
                  "srtool's mean over R runs within 4*sqrt(sd_q^2/runs + max(sd_q, sd_srtool)^2/R) + atol + "
                  "rtol*|quantus| of Quantus' mean, per sample, curve point and AUC",
        notes=__doc__.split("Quantus 0.6.0 needs")[1].split("Usage:")[0].strip(),
    ), indent=1) + "\n")
    print("checks:", checks or "ok")


if __name__ == "__main__":
    main()
