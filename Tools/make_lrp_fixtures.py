#!/usr/bin/env python3
"""Write the LRP reference fixtures: tiny CNNs, zennit's relevance at every layer.

What it does
------------
For each of three tiny PyTorch models (random weights from a fixed seed, scaled so
activations stay O(1)) it builds an ONNX model from the module's weights with
onnx.helper (opset 13), checks onnxruntime against torch, and runs zennit 0.5.1 with
eight composites. It writes, per model, into Fixtures/lrp/<model>/:

    model.onnx                   every node output tensor is named after the torch module
                                 that produces it (node name == output name); graph input
                                 `input`, graph output `logits` (an Identity after the last
                                 Linear, so the Linear keeps its module name)
    input.npy                    [1,3,16,16] float32, a smooth image in ImageNet-normalised range
    logits.npy                   [1,5] float32 torch logits (unmodified model, no canonizer)
    <composite>/input.npy        relevance at the input, [1,3,16,16]
    <composite>/layers/<t>.npy   relevance at the OUTPUT tensor <t> of every leaf module,
                                 named by the ONNX tensor name
    manifest.json                versions, seed, composites with exact parameters and
                                 canonizers, the rule zennit attached to every layer, start
                                 value, per-layer sum (conservation) and max|R|, tolerances

Relevance semantics: target = argmax of the logits; the start relevance (grad_output of
the model output) is `output * one_hot(target)`, i.e. one-hot times the logit, where
`output` is the output of the model *as zennit runs it* (canonizers applied). The
relevance at a module's output is what arrives there in zennit's modified backward pass;
it is captured with a tensor hook on each leaf module's output (the sum over all
consumers when a tensor is used twice, e.g. the residual skip).

Composites (directory name = zennit's registry name; `sr_paper` is custom):
    epsilon_plus, epsilon_plus_flat, epsilon_gamma_box, epsilon_alpha2_beta1,
    epsilon_alpha2_beta1_flat, excitation_backprop, guided_backprop, sr_paper
All at zennit defaults (epsilon = stabilizer = 1e-6, gamma = 0.25, alpha 2 / beta 1),
except: EpsilonGammaBox gets low/high = the ImageNet box (per channel, (0-mean)/std and
(1-mean)/std, shape [1,3,1,1]); sr_paper = LayerMapComposite(layer_map_base(1e-6) +
[(Convolution, Epsilon(1e-9)), (torch.nn.Linear, ZPlus(1e-6))]) - i.e. ZPlus on dense
layers, LRP-epsilon 1e-9 (bias kept) on conv layers, Pass on activations and batch norm,
Norm on sums/average pooling, plain gradient at max pooling.

Canonizers: vgg_mini and avgpool_concat have no batch norm -> none. resnet_mini uses
zennit's SequentialMergeBatchNorm; its residual addition is written the way zennit's
ResNetCanonizer rewrites torchvision's BasicBlock (torch.stack([identity, out], -1) fed
to a zennit.layer.Sum module, which the composites map to Norm), with two separate ReLU
modules so every tensor has its own name. The script checks that this gives the same
relevance as torchvision's BasicBlock + zennit's ResNetCanonizer with the same weights,
and records the difference.

Models (input 1x3x16x16, 5 classes):
    vgg_mini        conv(3->8)-relu-conv(8->8)-relu-maxpool2-conv(8->16)-relu-maxpool2-
                    flatten-linear(256->32)-relu-dropout-linear(32->5)
    resnet_mini     conv(3->8,no bias)-bn-relu, basic block (conv-bn-relu-conv-bn, + skip,
                    relu), adaptive avg pool 1, flatten, linear(8->5)
    avgpool_concat  [conv3x3(3->4)-relu | conv1x1(3->4)-relu] concat(ch), avgpool2,
                    conv3x3(8->8)-relu, adaptive avg pool 1, flatten, linear(8->5)

Checks recorded in each manifest ("checks"): onnxruntime vs torch logits (must be <= 1e-5);
float64 re-run vs the float32 fixtures (worst |diff| / (atol + rtol*|R|), ~0.01-0.03, i.e.
rounding alone is far inside the tolerance); resnet_mini only: torchvision BasicBlock +
ResNetCanonizer vs this model (0.0), and an exact BN fold vs zennit's merge (see notes).

Files: a layer whose relevance is bit-identical to one already written in the same
composite (Pass at ReLU/BN, Dropout) is not written again; its manifest entry's `file`
points at the earlier file. Read layer files through the manifest.

Usage:  python3 Tools/make_lrp_fixtures.py [model ...]      (default: all three)
Needs:  torch, torchvision (for the ResNetCanonizer cross-check), zennit 0.5.1, numpy,
        onnx, onnxruntime. CPU, one thread, ~10 s. Re-running gives the same files for
        the same torch / zennit / onnxruntime builds. A model folder is only replaced if
        its manifest says this script made it.
"""

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_folders  # noqa: E402  (Tools/fixture_folders.py)

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import (
    LayerMapComposite, EpsilonPlus, EpsilonPlusFlat, EpsilonGammaBox, EpsilonAlpha2Beta1,
    EpsilonAlpha2Beta1Flat, ExcitationBackprop, GuidedBackprop, layer_map_base)
