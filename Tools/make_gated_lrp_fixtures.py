#!/usr/bin/env python3
"""Write the gated-CNN LRP fixtures: srtool's epsilon-plus-flat on EfficientNet and ConvNeXt,
computed independently in PyTorch with zennit 0.5.1's hooks, in float64.

What it does
------------
Builds two tiny torchvision models with make_zoo_fixtures.py's builders (`tv_efficientnet`,
`tv_convnext`) and its weight recipe (`randomize()`, then `calibrate()`: batch-norm running
statistics from four seeded N(0,1) batches in train mode; both imported, not copied),
exports each with make_zoo_fixtures.py's `export()` (TorchScript exporter, opset 17,
constant folding, fixed batch 1), checks onnxruntime against the float64 torch model, and
computes the LRP relevance at the input for the top logit (start: one-hot times the logit)
with the rules srtool's `epsilon-plus-flat` composite applies to these graphs:

    first conv (the stem)           zennit Flat (bias ignored)
    every other conv (1x1, depthwise 3x3/5x5/7x7, SE convs, ConvNeXt's 2x2 downsampling)
                                    z+ with srtool's fallback (`ZPlusFallback` below): zennit's
                                    ZPlus, x+W+ + b+ + x-W-; where an output has no positive
                                    contribution at all (z+ == 0) yet relevance arrives, zennit
                                    drops it, srtool passes it to the negative contributions
                                    x+W- + x-W+ in proportion (LRPRules.swift `zPlus`)
    linear (classifier, ConvNeXt's MLP on [N, H, W, C])
                                    zennit Epsilon(1e-6)
    SiLU, GELU, Sigmoid             zennit Pass
    squeeze-and-excitation          the gate is a constant: y = x * s, R_x = R_y, nothing
                                    flows into s (srtool's `product` rule with PooledGates)
    residual sums                   zennit Norm on zennit.layer.Sum (proportional split)
    global average pooling          zennit Norm
    batch norm                      folded exactly into the conv before it (w*g/sqrt(v+eps),
                                    (b-m)*g/sqrt(v+eps)+beta, the BN removed), as srtool's
                                    foldAffine; not zennit's SequentialMergeBatchNorm, which
                                    leaves x/sqrt(1+eps) behind
    LayerNorm, LayerNorm2d          zennit Pass: srtool's CNN composites give layer norm the
                                    batch-norm rule (pass), not attnlrp's constant-sigma rule
    LayerScale (gamma_c * x)        merged into the block's last Linear (its rows and bias
                                    scaled), as srtool's foldAffine through the permute
    permute, flatten, dropout, stochastic depth (eval)
                                    plain gradient (identity on relevance)

Stabilisers: zennit's, eps*sign(z) with sign(0) = +1, 1e-6 everywhere. The reference is
computed in float64 (model.double()); the same pipeline in float32 gives PyTorch's own
float32 error, recorded in the manifest and used to set the test's tolerance.

Per case it writes into Fixtures/lrp/<case>/ (Tools/fixture_folders.py guards the folder):

    model.onnx            the exported model (the exporter's graph, untouched)
    input.npy             float32 [1, 3, H, W], seeded standard normal
    relevance_f64.npy     float64 [1, 3, H, W]: the relevance at the input
    layers/<t>.npy        float64 relevance at the output of every residual sum, named by
                          the ONNX Add's output tensor <t> ('/' and ':' as '_', as srtool's
                          --save-layers names files); the manifest lists them
    manifest.json         versions, seed, source, rules, target and logit, conservation,
                          the float32-vs-float64 error, the tolerance, z+ fallback counts

Usage:  /work/ref/bin/python Tools/make_gated_lrp_fixtures.py [case ...]
        (cases: gated_efficientnet, gated_convnext; default both; ~10 s, one thread)
Needs:  torch, torchvision, timm (make_zoo_fixtures.py imports it), zennit 0.5.1, numpy,
        onnx, onnxruntime. Re-running gives the same files for the same versions.
Tools/bench/bench_lrp_modern.py imports `canonize`, `composite` and `attribute` to time the
same rules on full-size EfficientNet-B0 and ConvNeXt-Tiny.
"""

