#!/usr/bin/env python3
"""CLI mutation fuzzer: fixture models (and inputs) are mutated byte by byte — bit flips,
boundary bytes (0x00, 0xff, 0x7f, 0x80), inserted, deleted and duplicated runs, truncation,
4/8-byte little-endian and varint integers set to extremes (0, 1, −1, 2^31−1, 2^31, 2^32−1,
2^63−1, −2^63), and in a prototxt its numbers replaced — and each mutant goes through the
built CLI: `srtool inspect MUTANT`, and when that loads it, `inspect --json` and `srtool run`
on an input of the shape it reports (the fixture's input.npy where it fits). For `npy` the
input is the mutant: `inspect MODEL --layer L --input MUTANT`, then `run`. Where
Tools/fuzz/run fuzzes the readers in-process, this checks the whole command: exit code,
stderr, the HDF5 child, output writing, memory and time.

    Tools/fuzz/mutate_cli.py [FORMAT …] [--count N] [--seed S] [--jobs J] [--srtool BIN] [--quick]

FORMAT: onnx caffemodel prototxt caffe-hdf5 keras-h5 keras-zip srm npy (default: all).
--count mutants per format (default 10,000; 1,000 with --quick), --seed makes a run
repeatable (mutant i of a format depends on S, the format and i only), --jobs runs J
commands at once (default 1), --srtool picks the binary (default .build/release/srtool; it is
copied to $SRFUZZ_WORK/cli/srtool first, so a rebuild during the run does not disturb it).

A command is clean when it exits 0 with no `srtool: error:` line on stderr, or exits 64,
65, 66 or 69 (73 when the output file was the problem) with exactly one stderr line, the
`srtool: error: …` line — within --timeout seconds (default 30; SRTOOL_HDF5_TIMEOUT=5 lets
srtool cut libhdf5's hangs itself) and 4 GiB of address space. Anything else — a signal,
exit 1 or 70, more lines, a timeout, `Fatal error` or a backtrace, `inspect --json` output
that is not JSON, an HDF5 import child that died on SIGILL/SIGTRAP (a Swift trap that
srtool would report as a libhdf5 crash) — is a finding: the mutant is kept as
$SRFUZZ_WORK/cli/<format>/finding-<i><ext> (default /tmp/srfuzz; i is the mutant's number)
with finding-<i>.txt beside it (seed, mutations, command, exit code, stderr). Exits 1 if
there is any finding. Needs numpy.
"""
import argparse
import functools
import glob
import json
import math
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "Fixtures")
WORK = os.path.join(os.environ.get("SRFUZZ_WORK", "/tmp/srfuzz"), "cli")
ENV = dict(os.environ, SRTOOL_HDF5_TIMEOUT="5", SWIFT_BACKTRACE="enable=no")
FORMATS = ["onnx", "caffemodel", "prototxt", "caffe-hdf5", "keras-h5", "keras-zip", "srm", "npy"]
MEMORY = 4 << 30  # RLIMIT_AS of every srtool process
CLEAN_CODES = (64, 65, 66, 69)
BOUNDARY_BYTES = (0x00, 0xFF, 0x7F, 0x80)
EXTREMES = (0, 1, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, -2**63)
NUMBERS = [str(v) for v in EXTREMES] + ["2", "3", "nan", "inf", "-inf", "1e30", "-1e30", "0.5", "1e-45"]
NUMBER = re.compile(rb"(?<=: )-?[0-9][0-9.e+-]*")  # a prototxt value (as sweep.py)
CRASH = re.compile(r"Fatal error|Program crashed|Current stack trace|^\s*#\d+ |^\*\*\* ")
HIDDEN_TRAP = re.compile(r"libhdf5 crashed reading it \(signal [45]\)")  # SIGILL/SIGTRAP: Swift, not libhdf5
MAX_INPUT = 1 << 22  # elements of a generated `run` input
SRM_SOURCES = ["onnx/conv_basic/model.onnx", "onnx/resnet_mini/model.onnx",
               "caffe/alexnet_mini/alexnet_mini.caffemodel", "keras/sequential_cnn/model.h5",
               # the N-D ops: transpose, layer norm, GELU, matmul, batch constants, slices, SiLU
               "zoo/convnext/model.onnx", "zoo/timm_deit/model.onnx", "zoo/efficientnet/model.onnx"]


