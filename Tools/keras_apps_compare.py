"""What Tools/check_keras_applications.py (Keras 3) and Tools/check_tf_keras_applications.py
(Keras 2) share: the command line, the per-model loop (seed, build, skip giants, seeded
weights and batch-norm statistics, save, run srtool), the seeded test images, judging
srtool's output against Keras' float32 and float64 outputs, and the printed table. Each
checker passes its Keras as a `backend` namespace (see check_models()).

Tolerance: ok when |srtool - keras| <= ATOL + RTOL*|keras| everywhere; else still ok
("float32 noise") when srtool is no further from Keras' float64 output than NOISE_FACTOR
times Keras' own float32 output is (+ ATOL). See judge().
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ATOL, RTOL = 1e-4, 1e-3
NOISE_FACTOR = 2.0   # see judge()


def raw_images(rng, n, s):
    """n seeded s x s RGB images, 0..255: a random 4x4 colour field upsampled
    (bilinear) plus pixel noise (sd 16), clipped. Per-pixel noise alone makes every
    image look alike to deep layers, whose features then barely vary across the batch
    and normalise badly (catastrophic cancellation in float32)."""
    low = torch.from_numpy(rng.uniform(0, 255, (n, 3, 4, 4)).astype(np.float32))
    field = F.interpolate(low, size=(s, s), mode="bilinear", align_corners=False)
    img = field.permute(0, 2, 3, 1).numpy() + rng.normal(0, 16, (n, s, s, 3))
    return np.clip(img, 0, 255).astype(np.float32)


def error_line(stderr):
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "error:" in ln:
            return ln
    return lines[-1] if lines else "(no message)"


def judge(got, y32, y64):
    """ok when srtool is within ATOL + RTOL*|keras| of Keras' float32 output; else ok
    when srtool is no further from the float64 output than NOISE_FACTOR times Keras'
    own float32 result (+ ATOL): the deep random-weight models here amplify float32
    rounding (their deep features barely differ between images, so batch norm's x - mean
    cancels), and neither float32 result is then closer to the truth than that."""
    diff = np.abs(got.astype(np.float64) - y32.astype(np.float64))
    bad = diff > ATOL + RTOL * np.abs(y32)
    if not bad.any():
        return "ok", f"max |diff| {diff.max():.2g}"
    e64 = float(np.abs(got - y64).max())
    k64 = float(np.abs(y32 - y64).max())
    if e64 <= NOISE_FACTOR * k64 + ATOL:
        return "ok", (f"float32 noise: max |diff| {diff.max():.2g}; vs float64 srtool "
                      f"{e64:.2g}, Keras {k64:.2g}")
    return "failed", (f"MISMATCH max |diff| {diff.max():.3g} ({int(bad.sum())} of {bad.size} "
                      f"outside); vs float64 srtool {e64:.3g}, Keras {k64:.3g}")


def run_srtool(srtool, model_path, x_path, ref, ref64, threads, timeout):
    out = model_path.parent / f"srtool_{model_path.suffix.lstrip('.')}.npy"
    if out.exists():
        out.unlink()
    cmd = [srtool, "run", str(model_path), "--input", str(x_path), "-o", str(out),
           "--threads", str(threads)]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "failed", f"timeout after {timeout} s"
    dt = time.time() - t0
    if p.returncode < 0:
        return "failed", f"crashed: signal {-p.returncode}: {error_line(p.stderr)}"
    if p.returncode != 0:
        kind = "refused" if 64 <= p.returncode <= 69 else "failed"
        return kind, f"exit {p.returncode}: {error_line(p.stderr)}"
    got = np.load(out)
    if got.shape != ref.shape:
        if got.size != ref.size:
            return "failed", f"MISMATCH shape {list(got.shape)} vs {list(ref.shape)}"
        got = got.reshape(ref.shape)
    if not np.isfinite(got).all():
        return "failed", "MISMATCH: srtool's output holds NaN/Inf"
    kind, msg = judge(got, ref, ref64)
    return kind, (f"ok ({msg}, {dt:.1f} s)" if kind == "ok" else msg)


def print_row(row):
    print(f"  {row['model']:28s} {row['input']:>7s} {row['params']:>8s} std {row['std']:>7s} "
          f"f32-f64 {row['f64']:>7s}  .h5: {row['h5']}  |  .keras: {row['keras']}", flush=True)


def print_table(rows, keras_only):
    head = (["model", "input", "params", "output std", "Keras f32 vs f64"]
            + ([] if keras_only else [".h5", ".keras"]))
    body = [[r["model"], r["input"], r["params"], r["std"], r["f64"]]
            + ([] if keras_only else [r["h5"], r["keras"]]) for r in rows]
    if keras_only:
        for r, b in zip(rows, body):
            if r["h5"] != "-":           # skipped / cannot build
                b.append(r["h5"])
        head.append("note")
        body = [b + [""] * (len(head) - len(b)) for b in body]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(" --- " for _ in head) + "|")
    for b in body:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in b) + " |")


def seeded_value(cls, name, current, rng):
    """A weight's seeded value (module docstrings of the checkers): biases N(0, 0.02),
    BN / LN gamma U(0.8, 1.2) and beta N(0, 0.1), LayerScale U(0.1, 0.5), Normalization
    mean U(0.4, 0.5) and variance U(0.04, 0.06); everything else (Keras' seeded
    initialisers) as it is. float32, but for Normalization's count."""
    shape = current.shape
    norms = ("BatchNormalization", "LayerNormalization")
    if name == "bias":
        current = rng.normal(0, 0.02, shape)
    elif name == "gamma" and cls in norms:
        current = rng.uniform(0.8, 1.2, shape)
    elif name == "beta" and cls in norms:
        current = rng.normal(0, 0.1, shape)
    elif cls == "LayerScale":
        current = rng.uniform(0.1, 0.5, shape)
    elif cls == "Normalization" and name == "mean":
        current = rng.uniform(0.4, 0.5, shape)
    elif cls == "Normalization" and name == "variance":
        current = rng.uniform(0.04, 0.06, shape)
    return np.asarray(current, dtype=current.dtype if name == "count" else np.float32)


