#!/usr/bin/env python3
"""Write the Grad-CAM-on-tokens fixtures: pytorch-grad-cam on the zoo's tiny torchvision ViT
and Swin.

What it does
------------
Rebuilds the model of Fixtures/zoo/vit exactly as Tools/make_zoo_fixtures.py does (its
tv_vit, randomize and calibrate with the case's seed; the float64 logits are checked
against the zoo's output_f64.npy), takes the zoo's input (2 images, 32x32) and, for each
image's top class, computes Grad-CAM at the output of the last encoder block's first layer
norm (`encoder.layers[-1].ln_1`, the layer pytorch-grad-cam's documentation uses for ViTs)
with the tokens reshaped to the 4x4 patch grid, the class token dropped — pytorch-grad-cam's
`reshape_transform` for ViT:

    result = tensor[:, 1:, :].reshape(B, 4, 4, C).permute(0, 3, 1, 2)

Two references, which the script checks against each other:
  * gradcam_grid.npy     float64 [2, 1, 4, 4]: ReLU(sum_k alpha_k A_k), alpha_k the mean
                         over the grid of d logit / d A_k, by autograd in float64 (the map
                         srtool saves with --save);
  * gradcam_pgc.npy      float32 [2, 32, 32]: pytorch-grad-cam's GradCAM output for the same
                         layer, transform and targets (min-max scaled, cv2-resized to the
                         input, then min-max scaled again as its mean over layers), on the
                         float32 model; the script asserts that the float64 grid map, scaled
                         and resized the same way, is within 1e-5 of it.

Writes Fixtures/saliency/vit_tokens/{gradcam_grid.npy, gradcam_pgc.npy, manifest.json}.

The same for the zoo's Swin (Fixtures/saliency/swin_tokens): the layer is the last block's
norm2 (`features[-1][-1].norm2`, as pytorch-grad-cam's documentation picks for Swin), whose
output is already a grid `[N, H, W, C]`; the reshape_transform only moves the features to
the channel axis, `tensor.permute(0, 3, 1, 2)`.
The ONNX tensor name of the layer (manifest "layer") is the LayerNormalization output of the
zoo's model.onnx, which srtool's --layer takes.

Usage: /work/ref/bin/python Tools/make_token_gradcam_fixtures.py   (needs torch, torchvision,
timm, onnx, onnxruntime, grad-cam, opencv-python-headless — grad-cam's dependency)
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo_fixtures import CASES, calibrate, randomize, tv_swin, tv_vit  # noqa: E402

import cv2
import numpy as np
import onnx
import pytorch_grad_cam
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "Fixtures" / "zoo" / "vit"
OUT = ROOT / "Fixtures" / "saliency" / "vit_tokens"
GRID = 4


def reshape_transform(tensor):
    return tensor[:, 1:, :].reshape(tensor.size(0), GRID, GRID, tensor.size(2)).permute(0, 3, 1, 2)


def to_channels(tensor):
    """Swin's [N, H, W, C] with the features as channels (pytorch-grad-cam's Swin transform)."""
    return tensor.permute(0, 3, 1, 2)


def scaled(m):
    """pytorch_grad_cam.utils.image.scale_cam_image on one map."""
    m = m - m.min()
    return m / (1e-7 + m.max())


def write_fixture(case, build, module_of, transform, onnx_layer, out, module_name, notes):
    """Rebuild the zoo model `case`, compute Grad-CAM at module_of(model) in float64 by
    autograd and with pytorch-grad-cam in float32 (checked against each other), and write
    the fixture into `out` with the ONNX tensor name onnx_layer(model.onnx) of the layer."""
    torch.set_num_threads(1)
    zoo = ROOT / "Fixtures" / "zoo" / case
    seed = CASES[case]["seed"]
    torch.manual_seed(seed)
    model, _, _, _ = build()
    randomize(model, seed)
    calibrate(model, seed, (32, 32))
    model.eval()
    x = np.load(zoo / "input.npy")
    model64 = __import__("copy").deepcopy(model).double()
    with torch.no_grad():
        y64 = model64(torch.from_numpy(x).double()).numpy()
    err = float(np.abs(y64 - np.load(zoo / "output_f64.npy")).max())
    assert err < 1e-9, f"not the zoo's model: {err}"
    targets = [int(t) for t in y64.argmax(axis=1)]

    saved = {}

    def keep(module, inputs, output):  # returns None: the output is left as it is
        output.retain_grad()
        saved["a"] = output

    handle = module_of(model64).register_forward_hook(keep)
    logits = model64(torch.from_numpy(x).double())
    logits[range(len(targets)), targets].sum().backward()
    handle.remove()
    a, g = transform(saved["a"]), transform(saved["a"].grad)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    grid = torch.relu((alpha * a).sum(dim=1, keepdim=True)).detach().numpy()

    cam = GradCAM(model=model, target_layers=[module_of(model)], reshape_transform=transform)
    pgc = cam(input_tensor=torch.from_numpy(x), targets=[ClassifierOutputTarget(t) for t in targets])
    for i in range(len(targets)):
        # pytorch-grad-cam scales each layer's map, resizes it, then scales the layers' mean.
        mine = scaled(cv2.resize(np.float32(scaled(grid[i, 0])), (32, 32)))
        diff = float(np.abs(mine - pgc[i]).max())
        assert diff < 1e-5, f"{case} sample {i}: float64 grid vs pytorch-grad-cam {diff}"

    layer = onnx_layer(onnx.load(zoo / "model.onnx"))
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "gradcam_grid.npy", np.ascontiguousarray(grid, dtype="<f8"))
    np.save(out / "gradcam_pgc.npy", np.ascontiguousarray(pgc, dtype="<f4"))
    manifest = {
        "generator": "Tools/make_token_gradcam_fixtures.py",
        "reference": f"pytorch-grad-cam {getattr(pytorch_grad_cam, '__version__', 'installed')} GradCAM with the "
                     f"{case} reshape_transform; float64 autograd for the raw grid map",
        "torch": torch.__version__,
        "model": f"Fixtures/zoo/{case}/model.onnx (rebuilt with Tools/make_zoo_fixtures.py)",
        "input": f"../../zoo/{case}/input.npy",
        "targets": targets,
        "layer": layer,
        "module": module_name,
        "grid": list(grid.shape[2:]),
        "files": {"gradcam_grid": "gradcam_grid.npy", "gradcam_pgc": "gradcam_pgc.npy"},
        "notes": notes,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{case}: targets {targets}, layer {layer}, grid {list(grid.shape)}, max {grid.max():.4g}")


def main():
    write_fixture(
        "vit", tv_vit, lambda m: m.encoder.layers[-1].ln_1, reshape_transform,
        lambda m: next(n.output[0] for n in m.graph.node
                       if n.op_type == "LayerNormalization" and "encoder_layer_1/ln_1" in n.name),
        OUT, "encoder.layers[-1].ln_1",
        "Tokens [N, 17, 16]: the class token dropped, the 16 patch tokens as a 4x4 grid, features as channels.")

    # The Swin ONNX's layer norms in graph order: patch embedding, norm1 and norm2 per block,
    # the final norm; the last block's norm2 is the fifth of six.
    def swin_norm2(m):
        norms = [n.output[0] for n in m.graph.node if n.op_type == "LayerNormalization"]
        assert len(norms) == 6, norms
        return norms[4]

    write_fixture(
        "swin", tv_swin, lambda m: m.features[-1][-1].norm2, to_channels, swin_norm2,
        ROOT / "Fixtures" / "saliency" / "swin_tokens", "features[-1][-1].norm2",
        "Swin's blocks work on [N, H, W, C]: the layer output is the grid, features last.")


if __name__ == "__main__":
    main()
