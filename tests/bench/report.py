"""results.md: the figures of results.json as Markdown tables, modes as
columns, ratios against socklb where a ratio means something (latency,
calls/s, CPU, cycle time, throughput)."""

from config import FAIR_FRACTION, FAIR_WINDOW_S

REF = "socklb"
NA = "—"


# ------------------------------------------------------------ formatting

def num(v, digits=1):
    if v is None:
        return NA
    if isinstance(v, float) and digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


def services(n):
    n = int(n)
    return f"{n:,} service" + ("s" if n != 1 else "")


def ratio(v, ref):
    if v is None or not ref:
        return ""
    return f" (×{v / ref:.2f})"


def triple(d, ref=None, keys=("p50_us", "p90_us", "p99_us")):
    """'p50 / p90 / p99' plus ratios against the same figures of ref."""
    if not d or d.get(keys[0]) is None:
        return NA
    text = " / ".join(num(d[k], 0) for k in keys)
    if ref and ref is not d and all(ref.get(k) for k in keys):
        text += " (" + " / ".join(f"×{d[k] / ref[k]:.2f}" for k in keys) + ")"
    return text


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# -------------------------------------------------------- scenario table

def balance_cell(b):
    if not b:
        return NA
    mm = f"{b['max_over_min']:.2f}" if b["max_over_min"] is not None else f"∞ (min {b['min']})"
    return f"{b['max']}/{b['min']} = {mm}; CV {num(b['cv'], 3)}"


def share_cell(s):
    if not s:
        return NA
    first = s.get("slowest_first_call_s")
    first = f"; last new pod's first call {first:.2f} s" if first is not None else ""
    if not s["all_reached"]:
        got = sum(v is not None for v in s["per_pod_s"].values())
        return f"not within {s['window_s']:.0f} s ({got}/{len(s['per_pod_s'])} pods did{first})"
    return f"{s['slowest_s']:.2f} s (median {s['median_s']:.2f} s{first})"


def removed_cell(r):
    if not r:
        return NA
    if not r["calls"]:
        return "0"
    return f"{r['calls']} ({100 * r['share']:.1f} % of calls; last {r['last_s']:.1f} s after)"


def failed_cell(sc):
    by = ", ".join(f"{k} {v}" for k, v in sorted(sc["failed_by_status"].items()))
    return f"{sc['failed']} of {sc['calls']:,}" + (f" ({by})" if by else "")


def rate_cell(fig, ref):
    if not fig or fig.get("calls_per_s") is None:
        return NA
    text = num(fig["calls_per_s"], 0) + ratio(fig["calls_per_s"], ref and ref["calls_per_s"])
    if fig.get("pods_answering"):
        text += f"; {fig['pods_answering']} pods, {100 * fig['busiest_pod_share']:.0f} %"
    return text


def cpu_cell(v, ref):
    return NA if v is None else f"{v:.2f}{ratio(v, ref)}"


def extra_cell(extra):
    parts = []
    if "dns_a_queries" in extra:
        parts.append(f"DNS A queries: {extra['dns_a_queries']}")
    return "; ".join(parts) or NA


