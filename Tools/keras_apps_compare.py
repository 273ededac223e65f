"""What Tools/check_keras_applications.py (Keras 3) and Tools/check_tf_keras_applications.py
(Keras 2) share: the seeded test images, running `srtool run` on a saved model, judging
its output against Keras' float32 and float64 outputs, and the printed table.

Tolerance: ok when |srtool - keras| <= ATOL + RTOL*|keras| everywhere; else still ok
("float32 noise") when srtool is no further from Keras' float64 output than NOISE_FACTOR
times Keras' own float32 output is (+ ATOL). See judge().
"""

import subprocess
import time

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