class Seed(NamedTuple):
    file: str  # the file the mutants are made of
    args: list  # companion options (npy: the model and its options)
    input: str | None = None  # the fixture input.npy `run` prefers
    beside: tuple = ()  # files the model needs next to it (external ONNX data)
    bare: float = 0.0  # how often the companion options are left out
    layers: tuple = ()  # npy: the layers `inspect --layer` may show


class Finding(Exception):
    def __init__(self, argv, code, stderr, why):
        super().__init__(why)
        self.argv, self.code, self.stderr, self.why = argv, code, stderr, why


# Seeds ------------------------------------------------------------------------------------

def fixtures(pattern, below=None):
    files = sorted(glob.glob(os.path.join(FIXTURES, pattern), recursive=True))
    return [f for f in files if below is None or os.path.getsize(f) < below]


def beside(f, pattern):
    return sorted(glob.glob(os.path.join(os.path.dirname(f), pattern)))


def fixture_input(f):
    return next(iter(beside(f, "input.npy")), None)


def onnx_seeds():
    models = [f for p in ("onnx/*/model.onnx", "zoo/*/model.onnx", "lrp/*/model.onnx", "bundled/shapes.onnx")
              for f in fixtures(p, 200 << 10)]
    return [Seed(f, [], fixture_input(f), tuple(beside(f, "*.bin"))) for f in models]


def caffe_seeds(pattern):
    return [Seed(f, ["--prototxt", beside(f, "*deploy*.prototxt")[0]], fixture_input(f)) for f in fixtures(pattern)]


def prototxt_seeds():
    return [Seed(f, ["--weights", beside(f, "*.caffemodel")[0]], fixture_input(f), bare=0.125)
            for f in fixtures("caffe/*/*.prototxt")]


def keras_seeds(pattern, below=None):
    def config(f):  # a weights-only file needs the architecture JSON beside it
        return ["--config", beside(f, "model.json")[0]] if f.endswith(".weights.h5") else []
    return [Seed(f, config(f), fixture_input(f)) for f in fixtures(pattern, below)]


def srm_seeds(srtool, folder):
    seeds = []
    for source in SRM_SOURCES:
        path = os.path.join(FIXTURES, source)
        out = os.path.join(folder, os.path.basename(os.path.dirname(path)) + ".srm")
        subprocess.run([srtool, "convert", path, "-o", out], capture_output=True, env=ENV, timeout=120)
        if os.path.exists(out):
            seeds.append(Seed(out, [], fixture_input(path)))
    return seeds


def npy_seeds(srtool):
    seeds = []
    for model in onnx_seeds():
        report = subprocess.run([srtool, "inspect", model.file, "--json"], capture_output=True, text=True, env=ENV)
        if not model.input or report.returncode != 0:
            continue
        try:
            layers = tuple(layer["name"] for layer in json.loads(report.stdout)["layers"])
        except json.JSONDecodeError:
            sys.exit(f"mutate_cli npy: `srtool inspect {model.file} --json` printed no JSON")
        seeds.append(Seed(model.input, [model.file], layers=layers))
    return seeds


def seeds_for(fmt, srtool, folder):
    return {"onnx": onnx_seeds,
            "caffemodel": lambda: caffe_seeds("caffe/*/*.caffemodel"),
            "prototxt": prototxt_seeds,
            "caffe-hdf5": lambda: caffe_seeds("caffe/*/*.caffemodel.h5"),
            "keras-h5": lambda: keras_seeds("keras/**/*.h5", 100 << 10),
            "keras-zip": lambda: keras_seeds("keras/**/*.keras"),
            "srm": lambda: srm_seeds(srtool, folder),
            "npy": lambda: npy_seeds(srtool)}[fmt]()


# Mutations --------------------------------------------------------------------------------

def flip_bit(b, rng):
    if not b:
        return b, "flip (empty)"
    at, bit = rng.randrange(len(b)), rng.randrange(8)
    b[at] ^= 1 << bit
    return b, f"flip bit {bit} at {at}"