def scenario_rows(res, keys):
    sc = {k: res["modes"][k]["scenario"] for k in keys}
    lat = {k: res["modes"][k]["latency"] for k in keys}
    ref_sc, ref_lat = sc.get(REF), lat.get(REF, {})
    direct = res.get("direct", {}).get("latency", {})
    rows = [["calls made (failed, by status)"] + [failed_cell(sc[k]) for k in keys] + [NA]]
    for phase in _phase_keys(sc):
        rows.append([f"balance, {phase.replace('_', ' ')} (last window): max/min calls per pod; CV"]
                    + [balance_cell(sc[k]["balance"].get(phase)) for k in keys] + [NA])
    for step in _step_keys(sc, "time_to_fair_share"):
        rows.append([f"scale-out {step}: every new pod at 80 % of fair share after (slowest)"]
                    + [share_cell(sc[k]["time_to_fair_share"].get(step)) for k in keys] + [NA])
    for step in _step_keys(sc, "removed_pods"):
        rows.append([f"scale-in {step}: calls answered by removed pods after removal"]
                     + [removed_cell(sc[k]["removed_pods"].get(step)) for k in keys] + [NA])
    rows.append(["latency under the story's steady load, p50 / p90 / p99 µs"]
                + [triple(sc[k]["latency_steady"], ref_sc and ref_sc["latency_steady"])
                   for k in keys] + [NA])
    for c in res["profile"]["concurrencies"]:
        c = str(c)
        ref = ref_lat.get(c)
        rows.append([f"latency at concurrency {c}, p50 / p90 / p99 µs"]
                    + [triple(lat[k].get(c), ref) for k in keys] + [triple(direct.get(c), ref)])
        rows.append([f"calls/s at concurrency {c} (pods that answered; busiest pod's share)"]
                    + [rate_cell(lat[k].get(c), ref) for k in keys]
                    + [rate_cell(direct.get(c), ref)])
    for role in ("clients", "servers", "proxy", "agent"):
        ref = ref_sc and ref_sc["cpu_s"].get(role)
        rows.append([f"CPU s over the story: {role}"]
                    + [cpu_cell(sc[k]["cpu_s"].get(role), ref) for k in keys] + [NA])
    rows.append(["CPU s over the story: total"]
                + [cpu_cell(sc[k]["cpu_total_s"], ref_sc and ref_sc["cpu_total_s"])
                   for k in keys] + [NA])
    rows.append(["whole machine during the story: busy CPU s (tick-sampled /proc/stat, includes "
                 "the above); 1-min load average at the end"]
                + [f"{sc[k]['machine_busy_s']:.1f}; {sc[k]['load_average_end']:.2f}" for k in keys]
                + [NA])
    rows.append(["TCP connections the servers saw (channels × pods reached, plus reconnects)"]
                + [num(sc[k]["connections"]) for k in keys] + [NA])
    rows.append(["mode's own counters"] + [extra_cell(sc[k]["extra"]) for k in keys] + [NA])
    return rows


def _phase_keys(sc):
    keys = []
    for s in sc.values():
        keys += [k for k in s["balance"] if k not in keys]
    return keys


def _step_keys(sc, field):
    keys = []
    for s in sc.values():
        keys += [k for k in s[field] if k not in keys]
    return keys


# ----------------------------------------------------------- micro tables

MICRO_PATHS = (("direct", "no hook (direct)"), ("dnat", "iptables DNAT"), ("socklb", "socklb"))


def micro_rows(micro):
    rows = []
    for n, m in micro["services"].items():
        ref = m["cycle_us"]["socklb"]["median"]
        rows.append([f"connect + accept + close cycle, µs, {services(n)}"]
                    + [num(m["cycle_us"][p]["median"], 1) + ratio(m["cycle_us"][p]["median"], ref)
                       for p, _ in MICRO_PATHS])
    for n, m in micro["services"].items():
        rows.append([f"connect4 hook run time per connect, ns (kernel BPF stats), {services(n)}",
                     NA, NA, num(m["hook"]["connect4_ns"], 0)])
    first = next(iter(micro["services"].values()))
    if "hook_non_service" in first:
        rows.append(["connect4 hook run time, connect to a non-service address, ns",
                     NA, NA, num(first["hook_non_service"]["connect4_ns"], 0)])
    rows.append(["sockops run time per connection (all callbacks), ns", NA, NA,
                 num(first["hook"]["sockops_ns_per_connection"], 0)])
    if "bulk" in first:
        ref = first["bulk"]["socklb"]["mb_per_s"]
        rows.append(["bulk TCP throughput over one connection, MB/s"]
                    + [num(first["bulk"][p]["mb_per_s"], 0)
                       + ratio(first["bulk"][p]["mb_per_s"], ref) for p, _ in MICRO_PATHS])
    return rows


