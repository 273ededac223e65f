"""Helpers the fixture generators share (Tools/make_*_fixtures.py import this module)."""

import json
import shutil


def clear_case_dir(d, generator):
    """Removes the case folder `d` (a pathlib.Path) if `generator` made it; refuses to
    touch a folder whose manifest names another generator (or has none)."""
    if not d.exists():
        return
    try:
        made_by = json.loads((d / "manifest.json").read_text()).get("generator")
    except (OSError, ValueError):
        made_by = None
    if made_by != generator:
        raise SystemExit(f"refusing to replace {d}: not made by {generator}")
    shutil.rmtree(d)


def selected_cases(argv, cases):
    """The case names asked for on the command line (all when none), checked."""
    wanted = argv or list(cases)
    unknown = [w for w in wanted if w not in cases]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {list(cases)}")
    return wanted
