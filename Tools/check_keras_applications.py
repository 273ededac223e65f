#!/usr/bin/env python3
"""Run every keras.applications model through srtool and compare with Keras.

What it does
------------
For each model in keras.applications (Keras 3, torch backend, CPU) it builds the model
at 64x64 (--size; every model builds at 32x32 except Xception, 71x71, and the two
Inception models, 75x75, which then get their minimum), with weights=None, include_top=True, classes=10 and no classifier
activation (logits compare more sharply than a softmax of ten near-equal values); the
MobileNets are built narrow (alpha 0.25 / 0.35 / 0.75). Then it makes the weights
non-trivial, seeded:

    Keras' own seeded initialisers (keras.utils.set_random_seed), plus
    bias                      N(0, 0.02)        (Keras initialises biases to zero)
    BN / LN gamma, beta       U(0.8, 1.2), N(0, 0.1)
    LayerScale (ConvNeXt)     U(0.1, 0.5)       (Keras: 1e-6, which switches blocks off)
    Normalization mean, var   U(0.4, 0.5), U(0.04, 0.06)  (EfficientNet's, on 0..1 pixels)
    BN moving statistics      the batch statistics of a calibration batch of 8 images,
                              the 2 test images and 6 more: one forward pass with every
                              BatchNormalization forced into training mode with momentum 0,
                              everything else in inference. Holding the test images keeps
                              each normalised value within sqrt(7) standard deviations; a
                              disjoint batch of random images, whose deep 1x1 features
                              barely vary, blows the outputs up (EfficientNet to 1e16)

and writes into OUT/<model>/ (default /tmp/srtool-keras-apps):

    model.h5, model.keras     model.save() in both formats
    input.npy                 the seeded test batch (2 images), NCHW float32 (Keras runs
                              it NHWC): uniform noise pixels 0..255 passed through the
                              model family's own preprocess_input (caffe / tf / torch
                              mode; the identity for the models that rescale inside)
    output.npy                Keras' output, model(x, training=False)
    output_float64.npy        the same model rebuilt in float64 with the same weights

then runs `SRTOOL run MODEL --input input.npy -o srtool_<fmt>.npy` on each file and
compares with output.npy: ok when |srtool - keras| <= 1e-4 + 1e-3 * |keras| everywhere.
Random-weight deep models amplify float32 rounding (their deep features barely differ
between images, so batch norm's x - mean cancels). At 32x32, where the last stages are
1x1 and a batch norm sees 8 values per channel, Keras' own float32 output is 1e-2 .. 2e-1
from float64 for ResNet152, EfficientNetB6/B7 and EfficientNetV2M/S; at 64x64 at most
3e-3 (ResNet152), hence the default size. An output outside the tolerance is
still "ok (float32 noise ...)" when srtool is no further from the float64 output than
twice Keras' float32 output is (+ 1e-4); otherwise MISMATCH. It prints one row per
model: .h5 and .keras each ok, MISMATCH with the max |diff|, or "refused" with
srtool's error line, plus Keras' output spread (std, so a near-constant output shows)
and Keras' own float32-vs-float64 max difference. results.json in OUT holds the rows.

Reference semantics: Keras 3.15.1's torch backend averages replicated edge pixels in
AveragePooling2D "same" when the padding is asymmetric (see
Fixtures/keras/avgpool_same_asym); TensorFlow divides by the number of real pixels.
This script patches the torch backend's average_pool to the TensorFlow semantics before
building anything, so the reference is what the model computes in TensorFlow (NASNet's
reduction cells hit this case).

NASNetMobile refuses to build on the torch backend ("outstanding bug"); it is built
here with keras.src.applications.nasnet.NASNet and NASNetMobile's own arguments.
Models above --max-params (default 100 M parameters: ConvNeXtLarge / XLarge,
EfficientNetV2L) are listed as skipped; --max-params 0 runs them all (~1.7 G
parameters in all, ~14 GB of files).

Usage
-----
    python3 Tools/check_keras_applications.py [--srtool PATH] [--models a,b]
            [--keras-only] [--out DIR] [--size N] [--max-params M] [--threads N]
            [--timeout S]

    --srtool PATH     default .build/debug/srtool
    --models a,b      only these (case-insensitive names, e.g. resnet50,mobilenetv2)
    --keras-only      build, save and run Keras only; no srtool
    --threads N       srtool --threads (default 1; torch also runs on 1 thread)

Exit status 1 when srtool ran a model and its output does not match (or it crashed);
refusals (exit 64-69 with one error line) are expected today and reported, not failed.

Needs: keras 3.15.1, torch (CPU), h5py, numpy, and Tools/keras_apps_compare.py (what
this script shares with its Keras 2 twin, Tools/check_tf_keras_applications.py).
KERAS_BACKEND=torch is set here.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"          # must precede `import keras`
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import inspect
import json
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import absl.logging
import numpy as np
import torch
import torch.nn.functional as F

import keras
from keras import layers as L

from keras_apps_compare import check_models, parse_args, seeded_value, selected

absl.logging.set_verbosity(absl.logging.ERROR)
warnings.filterwarnings("ignore")
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611


# --------------------------------------------------------------------------- TF average pooling

def _patch_average_pool():
    """Keras-torch's AveragePooling 'same' with asymmetric padding pads by replicating
    the edge; TensorFlow divides each window by its real pixels. Replace the 2-D case."""
    from keras.src.backend.torch import nn as tnn_backend
    original = tnn_backend.average_pool

    def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
        x = tnn_backend.convert_to_tensor(inputs)
        if padding != "same" or x.ndim != 4:
            return original(inputs, pool_size, strides, padding, data_format)
        k = tuple(pool_size) if isinstance(pool_size, (tuple, list)) else (pool_size,) * 2
        s = k if strides is None else (tuple(strides) if isinstance(strides, (tuple, list))
                                       else (strides,) * 2)
        data_format = tnn_backend.backend.standardize_data_format(data_format)
        if data_format == "channels_last":
            x = x.permute(0, 3, 1, 2)
        pads = []
        for n, kk, ss in zip(x.shape[2:], k, s):
            out = -(-n // ss)
            total = max((out - 1) * ss + kk - n, 0)
            pads.append((total // 2, total - total // 2))
        if all(a == b for a, b in pads):
            return original(inputs, pool_size, strides, padding, data_format)
        flat = (pads[1][0], pads[1][1], pads[0][0], pads[0][1])
        xs = F.avg_pool2d(F.pad(x, flat), k, s, count_include_pad=True)
        ones = F.pad(torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype), flat)
        cnt = F.avg_pool2d(ones, k, s, count_include_pad=True)
        y = xs / cnt
        return y.permute(0, 2, 3, 1).contiguous() if data_format == "channels_last" else y

    tnn_backend.average_pool = average_pool
    import keras.src.backend as kb
    if getattr(kb, "nn", None) is not None and getattr(kb.nn, "average_pool", None) is original:
        kb.nn.average_pool = average_pool


_patch_average_pool()


# --------------------------------------------------------------------------- models

def _nasnet_mobile(**kw):
    from keras.src.applications.nasnet import NASNet
    return NASNet(penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                  skip_reduction=False, filter_multiplier=2, default_size=224,
                  name="nasnet_mobile", **kw)


def model_specs():
    """name -> (constructor, input size, extra kwargs), every keras.applications model."""
    A = keras.applications
    size = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
    extra = {"MobileNet": {"alpha": 0.25}, "MobileNetV2": {"alpha": 0.35},
             "MobileNetV3Small": {"alpha": 0.75}, "MobileNetV3Large": {"alpha": 0.75}}
    specs = {}
    for name in sorted(n for n in dir(A) if n[0].isupper() and callable(getattr(A, n))):
        ctor = getattr(A, name)
        if name == "NASNetMobile" and keras.backend.backend() == "torch":
            ctor = _nasnet_mobile
        specs[name] = (ctor, size.get(name, 32), extra.get(name, {}))
    specs["MobileNetV3SmallMinimalistic"] = (A.MobileNetV3Small, 32,
                                             {"alpha": 0.75, "minimalistic": True})
    return dict(sorted(specs.items()))


def build(name, ctor, s, extra):
    kw = dict(weights=None, include_top=True, classes=10, input_shape=(s, s, 3))
    params = inspect.signature(ctor).parameters
    if "classifier_activation" in params or ctor is _nasnet_mobile:
        kw["classifier_activation"] = None
    kw.update(extra)
    return ctor(**kw)


def all_layers(model):
    return [la for la in model._flatten_layers(include_self=False, recursive=True)]


def randomize(model, rng):
    for layer in all_layers(model):
        if not layer.weights or isinstance(layer, keras.Model):
            continue
        cls = layer.__class__.__name__
        vals = []
        for v in layer.weights:
            cur = np.asarray(keras.ops.convert_to_numpy(v))
            n = v.name
            vals.append(seeded_value(cls, n, cur, rng))
        layer.set_weights(vals)


def calibrate_batch_norm(model, x):
    """Moving statistics from the batch x, layer by layer in graph order: each
    BatchNormalization takes the mean and (biased) variance of what reaches it, over
    every axis but its own, in one forward pass with everything in inference mode."""
    bns = [la for la in all_layers(model) if isinstance(la, L.BatchNormalization)]
    for bn in bns:
        orig = bn.call

        def calibrating(inputs, training=None, mask=None, _orig=orig, _bn=bn):
            t = torch.as_tensor(inputs)
            axis = _bn.axis % t.ndim
            dims = [i for i in range(t.ndim) if i != axis]
            mean = t.mean(dim=dims)
            var = t.var(dim=dims, unbiased=False)
            _bn.moving_mean.assign(mean)
            _bn.moving_variance.assign(var)
            return _orig(inputs, training=False, mask=mask)
        object.__setattr__(bn, "call", calibrating)
    try:
        model(x, training=False)
    finally:
        for bn in bns:
            object.__delattr__(bn, "call")
    return len(bns)


def preprocess_input_of(ctor):
    module = "keras.src.applications.nasnet" if ctor is _nasnet_mobile else ctor.__module__
    __import__(module)
    return sys.modules[module].preprocess_input, module.rsplit(".", 1)[-1]


def to_np(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def float64_output(model, x):
    """The same model rebuilt in float64 (config with every float32 dtype made float64,
    the same weights), run on x: how far Keras' own float32 result is from exact."""
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    cfg = json.dumps(model.get_config())
    cfg = cfg.replace('"name": "float32"', '"name": "float64"').replace(
        '"dtype": "float32"', '"dtype": "float64"')
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        with keras.saving.custom_object_scope({"LayerScale": LayerScale,
                                               "CustomScaleLayer": CustomScaleLayer}):
            m64 = keras.Model.from_config(json.loads(cfg))
        m64.set_weights([w.astype(np.float64) if np.issubdtype(w.dtype, np.floating) else w
                         for w in model.get_weights()])
        y = to_np(m64(x.astype(np.float64), training=False))
    finally:
        keras.config.set_floatx(old)
    assert y.dtype == np.float64, y.dtype
    del m64
    return y


# --------------------------------------------------------------------------- main

def main():
    args = parse_args(__doc__, str(ROOT / ".build" / "debug" / "srtool"), "/tmp/srtool-keras-apps")
    specs = selected(model_specs(), args)
    backend = SimpleNamespace(
        set_seed=keras.utils.set_random_seed, build=build, randomize=randomize, calibrate=calibrate_batch_norm,
        float64_output=float64_output, preprocess_input_of=preprocess_input_of, to_np=to_np,
        clear_session=keras.backend.clear_session, formats=("h5", "keras"))
    return check_models(specs, args, backend, SEED,
                        f"keras {keras.__version__} ({keras.backend.backend()}), torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