def med_range(sp, digits=0):
    """'median (min–max)' of a spread (stats.spread)."""
    if not sp or sp.get("median") is None:
        return NA
    if sp["min"] == sp["max"]:
        return num(sp["median"], digits)
    return f"{num(sp['median'], digits)} ({num(sp['min'], digits)}–{num(sp['max'], digits)})"


def hook_rows(micro):
    """connect4 per balanced connect: socklb against the minimal hook."""
    rows = []
    for n, m in micro["services"].items():
        if "minimal_hook" not in m:
            continue
        rows.append([f"{int(n):,}", med_range(m["hook"]["connect4_ns_spread"]),
                     med_range(m["minimal_hook"]["connect4_ns_spread"]),
                     med_range(m["hook_vs_minimal"], 2),
                     med_range(m.get("hook_minus_minimal_ns"))])
    return rows


def sockops_rows(micro):
    rows = []

    def row(label, h):
        return [label, med_range(h.get("sockops_ns_per_callback_spread"), 1),
                num(h.get("sockops_callbacks_per_connection"), 1),
                med_range(h.get("sockops_ns_per_connection_spread")),
                med_range(h.get("connect4_ns_spread"))]
    for n, m in micro["services"].items():
        rows.append(row(f"balanced (to the VIP), {services(n)}", m["hook"]))
    first = next(iter(micro["services"].values()))
    if "hook_non_service" in first:
        rows.append(row("not balanced (to the sink itself, same hooked cgroup)",
                        first["hook_non_service"]))
    return rows


def mib(b, digits=1):
    return NA if b is None else num(b / (1 << 20), digits)


def map_rows(micro):
    rows = []
    for n, m in micro["services"].items():
        maps = m.get("bpf_maps")
        if not maps:
            continue
        big = ", ".join(f"{x['name']} {mib(x['bytes_memlock'])}" for x in maps["maps"][:5])
        sizes = {x["name"]: x["max_entries"] for x in maps["maps"]}
        rows.append([f"{int(n):,}", mib(maps["total_bytes"]), big,
                     f"{num(sizes.get('services'))} / {num(sizes.get('backends'))}",
                     num(m["agent"]["rss_kb"] / 1024, 1)])
    return rows


def count_label(key, c):
    if key == "max":
        return f"as many as possible (cap {c['requested']:,})"
    return f"{int(key):,}"


def conn_rows(conns):
    rows = []
    for key, c in conns["counts"].items():
        base, sock, adds = c["baseline"], c["socklb"], c["socklb_adds"]
        live = sock.get("tracked_live") or []
        lost = [u.get("untracked_handoff", 0) + u.get("untracked_storage", 0)
                for u in sock.get("untracked") or [] if u]
        ended = sock.get("ended_by_rebalancer") or []
        rows.append([count_label(key, c), med_range(sock["held"]),
                     ", ".join(sock["stopped_by"] + [s for s in base["stopped_by"]
                                                     if s not in sock["stopped_by"]]),
                     med_range(base["bytes_per_connection"]),
                     med_range(sock["bytes_per_connection"]),
                     med_range(adds["unreclaimable_bytes_per_connection"]),
                     num(adds["caches"].get("kmalloc-cg-192"), 1),
                     num(sock["agent_rss_kb"]["median"] / 1024, 1)
                     if sock["agent_rss_kb"]["median"] is not None else NA,
                     (f"{min(live):,}–{max(live):,}" if live and min(live) != max(live)
                      else (f"{live[0]:,}" if live else NA))
                     + (f"; untracked so far {max(lost):,}" if lost else "")
                     + (f"; ended by the rebalancer {sum(ended):,}" if ended else "")])
    return rows


