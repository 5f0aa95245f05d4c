#!/usr/bin/python3
"""Tiny test runner for socklb end-to-end tests.

    runner.py [-k SUBSTRING] [--timeout SECS] test_file.py...

Runs every module-level function named test_* (in definition order), prints
"PASS name (secs)" or "FAIL name: reason" plus traceback, and ends with the
line "N passed, M failed"; exit status is 1 if anything failed.
"""

import argparse
import importlib.util
import inspect
import signal
import sys
import time
import traceback
from pathlib import Path

import reports

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


class TestTimeout(Exception):
    pass


def load_module(path):
    path = Path(path).resolve()
    # Test files import topology.py and friends as top-level modules.
    for d in (str(path.parent), str(HERE)):
        if d not in sys.path:
            sys.path.insert(0, d)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def discover(paths, substring):
    tests = []
    for p in paths:
        module = load_module(p)
        for name, fn in vars(module).items():
            if (name.startswith("test_") and inspect.isfunction(fn)
                    and fn.__module__ == module.__name__
                    and (not substring or substring in name)):
                tests.append((f"{module.__name__}.{name}", fn))
    return tests


def _on_alarm(signum, frame):
    raise TestTimeout("test timed out")


def run_one(name, fn, timeout):
    # SIGALRM raises inside the test, so its `with Topology()` still cleans up.
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.monotonic()
    try:
        fn()
        ok, reason = True, None
    except Exception as e:
        ok, reason = False, f"{type(e).__name__}: {e}"
        tb = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    # Reports of the agent's sanitizers or valgrind (see reports.py) fail the test too.
    for why, path, text in reports.take_findings():
        if ok:
            ok, reason, tb = False, f"{why} ({path})", ""
        tb += f"--- {path}\n" + "\n".join(text.splitlines()[:60]) + "\n"
    secs = time.monotonic() - start
    if ok:
        print(f"PASS {name} ({secs:.2f}s)", flush=True)
    else:
        print(f"FAIL {name}: {reason}\n{tb}", flush=True)
    return ok


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("-k", dest="substring", default="",
                   help="only run tests whose name contains SUBSTRING")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="per-test time limit in seconds")
    args = p.parse_args(argv)
    # Turn SIGTERM into an exception so context managers and atexit cleanup run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tests = discover(args.files, args.substring)
    results = [run_one(name, fn, args.timeout) for name, fn in tests]
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
