#!/usr/bin/python3
"""make bench: socklb against the usual ways to balance gRPC, in one run.

    bench.py [--quick] [--out DIR] [--modes kube-proxy,dns-rr,nginx,socklb] [--no-micro]
             [--no-cluster | --cluster-only] [--no-graceful] [--no-time-fair]

Every mode runs the reference story (pods 1 -> 5 -> 10 -> 3 under steady
gRPC load) on the same namespaces, then closed-loop latency runs; then the
micro-benchmarks: connect cycles, the data path's hooks beside a minimal
connect hook (build/bench/minimal_connect4.bpf.o, built by make bench),
BPF map memory, and the kernel memory of held connections; then the
graceful-moves matrix (graceful.py: client stacks x loads, connections
moved with a GOAWAY); then the time-fair cases (time_fair_bench.py:
fewer connections than pods, uneven counts, mixed rates; each rotated and
with --time-fair off as the baseline); then cluster-wide balance over simulated nodes
(cluster.py: placement and scale-out of 10 nodes x 1 connection, 3 nodes
x 4 clients over the story, the write budget of 20 nodes; each with the
cluster view and with the per-node view as the baseline). --cluster-only
runs that part alone. Writes DIR/results.json, DIR/results.md,
DIR/calls_per_pod.png and DIR/cluster.png (default DIR: results/ at the
top of the repo).
Needs root. Everything it creates (namespaces, cgroups, processes, BPF
pins) is removed at the end, also after a failure or SIGTERM.
"""

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "e2e")]

import cluster  # noqa: E402  (needs the path above)
import figures  # noqa: E402
import plot_cluster  # noqa: E402
import graceful  # noqa: E402
import time_fair_bench  # noqa: E402
import latency  # noqa: E402
import machine  # noqa: E402
import micro  # noqa: E402
import minimal  # noqa: E402
import plot  # noqa: E402
import report  # noqa: E402
import report_cluster  # noqa: E402
import scenario  # noqa: E402
import stats  # noqa: E402
from config import FULL, QUICK  # noqa: E402
from mode_dns import DnsRoundRobinMode  # noqa: E402
from mode_kubeproxy import KubeProxyMode  # noqa: E402
from mode_nginx import NginxMode  # noqa: E402
from mode_socklb import SocklbMode  # noqa: E402
from rig import Rig  # noqa: E402
import socklb_agent  # noqa: E402
from topology import Topology, cleanup_stale  # noqa: E402

MODES = {m.key: m for m in (KubeProxyMode, DnsRoundRobinMode, NginxMode, SocklbMode)}
TOOLS = ("ip", "ss", "iptables", "iptables-restore", "bpftool", "nginx", "dnsmasq", "gnuplot")
PREFIX = "slbbench"
_T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - _T0:6.1f}s] {msg}", flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="reduced run, about 3.5 minutes")
    p.add_argument("--out", default=str(HERE.parents[1] / "results"))
    p.add_argument("--modes", default=",".join(MODES),
                   help="comma-separated subset of: " + ", ".join(MODES))
    p.add_argument("--no-micro", action="store_true", help="skip the micro-benchmarks")
    p.add_argument("--no-cluster", action="store_true",
                   help="skip the cluster-wide balance cases (simulated nodes)")
    p.add_argument("--cluster-only", action="store_true",
                   help="only the cluster-wide balance cases (no modes, no micro-benchmarks)")
    p.add_argument("--no-graceful", action="store_true",
                   help="skip the graceful-moves matrix (graceful.py)")
    p.add_argument("--no-time-fair", action="store_true",
                   help="skip the time-fair cases (time_fair_bench.py)")
    p.add_argument("--socklb", default=socklb_agent.SOCKLB,
                   help="socklb binary to measure (default: the repo's build/socklb); "
                        "to compare two builds")
    args = p.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    if args.cluster_only:
        if args.no_cluster:
            p.error("--cluster-only and --no-cluster")
        args.modes, args.no_micro = [], True
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        p.error(f"unknown modes: {unknown}")
    return args


def preflight(socklb, want_micro):
    if os.geteuid() != 0:
        sys.exit("bench: needs root (namespaces, cgroups, BPF)")
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        sys.exit(f"bench: missing {', '.join(missing)}: run 'make deps'")
    if not os.access(socklb, os.X_OK):
        sys.exit(f"bench: {socklb} not built: run 'make'")
    if want_micro and not minimal.OBJECT.exists():
        sys.exit(f"bench: {minimal.OBJECT} not built: run 'make bench' (or make {minimal.OBJECT})")


