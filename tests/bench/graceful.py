#!/usr/bin/python3
"""The graceful-moves matrix: gRPC client stacks x loads, the rebalancer
moving the connection again and again (--max-age), with a GOAWAY put into
the client's stream (bpf/goaway.bpf.c).

    graceful.py [--quick] [--out DIR]     (also run by bench.py)

Each cell: 2 pods, one client with one channel, first without moves
(--no-rebalance: the steady p99), then with --max-age until `moves` GOAWAYs
were asked for.  Per cell: failed calls, GOAWAYs asked and delivered,
connections destroyed after all, the time from the GOAWAY's request to the
old connection leaving ESTABLISHED (sampled every 5 ms from the pinned
connections iterator), p99 call latency during moves against steady, and
the stream verdict's cost per skb (the kernel's run-time stats).
"""

import argparse
import json
import os
import struct
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "e2e")]

import bpfstats  # noqa: E402
import stats  # noqa: E402
from load import collect, failures  # noqa: E402
from stacks import single_client_rig, start_client  # noqa: E402
from topology import Topology  # noqa: E402

VIP = "10.96.0.10:8080"
MAX_AGE_MS = 300
LOADS = {
    "idle": dict(rate=15.0),  # a call every 67 ms
    "busy": dict(closed_loop=True, concurrency=8),
    "busy-64K": dict(closed_loop=True, concurrency=8, reply_bytes=64 * 1024),
    "busy-1M": dict(closed_loop=True, concurrency=8, reply_bytes=1024 * 1024),
}
FULL_CELLS = dict(stacks=("sync", "aio", "go", "js"), loads=tuple(LOADS), moves=50,
                  steady_s=8.0)
QUICK_CELLS = dict(stacks=("aio", "go"), loads=("busy-64K",), moves=4, steady_s=2.0)

# struct socklb_conn_record (include/socklb.h): the fields read here.
CONN_RECORD = 80
PHASE_OFF, COOKIE_OFF = 19, 40
PHASE_ESTABLISHED, PHASE_DRAINING = 2, 4


class CloseSampler(threading.Thread):
    """Reads the agent's connections iterator every 5 ms: when each
    connection turned draining (GOAWAY asked) and when it stopped being
    established or draining (closed)."""

    def __init__(self, pin_path, limit_s):
        super().__init__(daemon=True)
        self.path = os.path.join(pin_path, "connections")
        self.limit = time.monotonic() + limit_s
        self.draining, self.closed = {}, {}
        self.stop = False

    def run(self):
        while not self.stop and time.monotonic() < self.limit:
            now = time.monotonic()
            try:
                data = open(self.path, "rb").read()
            except OSError:
                data = b""
            live = set()
            for off in range(0, len(data) - CONN_RECORD + 1, CONN_RECORD):
                phase = data[off + PHASE_OFF]
                cookie = struct.unpack_from("<Q", data, off + COOKIE_OFF)[0]
                if phase == PHASE_DRAINING:
                    self.draining.setdefault(cookie, now)
                if phase in (PHASE_ESTABLISHED, PHASE_DRAINING):
                    live.add(cookie)
            for cookie in self.draining:
                if cookie not in live:
                    self.closed.setdefault(cookie, now)
            time.sleep(0.005)

    def close_ms(self):
        return sorted((self.closed[c] - t) * 1000 for c, t in self.draining.items()
                      if c in self.closed)


def verdict_program(pin_path):
    """The id of this agent's stream verdict: the program using its h2_follow map."""
    maps = bpfstats._bpftool_json(["map", "show", "pinned", os.path.join(pin_path, "h2_follow")])
    for prog in bpfstats._bpftool_json(["prog", "show"]):
        if prog.get("name") == "socklb_h2_verdict" and maps["id"] in prog.get("map_ids", []):
            return prog["id"]
    return None


def p99_ms(records):
    lat = sorted((r[1] - r[0]) * 1000 for r in records if r[4] == "OK")
    return stats.percentile(lat, 99)


def one_run(stack, load, seconds, moves):
    """One client run; moves: None (steady, no rebalancing) or how many to wait for."""
    with Topology("slbgrace") as topo:
        extra = ["--no-rebalance"] if moves is None else \
            ["--max-age", f"{MAX_AGE_MS}ms", "--drain-deadline", "5s"]
        _, host, cg, agent = single_client_rig(topo, VIP, 2, extra)
        sampler = CloseSampler(agent.pin_path, seconds + 30)
        with bpfstats.RunTimeStats():
            prog = verdict_program(agent.pin_path) if moves is not None else None
            before = bpfstats.run_stats(prog) if prog else None
            sampler.start()
            proc = start_client(host, stack, VIP, cg, channels=1, duration=seconds,
                                deadline=10.0, **LOADS[load])
            records = collect([proc], timeout=seconds + 60)
            after = bpfstats.run_stats(prog) if prog else None
        sampler.stop = True
        sampler.join()
        ended = agent.status()["datapath"]["ended"]["max_age"]
    out = {"calls": len(records), "failed": len(failures(records)), "p99_ms": p99_ms(records)}
    if moves is not None:
        close = sampler.close_ms()
        out.update(goaway=ended["goaway"], delivered=ended["goaway_delivered"],
                   destroyed=ended["goaway_then_idle"] + ended["goaway_then_forced"] +
                   ended["graceful"] + ended["forced"],
                   close_ms_median=stats.median(close),
                   close_ms_p90=stats.percentile(close, 90), closes_seen=len(close),
                   verdict_ns_per_skb=bpfstats.ns_per_run(before, after) if prog else None,
                   verdict_skbs=(after[1] - before[1]) if prog else None)
    return out


def run_cell(stack, load, moves, steady_s, log=print):
    steady = one_run(stack, load, steady_s, None)
    # Each move takes the max age plus the time the client takes to close.
    moving = one_run(stack, load, moves * (MAX_AGE_MS / 1000 + 0.08) + 1.0, moves)
    cell = {"steady": steady, "moves": moving,
            "p99_ratio": (moving["p99_ms"] / steady["p99_ms"]
                          if moving["p99_ms"] and steady["p99_ms"] else None)}
    log(f"graceful {stack} {load}: failed {moving['failed']}/{moving['calls']} "
        f"(steady {steady['failed']}), goaway {moving['goaway']} delivered "
        f"{moving['delivered']} destroyed {moving['destroyed']}, close median "
        f"{moving['close_ms_median']} ms, p99 {moving['p99_ms']} vs {steady['p99_ms']} ms, "
        f"verdict {moving['verdict_ns_per_skb']} ns/skb")
    return cell


def run(quick=False, log=print):
    spec = QUICK_CELLS if quick else FULL_CELLS
    cells = {}
    for stack in spec["stacks"]:
        for load in spec["loads"]:
            cells[f"{stack}/{load}"] = run_cell(stack, load, spec["moves"], spec["steady_s"],
                                                log)
    return {"moves_per_cell": spec["moves"], "max_age_ms": MAX_AGE_MS, "cells": cells}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    res = run(args.quick)
    text = json.dumps(res, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
