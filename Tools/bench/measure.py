"""Child-process measurement shared by the benchmarks: exit code, output and peak RSS of a
command, through /usr/bin/time -f %M when it works, else the child's own rusage."""
import os
import re
import subprocess
import sys
import tempfile

TIME_BIN = "/usr/bin/time"
# srtool --repeat N prints this on stderr (forward, explain or saliency).
TIMING_RE = re.compile(
    r"timing: load ([0-9.eE+-]+) s, \w+ best ([0-9.eE+-]+) s, "
    r"median ([0-9.eE+-]+) s \((\d+) runs\)")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def error_line(text):
    """The line of a failed child's stderr that says what went wrong: the first line
    naming an error (ArgumentParser's usage text follows it), else the last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    hit = next((l for l in lines if "error" in l.lower() or l.startswith("SystemExit")), None)
    return hit or (lines[-1] if lines else "")


def _time_works():
    if not os.access(TIME_BIN, os.X_OK):
        return False
    try:
        with tempfile.NamedTemporaryFile("r") as f:
            r = subprocess.run([TIME_BIN, "-f", "%M", "-o", f.name, "true"],
                               capture_output=True)
            return r.returncode == 0 and f.read().strip().isdigit()
    except OSError:
        return False


def run_measured(cmd, use_time):
    """Runs cmd; returns (exit code, stdout, stderr, peak RSS in MB or None)."""
    with tempfile.TemporaryDirectory() as td:
        out_p, err_p, rss_p = (os.path.join(td, n) for n in ("out", "err", "rss"))
        full = [TIME_BIN, "-f", "%M", "-o", rss_p] + cmd if use_time else cmd
        with open(out_p, "wb") as fo, open(err_p, "wb") as fe:
            proc = subprocess.Popen(full, stdout=fo, stderr=fe)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        rss_kb = None
        if use_time:
            try:
                with open(rss_p) as f:
                    lines = [l for l in f.read().split() if l.isdigit()]
                rss_kb = int(lines[-1]) if lines else None
            except OSError:
                pass
        else:
            rss_kb = usage.ru_maxrss  # KiB on Linux, for this child only
        with open(out_p, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        with open(err_p, "rb") as f:
            err = f.read().decode("utf-8", "replace")
    return proc.returncode, out, err, (rss_kb / 1024.0 if rss_kb else None)


def time_srtool(cmd, use_time, r, peer_best):
    """Runs an srtool command that has --repeat; records its load/best/median seconds,
    peak RSS and the ratio to `peer_best` in `r`, or `r["srtool_error"]`. Returns the exit code."""
    code, _, err, rss = run_measured(cmd, use_time)
    t = TIMING_RE.search(err)
    if code != 0:
        log(f"  srtool failed (exit {code}): {error_line(err)}")
        r["srtool_error"] = f"exit {code}: {error_line(err)}"
    elif not t:
        log("  srtool printed no 'timing:' line on stderr")
        r["srtool_error"] = "no timing line"
    else:
        r.update(srtool_load_s=float(t.group(1)), srtool_best_s=float(t.group(2)),
                 srtool_median_s=float(t.group(3)), srtool_rss_mb=rss)
        r["ratio"] = r["srtool_best_s"] / peer_best if peer_best else None
        log(f"  load {r['srtool_load_s']:.3f} s, best {r['srtool_best_s']:.3f} s, "
            f"median {r['srtool_median_s']:.3f} s, peak RSS {fmt(rss, '.0f')} MB")
    return code


def print_table(hdr, rows, left=1):
    """A plain-text table on stdout: the first `left` columns left-aligned, the others right."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(hdr))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