def parse_args(doc, default_srtool, default_out, zip_option=False):
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--srtool", default=default_srtool)
    ap.add_argument("--models", default="", help="comma-separated names (case-insensitive)")
    ap.add_argument("--keras-only", action="store_true")
    if zip_option:
        ap.add_argument("--no-keras-zip", action="store_true", help="save and check the .h5 only")
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--max-params", type=float, default=100,
                    help="skip models with more parameters than this many millions (0: no limit)")
    ap.add_argument("--size", type=int, default=64,
                    help="input size, raised to a model's minimum (32; 71 Xception; 75 Inception)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per srtool run")
    return ap.parse_args()


def selected(specs, args):
    """The specs --models names, after checking the names and the srtool binary."""
    if args.models:
        want = {m.strip().lower() for m in args.models.split(",") if m.strip()}
        unknown = want - {n.lower() for n in specs}
        if unknown:
            raise SystemExit(f"unknown model(s) {sorted(unknown)}; known: {', '.join(specs)}")
        specs = {n: v for n, v in specs.items() if n.lower() in want}
    if not args.keras_only and not os.access(args.srtool, os.X_OK):
        raise SystemExit(f"no srtool at {args.srtool} (build it, pass --srtool, or use --keras-only)")
    return specs


def check_models(specs, args, backend, seed_base, header):
    """Per model: seeded weights (backend.set_seed, backend.randomize), batch-norm statistics
    from a calibration batch holding the test images (backend.calibrate), Keras' float32 and
    float64 outputs, the model saved in each of backend.formats, and `srtool run` on each
    file. backend also gives build(name, ctor, size, extra), float64_output(model, x) (None
    when it cannot rebuild the model), preprocess_input_of(ctor), to_np(tensor) and
    clear_session(). Prints a row per model and the table; returns the exit status."""
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    print(f"{header}; {len(specs)} models -> {out_root}" + ("" if args.keras_only else f"; srtool {args.srtool}"))
    print(f"tolerance |srtool - keras| <= {ATOL:g} + {RTOL:g}*|keras|", flush=True)
    rows = []
    failed = False
    for name, (ctor, s, extra) in specs.items():
        s = max(s, args.size)
        row = {"model": name, "input": f"{s}x{s}", "keras": "-"}
        t0 = time.time()
        seed = seed_base + zlib.crc32(name.encode()) % 100000
        backend.set_seed(seed)
        rng = np.random.default_rng(seed)
        try:
            model = backend.build(name, ctor, s, extra)
        except Exception as e:  # noqa: BLE001
            row.update(params="-", std="-", f64="-", h5=f"keras cannot build it: {' '.join(str(e).split())[:150]}")
            rows.append(row)
            print_row(row)
            continue
        nparams = model.count_params()
        row["params"] = f"{nparams / 1e6:.2f}M"
        if args.max_params and nparams > args.max_params * 1e6:
            row.update(std="-", f64="-", h5=f"skipped ({nparams / 1e6:.0f}M parameters > --max-params {args.max_params:g}M)")
            rows.append(row)
            print_row(row)
            del model
            backend.clear_session()
            gc.collect()
            continue
        preprocess, family = backend.preprocess_input_of(ctor)

        def batch(n):
            return np.asarray(backend.to_np(preprocess(raw_images(rng, n, s))), dtype=np.float32)

        backend.randomize(model, rng)
        x = batch(2)
        n_bn = backend.calibrate(model, np.concatenate([x, batch(6)]))
        y = backend.to_np(model(x, training=False)).astype(np.float32)
        y64 = backend.float64_output(model, x)
        d = out_root / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for fmt in backend.formats:
            model.save(str(d / f"model.{fmt}"))
        np.save(d / "input.npy", np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        np.save(d / "output.npy", y)
        row["std"] = f"{float(y.std()):.3g}"
        if y64 is None:
            row["f64"] = "-"
            y64 = y
        else:
            np.save(d / "output_float64.npy", y64)
            row["f64"] = f"{float(np.abs(y - y64).max()):.2g}"
        row["preprocess_input"] = f"{family}.preprocess_input, range [{x.min():.3g}, {x.max():.3g}]"
        row["batch_norms_calibrated"] = n_bn
        if not np.isfinite(y).all():
            row["note"] = "Keras output not finite"
        keras_s = time.time() - t0
        del model
        backend.clear_session()
        gc.collect()
        if args.keras_only:
            row["h5"] = "-"
        else:
            for fmt in backend.formats:
                kind, msg = run_srtool(args.srtool, d / f"model.{fmt}", d / "input.npy", y,
                                       y64, args.threads, args.timeout)
                row[fmt] = msg if kind != "refused" else f"refused: {msg}"
                failed |= kind == "failed"
        row["keras_seconds"] = round(keras_s, 1)
        rows.append(row)
        print_row(row)

    (out_root / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print_table(rows, args.keras_only)
    return 1 if failed else 0
