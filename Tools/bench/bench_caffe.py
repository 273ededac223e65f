#!/usr/bin/env python3
"""Caffe import benchmark: srtool convert / run on a full-size VGG-Face caffemodel.

Measures in one run, on the same model (default: the ~580 MB V1 VGG-Face-layout model
that make_vggface_caffemodel.py writes into /tmp/srtool-bench/vggface, generated first
if it is missing):

  * `cat MODEL > /dev/null` (page cache warmed by one untimed read first; best of 3):
    the floor for reading the file.
  * `SRTOOL convert MODEL -o DIR/bench.srm --prototxt PROTO`: wall time, peak RSS, size
    of the .srm. If this srtool does not know --prototxt, it is retried without (the
    deploy prototxt beside the caffemodel is then found by srtool itself).
  * `SRTOOL run MODEL --input X.npy -o OUT.npy --threads T --repeat N` on the
    caffemodel and on the .srm: wall time, peak RSS, and srtool's own
    `timing: load X s, forward best Y s, median Z s (N runs)` line on stderr.
  * `SRTOOL inspect MODEL --prototxt PROTO` on the V1 caffemodel and on the V2 one
    (--v2-dir, default /tmp/srtool-bench/vggface_v2 from make_vggface_caffemodel.py
    --format v2, generated if missing; the same net and weights as Caffe saves them):
    whole-process wall time of an import, best and median of 5 runs each.
  * optionally Caffe itself (`--caffe-python` = an interpreter with pycaffe,
    `--caffe-pythonpath` = its PYTHONPATH): this script re-runs itself there as a worker
    (`--caffe-worker`) that times caffe.Net(prototxt, TEST, weights=caffemodel), one
    warm-up and N timed forward passes (OpenBLAS threads = T), and writes its output;
    srtool's outputs are compared with it (max |diff|, argmax).
  * Peak RSS of each child: `/usr/bin/time -f %M` when it works, else os.wait4's
    rusage for that child (see measure.py). Caffe's worker also reports its own
    ru_maxrss right after loading.

Prints progress on stderr and a table plus ratios on stdout; --json writes all numbers.
A missing srtool binary or no --caffe-python just leaves those rows out; the exit status
is 1 if a step that was run failed.

Usage:
  python3 Tools/bench/bench_caffe.py [MODEL_DIR] [--srtool .build/release/srtool]
      [--repeat 3] [--threads 2] [--v2-dir DIR | --no-v2] [--caffe-python /path/to/venv/bin/python
      --caffe-pythonpath /path/to/caffe/python] [--json out.json] [--keep-srm]
MODEL_DIR holds one *.caffemodel and its deploy prototxt (*deploy*.prototxt, else the
only *.prototxt) and may hold input.npy; default /tmp/srtool-bench/vggface.
Needs: numpy (and pycaffe in the --caffe-python interpreter).
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure import TIMING_RE, _time_works, error_line, fmt, log, run_measured  # noqa: E402

DEFAULT_DIR = "/tmp/srtool-bench/vggface"


# ---------------------------------------------------------------------------
# Caffe worker (runs under the pycaffe interpreter: `--caffe-worker`)
# ---------------------------------------------------------------------------

def caffe_worker(proto, model, x_path, out_path, result_path, repeat, threads, sums):
    import resource
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe
    caffe.set_mode_cpu()
    t0 = time.perf_counter()
    net = caffe.Net(proto, caffe.TEST, weights=model)
    load = time.perf_counter() - t0
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    res = {"load_s": load, "rss_after_load_mb": rss_load, "threads": threads}
    if sums:
        res["sums"] = {n: [float(b.data.sum(dtype=np.float64)) for b in bs]
                       for n, bs in net.params.items()}
        res["shapes"] = {n: [list(b.data.shape) for b in bs] for n, bs in net.params.items()}
    x = np.load(x_path).astype(np.float32)
    inp = net.inputs[0]
    net.blobs[inp].reshape(*x.shape)
    net.reshape()
    net.blobs[inp].data[...] = x
    out_name = net.outputs[-1]
    net.forward()  # warm-up
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        net.forward()
        times.append(time.perf_counter() - t0)
    y = net.blobs[out_name].data.copy()
    np.save(out_path, y)
    res.update(forward_best_s=min(times), forward_median_s=statistics.median(times),
               runs=len(times), output=out_name, output_shape=list(y.shape),
               argmax=int(y.reshape(y.shape[0], -1).argmax(1)[0]),
               rss_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    with open(result_path, "w") as f:
        json.dump(res, f)


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------

def find_files(d):
    models = sorted(glob.glob(os.path.join(d, "*.caffemodel")))
    if len(models) != 1:
        raise SystemExit(f"{d}: expected one *.caffemodel, found {len(models)}")
    protos = sorted(glob.glob(os.path.join(d, "*deploy*.prototxt"))) or \
        sorted(glob.glob(os.path.join(d, "*.prototxt")))
    if len(protos) != 1:
        raise SystemExit(f"{d}: expected one deploy prototxt, found {protos}")
    return models[0], protos[0]


def measured(cmd, use_time):
    t0 = time.perf_counter()
    code, out, err, rss = run_measured(cmd, use_time)
    return code, out, err, rss, time.perf_counter() - t0


def bench_cat(model, use_time, r):
    cmd = ["sh", "-c", 'cat "$0" > /dev/null', model]
    measured(cmd, use_time)  # warm the page cache
    walls = []
    for _ in range(3):
        code, _, err, rss, wall = measured(cmd, use_time)
        if code != 0:
            r["error"] = f"cat: {error_line(err)}"
            return
        walls.append(wall)
    r.update(wall_s=min(walls), rss_mb=rss)
    log(f"  cat: best {min(walls):.3f} s ({os.path.getsize(model) / 1e6 / min(walls):.0f} MB/s)")


def bench_convert(srtool, model, proto, srm, use_time, r):
    if os.path.exists(srm):
        os.remove(srm)
    cmd = [srtool, "convert", model, "-o", srm, "--prototxt", proto]
    code, _, err, rss, wall = measured(cmd, use_time)
    if code != 0 and "--prototxt" in err and "nknown option" in err:
        log("  this srtool has no --prototxt; retrying without it")
        cmd = cmd[:-2]
        code, _, err, rss, wall = measured(cmd, use_time)
    r["cmd"] = " ".join(cmd)
    if code != 0 or not os.path.exists(srm):
        r["error"] = f"exit {code}: {error_line(err)}"
        log(f"  convert failed: {r['error']}")
        return
    r.update(wall_s=wall, rss_mb=rss, srm_bytes=os.path.getsize(srm))
    log(f"  convert: {wall:.3f} s, peak RSS {fmt(rss, '.0f')} MB, "
        f".srm {r['srm_bytes'] / 1e6:.1f} MB")


def bench_import(srtool, model, proto, use_time, r, runs=5):
    """Whole-process time of `srtool inspect`: reading the file and building the graph."""
    cmd = [srtool, "inspect", model, "--prototxt", proto]
    r["cmd"] = " ".join(cmd)
    measured(cmd, use_time)  # page cache warm, as for the other steps
    walls = []
    for _ in range(runs):
        code, _, err, rss, wall = measured(cmd, use_time)
        if code != 0:
            r["error"] = f"exit {code}: {error_line(err)}"
            log(f"  inspect failed: {r['error']}")
            return
        walls.append(wall)
    r.update(wall_s=min(walls), wall_median_s=statistics.median(walls), rss_mb=rss,
             runs=runs)
    log(f"  inspect {os.path.basename(os.path.dirname(model))}: best {min(walls):.3f} s, "
        f"median {statistics.median(walls):.3f} s, peak RSS {fmt(rss, '.0f')} MB")


def bench_run(srtool, model, x_path, out_path, threads, repeat, use_time, r):
    if os.path.exists(out_path):
        os.remove(out_path)
    cmd = [srtool, "run", model, "--input", x_path, "-o", out_path,
           "--threads", str(threads), "--repeat", str(repeat)]
    r["cmd"] = " ".join(cmd)
    code, _, err, rss, wall = measured(cmd, use_time)
    t = TIMING_RE.search(err)
    if code != 0:
        r["error"] = f"exit {code}: {error_line(err)}"
        log(f"  run failed: {r['error']}")
        return
    r.update(wall_s=wall, rss_mb=rss)
    if t:
        r.update(load_s=float(t.group(1)), forward_best_s=float(t.group(2)),
                 forward_median_s=float(t.group(3)), runs=int(t.group(4)))
    else:
        log("  srtool printed no 'timing:' line on stderr")
    log(f"  run: wall {wall:.3f} s, load {fmt(r.get('load_s'), '.3f')} s, forward best "
        f"{fmt(r.get('forward_best_s'), '.3f')} s, peak RSS {fmt(rss, '.0f')} MB")


def bench_caffe(python, pythonpath, proto, model, x_path, out_path, threads, repeat,
                use_time, r):
    env = dict(os.environ, GLOG_minloglevel="2", OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    res_path = out_path + ".json"
    cmd = [python, os.path.abspath(__file__), "--caffe-worker", proto, model, x_path, out_path,
           res_path, "--repeat", str(repeat), "--threads", str(threads)]
    full = (["/usr/bin/time", "-f", "%M", "-o", res_path + ".rss"] if use_time else []) + cmd
    t0 = time.perf_counter()
    p = subprocess.run(full, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0 or not os.path.exists(res_path):
        r["error"] = f"exit {p.returncode}: {error_line(p.stderr)}"
        log(f"  Caffe failed: {r['error']}")
        return
    with open(res_path) as f:
        w = json.load(f)
    rss = w["rss_peak_mb"]
    if use_time:
        try:
            with open(res_path + ".rss") as f:
                rss = int([l for l in f.read().split() if l.isdigit()][-1]) / 1024.0
        except (OSError, IndexError, ValueError):
            pass
    r.update(wall_s=wall, load_s=w["load_s"], forward_best_s=w["forward_best_s"],
             forward_median_s=w["forward_median_s"], runs=w["runs"], rss_mb=rss,
             rss_after_load_mb=w["rss_after_load_mb"], argmax=w["argmax"])
    log(f"  Caffe: load {w['load_s']:.3f} s (RSS {w['rss_after_load_mb']:.0f} MB), forward "
        f"best {w['forward_best_s']:.3f} s, peak RSS {rss:.0f} MB")


def compare(ref_path, got_path, r):
    if not (os.path.exists(ref_path) and os.path.exists(got_path)):
        return
    ref, got = np.load(ref_path), np.load(got_path)
    if got.size != ref.size:
        r["diff"] = f"shape {list(got.shape)} vs Caffe {list(ref.shape)}"
        return
    got = got.reshape(ref.shape)
    d = float(np.max(np.abs(got.astype(np.float64) - ref)))
    r["max_abs_diff"] = d
    r["argmax_vs_caffe"] = [int(got.reshape(got.shape[0], -1).argmax(1)[0]),
                            int(ref.reshape(ref.shape[0], -1).argmax(1)[0])]
    r["diff"] = f"{d:.2e}, argmax {r['argmax_vs_caffe'][0]} vs {r['argmax_vs_caffe'][1]}"
    log(f"  max |srtool - Caffe| = {d:.3g}; argmax {r['argmax_vs_caffe']}")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="srtool vs Caffe: caffemodel import benchmark")
    ap.add_argument("model_dir", nargs="?", default=DEFAULT_DIR)
    ap.add_argument("--srtool", default=".build/release/srtool", help="srtool binary")
    ap.add_argument("--v2-dir", default=DEFAULT_DIR + "_v2",
                    help="the same net as a V2 caffemodel, for the V1 vs V2 import rows")
    ap.add_argument("--no-v2", action="store_true", help="leave the V1 vs V2 import rows out")
    ap.add_argument("--repeat", type=int, default=3, help="timed forward passes (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for srtool and Caffe")
    ap.add_argument("--caffe-python", help="Python interpreter with pycaffe")
    ap.add_argument("--caffe-pythonpath", help="PYTHONPATH for --caffe-python")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--keep-srm", action="store_true", help="keep the converted .srm")
    ap.add_argument("--caffe-worker", nargs=5,
                    metavar=("PROTO", "MODEL", "X", "OUT", "RESULT"), help=argparse.SUPPRESS)
    ap.add_argument("--sums", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.caffe_worker:
        caffe_worker(*args.caffe_worker, args.repeat, args.threads, args.sums)
        return 0
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be >= 1")

    d = args.model_dir
    if d == DEFAULT_DIR and not glob.glob(os.path.join(d, "*.caffemodel")):
        log(f"{d} has no caffemodel: generating it")
        subprocess.run([sys.executable, os.path.join(HERE, "make_vggface_caffemodel.py"),
                        "--out", d], check=True)
    model, proto = find_files(d)
    x_path = os.path.join(d, "input.npy")
    if not os.path.exists(x_path):
        raise SystemExit(f"{x_path} missing (make_vggface_caffemodel.py writes one)")
    use_time = _time_works()
    srtool = shutil.which(args.srtool) if os.sep not in args.srtool else args.srtool
    have_srtool = bool(srtool) and os.path.isfile(srtool) and os.access(srtool, os.X_OK)
    if not have_srtool:
        log(f"note: srtool binary not found at {args.srtool}; no srtool rows")
    size_mb = os.path.getsize(model) / 1e6
    log(f"model {model} ({size_mb:.1f} MB), prototxt {os.path.basename(proto)}; peak RSS via "
        f"{'/usr/bin/time -f %M' if use_time else 'os.wait4 rusage'}; threads {args.threads}, "
        f"{args.repeat} timed forward runs")

    rows = {}
    log("cat ...")
    bench_cat(model, use_time, rows.setdefault("cat", {}))
    caffe_out = os.path.join(d, "bench.caffe_out.npy")
    if args.caffe_python:
        log("Caffe ...")
        bench_caffe(args.caffe_python, args.caffe_pythonpath, proto, model, x_path, caffe_out,
                    args.threads, args.repeat, use_time, rows.setdefault("caffe", {}))
    srm = os.path.join(d, "bench.srm")
    if have_srtool and not args.no_v2:
        v2 = args.v2_dir
        if v2 == DEFAULT_DIR + "_v2" and not glob.glob(os.path.join(v2, "*.caffemodel")):
            log(f"{v2} has no caffemodel: generating it")
            subprocess.run([sys.executable, os.path.join(HERE, "make_vggface_caffemodel.py"),
                            "--format", "v2", "--out", v2], check=True)
        log("srtool inspect, V1 and V2 caffemodel ...")
        bench_import(srtool, model, proto, use_time, rows.setdefault("import_v1", {}))
        bench_import(srtool, *find_files(v2), use_time, rows.setdefault("import_v2", {}))
    if have_srtool:
        log("srtool convert ...")
        bench_convert(srtool, model, proto, srm, use_time, rows.setdefault("convert", {}))
        for key, path in (("run_caffemodel", model), ("run_srm", srm)):
            if key == "run_srm" and not os.path.exists(srm):
                continue
            log(f"srtool run {os.path.basename(path)} ...")
            out = os.path.join(d, f"bench.{key}.npy")
            bench_run(srtool, path, x_path, out, args.threads, args.repeat, use_time,
                      rows.setdefault(key, {}))
            if args.caffe_python:
                compare(caffe_out, out, rows[key])
        a, b = (os.path.join(d, f"bench.{k}.npy") for k in ("run_caffemodel", "run_srm"))
        if "run_srm" in rows and os.path.exists(a) and os.path.exists(b):
            same = np.array_equal(np.load(a), np.load(b))
            rows["run_srm"]["same_output_as_caffemodel_run"] = same
            log(f"  .srm output {'identical to' if same else 'DIFFERS from'} the caffemodel run's")
        if os.path.exists(srm) and not args.keep_srm:
            os.remove(srm)

    labels = {"cat": "cat caffemodel > /dev/null (warm)",
              "import_v1": "srtool inspect, V1 caffemodel (best of 5)",
              "import_v2": "srtool inspect, V2 caffemodel (best of 5)",
              "caffe": "Caffe: Net(prototxt, caffemodel) + forward",
              "convert": "srtool convert caffemodel -> .srm",
              "run_caffemodel": "srtool run caffemodel",
              "run_srm": "srtool run .srm"}
    hdr = ("step", "wall s", "load s", "fwd best s", "fwd med s", "peak RSS MB",
           "output vs Caffe / error")
    table = []
    for k, label in labels.items():
        r = rows.get(k)
        if r is None:
            continue
        if "error" in r:
            table.append((label, "-", "-", "-", "-", "-", "failed: " + r["error"][:100]))
            continue
        table.append((label, fmt(r.get("wall_s"), ".3f"), fmt(r.get("load_s"), ".3f"),
                      fmt(r.get("forward_best_s"), ".3f"), fmt(r.get("forward_median_s"), ".3f"),
                      fmt(r.get("rss_mb"), ".0f"), r.get("diff", "")))
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(c.ljust(w) if i in (0, 6) else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(f"{os.path.basename(model)}: {size_mb:.1f} MB; {args.threads} threads, "
          f"best/median of {args.repeat} forward runs")
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in table:
        print(line(row))

    def val(k, f):
        return rows.get(k, {}).get(f)

    ratios = []
    for label, a, b in (
            ("convert wall / cat wall", val("convert", "wall_s"), val("cat", "wall_s")),
            ("import V2 / import V1 (inspect wall)", val("import_v2", "wall_s"),
             val("import_v1", "wall_s")),
            ("srtool load (caffemodel) / Caffe load", val("run_caffemodel", "load_s"),
             val("caffe", "load_s")),
            ("srtool load (.srm) / Caffe load", val("run_srm", "load_s"), val("caffe", "load_s")),
            ("srtool load (.srm) / srtool load (caffemodel)", val("run_srm", "load_s"),
             val("run_caffemodel", "load_s")),
            ("srtool forward / Caffe forward", val("run_caffemodel", "forward_best_s"),
             val("caffe", "forward_best_s")),
            ("srtool run peak RSS (caffemodel) / Caffe peak RSS", val("run_caffemodel", "rss_mb"),
             val("caffe", "rss_mb")),
            ("convert peak RSS / model size", val("convert", "rss_mb"), size_mb)):
        if a is not None and b:
            ratios.append((label, a / b))
    if ratios:
        print()
        for label, v in ratios:
            print(f"  {label:50s} {v:6.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model, "prototxt": proto, "bytes": os.path.getsize(model),
                       "threads": args.threads, "runs": args.repeat, "results": rows,
                       "ratios": dict(ratios)}, f, indent=2)
    return 1 if any("error" in r for r in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
