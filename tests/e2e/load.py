#!/usr/bin/python3
"""Steady gRPC load from several client namespaces, and what it saw.

Wraps peers/load_client.py: start it in each client host, wait until every
channel has made its first call, collect the per-call records at the end,
and summarise them (calls per pod in a time window, failures, first call of
each pod after a moment, connection lifetimes).
"""

import json
from pathlib import Path

from topology import PYTHON, read_json_line, wait_for_line

LOAD_CLIENT = str(Path(__file__).resolve().parent / "peers" / "load_client.py")

# Record fields, as load_client.py writes them.
START, END, CHANNEL, POD, STATUS, PORT = range(6)


def start_load(hosts, target, cgroup, channels, rate, duration, deadline=5.0, api="aio"):
    """One load_client per host, `channels` channels each; returns procs once
    every channel has connected and made its first call.  api: "aio" (an
    always-polling client, as grpc-go and grpc-java are) or "sync".
    cgroup: one for every host, or a list of one per host (simulated nodes)."""
    procs = []
    cgroups = cgroup if isinstance(cgroup, (list, tuple)) else [cgroup] * len(hosts)
    for host, cg in zip(hosts, cgroups):
        argv = [PYTHON, LOAD_CLIENT, "--target", target, "--channels", channels,
                "--rate", rate, "--duration", duration, "--deadline", deadline,
                "--api", api]
        procs.append(host.popen(argv, cgroup=cg))
    for proc in procs:
        wait_for_line(proc, r"^STARTED", duration)
    return procs


def collect(procs, timeout=60):
    """All records of all clients, each tagged with its client's index so
    channels of different clients stay apart: channel = (client, channel)."""
    records = []
    for i, proc in enumerate(procs):
        for rec in read_json_line(proc, timeout)["records"]:
            rec[CHANNEL] = (i, rec[CHANNEL])
            records.append(rec)
    return sorted(records)


def failures(records):
    return [r for r in records if r[STATUS] != "OK"]


def failures_by_status(records):
    counts = {}
    for r in failures(records):
        counts[r[STATUS]] = counts.get(r[STATUS], 0) + 1
    return counts


def calls_per_pod(records, t0, t1):
    """OK calls started in [t0, t1), per pod."""
    counts = {}
    for r in records:
        if r[STATUS] == "OK" and t0 <= r[START] < t1:
            counts[r[POD]] = counts.get(r[POD], 0) + 1
    return counts


def window_shares(records, pods, t0, n_windows, window):
    """Per window of `window` seconds from t0: each pod's share of the OK calls."""
    out = []
    for k in range(n_windows):
        counts = calls_per_pod(records, t0 + k * window, t0 + (k + 1) * window)
        total = sum(counts.values()) or 1
        out.append({p.name: round(counts.get(p.name, 0) / total, 3) for p in pods})
    return out


def first_call_after(records, pod, t0):
    """Seconds from t0 to the first OK call pod answered that started after t0."""
    times = [r[START] for r in records if r[POD] == pod and r[STATUS] == "OK" and r[START] >= t0]
    return min(times) - t0 if times else None


def connection_lifetimes(records):
    """Seconds from first to last call of every connection (channel, client
    port) that both began and ended inside the run."""
    spans, order = {}, {}
    for r in records:
        if r[STATUS] != "OK":
            continue
        key = (r[CHANNEL], r[PORT])
        first, last = spans.get(key, (r[START], r[START]))
        spans[key] = (min(first, r[START]), max(last, r[START]))
        order.setdefault(r[CHANNEL], [])
        if key not in order[r[CHANNEL]]:
            order[r[CHANNEL]].append(key)
    lifetimes = []
    for keys in order.values():
        for key in keys[1:-1]:  # the first began before the run's clock, the last was cut off
            lifetimes.append(spans[key][1] - spans[key][0])
    return lifetimes


def share_report(counts, pods):
    total = sum(counts.values()) or 1
    return {p.name: round(counts.get(p.name, 0) / total, 3) for p in pods}


def dumps(obj):
    return json.dumps(obj, sort_keys=True)
