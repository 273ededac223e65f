#!/usr/bin/env python3
"""Write the AttnLRP reference fixtures: LXT 2.1's relevance for the zoo's tiny ViT.

What it does
------------
Rebuilds exactly the tiny torchvision VisionTransformer of Fixtures/zoo/vit (the case
'vit' of Tools/make_zoo_fixtures.py: torch.manual_seed(308), build, randomize(model, 308),
calibrate), checks that its float64 logits on Fixtures/zoo/vit/input.npy equal that
folder's output_f64.npy and that its plain float64 input gradient equals
input_gradient_f64.npy, then explains each sample's target (the argmax, the manifest's
"targets") with LXT (the `lxt` package, version 2.1, `lxt.efficient`: rules as modified
gradients, relevance = tensor * gradient) under four composites:

    attnlrp        full AttnLRP. LXT 2.1 ships no AttnLRP map for torchvision's ViT (its
                   default map for torchvision.models.vision_transformer is CP-LRP), so
                   this uses LXT's own pieces: patches.non_linear_forward on nn.GELU
                   (identity rule), patches.layer_norm_forward on nn.LayerNorm (std
                   detached), and patches.wrap_attention_forward -- the wrapper LXT puts
                   around every Hugging Face attention function (gradient of q and k / 4,
                   of v / 2: the uniform rule on both matmuls, softmax by plain
                   gradient*input) -- around torch.nn.functional.scaled_dot_product_attention,
                   which nn.MultiheadAttention's Python path calls on the projected q, k, v.
                   Linear / conv: plain gradient (LRP-0, epsilon = 0), as LXT leaves them.
    cp-lrp         LXT's default map: monkey_patch(torchvision.models.vision_transformer)
                   = lxt.efficient.models.vit_torch.cp_LRP (GELU identity, LayerNorm std
                   detached, nn.MultiheadAttention with query and key detached: the
                   attention weights are constants, all relevance goes through v).
    cp-lrp-gamma   LXT's ViT example (examples/vit_torch.py): cp_LRP + monkey_patch_zennit()
                   + zennit LayerMapComposite [(nn.Conv2d, Gamma(0.25)), (nn.Linear,
                   Gamma(0.05))]. The in-/out-projections of nn.MultiheadAttention are
                   used through F.linear, so no zennit rule runs there (plain gradient).
    attnlrp-gamma  attnlrp + the same zennit Gamma composite (sums only, no file: room).

The backward pass starts as LXT's examples do: y[i, target_i].backward() -- gradient 1 at
the target logit, so the relevance entering the output is one-hot * target logit (done for
both samples at once as y[range(2), targets].sum().backward(); the samples do not
interact). The input relevance is input * input.grad (shape [2, 3, 32, 32]; LXT's example
then sums over the channels, this keeps them). Every composite is computed with the model
in float64 (model.double()) and in float32; the manifest records the float32-vs-float64
difference. Intermediate relevances (tensor * its gradient, via retain_grad) are taken at
the patch-embedding conv's output, the encoder input (class token + patches, before the
position embedding), the first block's input (after the position embedding), each
block's output and the head's input (class token after the final LayerNorm).

Per composite and sample the manifest gives the sum of the relevance at every one of
those points, so where relevance is lost (biases, position embedding, class token,
LayerNorm bias, softmax) can be read off. It also says which rule LXT applies to each
layer type (docs/attnlrp-reference.md has the formulas).

Output (Fixtures/attnlrp/vit/, < 200 KB):

    relevance_<composite>_f64.npy         float64 [2, 3, 32, 32] input relevance
                                          (attnlrp, cp-lrp, cp-lrp-gamma)
    inter_<composite>_<point>_f64.npy     float64 intermediate relevance (attnlrp, cp-lrp):
                                          conv_out [2, 16, 4, 4], layer0_in / block0_out /
                                          block1_out [2, 17, 16], head_in [2, 16]
    manifest.json

Input: Fixtures/zoo/vit/input.npy (not copied). Deterministic (CPU, one thread);
re-running gives byte-identical files for the same torch / torchvision / lxt / zennit /
numpy versions. The folder is only replaced if its manifest says this script made it.

Usage
-----
Needs its own environment (LXT pins nothing, but pulls transformers, zennit, ...):

    python3 -m venv /work/lxt-venv
    /work/lxt-venv/bin/pip install torch==2.15.0 torchvision==0.29.2 lxt==2.1 \
        transformers==4.52.4 numpy onnx onnxruntime timm
    /work/lxt-venv/bin/python Tools/make_attnlrp_fixtures.py

(make_zoo_fixtures.py, imported for the model, imports timm, onnx and onnxruntime.
torchvision from PyPI needs PyPI's torch build, not a +cpu wheel.)
"""