import copy
import json
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zennit.attribution import Gradient
from zennit.composites import EpsilonPlusFlat
from zennit.core import Hook, stabilize
from zennit.layer import Sum
from zennit.rules import Pass
from zennit.types import Convolution

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "lrp"
GENERATOR = "Tools/make_gated_lrp_fixtures.py"
STABILIZER = 1e-6
EPSILON = 1e-6
MAX_FOLDER_BYTES = 300 * 1024

# Tolerance of the Swift test: |srtool - ref| <= REL_ATOL * max|ref| + RTOL * |ref|. A case
# fails here if PyTorch's own float32 run is not at least SAFETY times inside it.
REL_ATOL, RTOL = 1e-4, 1e-3
SAFETY = 10.0

# Other rules for the same layers, each alone: the manifest records how far each moves the
# float64 relevance in units of the tolerance (a variant the model does not contain is left out).
VARIANTS = {
    "zennit_zplus": ("zennit's own ZPlus: relevance dropped where z+ == 0", {}, {"zplus_fallback": False}),
    "gate_by_gradient": ("the squeeze-and-excitation product by autograd (gate not constant)",
                         {"constant_gates": False}, {}),
    "layer_norm_by_gradient": ("layer norm by autograd (zennit has no rule for it)", {}, {"layer_norm_pass": False}),
    "layer_scale_by_gradient": ("layer scale by autograd, not merged into the linear", {"merge_layer_scale": False}, {}),
}

CASES = {
    "gated_efficientnet": {"builder": "tv_efficientnet", "seed": 1501, "hw": (32, 32)},
    "gated_convnext": {"builder": "tv_convnext", "seed": 1502, "hw": (48, 48)},
}


# --------------------------------------------------------------------------- rules

class ZPlusFallback(Hook):
    """zennit's ZPlus (x+W+ + b+ + x-W-, divided by its stabilised sum) with srtool's
    fallback: where that sum is exactly 0 and relevance arrives, the relevance goes to the
    negative contributions x+W- + x-W+ in proportion (divided by their stabilised sum).
    The fallback terms are computed only when some output needs them. `counts` (a dict)
    collects, per module, how many outputs took the fallback."""

    def __init__(self, stabilizer=STABILIZER, counts=None):
        super().__init__()
        self.stabilizer = stabilizer
        self.counts = counts

    def copy(self):
        return ZPlusFallback(self.stabilizer, self.counts)

    def forward(self, module, input, output):
        self.stored_tensors["input"] = input

    @staticmethod
    def _layer(module, x, w, b):
        if isinstance(module, nn.Conv2d):
            return F.conv2d(x, w, b, module.stride, module.padding, module.dilation, module.groups)
        return F.linear(x, w, b)

    def _group(self, module, pairs, bias, signal):
        """sum_k x_k * d<z, S>/dx_k for z = sum_k layer(x_k; W_k) (the bias added once) and
        S = signal(z): one group of terms sharing a denominator. Returns (relevance, z)."""
        ins = [x.clone().requires_grad_() for x, _ in pairs]
        with torch.enable_grad():
            z = sum(self._layer(module, xi, w, bias if k == 0 else None) for k, (xi, (_, w)) in enumerate(zip(ins, pairs)))
        grads = torch.autograd.grad(z, ins, grad_outputs=signal(z.detach()))
        return sum(x * g for (x, _), g in zip(pairs, grads)), z.detach()

    def backward(self, module, grad_input, grad_output):
        r = grad_output[0]
        if r is None:                                   # a branch no relevance reaches
            return None
        x = self.stored_tensors["input"][0].detach()
        w = module.weight.detach()
        b = None if module.bias is None else module.bias.detach().clamp(min=0)
        xp, xn, wp, wn = x.clamp(min=0), x.clamp(max=0), w.clamp(min=0), w.clamp(max=0)
        relevance, zp = self._group(module, [(xp, wp), (xn, wn)], b, lambda z: r / stabilize(z, self.stabilizer))
        empty = (zp == 0) & (r != 0)
        n = int(empty.sum())
        if self.counts is not None:
            name = getattr(module, "_lrp_name", "?")
            self.counts[name] = self.counts.get(name, 0) + n
        if n:
            fallback, _ = self._group(module, [(xp, wn), (xn, wp)], None,
                                      lambda z: torch.where(empty, r / stabilize(z, self.stabilizer), torch.zeros_like(r)))
            relevance = relevance + fallback
        return tuple(relevance if g is not None and g.shape == relevance.shape else None for g in grad_input)


