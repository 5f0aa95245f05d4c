"""Real gRPC clients (tests/e2e/peers/load_client.py) for a mode's target.

Steady load (the scale story) or closed loop (fixed concurrency, for
latency and calls/s); one load_client per client namespace, all in the
clients' cgroup so socklb sees them and their CPU is counted together.
"""

import time

from load import LOAD_CLIENT, collect
from topology import PYTHON, wait_for_line

DEADLINE_S = 5.0
START_TIMEOUT = 20.0
COLLECT_MARGIN = 30.0  # records of thousands of calls take a while to print


def start(hosts, cgroup, target, client_args, channels, duration, rate=1.0,
          closed_loop=False, api="aio"):
    """Starts one client per host; returns (procs, time when every channel
    had made its first call)."""
    argv = [PYTHON, LOAD_CLIENT, "--target", target, "--channels", channels,
            "--rate", rate, "--duration", duration, "--deadline", DEADLINE_S,
            "--api", api, *client_args]
    if closed_loop:
        argv.append("--closed-loop")
    procs = [h.popen(argv, cgroup=cgroup) for h in hosts]
    for proc in procs:
        wait_for_line(proc, r"^STARTED", START_TIMEOUT)
    return procs, time.time()


def finish(procs, duration):
    """Every record of every client (see load.collect), once they are done."""
    return collect(procs, timeout=duration + DEADLINE_S + COLLECT_MARGIN)
