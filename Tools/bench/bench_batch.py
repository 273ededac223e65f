#!/usr/bin/env python3
"""Dataset-run benchmark: `srtool batch` on VGG-16 with ε+♭ LRP at --batch 1 and --batch 8.

Reports, for each batch size, the time per image (the whole run, model loading and the
final HDF5 file included, divided by the images), the CPU utilisation ((user + system) /
wall / cores: how busy the cores were) and the peak RSS; then the ratio of the per-image
times (batch 8 / batch 1). One run each, no test asserts a time.

Model: torchvision vgg16, random weights (seed 0), exported by bench_lrp.py's
`ensure_model` into the cache folder (default /tmp/srtool-bench; reused when present).
Images: N (default 32) smooth random 256×256 RGB PNGs, seeded, made once in the cache,
read with --preprocess imagenet (resize 256, centre crop 224).

Usage: python3 Tools/bench/bench_batch.py [--images 32] [--threads 2]
           [--srtool .build/release/srtool] [--cache /tmp/srtool-bench]
Needs: numpy, Pillow (torch and torchvision only to export VGG-16 the first time).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lrp import ensure_model  # noqa: E402


def make_images(folder, count, seed=0):
    if os.path.isdir(folder) and len(os.listdir(folder)) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    rng = numpy.random.default_rng(seed)
    for i in range(count):
        coarse = rng.random((8, 8, 3))
        image = Image.fromarray((coarse * 255).astype(numpy.uint8)).resize((256, 256), Image.BICUBIC)
        noise = rng.normal(0, 8, (256, 256, 3))
        pixels = numpy.clip(numpy.asarray(image, dtype=numpy.float64) + noise, 0, 255).astype(numpy.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f'{i:05d}.png'))


def run(cmd):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of cmd."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    err = proc.stderr.read().decode('utf-8', 'replace')
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'bench_batch: {" ".join(cmd)} failed:\n{err}')
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=32)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--srtool', default='.build/release/srtool')
    parser.add_argument('--cache', default='/tmp/srtool-bench')
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    model, _ = ensure_model('vgg16', args.cache, 0)
    images = os.path.join(args.cache, f'batch-images-{args.images}')
    make_images(images, args.images)
    per_image = {}
    for batch in (1, 8):
        with tempfile.TemporaryDirectory() as out:
            wall, cpu, rss = run([args.srtool, 'batch', model, '--images', images, '--out', out, '--preprocess', 'imagenet',
                                  '--composite', 'epsilon-plus-flat', '--batch', str(batch), '--threads', str(args.threads),
                                  '--quiet'])
        per_image[batch] = wall / args.images
        print(f'vgg16 epsilon-plus-flat --batch {batch}: {per_image[batch]:.3f} s per image ({args.images} images, '
              f'{wall:.1f} s), CPU {cpu / wall / args.threads * 100:.0f}% of {args.threads} cores, peak RSS {rss:.0f} MB')
    print(f'per-image time at --batch 8 / --batch 1: {per_image[8] / per_image[1]:.2f}x')


if __name__ == '__main__':
    main()
