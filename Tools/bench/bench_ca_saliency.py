#!/usr/bin/env python3
"""Context-aware saliency and SR maps: how long srtool takes, against its own naive twin.

In one run:
  1. `srtool saliency` on a 250-px image (working size 250), best/median of --repeat runs;
  2. the fast path and the naive twin (`srtool saliency --naive`) on a smaller image
     (working size --small, default 80), and the ratio — the naive twin is the O(N²)
     brute force public implementations use;
  3. `srtool explain --method sr` on VGG-16 (random weights; the ONNX and input from
     bench_lrp.py's cache, made on demand with torchvision) — LRP plus the saliency step.
Peak RSS of each srtool run comes from /usr/bin/time -f %M when available.

    python3 Tools/bench/bench_ca_saliency.py [--srtool .build/release/srtool] [--repeat 3] [--no-vgg]

Needs: Pillow, numpy; torch/torchvision/onnx only for the VGG-16 step (see bench_lrp.py).
"""
import argparse
import os
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
from measure import _time_works, error_line, run_measured, TIMING_RE  # noqa: E402

USE_TIME = _time_works()


def run(cmd):
    """(best s, median s, peak MB) of an srtool command run with --repeat."""
    code, _, err, rss = run_measured(cmd, USE_TIME)
    t = TIMING_RE.search(err)
    if code != 0 or not t:
        raise RuntimeError(f"{' '.join(cmd)} failed: {error_line(err)}")
    return float(t.group(2)), float(t.group(3)), rss if rss is not None else float("nan")


def scene(path, size):
    """A photo-like test image: the bundled circle sample, resized with Pillow."""
    Image.open(os.path.join(ROOT, "Fixtures", "bundled", "samples", "circle_1.png")).convert("RGB") \
        .resize((size, size), Image.BILINEAR).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srtool", default=os.path.join(ROOT, ".build", "release", "srtool"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", type=int, default=80)
    ap.add_argument("--no-vgg", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(args.srtool):
        sys.exit(f"no srtool binary at {args.srtool} (swift build -c release)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big, small = os.path.join(tmp, "big.png"), os.path.join(tmp, "small.png")
        scene(big, 250)
        scene(small, args.small)
        best, med, peak = run([args.srtool, "saliency", big, "--repeat", str(args.repeat)])
        rows.append(("saliency 250×250 (fast)", best, med, peak, ""))
        fb, fm, fp = run([args.srtool, "saliency", small, "--working-size", str(args.small), "--repeat", str(args.repeat)])
        nb, nm, np_ = run([args.srtool, "saliency", small, "--working-size", str(args.small), "--naive", "--repeat", "1"])
        rows.append((f"saliency {args.small}×{args.small} (fast)", fb, fm, fp, ""))
        rows.append((f"saliency {args.small}×{args.small} (naive twin)", nb, nm, np_, f"fast/naive = {fb / nb:.3f}"))
        if not args.no_vgg:
            import bench_lrp  # noqa: E402  (its cache: VGG-16 ONNX + input)
            cache = "/tmp/srtool-bench"
            os.makedirs(cache, exist_ok=True)
            model, _ = bench_lrp.ensure_model("vgg16", cache, 0)
            x = bench_lrp.ensure_input(cache, 0, bench_lrp.input_size("vgg16"))
            best, med, peak = run([args.srtool, "explain", model, "--input", x, "--method", "sr", "--threads", "2",
                                   "--repeat", str(args.repeat)])
            rows.append(("explain --method sr, VGG-16", best, med, peak, "LRP sr-paper + saliency"))
    print(f"{'job':38} {'best s':>8} {'median s':>9} {'peak MB':>8}  note")
    for job, b, m, p, note in rows:
        print(f"{job:38} {b:8.3f} {m:9.3f} {p:8.0f}  {note}")


if __name__ == "__main__":
    main()