class ConstantGate(torch.autograd.Function):
    """y = x * s with the gate s a constant: the relevance at y is the relevance at x,
    none reaches s (srtool's `product` rule on a PooledGates factor)."""

    @staticmethod
    def forward(ctx, x, s):
        return x * s

    @staticmethod
    def backward(ctx, r):
        return r, None


def _se_forward(self, input):
    return ConstantGate.apply(input, self._scale(input).detach())


def _mbconv_forward(self, input):
    result = self.block(input)
    if self.use_res_connect:
        result = self.stochastic_depth(result)
        result = self.residual(torch.stack([input, result], dim=-1))
    return result


def _cnblock_forward(self, input):
    result = self.stochastic_depth(self.layer_scale * self.block(input))   # layer scale 1 once merged
    return self.residual(torch.stack([input, result], dim=-1))


def _fold(conv, bn):
    """conv followed by bn as one conv (exact, in the model's dtype)."""
    s = bn.weight / (bn.running_var + bn.eps).sqrt()
    new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=True).to(conv.weight)
    with torch.no_grad():
        new.weight.copy_(conv.weight * s.view(-1, 1, 1, 1))
        b0 = conv.bias if conv.bias is not None else torch.zeros_like(s)
        new.bias.copy_((b0 - bn.running_mean) * s + bn.bias)
    return new


def canonize(model, constant_gates=True, merge_layer_scale=True):
    """A copy of a torchvision EfficientNet / ConvNeXt (eval mode) rewritten so zennit's
    hooks apply srtool's rules: batch norms folded exactly, LayerScale merged into its
    Linear, residual additions as zennit Sum modules (Norm), SE gates constant, no in-place
    activations. The forward function is unchanged (up to rounding). `constant_gates` and
    `merge_layer_scale` False leave the gate product and the layer scale to autograd (what
    zennit's EpsilonPlusFlat does with them): the variants the manifest compares."""
    from torchvision.models.convnext import CNBlock
    from torchvision.models.efficientnet import MBConv
    from torchvision.ops.misc import SqueezeExcitation
    model = copy.deepcopy(model).eval()
    for m in list(model.modules()):
        if isinstance(m, nn.Sequential):
            for i in range(len(m) - 1):
                if isinstance(m[i], nn.Conv2d) and isinstance(m[i + 1], nn.BatchNorm2d):
                    m[i], m[i + 1] = _fold(m[i], m[i + 1]), nn.Identity()
        if isinstance(m, (nn.SiLU, nn.ReLU, nn.Hardswish)):
            m.inplace = False
        if isinstance(m, SqueezeExcitation) and constant_gates:
            m.forward = types.MethodType(_se_forward, m)
        if isinstance(m, MBConv) and m.use_res_connect:
            m.residual = Sum()
            m.forward = types.MethodType(_mbconv_forward, m)
        if isinstance(m, CNBlock):
            linear = m.block[5]
            assert isinstance(linear, nn.Linear)
            if merge_layer_scale:
                with torch.no_grad():
                    g = m.layer_scale.view(-1)
                    linear.weight.mul_(g.view(-1, 1))
                    linear.bias.mul_(g)
                    m.layer_scale.fill_(1.0)
            m.residual = Sum()
            m.forward = types.MethodType(_cnblock_forward, m)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()), \
        "a batch norm is left that does not follow a conv"
    for name, m in model.named_modules():
        m._lrp_name = name
    return model


def composite(counts=None, zplus_fallback=True, layer_norm_pass=True):
    """zennit's EpsilonPlusFlat with srtool's z+ on convolutions and Pass on layer norm
    (entries prepended to its layer map win); SE gates and layer scale are handled by
    `canonize`. `zplus_fallback` False keeps zennit's ZPlus, `layer_norm_pass` False leaves
    layer norm to autograd, as zennit does: the variants the manifest compares."""
    layer_map = [(nn.LayerNorm, Pass())] if layer_norm_pass else []
    if zplus_fallback:
        layer_map.append((Convolution, ZPlusFallback(STABILIZER, counts)))
    return EpsilonPlusFlat(epsilon=EPSILON, stabilizer=STABILIZER, layer_map=layer_map)


