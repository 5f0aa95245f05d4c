#!/usr/bin/python3
"""An older socklb, built from this repository's own history, for upgrade
tests: `git archive` of the commit into build/legacy/<commit>, then its own
Makefile.  Built once and kept (build/ is not committed)."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "build" / "legacy"

# The last commit with map layout 1 (an LRU `sockets` map, no `layout` map).
LAYOUT_1_COMMIT = "28f2dbd"


class LegacyUnavailable(RuntimeError):
    """The commit is not in this clone (a shallow one): the test cannot run."""


def legacy_socklb(commit=LAYOUT_1_COMMIT, timeout=600):
    """Path of the socklb binary of commit, building it if needed."""
    where = LEGACY / commit
    binary = where / "build" / "socklb"
    if binary.exists():
        return str(binary)
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
                      capture_output=True, timeout=30).returncode != 0:
        raise LegacyUnavailable(f"commit {commit} is not in this clone (shallow?)")
    where.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True,
                             check=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True, timeout=60)
    res = subprocess.run(["make", "-C", str(where), f"-j{os.cpu_count() or 1}", "build/socklb"],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"building socklb {commit} failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return str(binary)
