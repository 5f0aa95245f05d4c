"""Micro-benchmarks: what socklb costs per connect, per byte and at rest.

For each service count N (socklb map / DNAT rule list):
  - the agent's start time, RSS and idle CPU with N services;
  - whole connect + accept + close cycles, direct vs DNAT vs socklb,
    interleaved repeat by repeat so drift hits every path alike (the
    end-to-end view; too noisy to resolve the hook itself, see facts.md);
  - the connect4 hook's own run time from the kernel's BPF stats, and the
    sockops program's time per connection.
With N = 1 also: the hook's cost on a connect to a non-service address,
and bulk TCP throughput per path (socklb leaves packets alone after the
connect, DNAT goes through conntrack/NAT on every packet).
Every figure is the median of profile.*_repeats runs.
"""

import atexit
import time

import bpfstats
from cpu import proc_cpu_seconds, rss_kb
from micro_rig import MicroRig
from socklb_agent import Agent, cleanup_pins
from stats import median

PATHS = ("direct", "dnat", "socklb")
CONNECT4, SOCKOPS = "socklb_connect4", "socklb_sockops"


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def start_agent(rig, n):
    conf = rig.write_socklb_config(n)
    t = time.monotonic()
    agent = Agent(rig.topo, rig.cgroups["hooked"], config=conf,
                  extra=["--max-services", str(max(n, 1))])
    ready_s = time.monotonic() - t
    atexit.register(cleanup_pins, agent.pin_path)
    return agent, ready_s


def agent_at_rest(agent, ready_s, idle_s):
    """RSS and CPU of an agent with no traffic at all."""
    pid = agent.proc.pid
    before = proc_cpu_seconds(pid)
    time.sleep(idle_s)
    cpu = proc_cpu_seconds(pid) - before
    return {"ready_s": round(ready_s, 3), "rss_kb": rss_kb(pid),
            "idle_cpu_percent": round(100 * cpu / idle_s, 2)}


def cycles(rig, profile, paths):
    """ns per connect cycle per path, interleaved over repeats."""
    runs = {p: [] for p in paths}
    for rep in range(profile.micro_repeats):
        for path in rotated(list(paths), rep):
            out = rig.workers[path].ask({"op": "cycle", "target": rig.targets[path],
                                         "count": profile.micro_connects,
                                         "limit_s": profile.micro_limit_s})
            if out["errors"]:
                raise RuntimeError(f"{path}: {out['errors']} of {out['ops']} connects failed")
            runs[path].append(out["ns_per_op"])
    return runs


def hook_cost(rig, profile, prog_ids, target):
    """Median ns per run of connect4, and sockops ns per connection, over
    repeats of connect cycles by the hooked worker to `target`."""
    per_connect, per_conn = [], []
    for _ in range(profile.micro_repeats):
        before = {k: bpfstats.run_stats(v) for k, v in prog_ids.items()}
        out = rig.workers["socklb"].ask({"op": "cycle", "target": target,
                                         "count": profile.micro_connects,
                                         "limit_s": profile.micro_limit_s})
        after = {k: bpfstats.run_stats(v) for k, v in prog_ids.items()}
        per_connect.append(bpfstats.ns_per_run(before[CONNECT4], after[CONNECT4]))
        if SOCKOPS in prog_ids:
            spent = after[SOCKOPS][0] - before[SOCKOPS][0]
            per_conn.append(spent / out["ops"] if out["ops"] else None)
    return {"connect4_ns": _round(median(per_connect)),
            "connect4_ns_runs": [_round(v) for v in per_connect],
            "sockops_ns_per_connection": _round(median(per_conn))}


def bulk(rig, profile):
    """MB/s moving profile.bulk_mb MiB over one connection, per path."""
    runs = {p: [] for p in PATHS}
    for rep in range(profile.bulk_repeats):
        for path in rotated(list(PATHS), rep):
            out = rig.workers[path].ask({"op": "bulk", "target": rig.targets[path],
                                         "mb": profile.bulk_mb, "limit_s": 30.0})
            runs[path].append(out["bytes"] / out["seconds"] / 1e6)
    return {p: {"mb_per_s": _round(median(v)), "runs": [_round(x) for x in v]}
            for p, v in runs.items()}


def kernel_accounting(rig, profile, agent, first):
    """Hook costs with BPF run-time stats on, and the agent's CPU meanwhile
    (its rebalancer scans when the data path reports activity)."""
    out = {}
    progs = bpfstats.cgroup_programs(rig.cgroups["hooked"])
    with bpfstats.RunTimeStats():
        cpu0, t0 = proc_cpu_seconds(agent.proc.pid), time.monotonic()
        out["hook"] = hook_cost(rig, profile, progs, rig.targets["socklb"])
        busy = (proc_cpu_seconds(agent.proc.pid) - cpu0) / (time.monotonic() - t0)
        if first:
            out["hook_non_service"] = hook_cost(rig, profile, progs, rig.targets["direct"])
    return out, round(100 * busy, 2)


def one_service_count(rig, profile, n, first):
    rig.set_nat_services(n)
    agent, ready_s = start_agent(rig, n)
    out = {"agent": agent_at_rest(agent, ready_s, profile.idle_seconds)}
    runs = cycles(rig, profile, PATHS)
    out["cycle_us"] = {p: {"median": _round(median(v) / 1e3, 2),
                           "runs": [_round(x / 1e3, 2) for x in v]} for p, v in runs.items()}
    if first:
        out["bulk"] = bulk(rig, profile)
    hooks, out["agent"]["busy_cpu_percent"] = kernel_accounting(rig, profile, agent, first)
    out.update(hooks)
    t = time.monotonic()
    agent.stop()
    out["agent"]["stop_s"] = round(time.monotonic() - t, 3)
    return out


def run(topo, profile, log=print):
    rig = MicroRig(topo)
    plain_progs = bpfstats.cgroup_programs(rig.cgroups["plain"], effective=True)
    result = {"services": {}, "plain_cgroup_programs": sorted(plain_progs)}
    for i, n in enumerate(profile.micro_services):
        log(f"micro: {n} services")
        result["services"][str(n)] = one_service_count(rig, profile, n, first=(i == 0))
    return result


def _round(v, digits=1):
    return None if v is None else round(v, digits)
