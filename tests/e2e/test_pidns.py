#!/usr/bin/python3
"""The agent in a pid namespace of its own, as on a kind node (a container
whose /proc numbers processes differently from the kernel's global pids that
the BPF programs record): rebalancing must still find every client
namespace.  Re-runs a rebalancing test with the whole rig inside
`unshare --pid --fork --mount-proc`."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_rebalancing_works_when_the_agent_sees_other_pids():
    res = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                          str(HERE / "runner.py"), "-k", "rebalances_each_client_namespace",
                          str(HERE / "test_rebalance.py")],
                         capture_output=True, text=True, timeout=120)
    print("  " + res.stdout.strip().replace("\n", "\n  "))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed, 0 failed" in res.stdout