def agent_rows(micro):
    rows = []
    for n, m in micro["services"].items():
        a = m["agent"]
        rows.append([f"{int(n):,}", num(a["ready_s"], 2), num(a["rss_kb"] / 1024, 1),
                     num(a["idle_cpu_percent"], 1), num(a.get("busy_cpu_percent"), 1),
                     num(a.get("stop_s"), 2)])
    return rows


# ------------------------------------------------------------- document

def header(res):
    mc, prof = res["machine"], res["profile"]
    return [f"# socklb benchmark ({prof['name']} profile)", "",
            f"Machine: {mc['cores']} cores ({mc['cpu']}), {mc['memory_mb']} MB, kernel "
            f"{mc['kernel']}, {mc['os']}; grpcio {mc['grpcio']}, nginx {mc['nginx']}, "
            f"dnsmasq {mc['dnsmasq']}, iptables {mc['iptables']}; {mc['socklb']}. "
            f"Run {mc['date']}, wall time {res['wall_time_s']:.0f} s, 1-min load average at "
            f"start {mc['load_average_at_start']:.2f}.", ""]


def scenario_section(res):
    keys, prof = list(res["modes"]), res["profile"]
    story = " → ".join(f"{n} pod{'s' if n > 1 else ''} ({s:g} s)" for n, s in prof["phases"])
    titles = [res["modes"][k]["title"] for k in keys] + ["direct (1 pod, no balancer)"]
    return ["## Scale story and calls", "",
            f"Steady load: {prof['clients']} client namespaces × {prof['channels']} gRPC "
            f"channels × {prof['rate']:g} calls/s; pods {story}. Ratios in brackets: against "
            "socklb.", "",
            table(["figure"] + titles, scenario_rows(res, keys)), ""]


def micro_section(res):
    prof = res["profile"]
    return ["## Micro-benchmarks", "",
            f"Medians of {prof['micro_repeats']} interleaved repeats of "
            f"{prof['micro_connects']:,} connects (each repeat capped at "
            f"{prof['micro_limit_s']:g} s) and of {prof['bulk_repeats']} transfers of "
            f"{prof['bulk_mb']} MiB. Ratios: against socklb.", "",
            table(["figure"] + [t for _, t in MICRO_PATHS], micro_rows(res["micro"])), "",
            "socklb agent: start, memory, CPU with no traffic and while the hooked worker "
            "connects back to back (the hook-cost runs), stop:", "",
            table(["services", "ready after, s", "RSS, MB", "CPU at rest, % of a core",
                   "CPU during connects, % of a core", "stop, s"],
                  agent_rows(res["micro"])), ""]


