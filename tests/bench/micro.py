"""Micro-benchmarks: what socklb costs per connect, per byte, in memory and
at rest.

For each service count N (socklb map / DNAT rule list; every service has 5
backends, so least-conn really compares 5 loads):
  - the agent's start time, RSS, idle CPU and BPF map memory with N services;
  - whole connect + accept + close cycles, direct vs DNAT vs socklb,
    interleaved repeat by repeat so drift hits every path alike (the
    end-to-end view; too noisy to resolve the hook itself, see facts.md);
  - the connect4 hook's own run time from the kernel's BPF stats beside the
    minimal hook's (minimal.py: one lookup, one compare, rewrite) measured
    with the same cycles and interleaved with it, and the sockops program's
    time per callback and per connection.
With the first N also: socklb's hooks on connects to a non-service address
(the sink itself, from the same hooked cgroup: connect4 finds no service,
sockops sees an unmarked socket), and bulk TCP throughput per path (socklb
leaves packets alone after the connect, DNAT goes through conntrack/NAT on
every packet).
Then the memory of held connections (conns.py).
Every figure is the median of profile.*_repeats runs, with its range.
"""

import atexit
import time

import bpfstats
import conns
import memory
from cpu import proc_cpu_seconds, rss_kb
from micro_rig import SINK_PORTS, MicroRig, agent_size_args
from socklb_agent import Agent, cleanup_pins
from stats import median, spread

PATHS = ("direct", "dnat", "socklb")
CONNECT4, SOCKOPS = "socklb_connect4", "socklb_sockops"
MINIMAL = "min_connect4"


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def start_agent(rig, n):
    conf = rig.write_socklb_config(n)
    t = time.monotonic()
    agent = Agent(rig.topo, rig.cgroups["hooked"], config=conf, extra=agent_size_args(n))
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


# ------------------------------------------------------------ hook costs

# What each kind of hook run is: which worker connects where, whose
# programs are read.
HOOK_RUNS = {
    "socklb": ("socklb", "socklb"),          # balanced: the hooked worker to the VIP
    "minimal": ("minimal", "minimal"),       # the minimal hook: its worker to the VIP
    "non_service": ("socklb", "direct"),     # the hooked worker to the sink itself
}


def one_hook_run(rig, profile, kind, progs):
    """One repeat of connect cycles; per program: ns per run and runs per
    connect (connect4), ns per callback, callbacks and ns per connection
    (sockops)."""
    worker, target = HOOK_RUNS[kind]
    before = {k: bpfstats.run_stats(v) for k, v in progs.items()}
    out = rig.workers[worker].ask({"op": "cycle", "target": rig.targets[target],
                                   "count": profile.micro_connects,
                                   "limit_s": profile.micro_limit_s})
    after = {k: bpfstats.run_stats(v) for k, v in progs.items()}
    if out["errors"]:
        raise RuntimeError(f"hook run {kind}: {out['errors']} of {out['ops']} connects failed")
    ops, res = out["ops"], {"ops": out["ops"], "cycle_ns": out["ns_per_op"]}
    for name in progs:
        spent, runs = after[name][0] - before[name][0], after[name][1] - before[name][1]
        res[name] = {"ns_per_run": spent / runs if runs else None,
                     "runs_per_connect": runs / ops if ops else None,
                     "ns_per_connect": spent / ops if ops else None}
    return res


def socklb_figures(runs):
    """connect4 and sockops figures over the repeats of one kind of run.
    The flat keys (connect4_ns, sockops_ns_per_connection, ...) are the
    medians; *_spread hold median, min, max and every run."""
    c4 = spread([r[CONNECT4]["ns_per_run"] for r in runs])
    ops_cb = spread([r[SOCKOPS]["ns_per_run"] for r in runs])
    ops_conn = spread([r[SOCKOPS]["ns_per_connect"] for r in runs])
    ops_n = spread([r[SOCKOPS]["runs_per_connect"] for r in runs], 2)
    return {"connect4_ns": c4["median"], "connect4_ns_runs": c4["runs"],
            "connect4_ns_spread": c4,
            "sockops_ns_per_callback": ops_cb["median"], "sockops_ns_per_callback_spread": ops_cb,
            "sockops_callbacks_per_connection": ops_n["median"],
            "sockops_ns_per_connection": ops_conn["median"],
            "sockops_ns_per_connection_spread": ops_conn}


