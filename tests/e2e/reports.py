#!/usr/bin/python3
"""Findings of the checkers the agent under test may run under: the reports
AddressSanitizer, UBSan and LeakSanitizer write (make e2e-san-test runs the
agent built with them) and valgrind's logs (make e2e-valgrind-test).

Each tool writes into SOCKLB_REPORT_DIR (ASAN_OPTIONS / UBSAN_OPTIONS
log_path=DIR/asan, DIR/ubsan; valgrind --log-file=DIR/valgrind.%p), one
file per process, so a report counts even when the agent's own stderr is
gone (killed, or its pipe closed at cleanup).  The runner takes them after
every test: any sanitizer report, and any valgrind log whose summary is not
"0 errors" (or that has no summary: the agent did not exit by itself),
fails the test that was running, and so does an agent that cleanup had to
kill (it did not exit on SIGTERM: LeakSanitizer never ran).  Without
SOCKLB_REPORT_DIR nothing is checked.
"""

import os
from pathlib import Path

TAKEN = ".taken"
SAN_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error")


def note_killed(proc, grace):
    """Records that the agent proc had to be killed at cleanup: it did not
    exit within grace seconds of SIGTERM, so its leak check never ran."""
    d = os.environ.get("SOCKLB_REPORT_DIR")
    if d and os.path.isdir(d):
        Path(d, f"killed.{proc.pid}").write_text(
            f"agent pid {proc.pid} ({' '.join(proc.args)[:300]}) still ran {grace} s after "
            "SIGTERM and was killed: no leak check, no valgrind summary\n")


def _finding(path, text):
    """Why the file is a finding, or None."""
    if path.name.startswith("killed."):
        return "the agent did not exit on SIGTERM"
    if path.name.startswith("valgrind."):
        if "ERROR SUMMARY: 0 errors" in text:
            return None
        if "ERROR SUMMARY:" not in text:
            return "valgrind log without a summary: the agent did not exit by itself"
        return "valgrind: " + next(line for line in text.splitlines()
                                   if "ERROR SUMMARY:" in line).split("== ", 1)[-1]
    # A sanitizer writes its log file only when it reports something.
    mark = next((m for m in SAN_MARKS if m in text), "a report")
    return f"sanitizer: {mark}"


def take_findings():
    """[(reason, file, its text)] for the reports written since the last call."""
    d = os.environ.get("SOCKLB_REPORT_DIR")
    if not d or not os.path.isdir(d):
        return []
    found = []
    for path in sorted(Path(d).iterdir()):
        if path.name.endswith(TAKEN) or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        reason = _finding(path, text)
        if reason:
            found.append((reason, str(path), text))
        path.rename(str(path) + TAKEN)
    return found
