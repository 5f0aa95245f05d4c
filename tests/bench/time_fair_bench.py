#!/usr/bin/python3
"""The time-fair cases, which the reference story (20 channels, divisible)
hides: fewer connections than pods, counts that do not divide, mixed rates.

    time_fair_bench.py [--quick] [--cases KEY,...] [--no-signals] [--repeats N] [--out FILE]

Each case runs real clients (grpc-go, grpcio sync and aio) against socklb
with the rotation on (the default) and, as the baseline in the same run,
with `--time-fair off` (balancing connection counts only).  Figures per
case: each pod's share of the calls in every 10-s window (the worst
deviation from fair over all windows), failed calls, moves per second,
p99 call latency against the baseline's, and the agent's CPU.  Run by
bench.py as its "time_fair" section, or alone.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "e2e")]

import plot  # noqa: E402
import stats  # noqa: E402
from load import CHANNEL, END, POD, START, STATUS, collect, failures  # noqa: E402
from socklb_agent import Agent  # noqa: E402
from stacks import start_client  # noqa: E402
from topology import Topology, start_pods  # noqa: E402

VIP = "10.96.0.10:8080"
WINDOW = 10.0
PLOTTED = ("notebook", "8on5-go")  # the cases drawn, rotated and counts only
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    pods: int
    clients: tuple     # ((stack, calls/s per connection, connections), ...): one process each
    scale_from: int    # pods at the start (the scale-out happens after warm-up)
    windows: int       # 10-s windows judged
    target: str        # what the issue asks, said in the report


def cases(quick):
    """Every case in the full run; the quick one keeps two, one window each."""
    w = 1 if quick else 4
    go1 = (("go", 10.0, 1),)
    every = [
        Case("notebook", "1 grpc-go client, 1 connection, 10 calls/s, pods 1 -> 5", 5, go1, 1,
             w, "every pod 20 % +- 2 points of the calls in every window"),
        Case("notebook-100", "1 grpc-go client, 1 connection, 100 calls/s, pods 1 -> 5", 5,
             (("go", 100.0, 1),), 1, w, "p99 during rotation <= 1.2x counts only"),
        Case("8on5-go", "8 grpc-go clients x 1 connection on 5 pods", 5, (("go", 10.0, 1),) * 8,
             5, w, "per-pod calls within 10 % of fair"),
        Case("8on5-sync", "8 grpcio sync clients x 1 connection on 5 pods", 5,
             (("sync", 10.0, 1),) * 8, 5, w, "per-pod calls within 10 % of fair"),
        Case("8on5-aio", "8 grpcio aio clients x 1 connection on 5 pods", 5,
             (("aio", 10.0, 1),) * 8, 5, w, "per-pod calls within 10 % of fair"),
        Case("8on10", "8 grpc-go clients x 1 connection on 10 pods", 10, (("go", 10.0, 1),) * 8,
             10, w, "every pod gets calls in every window"),
        Case("mixed", "4 clients at 10 calls/s + 1 at 100 calls/s on 5 pods", 5,
             (("aio", 10.0, 1),) * 4 + (("aio", 100.0, 1),), 5, w,
             "per-pod calls within 20 % of fair"),
        Case("20on5", "20 equal connections on 5 pods (divisible)", 5, (("aio", 5.0, 5),) * 4, 5,
             1, "0 moves once balanced"),
    ]
    return [c for c in every if c.key in ("notebook", "8on5-go")] if quick else every


def write_conf(path, pods):
    with open(path, "w") as f:
        f.write(f"{VIP} = static:" + ",".join(p.addr for p in pods) + "\n")


def agent_cpu_s(agent):
    with open(f"/proc/{agent.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def window_shares(records, pods, t0, n):
    out = []
    for k in range(n):
        counts = {p.name: 0 for p in pods}
        for r in records:
            if r[STATUS] == "OK" and t0 + k * WINDOW <= r[START] < t0 + (k + 1) * WINDOW:
                counts[r[POD]] += 1
        total = sum(counts.values()) or 1
        out.append({name: c / total for name, c in counts.items()})
    return out


def p99_ms(records, t0):
    lat = sorted((r[END] - r[START]) * 1000 for r in records
                 if r[STATUS] == "OK" and r[START] >= t0)
    return round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None


def time_fair_of(agent):
    return agent.status().get("agent", {}).get("time_fair", {})


def moves_of(agent):
    return time_fair_of(agent).get("moves", 0)


def run_case(topo, pods, hosts, cg, case, time_fair):
    """One case with the rotation on or off: its figures."""
    conf = os.path.join(topo.workdir, f"{case.key}-{time_fair}.conf")
    write_conf(conf, pods[:case.scale_from])
    extra = [] if time_fair else ["--time-fair", "off"]
    agent = Agent(topo, cg, config=conf, extra=extra)
    warm = 2.0 if case.scale_from == case.pods else 1.0
    settle = WINDOW if case.scale_from < case.pods else 3.0
    duration = warm + settle + case.windows * WINDOW + 1
    procs = [start_client(hosts[i], stack, VIP, cg, rate=rate, channels=channels,
                          duration=duration)
             for i, (stack, rate, channels) in enumerate(case.clients)]
    t_start = time.time()
    events = [{"t": 0, "pods": [p.name for p in pods[:case.scale_from]]}]
    time.sleep(warm)
    if case.scale_from < case.pods:
        events.append({"t": round(time.time() - t_start, 2),
                       "pods": [p.name for p in pods[:case.pods]]})
        write_conf(conf, pods[:case.pods])
        agent.reload()
    t_judge = time.time() + settle
    cpu0 = agent_cpu_s(agent)
    time.sleep(settle)
    m0 = moves_of(agent)  # the baseline's status has no rotation: 0
    records = collect(procs, timeout=duration + 60)
    moves = moves_of(agent) - m0
    pass_ms = time_fair_of(agent).get("last_pass_ms")
    cpu = agent_cpu_s(agent) - cpu0
    agent.stop()
    shares = window_shares(records, pods[:case.pods], t_judge, case.windows)
    fair = 1.0 / case.pods
    worst = max(abs(s - fair) / fair for w in shares for s in w.values())
    return {
        "windows": [{k: round(v, 3) for k, v in w.items()} for w in shares],
        "worst_deviation": round(worst, 3),
        "min_share": round(min(s for w in shares for s in w.values()), 3),
        "pods_without_calls": sum(1 for w in shares for s in w.values() if s == 0),
        "calls": len(records), "failed": len(failures(records)),
        "moves_per_s": round(moves / (case.windows * WINDOW), 2), "moves": moves,
        "p99_ms": p99_ms(records, t_judge),
        "connections": len({(r[CHANNEL]) for r in records}),
        "agent_cpu_pct": round(100 * cpu / (case.windows * WINDOW + settle), 2),
        "last_pass_ms": pass_ms,  # the agent's own timing of its last pass (None: off)
        "timeline": {"pods": [p.name for p in pods[:case.pods]], "events": events,
                     "duration": duration, "judged_from": round(t_judge - t_start, 2),
                     "rows": stats.timeline(records, t_start, duration,
                                            [p.name for p in pods[:case.pods]])},
    }


SIGNAL_CLIENTS = (  # (label, calls/s, request bytes, reply bytes)
    ("10/s small", 10.0, 0, 0), ("100/s small", 100.0, 0, 0),
    ("10/s, 64 KiB replies", 10.0, 0, 65536), ("10/s, 4 KiB requests", 10.0, 4096, 0))


def measure_signals(topo, pods, hosts, cg, seconds):
    """Which per-connection count follows calls: clients of different rates and
    message sizes on one pod; for each candidate signal, its cost per call per
    client, and the spread max/min over clients (1.0: proportional to calls)."""
    conf = os.path.join(topo.workdir, "signal.conf")
    write_conf(conf, pods[:1])
    agent = Agent(topo, cg, config=conf, extra=["--time-fair", "off"])
    procs = [start_client(hosts[i], "aio", VIP, cg, rate=rate, request_bytes=req,
                          reply_bytes=rep, duration=seconds + 1)
             for i, (_, rate, req, rep) in enumerate(SIGNAL_CLIENTS)]
    time.sleep(seconds)
    conns = agent.status_connections(VIP)[pods[0].addr]["connection_list"]
    records = collect(procs, timeout=seconds + 60)
    agent.stop()
    calls = [sum(1 for r in records if r[CHANNEL][0] == i and r[STATUS] == "OK")
             for i in range(len(SIGNAL_CLIENTS))]
    # Connections in order of age match clients in order of start.
    conns = sorted(conns, key=lambda c: -c["age_seconds"])[:len(SIGNAL_CLIENTS)]
    signals = {"segments": lambda c: c["data_segs_in"] + c["data_segs_out"],
               "bytes": lambda c: c["bytes_received"] + c["bytes_acked"],
               "connection-time": lambda c: c["age_seconds"]}
    out = {"clients": [c[0] for c in SIGNAL_CLIENTS], "calls": calls}
    for name, f in signals.items():
        per_call = [f(c) / max(n, 1) for c, n in zip(conns, calls)]
        out[name] = {"per_call": [round(x, 3) for x in per_call],
                     "spread": round(max(per_call) / max(min(per_call), 1e-9), 2)}
    return out


def run_pairs(topo, pods, hosts, cg, case, repeats):
    """The case with the rotation on and off, `repeats` times, the order
    alternating: (first on-run, first off-run, [p99 ratio per pair], [p99 of
    every off-run])."""
    ons, offs = [], []
    for r in range(repeats):
        for mode in ((True, False) if r % 2 == 0 else (False, True)):
            (ons if mode else offs).append(run_case(topo, pods, hosts, cg, case, mode))
    ratios = [round(a["p99_ms"] / b["p99_ms"], 2) for a, b in zip(ons, offs)
              if a["p99_ms"] and b["p99_ms"]]
    return ons[0], offs[0], ratios, [b["p99_ms"] for b in offs]


def run(quick, log=print, only=None, signals=True, repeats=1):
    out = {}
    all_cases = [c for c in cases(quick) if not only or c.key in only]
    n_hosts = max(len(c.clients) for c in all_cases)
    with Topology("slbtfb") as topo:
        pods = start_pods(topo, max(c.pods for c in all_cases), first_ip_index=11)
        hosts = [topo.add_host(f"client{i}", f"10.244.1.{100 + i}") for i in range(n_hosts)]
        cg = topo.make_cgroup()
        for case in all_cases:
            log(f"time-fair {case.key}: {case.title}")
            on, off, ratios, off_p99 = run_pairs(topo, pods, hosts, cg, case, repeats)
            ratio = sorted(ratios)[len(ratios) // 2] if ratios else None
            out[case.key] = {"title": case.title, "target": case.target, "time_fair": on,
                             "counts_only": off, "p99_ratio": ratio, "p99_ratios": ratios,
                             "counts_only_p99_ms": off_p99}
            log(f"  rotated: worst {on['worst_deviation']:.0%}, failed {on['failed']}, "
                f"{on['moves_per_s']} moves/s; counts only: worst {off['worst_deviation']:.0%}")
        if signals and not quick:
            log("time-fair: which load signal follows calls")
            out["_signals"] = measure_signals(topo, pods, hosts, cg, 15)
    return out


def render_plot(res, png, datadir):
    """Calls per pod per second of the PLOTTED cases, rotated and counts only
    (one panel each); None if none of them ran."""
    panels = []
    for key in PLOTTED:
        for mode, label in (("time_fair", "rotated"), ("counts_only", "counts only")):
            t = res.get(key, {}).get(mode, {}).get("timeline")
            if t:
                panels.append({"key": f"tf-{key}-{mode}", "rows": t["rows"], "pods": t["pods"],
                               "events": t["events"], "duration": t["duration"],
                               "title": f"{res[key]['title']}: {label} (judged from "
                                        f"{t['judged_from']:g} s)"})
    return plot.render(png, panels, datadir) if panels else None


def p99_cell(c):
    """The median p99 ratio, with its range when there were several pairs."""
    r = c.get("p99_ratios") or []
    return f"{c['p99_ratio']} ({min(r)}-{max(r)})" if len(r) > 1 else f"{c['p99_ratio']}"


def render(res):
    """The section of results.md."""
    rows = ["| case | target | rotated: worst dev. | min share | failed | moves/s | p99 "
            "ratio | agent CPU | counts only: worst dev. | min share |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, c in res.items():
        if key == "_signals":
            continue
        on, off = c["time_fair"], c["counts_only"]
        rows.append(f"| {c['title']} | {c['target']} | {on['worst_deviation']:.0%} | "
                    f"{on['min_share']:.3f} | {on['failed']}/{on['calls']} | "
                    f"{on['moves_per_s']} | {p99_cell(c)} | {on['agent_cpu_pct']} % | "
                    f"{off['worst_deviation']:.0%} | {off['min_share']:.3f} |")
    sig = res.get("_signals")
    if sig:
        rows += ["", "Load signals, per call, for clients of different rates and sizes on one "
                 "pod (spread: max / min over the clients; 1.0 would follow calls exactly):",
                 "", "| signal | " + " | ".join(sig["clients"]) + " | spread |",
                 "|---|" + "---:|" * (len(sig["clients"]) + 1)]
        for name in ("segments", "bytes", "connection-time"):
            rows.append(f"| {name} | " + " | ".join(str(x) for x in sig[name]["per_call"]) +
                        f" | {sig[name]['spread']} |")
    return "\n".join(rows) + "\n"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cases", default="", help="comma-separated case keys (default: all)")
    p.add_argument("--no-signals", action="store_true", help="skip the load-signal measurement")
    p.add_argument("--repeats", type=int, default=1,
                   help="run each case on and off this many times, alternating the order; "
                        "the p99 ratio is the median over the pairs (default 1)")
    p.add_argument("--out", default=str(HERE.parents[1] / "results" / "time_fair.json"))
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats {args.repeats}: must be 1 or more")
    res = run(args.quick, only=[k for k in args.cases.split(",") if k],
              signals=not args.no_signals, repeats=args.repeats)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    png = render_plot(res, os.path.splitext(args.out)[0] + ".png", os.path.dirname(args.out))
    print(render(res) + (f"\nplot: {png}\n" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
