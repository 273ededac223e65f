#!/usr/bin/env python3
"""Run every tf_keras.applications model (Keras 2) through srtool and compare with Keras 2.

What it does
------------
The Keras 2 twin of Tools/check_keras_applications.py (read its header first): for each
model in tf_keras.applications (Keras 2.20, TensorFlow 2.20 CPU, one thread) it builds
the model at 64x64 (--size; Xception 71, the Inception models 75 at least) with
weights=None, include_top=True, classes=10, no classifier activation, the MobileNets
narrow (alpha 0.25 / 0.35 / 0.75) and MobileNetV3Small also minimalistic. The weights
follow the same seeded recipe (tf_keras' seeded initialisers, biases N(0, 0.02), BN / LN
gamma U(0.8, 1.2) and beta N(0, 0.1), LayerScale U(0.1, 0.5), Normalization mean
U(0.4, 0.5) and variance U(0.04, 0.06), BN moving statistics from a calibration batch of
the 2 test images and 6 more), and writes into OUT/<model>/ (default
/tmp/srtool-tf-keras-apps):

    model.h5                  model.save("model.h5"): Keras 2's full-model HDF5 (the
                              Keras 2 config form: class names without module,
                              inbound nodes as nested lists, batch_input_shape, TFOpLambda
                              layers for the tf.* calls in the graph, kernel:0 names)
    model.keras               model.save("model.keras"): tf_keras' zip (--keras-zip)
    input.npy                 the seeded test batch (2 images), NCHW float32, through the
                              family's own tf_keras preprocess_input
    output.npy                Keras 2's output, model(x, training=False)
    output_float64.npy        the same model rebuilt in float64 with the same weights
                              (missing when tf_keras cannot rebuild it: then only the
                              plain tolerance applies)

then runs `srtool run` on each file and judges it as the Keras 3 script does
(Tools/keras_apps_compare.py: |srtool - keras| <= 1e-4 + 1e-3*|keras|, or no further from
float64 than twice Keras' own float32 output). TensorFlow's AveragePooling2D "same"
already divides by the real pixels, so nothing is patched here.

tf_keras.applications has 71 models (RegNetX/Y and ResNetRS besides Keras 3's); above
--max-params (default 100 M) they are listed as skipped.

Usage
-----
    python3 Tools/check_tf_keras_applications.py [--srtool PATH] [--models a,b]
            [--keras-only] [--no-keras-zip] [--out DIR] [--size N] [--max-params M]
            [--threads N] [--timeout S]

Exit status 1 when srtool ran a model and its output does not match (or it crashed);
refusals (exit 64-69 with one error line) are reported, not failed.

Needs: tensorflow-cpu 2.20, tf-keras 2.20, torch (the seeded images), h5py, numpy.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import inspect
import json
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import tensorflow as tf
import tf_keras

from keras_apps_compare import check_models, parse_args, seeded_value, selected

warnings.filterwarnings("ignore")
tf.get_logger().setLevel("ERROR")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
L = tf_keras.layers


def model_specs():
    """name -> (constructor, input size, extra kwargs), every tf_keras.applications model."""
    A = tf_keras.applications
    size = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
    extra = {"MobileNet": {"alpha": 0.25}, "MobileNetV2": {"alpha": 0.35},
             "MobileNetV3Small": {"alpha": 0.75}, "MobileNetV3Large": {"alpha": 0.75}}
    specs = {name: (getattr(A, name), size.get(name, 32), extra.get(name, {}))
             for name in dir(A) if name[0].isupper() and callable(getattr(A, name))}
    specs["MobileNetV3SmallMinimalistic"] = (A.MobileNetV3Small, 32,
                                             {"alpha": 0.75, "minimalistic": True})
    return dict(sorted(specs.items()))


def build(ctor, s, extra):
    kw = dict(weights=None, include_top=True, classes=10, input_shape=(s, s, 3))
    if "classifier_activation" in inspect.signature(ctor).parameters:
        kw["classifier_activation"] = None
    kw.update(extra)
    return ctor(**kw)


def all_layers(model):
    return list(model._flatten_layers(include_self=False, recursive=True))


def randomize(model, rng):
    for layer in all_layers(model):
        if not layer.weights or isinstance(layer, tf_keras.Model):
            continue
        cls = layer.__class__.__name__
        vals = []
        for v in layer.weights:
            cur = v.numpy()
            n = v.name.split("/")[-1].split(":")[0]
            vals.append(seeded_value(cls, n, cur, rng))
        layer.set_weights(vals)


def calibrate_batch_norm(model, x):
    """Moving statistics from the batch x: each BatchNormalization takes the mean and
    (biased) variance of what reaches it, in one forward pass in inference mode."""
    bns = [la for la in all_layers(model) if isinstance(la, L.BatchNormalization)]
    for bn in bns:
        orig = bn.call

        def calibrating(inputs, training=None, _orig=orig, _bn=bn, **kw):
            axes = _bn.axis if isinstance(_bn.axis, (list, tuple)) else [_bn.axis]
            axes = [a % inputs.shape.rank for a in axes]
            dims = [i for i in range(inputs.shape.rank) if i not in axes]
            mean, var = tf.nn.moments(inputs, axes=dims)
            _bn.moving_mean.assign(tf.reshape(mean, _bn.moving_mean.shape))
            _bn.moving_variance.assign(tf.reshape(var, _bn.moving_variance.shape))
            return _orig(inputs, training=False)
        object.__setattr__(bn, "call", calibrating)
    try:
        model(x, training=False)
    finally:
        for bn in bns:
            object.__delattr__(bn, "call")
    return len(bns)


def preprocess_input_of(ctor):
    module = ctor.__module__
    __import__(module)
    return sys.modules[module].preprocess_input, module.rsplit(".", 1)[-1]


def float64_output(model, x):
    """The same model rebuilt in float64 (every float32 dtype in its config made float64,
    the same weights), run on x; None when tf_keras cannot rebuild it."""
    cfg = json.dumps(model.get_config()).replace('"dtype": "float32"', '"dtype": "float64"')
    old = tf_keras.backend.floatx()
    tf_keras.backend.set_floatx("float64")
    try:
        m64 = model.__class__.from_config(json.loads(cfg), custom_objects=custom_objects())
        m64.set_weights([w.astype(np.float64) if np.issubdtype(w.dtype, np.floating) else w
                         for w in model.get_weights()])
        y = m64(x.astype(np.float64), training=False).numpy()
    except Exception:  # noqa: BLE001
        return None
    finally:
        tf_keras.backend.set_floatx(old)
    return y if y.dtype == np.float64 else None


def custom_objects():
    from tf_keras.src.applications.convnext import LayerScale
    return {"LayerScale": LayerScale}


def main():
    args = parse_args(__doc__, str(ROOT / ".build" / "release" / "srtool"), "/tmp/srtool-tf-keras-apps", zip_option=True)
    specs = selected(model_specs(), args)
    backend = SimpleNamespace(
        set_seed=tf_keras.utils.set_random_seed, build=lambda name, ctor, s, extra: build(ctor, s, extra),
        randomize=randomize, calibrate=calibrate_batch_norm, float64_output=float64_output,
        preprocess_input_of=preprocess_input_of, to_np=lambda t: t.numpy() if hasattr(t, "numpy") else t,
        clear_session=tf_keras.backend.clear_session, formats=("h5",) if args.no_keras_zip else ("h5", "keras"))
    return check_models(specs, args, backend, SEED, f"tf_keras {tf_keras.__version__}, tensorflow {tf.__version__}")


if __name__ == "__main__":
    sys.exit(main())