def datapath_section(res):
    """The data path's costs: hooks against the minimal hook, sockops, memory."""
    micro, prof = res["micro"], res["profile"]
    out = ["## Data path costs", "",
           f"connect4 per balanced connect, ns (kernel BPF stats, run_time_ns / run_cnt), "
           f"socklb against the minimal hook (one array lookup, one compare, rewrite) measured "
           f"with the same {prof['micro_connects']:,} connect cycles per repeat, interleaved; "
           f"median (range) of {prof['micro_repeats']} repeats; ratio and difference per "
           f"repeat. Every service has {micro.get('backends_per_service', 1)} backends.", "",
           table(["services", "socklb connect4, ns", "minimal connect4, ns", "socklb / minimal",
                  "socklb − minimal, ns"], hook_rows(micro)), "",
           "sockops, per callback (run_time_ns / run_cnt) and per connection (run_time_ns / "
           "connects), client side; the connect4 figure of the same runs beside it:", "",
           table(["connects", "sockops ns per callback", "callbacks per connection",
                  "sockops ns per connection", "connect4 ns"], sockops_rows(micro)), "",
           "BPF map memory (bytes_memlock of every map the agent's programs use, pinned or "
           "not) and agent RSS; maps sized by --max-services N and --max-backends (default "
           "262,144, or 5 N when more):", "",
           table(["services", "maps, MiB", "largest maps, MiB", "max services / backends",
                  "agent RSS, MB"], map_rows(micro)), ""]
    conns = micro.get("connections")
    if conns:
        exp = conns.get("sk_storage_expected") or {}
        reps = f"{prof['conn_repeats']} per fixed count"
        if prof.get("conn_max"):
            reps += f", {prof['conn_max_repeats']} at the largest"
        out += [f"Held connections: kernel memory (slab objects in use, both ends of each "
                f"connection: client and sink sockets, files, inodes) per connection, "
                f"without socklb (no hook) and with socklb balancing the same number; median "
                f"(range) of the repeats ({reps}). {conns['clients']} client "
                f"namespace{'s' if conns['clients'] != 1 else ''}, {conns['holders']} holder "
                f"and {conns['hold_sinks']} sink processes of at most "
                f"{conns['fds_per_process']:,} descriptors each (RLIMIT_NOFILE), fs.file-max "
                f"{num(conns.get('file_max'))}.", "",
                table(["connections", "held", "stopped by", "kernel B/conn without socklb",
                       "with socklb", "socklb adds (unreclaimable slab), B/conn",
                       "of which kmalloc-cg-192, B/conn", "agent RSS, MB",
                       "live in socklb's counts (per round)"], conn_rows(conns)), ""]
        if exp:
            out += [f"Expected from the kernel's BTF: one socket's storage is a "
                    f"bpf_local_storage_elem with its {exp['value_size']}-byte value "
                    f"({exp['elem_bytes']} B) and a bpf_local_storage ({exp['storage_bytes']} "
                    f"B), {exp['kmalloc_bytes']} B in kmalloc caches. Agent RSS with no "
                    f"connection: {num(conns['agent_rss_kb_at_rest'] / 1024, 1)} MB.", ""]
    return out


def graceful_rows(g):
    rows = []
    for key, c in g["cells"].items():
        m, st = c["moves"], c["steady"]
        rows.append([key, f"{m['failed']} / {m['calls']}", f"{st['failed']} / {st['calls']}",
                     f"{m['goaway']} / {m['delivered']}", str(m["destroyed"]),
                     f"{num(m['close_ms_median'], 0)} ({num(m['close_ms_p90'], 0)})",
                     f"{num(m['p99_ms'])} / {num(st['p99_ms'])} ({num(c['p99_ratio'], 2)}x)",
                     num(m["verdict_ns_per_skb"] and m["verdict_ns_per_skb"] / 1000, 2)])
    return rows


def graceful_section(res):
    g = res["graceful"]
    return ["## Graceful moves (GOAWAY)", "",
            f"One client channel per cell, moved by `--max-age {g['max_age_ms']}ms` about "
            f"{g['moves_per_cell']} times, each move a GOAWAY put into the client's stream "
            "at an HTTP/2 frame boundary; then the same load without moves (steady).", "",
            table(["stack / load", "failed (moves)", "failed (steady)", "GOAWAY asked / "
                   "delivered", "destroyed after", "close ms median (p90)",
                   "p99 ms moves / steady", "verdict us/skb"], graceful_rows(g)), ""]


def render(res):
    out = header(res)
    if res["modes"]:
        out += scenario_section(res)
    if "micro" in res:
        out += micro_section(res) + datapath_section(res)
    if "graceful" in res:
        out += graceful_section(res)
    if "time_fair" in res:
        import time_fair_bench  # here: it imports the e2e helpers
        out += ["## Time-fair rotation", "",
                "Each case with the rotation on (the default) and, in the same run, with "
                "`--time-fair off` (connection counts only). Worst deviation: the largest "
                "|share - fair| / fair of any pod in any 10-s window; p99 ratio: rotated / "
                "counts only.", "", time_fair_bench.render(res["time_fair"]), ""]
    if "cluster" in res:
        import report_cluster  # here: it imports this module's helpers
        out += report_cluster.cluster_section(res)
    out += ["## How the figures are made", ""] + [f"- {n}" for n in res["notes"]] + [""]
    return "\n".join(out)