def run_mode(rig, cls, profile, want_direct):
    """The story plus closed-loop runs for one mode, on fresh servers."""
    mode = cls(rig)
    out = {"title": mode.title}
    rig.start_servers(mode.server_args)
    try:
        if want_direct:  # before the mode sets anything up in the clients
            out["direct"] = latency.run_direct(rig, profile)
        mode.start(rig.pods[:profile.phases[0][0]])
        try:
            result = scenario.run(rig, mode, profile)
            out["latency"] = latency.run_mode(rig, mode, profile)
        finally:
            mode.stop()
    finally:
        rig.stop_servers()
    out["scenario"] = figures.scenario_figures(result, profile, cls.server_sees_client)
    pods = [p.name for p in rig.pods]
    out["timeline"] = {"pods": pods, "rows": stats.timeline(result["records"], result["t0"],
                                                            profile.duration, pods)}
    return out


def run_all(args, profile):
    res = {"machine": machine.describe(), "profile": dataclasses.asdict(profile), "modes": {}}
    if args.modes or not args.no_micro:
        run_modes_and_micro(args, profile, res)
    if not args.no_graceful and not args.cluster_only:
        log("graceful moves: stacks x loads, moved by GOAWAY")
        res["graceful"] = graceful.run(quick=profile is QUICK, log=log)
    if not args.no_time_fair and not args.cluster_only:
        log("time-fair: fewer connections than pods, uneven counts, mixed rates")
        res["time_fair"] = time_fair_bench.run(quick=profile is QUICK, log=log)
    if not args.no_cluster:
        res["cluster"] = cluster.run(profile, log)
    return res


def run_modes_and_micro(args, profile, res):
    with Topology(PREFIX) as topo:
        rig = Rig(topo, profile.pods, profile.clients)
        for key in args.modes:
            log(f"mode {key}: story {' -> '.join(str(n) for n, _ in profile.phases)} pods, "
                f"{profile.duration:g} s, then latency")
            cls = MODES[key]
            want_direct = "direct" not in res and not cls.server_args
            out = run_mode(rig, cls, profile, want_direct)
            if "direct" in out:
                res["direct"] = {"latency": out.pop("direct")}
            res["modes"][key] = out
            log(f"mode {key}: done")
        if not args.no_micro:
            res["micro"] = micro.run(topo, profile, log=log)


def write_outputs(res, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    duration = sum(s for _, s in res["profile"]["phases"])
    panels = [{"key": key, "title": m["title"], "rows": m["timeline"]["rows"],
               "pods": m["timeline"]["pods"], "events": m["scenario"]["events"],
               "duration": duration}
              for key, m in res["modes"].items()]
    if panels:
        res["plots"] = [os.path.basename(plot.render(os.path.join(out_dir, "calls_per_pod.png"),
                                                     panels, out_dir))]
    tf_png = "time_fair" in res and time_fair_bench.render_plot(
        res["time_fair"], os.path.join(out_dir, "time_fair.png"), out_dir)
    if tf_png:
        res["time_fair_plot"] = os.path.basename(tf_png)
    if "cluster" in res:
        res["cluster_plot"] = os.path.basename(
            plot_cluster.render(os.path.join(out_dir, "cluster.png"), res["cluster"], out_dir))
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(report.render(res))


def main(argv):
    args = parse_args(argv)
    preflight(args.socklb, not args.no_micro)
    socklb_agent.SOCKLB = os.path.abspath(args.socklb)  # Agent reads it at start
    # SIGTERM unwinds like an exception, so every `with`/finally cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile = QUICK if args.quick else FULL
    cleanup_stale(PREFIX)
    cleanup_stale(cluster.PREFIX)
    log(f"profile {profile.name}; modes {', '.join(args.modes)}; output {args.out}")
    res = run_all(args, profile)
    res["notes"] = report.method_notes(profile) + ([report_cluster.NOTE] if "cluster" in res
                                                   else [])
    res["wall_time_s"] = round(time.monotonic() - _T0, 1)
    write_outputs(res, args.out)
    files = ["results.json", "results.md"] + res.get("plots", []) + \
        ([res["cluster_plot"]] if "cluster_plot" in res else []) + \
        ([res["time_fair_plot"]] if "time_fair_plot" in res else [])
    log(f"wrote {', '.join(files)} in {args.out}")
    print(open(os.path.join(args.out, "results.md")).read())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
