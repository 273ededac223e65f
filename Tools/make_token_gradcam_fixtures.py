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


def main():
    torch.set_num_threads(1)
    seed = CASES["vit"]["seed"]
    torch.manual_seed(seed)
    model, _, _, _ = tv_vit()
    randomize(model, seed)
    calibrate(model, seed, (32, 32))
    model.eval()
    x = np.load(ZOO / "input.npy")
    model64 = __import__("copy").deepcopy(model).double()
    with torch.no_grad():
        y64 = model64(torch.from_numpy(x).double()).numpy()
    err = float(np.abs(y64 - np.load(ZOO / "output_f64.npy")).max())
    assert err < 1e-9, f"not the zoo's model: {err}"
    targets = [int(t) for t in y64.argmax(axis=1)]

    # float64 Grad-CAM by autograd at the last block's ln_1.
    layer64 = model64.encoder.layers[-1].ln_1
    saved = {}

    def keep(module, inputs, output):  # returns None: the output is left as it is
        output.retain_grad()
        saved["a"] = output

    handle = layer64.register_forward_hook(keep)
    logits = model64(torch.from_numpy(x).double())
    logits[range(len(targets)), targets].sum().backward()
    handle.remove()
    a, g = reshape_transform(saved["a"]), reshape_transform(saved["a"].grad)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    grid = torch.relu((alpha * a).sum(dim=1, keepdim=True)).detach().numpy()

    # pytorch-grad-cam on the float32 model, the same layer and transform.
    cam = GradCAM(model=model, target_layers=[model.encoder.layers[-1].ln_1], reshape_transform=reshape_transform)
    pgc = cam(input_tensor=torch.from_numpy(x), targets=[ClassifierOutputTarget(t) for t in targets])
    def scaled(m):  # pytorch_grad_cam.utils.image.scale_cam_image on one map
        m = m - m.min()
        return m / (1e-7 + m.max())

    for i in range(len(targets)):
        # pytorch-grad-cam scales each layer's map, resizes it, then scales the layers' mean.
        mine = scaled(cv2.resize(np.float32(scaled(grid[i, 0])), (32, 32)))
        diff = float(np.abs(mine - pgc[i]).max())
        assert diff < 1e-5, f"sample {i}: float64 grid vs pytorch-grad-cam {diff}"

    onnx_model = onnx.load(ZOO / "model.onnx")
    layer = next(n.output[0] for n in onnx_model.graph.node
                 if n.op_type == "LayerNormalization" and "encoder_layer_1/ln_1" in n.name)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "gradcam_grid.npy", np.ascontiguousarray(grid, dtype="<f8"))
    np.save(OUT / "gradcam_pgc.npy", np.ascontiguousarray(pgc, dtype="<f4"))
    manifest = {
        "generator": "Tools/make_token_gradcam_fixtures.py",
        "reference": f"pytorch-grad-cam {getattr(pytorch_grad_cam, '__version__', 'installed')} GradCAM with the ViT "
                     "reshape_transform; float64 autograd for the raw grid map",
        "torch": torch.__version__,
        "model": "Fixtures/zoo/vit/model.onnx (rebuilt with Tools/make_zoo_fixtures.py)",
        "input": "../../zoo/vit/input.npy",
        "targets": targets,
        "layer": layer,
        "module": "encoder.layers[-1].ln_1",
        "grid": [GRID, GRID],
        "files": {"gradcam_grid": "gradcam_grid.npy", "gradcam_pgc": "gradcam_pgc.npy"},
        "notes": "Tokens [N, 17, 16]: the class token dropped, the 16 patch tokens as a 4x4 grid, features as channels.",
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"targets {targets}, layer {layer}, grid max {grid.max():.4g}")


def swin_main():
    """The Swin fixture: Grad-CAM at the last block's norm2, features moved to channels."""
    torch.set_num_threads(1)
    zoo, out = ROOT / "Fixtures" / "zoo" / "swin", ROOT / "Fixtures" / "saliency" / "swin_tokens"
    seed = CASES["swin"]["seed"]
    torch.manual_seed(seed)
    model, _, _, _ = tv_swin()
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

    def to_channels(t):
        return t.permute(0, 3, 1, 2)

    saved = {}

    def keep(module, inputs, output):
        output.retain_grad()
        saved["a"] = output

    handle = model64.features[-1][-1].norm2.register_forward_hook(keep)
    logits = model64(torch.from_numpy(x).double())
    logits[range(len(targets)), targets].sum().backward()
    handle.remove()
    a, g = to_channels(saved["a"]), to_channels(saved["a"].grad)
    grid = torch.relu(((g.mean(dim=(2, 3), keepdim=True)) * a).sum(dim=1, keepdim=True)).detach().numpy()

    cam = GradCAM(model=model, target_layers=[model.features[-1][-1].norm2], reshape_transform=to_channels)
    pgc = cam(input_tensor=torch.from_numpy(x), targets=[ClassifierOutputTarget(t) for t in targets])

    def scaled(m):
        m = m - m.min()
        return m / (1e-7 + m.max())

    for i in range(len(targets)):
        mine = scaled(cv2.resize(np.float32(scaled(grid[i, 0])), (32, 32)))
        diff = float(np.abs(mine - pgc[i]).max())
        assert diff < 1e-5, f"sample {i}: float64 grid vs pytorch-grad-cam {diff}"

    # The ONNX layer norms in graph order: patch embedding, then norm1, norm2 per block, the
    # final norm; the last block's norm2 is the fifth of six.
    norms = [n.output[0] for n in onnx.load(zoo / "model.onnx").graph.node if n.op_type == "LayerNormalization"]
    assert len(norms) == 6, norms
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "gradcam_grid.npy", np.ascontiguousarray(grid, dtype="<f8"))
    np.save(out / "gradcam_pgc.npy", np.ascontiguousarray(pgc, dtype="<f4"))
    manifest = {
        "generator": "Tools/make_token_gradcam_fixtures.py",
        "reference": f"pytorch-grad-cam {getattr(pytorch_grad_cam, '__version__', 'installed')} GradCAM with "
                     "reshape_transform permute(0, 3, 1, 2); float64 autograd for the raw grid map",
        "torch": torch.__version__,
        "model": "Fixtures/zoo/swin/model.onnx (rebuilt with Tools/make_zoo_fixtures.py)",
        "input": "../../zoo/swin/input.npy",
        "targets": targets,
        "layer": norms[4],
        "module": "features[-1][-1].norm2",
        "grid": list(grid.shape[2:]),
        "files": {"gradcam_grid": "gradcam_grid.npy", "gradcam_pgc": "gradcam_pgc.npy"},
        "notes": "Swin's blocks work on [N, H, W, C]: the layer output is the grid, features last.",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"swin: targets {targets}, layer {norms[4]}, grid {list(grid.shape)}, max {grid.max():.4g}")


if __name__ == "__main__":
    main()
    swin_main()