def method_notes(profile):
    """How each figure is made, printed under the tables and kept in results.json."""
    return [
        "Every mode runs on the same pod namespaces and client namespaces, one after the "
        "other; servers (tests/e2e/peers/greeter_server.py) are restarted per mode, with "
        "grpc.max_connection_age_ms = 10 s for the DNS mode only. Clients: "
        "tests/e2e/peers/load_client.py, grpc.aio, default channel options except the DNS "
        "mode's round_robin.",
        "Pods removed from the service keep running until the mode ends (a terminating pod's "
        "grace period), so calls that still reach them are counted, not failed.",
        f"Balance: OK calls per pod over the last {profile.steady_window:g} s of each phase, "
        "over the pods in the service then; CV = population standard deviation / mean.",
        "Scale-out time: for each new pod, the first t after the change from which its calls "
        f"over [t, t + {FAIR_WINDOW_S:g} s) reach {100 * FAIR_FRACTION:.0f} % of the fair share "
        "(all calls in that window / pods), in steps of 0.05 s, but never before its first "
        "call in that window; the slowest new pod is shown. 'not within' = some new pod "
        "never got there before the next change. Also shown: when the last new pod answered "
        "its first call.",
        "Latency at concurrency c: closed loop, c channels each calling as soon as the last "
        "call returned (blocking grpcio stubs), from 1 client namespace (c = 1) or 2, for "
        f"{profile.latency_seconds:g} s after 0.5 s of warm-up; {profile.latency_pods} pods in "
        "the service. 'direct' = clients straight to one pod.",
        "CPU seconds: cgroup v2 cpu.stat usage_usec of the clients', servers' and proxy's "
        "cgroups (the DNS mode's dnsmasq counts as its proxy), /proc/PID/stat of the socklb "
        "agent, from the moment the load began until the clients had exited. kube-proxy's "
        "NAT work is kernel time of the clients and is in their figure. The whole machine's "
        "busy time is there to show other load (this is a shared 2-core machine): it is "
        "tick-sampled, so it can read below the exact cgroup figures; well above them means "
        "other processes competed for the CPU during that mode.",
        "Micro-benchmarks run from four client namespaces to one TCP sink (tests/bench/"
        "netperf.py, Python) listening on 5 ports, the 5 backends of every service: no hook, "
        "kube-proxy-style DNAT with N service rules (the measured one in the middle, "
        "spread over the 5 ports by statistic rules), socklb with N services, and the "
        "minimal connect4 hook (tests/bench/bpf/minimal_connect4.bpf.c) in a cgroup of its "
        "own. The connect4 hook's cost is the kernel's accounting (BPF_ENABLE_STATS, "
        "run_time_ns / run_cnt), as a whole connect cycle is too noisy to resolve it; the "
        "accounting itself (two clock reads per run) is in every figure, the minimal hook's "
        "included, so the difference socklb − minimal is the better measure of socklb's own "
        "work. Non-balanced connects: the hooked worker connects to the sink's address, so "
        "connect4 finds no service and sockops sees sockets socklb did not mark.",
        "Memory: bytes_memlock (bpftool map show) of the maps pinned under the agent's pin "
        "path and of the maps its cgroup programs use. Held connections (tests/bench/"
        "conns.py): rounds without and with socklb alternate; each waits until the previous "
        "round's sockets are gone and slab memory stands still, reads every slab cache's "
        "objects in use (/sys/kernel/slab: objects × object_size), opens the connections "
        "(each client namespace has ports 1024-65535), waits until the sinks accepted them, "
        "reads again and closes them with resets. What socklb adds is the difference within "
        "a repeat over unreclaimable caches (reclaimable ones, dentries and proc inodes, "
        "move with whatever else runs on the machine); the per-cache difference shows "
        "where it goes. /proc/meminfo Slab is kept in results.json.",
    ]