import contextlib
import copy
import json
import os
import sys
import warnings
from functools import partial
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)
import make_zoo_fixtures as zoo  # noqa: E402  (the model: tv_vit, randomize, calibrate)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.models import vision_transformer  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import zennit  # noqa: E402
    import zennit.core  # noqa: E402
    import zennit.rules as z_rules  # noqa: E402
    from zennit.composites import LayerMapComposite  # noqa: E402
    from lxt.efficient import monkey_patch, monkey_patch_zennit  # noqa: E402
    from lxt.efficient.patches import (layer_norm_forward, non_linear_forward,  # noqa: E402
                                       patch_method, wrap_attention_forward)
    from lxt.efficient.rules import divide_gradient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "Fixtures" / "zoo" / "vit"
OUT = ROOT / "Fixtures" / "attnlrp" / "vit"
GENERATOR = "Tools/make_attnlrp_fixtures.py"
MAX_FOLDER_BYTES = 200 * 1024
CONV_GAMMA, LIN_GAMMA = 0.25, 0.05
COMPOSITES = ["attnlrp", "cp-lrp", "cp-lrp-gamma", "attnlrp-gamma"]
INPUT_FILES = ["attnlrp", "cp-lrp", "cp-lrp-gamma"]          # relevance_<c>_f64.npy
INTER_FILES = ["attnlrp", "cp-lrp"]                            # inter_<c>_<point>_f64.npy
INTER_POINTS = ["conv_out", "layer0_in", "block0_out", "block1_out", "head_in"]


# --------------------------------------------------------------------------- patching