from zennit.layer import Sum
from zennit.rules import Epsilon, ZPlus
from zennit.types import Convolution

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "lrp"
GENERATOR = "Tools/make_lrp_fixtures.py"
OPSET = 13
ORT_ATOL = 1e-5
REL_ATOL, RTOL = 1e-5, 1e-4           # atol = REL_ATOL * max|R| of the compared array
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SEEDS = {"vgg_mini": 1101, "resnet_mini": 1122, "avgpool_concat": 1106}

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


# --------------------------------------------------------------------------- models

class VGGMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 5))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


class Block(nn.Module):
    """torchvision BasicBlock (stride 1, no downsample) in the form zennit's
    ResNetBasicBlockCanonizer gives it: stack + zennit.layer.Sum for the addition.
    Two ReLU modules instead of torchvision's one shared ReLU, so that every tensor
    has its own module name."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.add = Sum()
        self.relu2 = nn.ReLU()

    def forward(self, x):
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = self.add(torch.stack([identity, out], dim=-1))
        return self.relu2(out)


class ResNetMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.layer1 = Block(8)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        return self.fc(self.flatten(self.avgpool(x)))


class Concat(nn.Module):
    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class AvgPoolConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch_a = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.branch_b = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
        self.cat = Concat(1)
        self.pool = nn.AvgPool2d(2)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.cat(self.branch_a(x), self.branch_b(x))
        x = self.relu(self.conv(self.pool(x)))
        return self.fc(self.flatten(self.gap(x)))


def init_weights(model, gen):
    """He-normal weights (gain 2 for ReLU nets), small random biases, realistic BN."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))             # gamma in [0.5, 1.5]
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)              # beta
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))  # var in [0.5, 2]


def calibrate_bn(model, x):
    """Make BN running stats realistic for this input: mean/var near the batch
    statistics of the conv output they follow (perturbed, so BN is not an identity)."""
    acts = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: acts.__setitem__(mod, i[0].detach()))
             for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in model.modules():                 # sequentially: stats of bn_k depend on bn_<k
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                model(x)
                a = acts[m]
                mean = a.mean(dim=(0, 2, 3))
                var = a.var(dim=(0, 2, 3), unbiased=False)
                m.running_mean.copy_(mean * 0.8 + 0.05 * m.running_mean)
                m.running_var.copy_(var * (0.7 + 0.6 * torch.rand_like(var).clamp(0, 1)) + 1e-3)
    for h in hooks:
        h.remove()


# --------------------------------------------------------------------------- onnx

class OnnxBuilder:
    def __init__(self, state):
        self.state = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in state.items()}
        self.nodes, self.inits = [], []

    def param(self, name):
        self.inits.append(numpy_helper.from_array(self.state[name], name))
        return name

    def node(self, op, inputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, name, x, has_bias=True):
        w = self.state[name + ".weight"]
        k = w.shape[2]
        ins = [x, self.param(name + ".weight")] + ([self.param(name + ".bias")] if has_bias else [])
        return self.node("Conv", ins, name, kernel_shape=[k, k], pads=[k // 2] * 4,
                         strides=[1, 1], dilations=[1, 1], group=1)

    def bn(self, name, x, eps):
        ins = [x] + [self.param(name + s) for s in (".weight", ".bias", ".running_mean", ".running_var")]
        return self.node("BatchNormalization", ins, name, epsilon=eps)

    def gemm(self, name, x):
        return self.node("Gemm", [x, self.param(name + ".weight"), self.param(name + ".bias")], name,
                         alpha=1.0, beta=1.0, transB=1)

    def model(self, out_shape):
        self.node("Identity", [self.nodes[-1].output[0]], "logits")
        g = helper.make_graph(
            self.nodes, "lrp_fixture",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, out_shape)],
            initializer=self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=7,
                              producer_name="srtool-fixtures")
        onnx.checker.check_model(m, full_check=True)
        return m