def attribute(model, x, target=None, counts=None, layers=(), **rules):
    """LRP with `composite(counts, **rules)` on a `canonize`d model: (logits, target, input
    relevance, {module name: relevance at its output} for the names in `layers`)."""
    store, handles = {}, []
    named = dict(model.named_modules())
    for name in layers:
        def hook(module, inputs, output, name=name):
            if output.requires_grad:
                output.register_hook(lambda g: store.__setitem__(name, g.detach().clone()))
        handles.append(named[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(x)
        if target is None:
            target = int(logits.argmax(1))
        one_hot = F.one_hot(torch.tensor([target]), logits.shape[1]).to(logits)
        xin = x.detach().clone().requires_grad_(True)
        with Gradient(model=model, composite=composite(counts, **rules)) as attributor:
            out, rel = attributor(xin, lambda o: o * one_hot)
    finally:
        for h in handles:
            h.remove()
    return out.detach(), target, rel.detach(), store


def rule_table(model):
    """The hook zennit attaches to every leaf module of the canonized model (replaying the
    composite's module map as Composite.register does), plus the sums and gates."""
    comp = composite()
    ctx, rules = {}, {}
    for name, module in model.named_modules():
        hook = comp.module_map(ctx, name, module)
        if name and not list(module.children()):
            rules[name] = type(hook).__name__ if hook is not None else "gradient"
        if getattr(module, "forward", None) is not None and getattr(module.forward, "__func__", None) is _se_forward:
            rules[name + " (x * gate)"] = "ConstantGate"
    return rules


# --------------------------------------------------------------------------- fixtures

def _versions():
    import onnx
    import onnxruntime as ort
    import timm
    import torchvision
    from importlib.metadata import version
    return {"zennit": version("zennit"), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "numpy": np.__version__}


def _sum_tensors(proto, names):
    """ONNX output tensor of the Add each residual Sum module stands for, by module scope."""
    out = {}
    for name in names:
        parts = name.split(".")[:-1]                       # the block the Sum sits in
        scope = "/" + "/".join(".".join(parts[:k + 1]) for k in range(len(parts))) + "/"
        adds = [n for n in proto.graph.node if n.op_type == "Add" and n.name.startswith(scope)
                and n.name[len(scope):].count("/") == 0]
        assert len(adds) == 1, f"{name}: {len(adds)} Add nodes in scope {scope}"
        out[name] = adds[0].output[0]
    return out


def _file_name(tensor):
    return tensor.replace("/", "_").replace(":", "_")


def _npy_bytes(arr):
    import io
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def make(case):
    import onnx
    import make_zoo_fixtures as zoo
    spec = CASES[case]
    seed, hw = spec["seed"], spec["hw"]
    torch.manual_seed(seed)
    model, source, library, notes = getattr(zoo, spec["builder"])()
    zoo.randomize(model, seed)
    n_bn = zoo.calibrate(model, seed, hw)                      # leaves the model in eval mode
    x = np.random.default_rng(seed).standard_normal((1, 3, *hw)).astype(np.float32)
    xt = torch.from_numpy(x)

    proto = zoo.export(model, x)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    y_ort = zoo.session(data).run(None, {"input": x})[0]
    with torch.no_grad():
        y64 = copy.deepcopy(model).double()(xt.double()).numpy()
    ort_err = float(np.abs(y_ort.astype(np.float64) - y64).max())
    assert ort_err <= 1e-4 * np.abs(y64).max(), f"{case}: onnxruntime differs by {ort_err}"

    ref = canonize(model)
    ref64 = canonize(copy.deepcopy(model).double())
    with torch.no_grad():
        canon_err = float((ref64(xt.double()) - torch.from_numpy(y64)).abs().max())
    assert canon_err < 1e-9, f"{case}: the canonized model's logits moved by {canon_err}"
    sums = [n for n, m in ref.named_modules() if isinstance(m, Sum)]
    tensors = _sum_tensors(proto, sums)

    counts64, counts32 = {}, {}
    out64, target, r64, layers64 = attribute(ref64, xt.double(), counts=counts64, layers=sums)
    out32, target32, r32, layers32 = attribute(ref, xt, target=target, counts=counts32, layers=sums)
    assert target32 == target
    order = np.sort(y64[0])
    margin = float(order[-1] - order[-2])
    assert margin > 1e-3, f"{case}: top logit not clear ({margin})"
    r64n, r32n = r64.numpy(), r32.numpy().astype(np.float64)
    scale = float(np.abs(r64n).max())
    err32 = float(np.abs(r32n - r64n).max())

    def worst(a32, a64):
        return float((np.abs(a32 - a64) / (REL_ATOL * np.abs(a64).max() + RTOL * np.abs(a64))).max())

    ratio32 = worst(r32n, r64n)
    layer_ratios32 = {n: worst(layers32[n].numpy().astype(np.float64), layers64[n].numpy()) for n in sums}
    if max([ratio32, *layer_ratios32.values()]) * SAFETY > 1:
        raise SystemExit(f"{case}: PyTorch float32 is less than {SAFETY:g}x inside the tolerance")

    fallbacks = {k: v for k, v in counts64.items() if v}
    tolerance = REL_ATOL * scale + RTOL * np.abs(r64n)
    variants = {}
    for key, (what, canon_kw, rule_kw) in VARIANTS.items():
        _, _, rv, _ = attribute(canonize(copy.deepcopy(model).double(), **canon_kw), xt.double(), target=target,
                                **rule_kw)
        rv = rv.numpy()
        if np.array_equal(rv, r64n):
            continue
        d = np.abs(rv - r64n)
        variants[key] = {"what": what, "max_abs_over_max_abs_ref": float(d.max() / scale),
                         "worst_tolerance_ratio": float((d / tolerance).max()),
                         "elements_outside_tolerance": int((d > tolerance).sum())}

    files = {"model.onnx": data,
             "input.npy": _npy_bytes(np.ascontiguousarray(x, dtype="<f4")),
             "relevance_f64.npy": _npy_bytes(np.ascontiguousarray(r64n, dtype="<f8"))}
    layer_entries = []
    for name in sums:
        t = tensors[name]
        arr = layers64[name].numpy()
        f = f"layers/{_file_name(t)}.npy"
        files[f] = _npy_bytes(np.ascontiguousarray(arr, dtype="<f8"))
        a32 = layers32[name].numpy().astype(np.float64)
        layer_entries.append({"module": name, "tensor": t, "file": f, "shape": list(arr.shape),
                              "sum": float(arr.sum()), "max_abs": float(np.abs(arr).max()),
                              "torch_float32_max_abs_over_max_abs_ref": float(np.abs(a32 - arr).max() / np.abs(arr).max()),
                              "torch_float32_worst_tolerance_ratio": layer_ratios32[name]})

    manifest = {
        "generator": GENERATOR,
        "reference": f"zennit {_versions()['zennit']} hooks on torch {torch.__version__}, float64 "
                     "(rules as srtool's epsilon-plus-flat applies them; see rules)",
        "versions": _versions(),
        "seed": seed,
        "family": case.split("_", 1)[1],
        "source": source + "; weights: make_zoo_fixtures.randomize(model, seed), batch norm "
                  f"statistics make_zoo_fixtures.calibrate(model, seed, {list(hw)})",
        "export": f"make_zoo_fixtures.export: torch.onnx.export(dynamo=False, opset_version={zoo.OPSET}, "
                  "do_constant_folding=True), fixed batch 1",
        "batch_norm_layers_in_torch": n_bn,
        "onnx": {"file": "model.onnx", "input": "input", "output": "output", "input_shape": list(x.shape),
                 "output_shape": list(y64.shape), "nodes": len(proto.graph.node)},
        "input": {"file": "input.npy", "distribution": "standard normal, numpy default_rng(seed)"},
        "composite": "epsilon-plus-flat",
        "rules": {
            "first conv": "flat (zennit Flat, bias ignored)",
            "other convs (incl. depthwise, SE)": "z+ (zennit ZPlus: x+W+ + b+ + x-W-) with srtool's fallback: "
                                                 "where z+ == 0 and relevance arrives, to x+W- + x-W+ in proportion",
            "linear": f"epsilon {EPSILON} (zennit Epsilon)",
            "SiLU, GELU, Sigmoid": "pass (zennit Pass)",
            "squeeze-and-excitation product": "gate constant: R_x = R_y, nothing to the gate",
            "residual additions": f"norm (zennit Norm on zennit.layer.Sum, stabiliser {STABILIZER})",
            "global average pooling": f"norm (zennit Norm, stabiliser {STABILIZER})",
            "batch norm": "folded exactly into the conv before it",
            "layer norm": "pass (zennit Pass; srtool's CNN composites give layer norm batch norm's rule)",
            "layer scale": "merged into the block's second Linear",
            "permute, flatten, dropout, stochastic depth": "gradient (identity)",
            "stabiliser": "z + eps*sign(z), sign(0) = +1 (zennit.core.stabilize)",
        },
        "rules_per_module": rule_table(ref),
        "start": {"target": target, "logit": float(y64[0, target]), "runner_up_margin": margin,
                  "grad_output": "output * one_hot(target)"},
        "relevance": {"file": "relevance_f64.npy", "dtype": "float64", "shape": list(r64n.shape),
                      "sum": float(r64n.sum()), "sum_over_logit": float(r64n.sum() / y64[0, target]),
                      "positive": float(r64n.clip(min=0).sum()), "negative": float(r64n.clip(max=0).sum()),
                      "max_abs": scale},
        "layers": layer_entries,
        "other_rules_vs_reference": variants,
        "zplus_fallback_outputs": {"float64": fallbacks,
                                   "float32": {k: v for k, v in counts32.items() if v}},
        "checks": {
            "onnxruntime_vs_torch_float64_max_abs": ort_err,
            "canonized_vs_original_float64_logits_max_abs": canon_err,
            "torch_float32_vs_float64": {"max_abs": err32, "max_abs_over_max_abs_ref": err32 / scale,
                                         "worst_tolerance_ratio": ratio32},
        },
        "tolerance": {"atol": f"{REL_ATOL} * max|ref|", "rel_atol": REL_ATOL, "rtol": RTOL,
                      "applies_to": "the input relevance and each layer's, max|ref| of that array",
                      "why": f"PyTorch's own float32 run of these rules uses {ratio32:.3f} of this tolerance at "
                             f"the input (its max error {err32 / scale:.2e} of max|ref|) and at most "
                             f"{max(layer_ratios32.values()):.3f} at the layers; srtool's float32 is held to the "
                             f"same bound, at least {SAFETY:g}x what float32 needs here, and every other rule "
                             "for these layers lands far outside it (other_rules_vs_reference)"},
        "notes": notes,
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    size = sum(len(b) for b in files.values())
    if size > MAX_FOLDER_BYTES:
        raise SystemExit(f"{case}: folder would be {size} bytes (> {MAX_FOLDER_BYTES}); left as it was")
    d = OUT / case
    fixture_folders.clear_case_dir(d, GENERATOR)
    (d / "layers").mkdir(parents=True)
    for f, b in files.items():
        (d / f).write_bytes(b)
    print(f"{case}: target {target} (logit {y64[0, target]:.4f}, margin {margin:.3g}), "
          f"sum R {r64n.sum():.4f}, max|R| {scale:.3g}, float32 error {err32 / scale:.2e} of max|R| "
          f"(tolerance ratio {ratio32:.4f}), z+ fallbacks {sum(fallbacks.values())}, other rules "
          + ", ".join(f"{k} {v['worst_tolerance_ratio']:.3g}" for k, v in variants.items()) + ", "
          f"|ort - f64| {ort_err:.1e}, {size / 1024:.0f} KB", flush=True)


def main(argv):
    torch.set_num_threads(1)
    from importlib.metadata import version
    if version("zennit") != "0.5.1":
        print(f"warning: zennit {version('zennit')} (these fixtures were made with 0.5.1)", file=sys.stderr)
    for case in fixture_folders.selected_cases(argv, CASES):
        make(case)


if __name__ == "__main__":
    main(sys.argv[1:])