def hook_costs(rig, profile, progs, agent, first):
    """The hook runs, interleaved repeat by repeat (rotating which goes
    first), with BPF run-time stats on; and the agent's CPU over the
    balanced runs (its rebalancer scans when the data path reports
    activity)."""
    kinds = ["socklb", "minimal"] + (["non_service"] if first else [])
    progs_of = {"socklb": progs, "non_service": progs,
                "minimal": {MINIMAL: rig.minimal.prog_id}}
    runs = {k: [] for k in kinds}
    agent_cpu = busy_s = 0.0
    with bpfstats.RunTimeStats():
        for rep in range(profile.micro_repeats):
            for kind in rotated(kinds, rep):
                cpu0, t0 = proc_cpu_seconds(agent.proc.pid), time.monotonic()
                runs[kind].append(one_hook_run(rig, profile, kind, progs_of[kind]))
                if kind == "socklb":
                    agent_cpu += proc_cpu_seconds(agent.proc.pid) - cpu0
                    busy_s += time.monotonic() - t0
    out = {"hook": socklb_figures(runs["socklb"])}
    mins = spread([r[MINIMAL]["ns_per_run"] for r in runs["minimal"]])
    out["minimal_hook"] = {"connect4_ns": mins["median"], "connect4_ns_spread": mins}
    ratios = [s[CONNECT4]["ns_per_run"] / m[MINIMAL]["ns_per_run"]
              if s[CONNECT4]["ns_per_run"] and m[MINIMAL]["ns_per_run"] else None
              for s, m in zip(runs["socklb"], runs["minimal"])]
    out["hook_vs_minimal"] = spread(ratios, 2)
    out["hook_minus_minimal_ns"] = spread(
        [s[CONNECT4]["ns_per_run"] - m[MINIMAL]["ns_per_run"]
         if s[CONNECT4]["ns_per_run"] and m[MINIMAL]["ns_per_run"] else None
         for s, m in zip(runs["socklb"], runs["minimal"])])
    if first:
        out["hook_non_service"] = socklb_figures(runs["non_service"])
    out["hook_runs"] = {k: v for k, v in runs.items()}
    return out, round(100 * agent_cpu / busy_s, 2) if busy_s else None


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


def one_service_count(rig, profile, n, first):
    rig.set_nat_services(n)
    agent, ready_s = start_agent(rig, n)
    out = {"agent": agent_at_rest(agent, ready_s, profile.idle_seconds)}
    progs = bpfstats.cgroup_programs(rig.cgroups["hooked"])
    out["bpf_maps"] = memory.map_memory(agent.pin_path, progs.values())
    runs = cycles(rig, profile, PATHS)
    out["cycle_us"] = {p: {"median": _round(median(v) / 1e3, 2),
                           "runs": [_round(x / 1e3, 2) for x in v]} for p, v in runs.items()}
    if first:
        out["bulk"] = bulk(rig, profile)
    hooks, out["agent"]["busy_cpu_percent"] = hook_costs(rig, profile, progs, agent, first)
    out.update(hooks)
    t = time.monotonic()
    agent.stop()
    out["agent"]["stop_s"] = round(time.monotonic() - t, 3)
    return out


def run(topo, profile, log=print):
    rig = MicroRig(topo)
    try:
        plain_progs = bpfstats.cgroup_programs(rig.cgroups["plain"], effective=True)
        result = {"services": {}, "plain_cgroup_programs": sorted(plain_progs),
                  "backends_per_service": len(SINK_PORTS)}
        for i, n in enumerate(profile.micro_services):
            log(f"micro: {n} services")
            result["services"][str(n)] = one_service_count(rig, profile, n, first=(i == 0))
    finally:
        rig.close()
    if profile.conn_counts:
        result["connections"] = conns.run(topo, rig.cgroups, profile, log=log)
    return result


def _round(v, digits=1):
    return None if v is None else round(v, digits)