def onnx_vgg_mini(model):
    b = OnnxBuilder(model.state_dict())
    x = b.conv("features.0", "input")
    x = b.node("Relu", [x], "features.1")
    x = b.conv("features.2", x)
    x = b.node("Relu", [x], "features.3")
    x = b.node("MaxPool", [x], "features.4", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv("features.5", x)
    x = b.node("Relu", [x], "features.6")
    x = b.node("MaxPool", [x], "features.7", kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Flatten", [x], "flatten", axis=1)
    x = b.gemm("classifier.0", x)
    x = b.node("Relu", [x], "classifier.1")
    x = b.node("Dropout", [x], "classifier.2")          # opset 13, inference: identity
    b.gemm("classifier.3", x)
    return b.model([1, 5])


def onnx_resnet_mini(model):
    b = OnnxBuilder(model.state_dict())
    x = b.conv("conv1", "input", has_bias=False)
    x = b.bn("bn1", x, model.bn1.eps)
    stem = b.node("Relu", [x], "relu")
    x = b.conv("layer1.conv1", stem, has_bias=False)
    x = b.bn("layer1.bn1", x, model.layer1.bn1.eps)
    x = b.node("Relu", [x], "layer1.relu1")
    x = b.conv("layer1.conv2", x, has_bias=False)
    x = b.bn("layer1.bn2", x, model.layer1.bn2.eps)
    x = b.node("Add", [stem, x], "layer1.add")          # zennit stacks [identity, out]
    x = b.node("Relu", [x], "layer1.relu2")
    x = b.node("GlobalAveragePool", [x], "avgpool")
    x = b.node("Flatten", [x], "flatten", axis=1)
    b.gemm("fc", x)
    return b.model([1, 5])


def onnx_avgpool_concat(model):
    b = OnnxBuilder(model.state_dict())
    a = b.conv("branch_a.0", "input")
    a = b.node("Relu", [a], "branch_a.1")
    c = b.conv("branch_b.0", "input")
    c = b.node("Relu", [c], "branch_b.1")
    x = b.node("Concat", [a, c], "cat", axis=1)
    x = b.node("AveragePool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv("conv", x)
    x = b.node("Relu", [x], "relu")
    x = b.node("GlobalAveragePool", [x], "gap")
    x = b.node("Flatten", [x], "flatten", axis=1)
    b.gemm("fc", x)
    return b.model([1, 5])


MODELS = {
    "vgg_mini": (VGGMini, onnx_vgg_mini),
    "resnet_mini": (ResNetMini, onnx_resnet_mini),
    "avgpool_concat": (AvgPoolConcat, onnx_avgpool_concat),
}


def ort_run(model_proto, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"input": x})[0]


# --------------------------------------------------------------------------- input

def make_input(seed):
    """Smooth random image in [0,1] (4x4 noise, bicubic-upsampled to 16x16, plus a
    little fine noise), ImageNet-normalised."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 4, generator=gen)
    img = F.interpolate(coarse, size=(16, 16), mode="bicubic", align_corners=False)
    img = (img + 0.05 * torch.randn(1, 3, 16, 16, generator=gen)).clamp(0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((img - mean) / std).float()


def imagenet_box():
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((0 - mean) / std).float(), ((1 - mean) / std).float()


# --------------------------------------------------------------------------- composites

def composites(canonizers):
    low, high = imagenet_box()
    c = lambda: [copy.copy(k) for k in canonizers]   # canonizer instances are per composite
    can = [type(k).__name__ for k in canonizers]
    stab = 1e-6
    return [
        ("epsilon_plus", EpsilonPlus(canonizers=c()),
         {"class": "zennit.composites.EpsilonPlus", "epsilon": 1e-6, "stabilizer": stab,
          "zero_params": None, "canonizers": can}),
        ("epsilon_plus_flat", EpsilonPlusFlat(canonizers=c()),
         {"class": "zennit.composites.EpsilonPlusFlat", "epsilon": 1e-6, "stabilizer": stab,
          "zero_params": None, "canonizers": can}),
        ("epsilon_gamma_box", EpsilonGammaBox(low=low, high=high, canonizers=c()),
         {"class": "zennit.composites.EpsilonGammaBox", "epsilon": 1e-6, "gamma": 0.25,
          "stabilizer": stab, "zero_params": None, "canonizers": can,
          "low": low.flatten().tolist(), "high": high.flatten().tolist(),
          "low_high_note": "ImageNet box per input channel, shape [1,3,1,1] broadcast over "
                           "N,H,W: low_c = (0 - mean_c)/std_c, high_c = (1 - mean_c)/std_c, "
                           "mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225), float32"}),
        ("epsilon_alpha2_beta1", EpsilonAlpha2Beta1(canonizers=c()),
         {"class": "zennit.composites.EpsilonAlpha2Beta1", "epsilon": 1e-6, "alpha": 2.0, "beta": 1.0,
          "stabilizer": stab, "zero_params": None, "canonizers": can}),
        ("epsilon_alpha2_beta1_flat", EpsilonAlpha2Beta1Flat(canonizers=c()),
         {"class": "zennit.composites.EpsilonAlpha2Beta1Flat", "epsilon": 1e-6, "alpha": 2.0,
          "beta": 1.0, "stabilizer": stab, "zero_params": None, "canonizers": can}),
        ("excitation_backprop", ExcitationBackprop(canonizers=c()),
         {"class": "zennit.composites.ExcitationBackprop", "stabilizer": stab, "zero_params": None,
          "canonizers": can}),
        ("guided_backprop", GuidedBackprop(canonizers=c()),
         {"class": "zennit.composites.GuidedBackprop", "canonizers": can}),
        ("sr_paper", LayerMapComposite(
            layer_map=layer_map_base(stab) + [
                (Convolution, Epsilon(epsilon=1e-9)),
                (torch.nn.Linear, ZPlus(stabilizer=stab)),
            ], canonizers=c()),
         {"class": "zennit.composites.LayerMapComposite (custom, 'sr-paper')",
          "layer_map": "layer_map_base(stabilizer=1e-6) + [(Convolution, Epsilon(epsilon=1e-9)), "
                       "(torch.nn.Linear, ZPlus(stabilizer=1e-6))]; layer_map_base = [(Activation, "
                       "Pass()), (Sum, Norm(1e-6)), (AvgPool, Norm(1e-6)), (BatchNorm, Pass())]; "
                       "max pooling, flatten, dropout, concat: no rule (plain gradient)",
          "epsilon_conv": 1e-9, "stabilizer": stab, "zero_params": None, "canonizers": can}),
    ]


def rule_map(composite, model):
    """The rule zennit attaches to every named module, by replaying the composite's
    module_map exactly as Composite.register does (canonizers applied first)."""
    handles = []
    for canonizer in composite.canonizers:
        handles += canonizer.apply(model)
    ctx, rules = {}, {}
    for name, module in model.named_modules():
        hook = composite.module_map(ctx, name, module)
        if name and not list(module.children()):
            rules[name] = type(hook).__name__ if hook is not None else "gradient"
    for h in handles:
        h.remove()
    return rules


def leaf_modules(model):
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


def attribute(model, composite, x, target):
    """Returns (output, relevance at input, {module name: relevance at its output})."""
    store, handles = {}, []

    def fwd_hook(name):
        def hook(module, inputs, output):
            if output.requires_grad:
                output.register_hook(lambda g: store.__setitem__(name, g.detach().clone()))
        return hook

    for name, m in leaf_modules(model):
        handles.append(m.register_forward_hook(fwd_hook(name)))
    try:
        xin = x.clone().requires_grad_(True)
        with Gradient(model=model, composite=composite) as attributor:
            out, rel = attributor(xin, lambda o: o * F.one_hot(torch.tensor([target]), o.shape[1]).to(o))
    finally:
        for h in handles:
            h.remove()
    return out.detach(), rel.detach(), store


# --------------------------------------------------------------------------- checks

def torchvision_block_check(model, x, target):
    """resnet_mini only: rebuild it with torchvision's BasicBlock and zennit's
    ResNetCanonizer; return the max abs difference of the input relevance per composite,
    relative to max|R|."""
    from torchvision.models.resnet import BasicBlock
    from zennit.torchvision import ResNetCanonizer

    class TV(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1, self.relu = model.conv1, model.bn1, nn.ReLU()
            blk = BasicBlock(8, 8)
            blk.conv1, blk.bn1, blk.conv2, blk.bn2 = (model.layer1.conv1, model.layer1.bn1,
                                                      model.layer1.conv2, model.layer1.bn2)
            self.layer1 = blk
            self.avgpool, self.flatten, self.fc = model.avgpool, model.flatten, model.fc

        def forward(self, x):
            x = self.layer1(self.relu(self.bn1(self.conv1(x))))
            return self.fc(self.flatten(self.avgpool(x)))

    tv = TV().eval()
    out = {}
    for (name, comp_a, _), (_, comp_b, _) in zip(composites([SequentialMergeBatchNorm()]),
                                                 composites([ResNetCanonizer()])):
        _, ra, _ = attribute(model, comp_a, x, target)
        _, rb, _ = attribute(tv, comp_b, x, target)
        out[name] = float((ra - rb).abs().max() / ra.abs().max().clamp(min=1e-30))
    return out


def exact_fold_check(model, x, target, comps):
    """resnet_mini only: zennit's merge leaves each BN computing x / sqrt(1 + eps), not
    the identity. Compare against a model whose BNs are folded exactly (conv weights and
    bias merged, BN removed): max |difference| / max|R| at the input, per composite."""
    folded = copy.deepcopy(model)

    def fold(conv, bn):
        s = bn.weight / (bn.running_var + bn.eps).sqrt()
        new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding, bias=True)
        with torch.no_grad():
            new.weight.copy_(conv.weight * s[:, None, None, None])
            b0 = conv.bias if conv.bias is not None else torch.zeros_like(s)
            new.bias.copy_((b0 - bn.running_mean) * s + bn.bias)
        return new

    folded.conv1, folded.bn1 = fold(model.conv1, model.bn1), nn.Identity()
    folded.layer1.conv1, folded.layer1.bn1 = fold(model.layer1.conv1, model.layer1.bn1), nn.Identity()
    folded.layer1.conv2, folded.layer1.bn2 = fold(model.layer1.conv2, model.layer1.bn2), nn.Identity()
    folded.eval()
    res = {}
    for (name, comp, _), (_, comp_f, _) in zip(comps, composites([])):
        _, ra, la = attribute(model, comp, x, target)
        _, rb, lb = attribute(folded, comp_f, x, target)
        pairs = [(ra, rb)] + [(la[k], lb[k]) for k in la if k in lb and la[k].shape == lb[k].shape]
        # worst |zennit - exact| / (atol + rtol*|zennit|) over the input and every layer:
        # < 1 means an exact fold still passes this fixture's tolerance
        worst = max(float(((a - b).abs() / (REL_ATOL * a.abs().max() + RTOL * a.abs())).max())
                    for a, b in pairs)
        res[name] = {"input_max_abs_diff_over_max_abs": float((ra - rb).abs().max() / ra.abs().max()),
                     "worst_tolerance_ratio": worst}
    return res


def float64_check(model, x, target, comps, results):
    """Re-run every composite in float64 and report the worst
    |float32 - float64| / (atol + rtol*|float32|) over the input and every layer: how far
    from the tolerance plain float32 rounding already is (must be well below 1)."""
    m64 = copy.deepcopy(model).double()
    out = {}
    canonizers = [SequentialMergeBatchNorm()] if any(
        isinstance(m, nn.BatchNorm2d) for m in model.modules()) else []
    for (name, _, _), (_, comp, _) in zip(comps, composites(canonizers)):
        _, r64, l64 = attribute(m64, comp, x.double(), target)
        r32, l32 = results[name]
        pairs = [(r32, r64)] + [(l32[k], l64[k]) for k in l32]
        out[name] = max(float(((a.double() - b).abs() / (REL_ATOL * a.abs().max().double()
                                                         + RTOL * a.abs().double())).max())
                        for a, b in pairs)
    return out


# --------------------------------------------------------------------------- main

def save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


def stats(t):
    t = t.double()
    return {"sum": float(t.sum()), "max_abs": float(t.abs().max()),
            "sum_pos": float(t.clamp(min=0).sum()), "sum_neg": float(t.clamp(max=0).sum())}


def make(name):
    seed = SEEDS[name]
    cls, to_onnx = MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cls()
    init_weights(model, gen)
    model.eval()
    x = make_input(seed + 7)
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        calibrate_bn(model, x)
    canonizers = [SequentialMergeBatchNorm()] if name == "resnet_mini" else []

    with torch.no_grad():
        logits = model(x)
    target = int(logits.argmax(1))
    srt = logits[0].sort(descending=True).values
    assert float(srt[0] - srt[1]) > 1e-2, f"{name}: argmax not clear ({srt.tolist()})"

    proto = to_onnx(model)
    ort_logits = ort_run(proto, x.numpy())
    ort_diff = float(np.abs(ort_logits - logits.numpy()).max())
    assert ort_diff <= ORT_ATOL, f"{name}: onnxruntime differs from torch by {ort_diff}"

    onnx_names = [n.output[0] for n in proto.graph.node]
    onnx_ops = {n.output[0]: n.op_type for n in proto.graph.node}
    leaves = [n for n, _ in leaf_modules(model)]
    missing = [n for n in leaves if n not in onnx_names]
    assert not missing, f"{name}: leaf modules without an ONNX tensor: {missing}"

    d = OUT / name
    fixture_folders.clear_case_dir(d, GENERATOR)
    d.mkdir(parents=True)
    onnx.save_model(proto, str(d / "model.onnx"))
    save(d / "input.npy", x.numpy())
    save(d / "logits.npy", logits.numpy())

    # activation scale report (so nobody has to wonder whether things vanish/explode)
    acts = {}
    hs = [m.register_forward_hook(lambda mod, i, o, n=n: acts.__setitem__(n, o.detach()))
          for n, m in leaf_modules(model)]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    act_std = {n: round(float(acts[n].std()), 4) for n in leaves}

    comps = composites(canonizers)
    comp_manifest, results = {}, {}
    for cname, comp, params in comps:
        rules = rule_map(comp, model)
        out, rel, layers = attribute(model, comp, x, target)
        results[cname] = (rel, layers)
        assert int(out.argmax(1)) == target
        start = float(out[0, target])
        save(d / cname / "input.npy", rel.numpy())
        entries, written = [], []          # written: (array, file) already on disk
        for ln in onnx_names:
            if ln == "logits":
                continue
            r = layers[ln].numpy().astype(np.float32)
            # a Pass rule (ReLU, BN) makes a tensor's relevance bit-identical to its
            # producer's: point at the file already written instead of repeating it
            same = next((f for a, f in written if a.shape == r.shape and np.array_equal(a, r)), None)
            if same is None:
                same = f"{cname}/layers/{ln}.npy"
                save(d / same, r)
                written.append((r, same))
            entries.append({"tensor": ln, "op": onnx_ops[ln], "rule": rules[ln],
                            "file": same, "shape": list(r.shape), **stats(layers[ln]),
                            "atol": REL_ATOL * float(layers[ln].abs().max())})
        comp_manifest[cname] = {
            "params": params,
            "rules": rules,
            "start": {"target": target, "logit": start,
                      "logit_without_canonizer": float(logits[0, target]),
                      "grad_output": "output * one_hot(target) (zennit attr_output)"},
            "input": {"file": f"{cname}/input.npy", **stats(rel),
                      "atol": REL_ATOL * float(rel.abs().max())},
            "layers": entries,
        }

    notes = [
        "Relevance at <t> = the gradient arriving at module <t>'s output tensor in zennit's modified "
        "backward pass (tensor hook; summed over consumers).",
        "Layer files are named by ONNX tensor name; the final Linear's output tensor keeps its module "
        "name and an Identity node `logits` is the graph output (relevance there = the start value).",
        "Compare each array with |a - b| <= atol + rtol*|b|, atol = 1e-5 * max|R| of that array "
        "(listed per array as max_abs), rtol = 1e-4.",
        "A layer entry's `file` may be shared: when a tensor's relevance is bit-identical to one "
        "already written in the same composite (Pass at ReLU / BN), the entry points at that file. "
        "Read files through the manifest, not by listing layers/.",
    ]
    checks = {"onnxruntime_vs_torch_max_abs_diff": ort_diff, "onnxruntime_atol": ORT_ATOL,
              "float64_vs_these_float32_worst_tolerance_ratio": float64_check(model, x, target, comps, results)}
    if name == "vgg_mini":
        notes.append("Dropout (classifier.2) is an ONNX Dropout node (opset 13, no training_mode "
                     "input: identity at inference); zennit gives it no rule (plain gradient).")
    if name == "resnet_mini":
        notes += [
            "Canonizer: zennit.canonizers.SequentialMergeBatchNorm (conv1+bn1, layer1.conv1+layer1.bn1, "
            "layer1.conv2+layer1.bn2). The residual addition is a zennit.layer.Sum over "
            "torch.stack([identity, out], -1), exactly what zennit.torchvision.ResNetCanonizer makes of "
            "torchvision's BasicBlock; in ONNX it is Add(relu, layer1.bn2) named layer1.add.",
            "zennit's merge sets the BN to mean 0, var 1, weight 1, bias 0 but keeps eps, so the merged "
            "BN computes x / sqrt(1 + eps) (eps = 1e-5): the canonized model's logits differ from the "
            "real ones by ~1e-5 relative (see start.logit vs start.logit_without_canonizer). LRP "
            "composites map BN to Pass, so relevance at bnK equals relevance at the conv before it; "
            "ExcitationBackprop and GuidedBackprop give BN no rule (plain gradient, factor "
            "1/sqrt(1+eps)).",
            "checks.exact_bn_fold_vs_zennit_merge: the same composites on a copy with the BNs folded "
            "exactly (w*g/sqrt(var+eps), (b-mean)*g/sqrt(var+eps)+beta, BN removed); "
            "worst_tolerance_ratio = max |exact - fixture| / (atol + rtol*|fixture|) over the input and "
            "all layers: < 1 means an exact fold passes this fixture's tolerance.",
        ]
        checks["torchvision_basicblock_resnetcanonizer_vs_this_model_input_rel_diff"] = \
            torchvision_block_check(model, x, target)
        checks["exact_bn_fold_vs_zennit_merge"] = exact_fold_check(model, x, target, comps)
    if name == "avgpool_concat":
        notes.append("Both branch convs read the input, but zennit's *Flat / *Box composites give the "
                     "special first-layer rule only to the FIRST matching module in named_modules() "
                     "(registration) order = branch_a.0; branch_b.0 gets the ordinary conv rule. "
                     "Concat (module `cat`) has no rule: plain gradient (slicing).")

    manifest = {
        "generator": GENERATOR,
        "reference": f"zennit {zennit_version()} (CPU, float32, one thread)",
        "versions": {"zennit": zennit_version(), "torch": torch.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__},
        "seed": seed,
        "input_seed": seed + 7,
        "model": name,
        "onnx": {"file": "model.onnx", "opset": OPSET, "input": "input", "output": "logits",
                 "input_shape": list(x.shape), "output_shape": list(logits.shape)},
        "input": {"file": "input.npy", "preprocessing": "smooth random image in [0,1], ImageNet mean/std "
                  "normalised", "min": float(x.min()), "max": float(x.max())},
        "logits": {"file": "logits.npy", "values": logits[0].tolist(), "target": target},
        "tolerance": {"atol": "1e-5 * max|R| of the compared array", "rel_atol": REL_ATOL, "rtol": RTOL},
        "layers": [{"tensor": n, "op": onnx_ops[n]} for n in onnx_names],
        "activation_std": act_std,
        "checks": checks,
        "notes": notes,
        "composites": comp_manifest,
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    print(f"{name}: target {target}, logit {float(logits[0, target]):.4f}, ort diff {ort_diff:.2e}, "
          f"{size / 1024:.0f} KiB", flush=True)


def zennit_version():
    try:
        from importlib.metadata import version
        return version("zennit")
    except Exception:  # pragma: no cover
        return "unknown"


def main(argv):
    names = argv or list(MODELS)
    bad = [n for n in names if n not in MODELS]
    if bad:
        raise SystemExit(f"unknown model(s) {bad}; choose from {list(MODELS)}")
    if zennit_version() != "0.5.1":
        print(f"warning: zennit {zennit_version()} (fixtures were made with 0.5.1)", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    for n in names:
        make(n)


if __name__ == "__main__":
    main(sys.argv[1:])