def overwrite_bytes(b, rng):
    at = rng.randrange(len(b) + 1)
    value, n = rng.choice(BOUNDARY_BYTES), min(rng.choice((1, 2, 4, 8)), len(b) - at)
    b[at:at + n] = bytes([value]) * n
    return b, f"{n} × 0x{value:02x} at {at}"


def insert_run(b, rng):
    at, n = rng.randrange(len(b) + 1), rng.choice((1, 2, 4, 8, 64, 1024))
    run = rng.randbytes(n) if rng.random() < 0.5 else bytes([rng.choice(BOUNDARY_BYTES)]) * n
    b[at:at] = run
    return b, f"insert {n} bytes at {at}"


def delete_run(b, rng):
    at = rng.randrange(len(b) + 1)
    n = rng.randint(1, max(1, min(256, len(b) - at)))
    del b[at:at + n]
    return b, f"delete {n} bytes at {at}"


def truncate(b, rng):
    at = rng.randrange(len(b) + 1)
    del b[at:]
    return b, f"truncate at {at}"


def duplicate_chunk(b, rng):
    start = rng.randrange(len(b) + 1)
    chunk = b[start:start + rng.randint(1, 1024)]
    at = rng.randrange(len(b) + 1)
    b[at:at] = chunk
    return b, f"copy {len(chunk)} bytes from {start} to {at}"


def splice_int(b, rng):
    value, width = rng.choice(EXTREMES), rng.choice((4, 8))
    at = rng.randrange(len(b) + 1)
    if rng.random() < 0.5:
        at -= at % width  # aligned, as a field would be
    b[at:at + width] = (value % 2 ** (8 * width)).to_bytes(width, "little")
    return b, f"int{width * 8} {value} at {at}"


def splice_varint(b, rng):
    """A protobuf varint (ONNX, caffemodel lengths and dims) set to an extreme."""
    value, at = rng.choice(EXTREMES) % 2**64, rng.randrange(len(b) + 1)
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            break
    b[at:at + len(out)] = out
    return b, f"varint {out.hex()} at {at}"


def replace_number(b, rng):
    numbers = list(NUMBER.finditer(b))
    if not numbers:
        return b, "no number"
    m, value = rng.choice(numbers), rng.choice(NUMBERS)
    old = m.group().decode(errors="replace")  # read before the buffer changes under the match
    b[m.start():m.end()] = value.encode()
    return b, f"number {old} at {m.start()} → {value}"


# Length-preserving mutations first: most files fail their framing on anything else.
BYTE_MUTATIONS = {flip_bit: 4, overwrite_bytes: 3, splice_int: 3, splice_varint: 1, insert_run: 1, delete_run: 1,
                  truncate: 1, duplicate_chunk: 1}


def mutate(data, rng, text):
    """One mutation, stacked with more at odds of 1 in 2 each (in text, mostly number
    replacements); the bytes and what was done."""
    b, done = bytearray(data), []
    while not done or rng.random() < 0.5:
        if text and rng.random() < 0.7:
            op = replace_number
        else:
            op = rng.choices(list(BYTE_MUTATIONS), list(BYTE_MUTATIONS.values()))[0]
        b, what = op(b, rng)
        done.append(what)
    return bytes(b), "; ".join(done)


# Running and judging ----------------------------------------------------------------------