@contextlib.contextmanager
def patched(composite, attnlrp_map=None):
    """Applies one composite's LXT patches (and zennit rules) for the duration of the block
    and puts every patched class attribute / function back afterwards, so composites do
    not leak into each other (LXT's monkey patches are global and permanent)."""
    saved = [(nn.GELU, "forward"), (nn.LayerNorm, "forward"), (nn.MultiheadAttention, "forward"),
             (F, "scaled_dot_product_attention"), (zennit.core.BasicHook, "forward"),
             (zennit.core.BasicHook, "backward")]
    originals = [(obj, name, obj.__dict__[name]) for obj, name in saved]
    had_original = {c: "original_forward" in c.__dict__ for c in (nn.GELU, nn.MultiheadAttention)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if composite.startswith("cp-lrp"):
            monkey_patch(vision_transformer)          # LXT's default map = vit_torch.cp_LRP
        else:
            monkey_patch(vision_transformer, patch_map=attnlrp_map or ATTNLRP_MAP)
        if composite.endswith("gamma"):
            monkey_patch_zennit()
    try:
        yield
    finally:
        for obj, name, fn in originals:
            setattr(obj, name, fn)
        for c, had in had_original.items():
            if not had and "original_forward" in c.__dict__:
                delattr(c, "original_forward")


def _sdpa_attnlrp(sdpa):
    """LXT's Hugging Face attention wrapper (patches.wrap_attention_forward: q, k
    gradient / 4, v gradient / 2) around torch's scaled_dot_product_attention."""
    wrapped = wrap_attention_forward(lambda module, q, k, v, *a, **kw: sdpa(q, k, v, *a, **kw))
    return lambda q, k, v, *a, **kw: wrapped(None, q, k, v, *a, **kw)


def patch_sdpa(_target):
    F.scaled_dot_product_attention = _sdpa_attnlrp(F.scaled_dot_product_attention)
    return True


ATTNLRP_MAP = {
    # as vit_torch.cp_LRP outside the attention ...
    nn.GELU: partial(patch_method, non_linear_forward, keep_original=True),
    nn.LayerNorm: partial(patch_method, layer_norm_forward),
    # ... and LXT's AttnLRP attention (uniform rule on q@k^T and A@v, softmax as is)
    nn.MultiheadAttention: patch_sdpa,
}


def mha_input_attnlrp_forward(self, query, key, value, *args, **kwargs):
    """Cross-check only: the same uniform rule applied to nn.MultiheadAttention's inputs
    (the in-projection is linear, so dividing there is the same up to rounding)."""
    return self.original_forward(divide_gradient(query, 4), divide_gradient(key, 4),
                                 divide_gradient(value, 2), *args, **kwargs)


# --------------------------------------------------------------------------- running

def build_model():
    spec = zoo.CASES["vit"]
    seed = spec["seed"]
    torch.manual_seed(seed)
    model, source, _, _ = spec["build"]()
    zoo.randomize(model, seed)
    zoo.calibrate(model, seed, spec.get("hw", (32, 32)))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, source, seed


def explain(model, x, targets, composite, dtype, attnlrp_map=None):
    """Input relevance and intermediate relevances (tensor * gradient) for one composite.
    composite None = plain gradient*input (no patches)."""
    m = model.to(dtype)
    store = {}
    hooks = [
        m.conv_proj.register_forward_hook(lambda mod, i, o: store.__setitem__("conv_out", o)),
        m.encoder.register_forward_pre_hook(lambda mod, i: store.__setitem__("tokens", i[0])),
        m.encoder.dropout.register_forward_hook(lambda mod, i, o: store.__setitem__("layer0_in", o)),
        m.heads.register_forward_pre_hook(lambda mod, i: store.__setitem__("head_in", i[0])),
    ]
    for k, layer in enumerate(m.encoder.layers):
        hooks.append(layer.register_forward_hook(
            lambda mod, i, o, k=k: store.__setitem__(f"block{k}_out", o)))
    comp = None
    ctx = patched(composite, attnlrp_map) if composite else contextlib.nullcontext()
    with ctx:
        if composite and composite.endswith("gamma"):
            comp = LayerMapComposite([(nn.Conv2d, z_rules.Gamma(CONV_GAMMA)),
                                      (nn.Linear, z_rules.Gamma(LIN_GAMMA))])
            comp.register(m)
        xt = torch.from_numpy(x).to(dtype).requires_grad_(True)
        y = m(xt)
        for t in store.values():
            t.retain_grad()
        y[torch.arange(len(targets)), targets].sum().backward()
        if comp is not None:
            comp.remove()
    for h in hooks:
        h.remove()
    rel = (xt * xt.grad).detach().numpy()
    inter = {k: (t * t.grad).detach().numpy() for k, t in store.items()}
    return y.detach().numpy(), rel, xt.grad.numpy(), inter


def gamma_hooked_modules(model):
    """Which modules the example's LayerMapComposite gives a Gamma rule, and whether that
    rule runs (nn.MultiheadAttention.out_proj is a Linear but is used via F.linear)."""
    m = model.double()
    ran = set()
    names = {mod: n for n, mod in m.named_modules()}
    comp = LayerMapComposite([(nn.Conv2d, z_rules.Gamma(CONV_GAMMA)),
                              (nn.Linear, z_rules.Gamma(LIN_GAMMA))])
    hooks = [mod.register_forward_hook(lambda mod, i, o: ran.add(names[mod]))
             for mod in names if isinstance(mod, (nn.Conv2d, nn.Linear))]
    comp.register(m)
    with torch.no_grad():
        m(torch.zeros(1, 3, 32, 32, dtype=torch.float64))
    comp.remove()
    for h in hooks:
        h.remove()
    hooked = [n for mod, n in names.items() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    return {n: n in ran for n in hooked}


def conservation_without_biases(model, x, targets):
    """Diagnostic (no file): the same composites on a copy of the model whose biases
    (conv, Linear, in-/out-projection, LayerNorm), position embedding and class token are
    zero. Per composite and sample: input relevance sum / target logit."""
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or name.endswith(("pos_embedding", "class_token")):
                p.zero_()
    out = {}
    for c in COMPOSITES:
        y, rel, _, inter = explain(m, x, targets, c, torch.float64)
        logits = [float(y[i, t]) for i, t in enumerate(targets)]
        out[c] = {"input_over_logit": [float(r.sum()) / lg for r, lg in zip(rel, logits)],
                  "layer0_in_over_logit": [float(r.sum()) / lg
                                           for r, lg in zip(inter["layer0_in"], logits)]}
    return out


def npy_bytes(arr, dtype):
    import io
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype=dtype))
    return buf.getvalue()


