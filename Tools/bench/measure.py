"""Child-process measurement shared by the benchmarks: exit code, output and peak RSS of a
command, through /usr/bin/time -f %M when it works, else the child's own rusage."""
import os
import subprocess
import tempfile

TIME_BIN = "/usr/bin/time"


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