def cap_resources():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def execute(argv, cwd, timeout):
    """(exit code, or −signal, or None on a timeout; stdout; stderr). The whole process group
    is killed on a timeout, the HDF5 import child too."""
    p = subprocess.Popen(argv, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=cap_resources,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out, err


def verdict(argv, code, stderr, timeout):
    """None when srtool answered cleanly, else what is wrong."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("srtool: error: ")]
    output = argv[argv.index("-o") + 1] if "-o" in argv else None
    if code is None:
        return f"timed out after {timeout} s"
    if code < 0:
        return "killed by a signal"
    if any(CRASH.search(line) for line in lines):
        return "a crash report on stderr"
    if code == 0:
        return "an error line despite exit 0" if errors else None
    if code not in CLEAN_CODES and not (code == 73 and output and errors and output in errors[0]):
        return "not a clean exit code"
    if len(lines) != 1 or not errors:
        return f"{len(lines)} stderr lines, {len(errors)} of them srtool: error:"
    return "the HDF5 import child trapped" if HIDDEN_TRAP.search(lines[0]) else None


def runner(srtool, folder, timeout):
    """call(argv, json_out) runs `srtool argv…` and returns (code, stdout, or its JSON);
    it raises Finding on an unclean answer."""
    def call(argv, json_out=False):
        argv = [srtool] + argv
        code, out, err = execute(argv, folder, timeout)
        why = verdict(argv, code, err, timeout)
        if why:
            raise Finding(argv, code, err, why)
        if json_out and code == 0:
            try:
                return code, json.loads(out)
            except json.JSONDecodeError as e:
                raise Finding(argv, code, err, f"inspect --json printed no JSON ({e})")
        return code, out
    return call


def run_input(report, fixture, folder, rng):
    """An input of the shape `inspect --json` reports: the fixture's input.npy when it fits
    (NCHW, or NHWC transposed), else random numbers; None when the shape is unusable."""
    inputs = report.get("inputs") or [{}]
    shape = inputs[0].get("shape")
    if not shape or not all(type(n) is int and n > 0 for n in shape) or math.prod(shape) > MAX_INPUT:
        return None
    x = np.load(fixture) if fixture else None
    if x is not None and x.shape[1:] == tuple(shape[1:]):
        return fixture
    if x is not None and x.ndim == 4 and x.transpose(0, 3, 1, 2).shape[1:] == tuple(shape[1:]):
        x = x.transpose(0, 3, 1, 2)
    else:
        x = np.random.default_rng(rng.getrandbits(32)).standard_normal(shape, dtype=np.float32)
    path = os.path.join(folder, "input.npy")
    np.save(path, np.ascontiguousarray(x))
    return path


def try_model(call, mutant, seed, args, folder, rng, progress):
    """inspect; when it loads, inspect --json and run (progress records how far it got)."""
    if call(["inspect", mutant] + args)[0] != 0:
        return
    progress["accepted"] = True
    code, report = call(["inspect", mutant, "--json"] + args, json_out=True)
    path = run_input(report, seed.input, folder, rng) if code == 0 else None
    if path is not None:
        progress["ran"] = True
        call(["run", mutant, "--input", path, "-o", os.path.join(folder, "out.npy"), "--threads", "1"] + args)


def try_input(call, mutant, seed, folder, rng, progress):
    """inspect MODEL --layer L --input MUTANT; when it reads it, run."""
    if call(["inspect"] + seed.args + ["--layer", rng.choice(seed.layers), "--input", mutant])[0] != 0:
        return
    progress["accepted"] = progress["ran"] = True
    call(["run"] + seed.args + ["--input", mutant, "-o", os.path.join(folder, "out.npy"), "--threads", "1"])


@functools.lru_cache(maxsize=None)
def load(path):
    with open(path, "rb") as f:
        return f.read()


def suffix(path):
    name = os.path.basename(path)
    return name[name.index("."):]  # .caffemodel.h5, .weights.h5, …


def fuzz(job):
    """Makes mutant i of a format and runs it: (accepted, ran, finding line or None)."""
    fmt, i, seeds, seed_value, srtool, timeout = job
    seed = seeds[i % len(seeds)]
    rng = random.Random(f"{seed_value}:{fmt}:{i}")
    data, what = mutate(load(seed.file), rng, fmt == "prototxt")
    with tempfile.TemporaryDirectory(prefix="mutant-", dir=WORK) as folder:
        mutant = os.path.join(folder, "mutant" + suffix(seed.file))
        with open(mutant, "wb") as f:
            f.write(data)
        for f in seed.beside:
            shutil.copy(f, folder)
        call = runner(srtool, folder, timeout)
        args = [] if rng.random() < seed.bare else seed.args
        progress, finding = {"accepted": False, "ran": False}, None
        try:
            if fmt == "npy":
                try_input(call, mutant, seed, folder, rng, progress)
            else:
                try_model(call, mutant, seed, args, folder, rng, progress)
        except Finding as e:
            finding = keep(fmt, i, seed, what, mutant, folder, e)
        return progress["accepted"], progress["ran"], finding


def keep(fmt, i, seed, what, mutant, folder, e):
    """Saves a finding (the mutant, a generated input, the report); returns its summary line."""
    base = os.path.join(WORK, fmt, f"finding-{i}")
    out = os.path.join(folder, "out.npy")
    saved = {mutant: base + suffix(mutant), os.path.join(folder, "input.npy"): base + "-input.npy", out: base + "-out.npy"}
    for src, dst in saved.items():
        if src in e.argv and src != out:
            shutil.copy(src, dst)
    for f in seed.beside:
        shutil.copy(f, os.path.join(WORK, fmt))
    argv = [saved.get(a, a) for a in e.argv]
    code = "timeout" if e.code is None else f"signal {-e.code}" if e.code < 0 else e.code
    with open(base + ".txt", "w") as f:
        f.write(f"seed: {os.path.relpath(seed.file, ROOT)}\nmutations: {what}\n"
                f"command: {shlex.join(argv)}\nexit: {code}\nwhy: {e.why}\nstderr:\n{e.stderr}")
    last = (e.stderr.strip().splitlines() or ["(no stderr)"])[-1]
    return f"{argv[1]}, exit {code}: {e.why}: {last[:200]} — kept as {base}.txt"


def snapshot(srtool):
    """A copy of srtool for the whole run, so a rebuild cannot swap it (or leave it busy)
    midway; the findings' commands name it, $SRFUZZ_WORK/cli/srtool."""
    copy = os.path.join(WORK, "srtool")
    shutil.copy2(srtool, copy + ".new")
    os.replace(copy + ".new", copy)
    if subprocess.run([copy, "--version"], capture_output=True).returncode != 0:
        sys.exit(f"mutate_cli: {srtool} does not run (still being built?)")
    return copy


def results(jobs, workers):
    if workers == 1:  # no threads: preexec_fn is only safe in a single-threaded process
        yield from map(fuzz, jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(fuzz, jobs, chunksize=4)


def fuzz_format(fmt, seeds, opts):
    """Runs opts.count mutants of one format; returns the number of findings."""
    os.makedirs(os.path.join(WORK, fmt), exist_ok=True)
    start, accepted, ran, findings = time.monotonic(), 0, 0, 0
    jobs = ((fmt, i, seeds, opts.seed, opts.srtool, opts.timeout) for i in range(opts.count))
    for n, (a, r, finding) in enumerate(results(jobs, opts.jobs), 1):
        accepted, ran, findings = accepted + a, ran + r, findings + bool(finding)
        if finding:
            print(f"mutate_cli {fmt}: {finding}", file=sys.stderr)
        if n % 1000 == 0:
            print(f"mutate_cli {fmt}: {n}/{opts.count} mutants, {findings} findings", file=sys.stderr)
    print(f"mutate_cli {fmt}: {opts.count} mutants, {accepted} accepted by inspect, {ran} also run, "
          f"{findings} findings, {time.monotonic() - start:.0f} s", flush=True)
    return findings


def main():
    p = argparse.ArgumentParser(description="Mutation fuzzing of srtool's command line (see the header).")
    p.add_argument("formats", nargs="*", metavar="FORMAT", help=" ".join(FORMATS) + " (default: all)")
    p.add_argument("--count", type=int, help="mutants per format (default 10000, --quick 1000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--srtool", default=os.path.join(ROOT, ".build", "release", "srtool"))
    p.add_argument("--timeout", type=float, default=30, help="seconds per command")
    p.add_argument("--quick", action="store_true")
    opts = p.parse_args()
    if set(opts.formats) - set(FORMATS):
        p.error(f"unknown format {sorted(set(opts.formats) - set(FORMATS))[0]}; choose from {' '.join(FORMATS)}")
    opts.count = opts.count or (1000 if opts.quick else 10000)
    opts.srtool = os.path.abspath(opts.srtool)
    if not os.access(opts.srtool, os.X_OK):
        sys.exit(f"mutate_cli: no srtool at {opts.srtool} (swift build -c release)")
    os.makedirs(WORK, exist_ok=True)
    opts.srtool = snapshot(opts.srtool)
    findings = 0
    with tempfile.TemporaryDirectory(prefix="seeds-", dir=WORK) as folder:
        for fmt in opts.formats or FORMATS:
            seeds = seeds_for(fmt, opts.srtool, folder)
            if not seeds:
                sys.exit(f"mutate_cli {fmt}: no seed files")
            findings += fuzz_format(fmt, seeds, opts)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