def main():
    torch.set_num_threads(1)
    torch.backends.mha.set_fastpath_enabled(False)     # nn.MultiheadAttention: Python path
    model, source, seed = build_model()
    x = np.load(ZOO / "input.npy")
    zoo_manifest = json.loads((ZOO / "manifest.json").read_text())
    y64_ref = np.load(ZOO / "output_f64.npy")
    targets = zoo_manifest["targets"]

    # same model: float64 logits and plain input gradient as the zoo fixture
    y64, gi64, grad64, _ = explain(model, x, targets, None, torch.float64)
    logit_err = float(np.abs(y64 - y64_ref).max())
    assert logit_err <= 1e-6, f"not the zoo's ViT: logits differ by {logit_err:.2e}"
    assert [int(t) for t in y64.argmax(1)] == targets
    grad_err = float(np.abs(grad64 - np.load(ZOO / "input_gradient_f64.npy")).max())
    assert grad_err <= 1e-9, f"plain input gradient differs by {grad_err:.2e}"
    target_logits = [float(y64[i, t]) for i, t in enumerate(targets)]

    results, f32_diff = {}, {}
    for c in COMPOSITES:
        y_c, rel64, _, inter64 = explain(model, x, targets, c, torch.float64)
        assert np.abs(y_c - y64).max() <= 1e-12, f"{c}: patched forward changed the logits"
        _, rel32, _, inter32 = explain(model, x, targets, c, torch.float32)
        assert np.isfinite(rel64).all() and rel64.any()
        results[c] = (rel64, inter64)
        scale = float(np.abs(rel64).max())
        f32_diff[c] = {"max_abs": float(np.abs(rel32 - rel64).max()),
                       "max_abs_relative_to_max_abs_f64": float(np.abs(rel32 - rel64).max() / scale),
                       "sums_max_abs": float(np.abs(rel32.astype(np.float64).reshape(2, -1).sum(1)
                                                    - rel64.reshape(2, -1).sum(1)).max())}
    model.double()

    # cross-check: the uniform rule at the attention's inputs gives the same attnlrp
    cross = dict(ATTNLRP_MAP)
    cross[nn.MultiheadAttention] = partial(patch_method, mha_input_attnlrp_forward,
                                           keep_original=True)
    _, rel_cross, _, _ = explain(model, x, targets, "attnlrp", torch.float64, cross)
    cross_err = float(np.abs(rel_cross - results["attnlrp"][0]).max())
    assert cross_err <= 1e-12, f"attnlrp at sdpa vs at MHA inputs differ by {cross_err:.2e}"
    # cp-lrp without patching the attention at all differs (sanity: the patches act)
    _, rel_again, _, _ = explain(model, x, targets, "cp-lrp", torch.float64)
    assert np.array_equal(rel_again, results["cp-lrp"][0]), "not deterministic"
    model.double()
    _, gi_after, _, _ = explain(model, x, targets, None, torch.float64)
    assert np.array_equal(gi_after, gi64), "patches leaked into the unpatched model"

    hooked = gamma_hooked_modules(model)
    bias_free = conservation_without_biases(model, x, targets)

    def sums(a):
        return [float(s) for s in a.reshape(a.shape[0], -1).sum(1)]

    summary = {}
    for c, (rel64, inter64) in results.items():
        s = {"input": sums(rel64)}
        for k in ["conv_out", "tokens", "layer0_in", "block0_out", "block1_out", "head_in"]:
            s[k] = sums(inter64[k])
        s["class_token"] = sums(inter64["tokens"][:, 0])
        s["position_embedding"] = [a - b for a, b in zip(s["layer0_in"], s["tokens"])]
        s["input_over_logit"] = [a / b for a, b in zip(s["input"], target_logits)]
        summary[c] = s

    files = {}
    for c in INPUT_FILES:
        files[f"relevance_{c}_f64.npy"] = npy_bytes(results[c][0], "<f8")
    for c in INTER_FILES:
        for p in INTER_POINTS:
            files[f"inter_{c}_{p}_f64.npy"] = npy_bytes(results[c][1][p], "<f8")

    manifest = {
        "generator": GENERATOR,
        "reference": "LXT (pip lxt) 2.1, lxt.efficient: LRP as modified gradients, "
                     "relevance = tensor * gradient; float64 (model.double()), CPU, 1 thread",
        "lxt": version("lxt"), "zennit": version("zennit"), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "transformers": version("transformers"),
        "numpy": np.__version__,
        "model": "Fixtures/zoo/vit (same weights: rebuilt with Tools/make_zoo_fixtures.py's "
                 "tv_vit, randomize, calibrate)",
        "source": source,
        "seed": seed,
        "input": "../../zoo/vit/input.npy",
        "float64_logits_max_abs_error_vs_zoo_output_f64": logit_err,
        "float64_plain_gradient_max_abs_error_vs_zoo_input_gradient_f64": grad_err,
        "targets": targets,
        "target_logits_f64": target_logits,
        "start_relevance": "LXT convention: y[i, target].backward() with gradient 1, i.e. "
                           "the relevance at the logits is one-hot(target) * target logit "
                           "(gradient*input at the output). Both samples in one backward of "
                           "y[range(2), targets].sum().",
        "input_relevance": "input * input.grad, float64 [2, 3, 32, 32] (not summed over "
                           "channels)",
        "composites": {
            "attnlrp": {
                "file": "relevance_attnlrp_f64.npy",
                "how": "monkey_patch(vision_transformer, patch_map={nn.GELU: "
                       "non_linear_forward, nn.LayerNorm: layer_norm_forward}) + "
                       "F.scaled_dot_product_attention wrapped with "
                       "lxt.efficient.patches.wrap_attention_forward. LXT 2.1 has no "
                       "ready AttnLRP map for torchvision's ViT; these are its HF-model "
                       "AttnLRP pieces. Cross-checked: the same division applied to "
                       "nn.MultiheadAttention's query/key/value inputs gives max abs "
                       f"difference {cross_err:.1e}.",
            },
            "cp-lrp": {"file": "relevance_cp-lrp_f64.npy",
                       "how": "monkey_patch(vision_transformer) (LXT's default map "
                              "lxt.efficient.models.vit_torch.cp_LRP)"},
            "cp-lrp-gamma": {"file": "relevance_cp-lrp-gamma_f64.npy",
                             "how": "cp_LRP + monkey_patch_zennit() + LayerMapComposite("
                                    f"[(nn.Conv2d, Gamma({CONV_GAMMA})), (nn.Linear, "
                                    f"Gamma({LIN_GAMMA}))]) as in LXT's examples/vit_torch.py"},
            "attnlrp-gamma": {"file": None,
                              "how": "attnlrp + the same zennit Gamma composite (sums only: "
                                     "the folder has no room for a fourth float64 input map)"},
        },
        "rules": {
            "Conv2d (conv_proj)": "gradient (LRP-0, epsilon 0, bias absorbs); gamma composites: "
                                  f"zennit Gamma({CONV_GAMMA}, stabilizer 1e-6)",
            "Linear (MLP linear_1/linear_2, heads.head)": "gradient (LRP-0, epsilon 0); gamma "
                                                          f"composites: zennit Gamma({LIN_GAMMA})",
            "nn.MultiheadAttention in_proj (packed q/k/v) and out_proj": "gradient (LRP-0) in "
                "every composite: F.multi_head_attention_forward uses the weights through "
                "F.linear, so zennit's module hooks on out_proj never run",
            "GELU": "identity rule (lxt.efficient.rules.identity_rule_implicit: gradient := "
                    "gelu(x) / (x + 1e-10) * upstream)",
            "LayerNorm (eps 1e-6)": "lxt.efficient.patches.layer_norm_forward: y = (x - mean) / "
                                    "detach(sqrt(var + eps)) * weight + bias; mean kept in the "
                                    "graph, so LRP-0 on the linear map x -> centred x * w / std",
            "q @ k^T and softmax(.) @ v (attnlrp)": "uniform rule: gradient at q and k / 4, at "
                                                     "v / 2 (rules.divide_gradient)",
            "softmax (attnlrp)": "plain gradient*input: R_in = x * (R_out - s * sum(R_out))",
            "attention (cp-lrp)": "query and key inputs of nn.MultiheadAttention detached: "
                                  "the attention weights are constants, v gets all relevance",
            "residual add, position-embedding add": "plain gradient (R split in proportion to "
                                                    "the addends); the position embedding's "
                                                    "share stays on the parameter",
            "class token (concatenated parameter), x[:, 0] (select)": "plain gradient; the "
                "class token's share stays on the parameter",
            "1/sqrt(d) scaling, reshapes, permutes, dropout(p=0)": "plain gradient (no effect)",
        },
        "gamma_composite_modules_rule_runs": hooked,
        "sums_f64": summary,
        "sums_note": "per sample, sum of relevance at: input pixels, conv_proj output, "
                     "encoder input (tokens, before + pos_embedding), layer0_in (after it), "
                     "each block output, head input; class_token = the tokens' position 0; "
                     "position_embedding = layer0_in - tokens. input_over_logit = input sum "
                     "/ target logit (1 = conservative).",
        "bias_free_conservation": bias_free,
        "bias_free_note": "diagnostic: same composites on a copy with every bias, the "
                          "position embedding and the class token set to 0 (no file). "
                          "Sum of input relevance / target logit per sample.",
        "float32_vs_float64": f32_diff,
        "intermediate_files": {p: f"inter_<attnlrp|cp-lrp>_{p}_f64.npy" for p in INTER_POINTS},
        "notes": "torch.backends.mha.set_fastpath_enabled(False): nn.MultiheadAttention runs "
                 "its Python path (F.multi_head_attention_forward -> "
                 "scaled_dot_product_attention, need_weights=False as torchvision calls it). "
                 "LXT's patches are global class/function replacements; this script restores "
                 "them after each composite and checks the unpatched gradient afterwards. "
                 "The float32 relevance is the same computation on model.float() and the "
                 "float32 input.",
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    size = sum(len(b) for b in files.values())
    if size > MAX_FOLDER_BYTES:
        raise SystemExit(f"folder would be {size} bytes (> {MAX_FOLDER_BYTES}); left as it was")
    fixture_folders.clear_case_dir(OUT, GENERATOR)
    OUT.mkdir(parents=True)
    for name, b in files.items():
        (OUT / name).write_bytes(b)

    print(f"lxt {version('lxt')}, zennit {version('zennit')}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}; logits vs zoo {logit_err:.1e}, "
          f"gradient vs zoo {grad_err:.1e}; targets {targets}, logits "
          f"{[round(v, 6) for v in target_logits]}")
    for c, b in bias_free.items():
        print(f"{c:14s} bias-free: input sum / logit {[round(v, 12) for v in b['input_over_logit']]}")
    for c, s in summary.items():
        print(f"{c:14s} input sums {[round(v, 6) for v in s['input']]}  "
              f"(/logit {[round(v, 4) for v in s['input_over_logit']]})  "
              f"f32-f64 {f32_diff[c]['max_abs']:.1e}")
    print(f"{OUT.relative_to(ROOT)}: {len(files)} files, {size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
