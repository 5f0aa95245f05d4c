"""Cluster-wide balance: simulated nodes on one kernel (tests/e2e/cluster_rig.py),
one agent each, one fake API server, real grpc.aio clients (one connection
each, a call every 100 ms). Every case runs twice in the same run: with the
cluster view (the agents' defaults) and with the per-node view the agents
had before it (--no-cluster), the baseline.

Cases (each figure over `cluster_trials` trials where it says so):
  - placement: N nodes x 1 connection on P pods (10 on 5), every client
    connecting at once: seconds from the last client's first call until
    every pod holds exactly N / P;
  - scale-out: the same N connections on pod-1, then P pods: seconds until
    every pod holds N / P, connections moved, failed calls;
  - story: 3 nodes x 4 clients over 1 -> 5 -> 10 -> 3 pods: the cluster-wide
    count of every pod sampled through each step: when it was first within
    floor/ceil of the fair share, whether it left it again, whether it was
    within at the end; connections moved against the fewest that could do;
    failed calls;
  - write budget: 20 nodes x 1 connection: SocklbNode writes per second at
    rest and during a 1 -> 10 scale-out, the agents' CPU.
"""

import time
from collections import Counter

from cluster_rig import ClusterRig, balanced
from cpu import proc_cpu_seconds
from load import CHANNEL, POD, START, collect, failures, failures_by_status
from stats import spread
from topology import Topology

PREFIX = "slbbcl"
# The views compared: the agents' default, and the per-node baseline.
VIEWS = {"cluster": (), "per_node": ("--no-cluster",)}
TARGET_S = 3.0   # the target: exact within 3 s
SAMPLE_S = 0.2   # the story's sampling of the agents' counts


def ended(rig):
    """Connections the agents ended (every reason and mode), summed over all of them:
    socklb_ended_total, not the per-backend counter, which goes with a removed backend."""
    n = 0
    for node in rig.nodes:
        for name, _, value in rig.metrics(node):
            if name == "socklb_ended_total":
                n += int(value)
    return n


def settle(rig, quiet=1.5, timeout=15.0):
    """Until no agent wrote for `quiet` seconds (nothing moves any more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and rig.writes(time.time() - quiet):
        time.sleep(0.2)


def exactly(per_pod, pods):
    return lambda live: len(live) == pods and all(v == per_pod for v in live.values())


def final_pods(records):
    """{channel: the pod of its last answered call}."""
    last = {}
    for r in sorted(records):
        if r[POD] is not None:
            last[r[CHANNEL]] = r[POD]
    return last


def settled_after(records, t0, pods):
    """Seconds from t0 until every channel's calls went to the pod they ended on: the
    start of each channel's first call on its final pod after its last change (0 for one
    that never left it), the latest of them; and the connections per pod of `pods` (names)
    at the end, in that order."""
    final, since = final_pods(records), {}
    for r in sorted(records):
        ch = r[CHANNEL]
        if r[POD] is None:
            continue
        if r[POD] != final[ch]:
            since.pop(ch, None)
        elif ch not in since:
            since[ch] = r[START]
    per_pod = {p: 0 for p in pods}
    for pod in final.values():
        per_pod[pod] = per_pod.get(pod, 0) + 1
    return max(max(since.values()) - t0, 0.0), list(per_pod.values())


def agents_cpu(rig):
    return sum(proc_cpu_seconds(n.agent.proc.pid) for n in rig.nodes)


def quiet(rig):
    """No connection left from the last trial, and every agent said so."""
    rig.wait_live(lambda live: sum(live.values()) == 0, 10)
    settle(rig)


def first_calls(records):
    """When the last channel made its first call (every client connected by then)."""
    first = {}
    for r in records:
        first[r[CHANNEL]] = min(first.get(r[CHANNEL], r[START]), r[START])
    return max(first.values())


def trial_result(rig, records, t0, n, polled):
    """A trial's figures from the clients' records: seconds until exact (None if the
    final spread is not N / P each), the spread, failed calls."""
    secs, per_pod = settled_after(records, t0, [p.name for p in rig.backends])
    ok = per_pod == [n // len(per_pod)] * len(per_pod)
    return {"seconds": round(secs, 2) if ok else None, "polled_s": round(polled, 2),
            "per_pod": per_pod, "max": max(per_pod), "min": min(per_pod),
            **calls_summary(records)}


def calls_summary(records):
    return {"failed": len(failures(records)), "failed_by_status": failures_by_status(records),
            "calls": len(records)}


def placement_trial(rig, n, pods, wait_s):
    quiet(rig)
    procs = rig.start_clients(channels=1, rate=10, duration=wait_s + 3)
    first = rig.live_per_pod()
    _, t = rig.wait_live(exactly(n // pods, pods), wait_s)
    records = collect(procs)
    res = trial_result(rig, records, first_calls(records), n, t)
    res["first_seen"] = list(first.values())
    return res


def scale_out_trial(rig, n, pods, wait_s):
    """Clients run wait_s + 8 s: connecting and settling (the agents' writes) take
    up to about 4 s before the scale-out, and they must outlast its wait."""
    rig.set_pods(1)
    quiet(rig)
    procs = rig.start_clients(channels=1, rate=10, duration=wait_s + 8)
    rig.wait_live(lambda live: sum(live.values()) == n, 5)
    settle(rig)
    moved0 = ended(rig)
    t0 = time.time()
    rig.set_pods(pods)
    _, t = rig.wait_live(exactly(n // pods, pods), wait_s)
    records = collect(procs)
    res = trial_result(rig, records, t0, n, t)
    res["moved"] = ended(rig) - moved0
    res["on_new_pods"] = sum(res["per_pod"][1:])
    return res


def trials(log, what, fn, count):
    runs = []
    for i in range(count):
        runs.append(fn())
        log(f"cluster {what} trial {i + 1}/{count}: {runs[-1]}")
    secs = [r["seconds"] for r in runs]
    out = {"runs": runs, "seconds": spread(secs, 2),
           "exact_trials": sum(s is not None for s in secs),
           "all_within_3s": all(s is not None and s <= TARGET_S for s in secs),
           "gap": spread([r["max"] - r["min"] for r in runs], 0),
           "failed": sum(r["failed"] for r in runs), "calls": sum(r["calls"] for r in runs),
           "failed_by_status": dict(sum((Counter(r["failed_by_status"]) for r in runs),
                                        Counter()))}
    for key in ("moved", "on_new_pods"):
        if key in runs[0]:
            out[key] = spread([r[key] for r in runs], 0)
    return out


def run_one_connection_each(profile, log, view, extra):
    n, pods, wait_s = profile.cluster_nodes, profile.cluster_pods, profile.cluster_wait_s
    with Topology(PREFIX) as topo:
        rig = ClusterRig(topo, nodes=n, pods=pods)
        rig.start_agents(extra)
        res = {"nodes": n, "pods": pods}
        count = profile.cluster_trials
        res["placement"] = trials(log, f"{view} placement",
                                  lambda: placement_trial(rig, n, pods, wait_s), count)
        res["scale_out"] = trials(log, f"{view} scale-out",
                                  lambda: scale_out_trial(rig, n, pods, wait_s), count)
        rig.close()
    return res


def fewest_moves(before, new_set, total):
    """The fewest connections that must move to put `total` within floor/ceil on
    new_set, from before ({addr: count}, the old set): every one on a pod that left,
    and every one above its target, the ceil targets given to the fullest pods."""
    counts = sorted((before.get(a, 0) for a in new_set), reverse=True)
    lo, extra = divmod(total, len(new_set))
    within = sum(max(0, c - (lo + (i < extra))) for i, c in enumerate(counts))
    return within + sum(c for a, c in before.items() if a not in new_set)


def sample_step(rig, seconds, n_conns, t_story):
    """The cluster-wide counts every SAMPLE_S for `seconds`: [(t, [count per pod])],
    t from the story's start."""
    samples, t_end = [], time.monotonic() + seconds
    while time.monotonic() < t_end:
        live = rig.live_per_pod()
        samples.append((round(time.monotonic() - t_story, 2), list(live.values())))
        time.sleep(SAMPLE_S)
    return samples


def within(counts, n_conns):
    return balanced(dict(enumerate(counts)), n_conns)


def story_step(rig, pods, seconds, n_conns, t_story):
    """One step: the set changes to `pods`; when it was within, whether it left, the end."""
    before, moved0 = rig.live_per_pod(), ended(rig)
    t0 = round(time.monotonic() - t_story, 2)
    rig.set_pods(pods)
    samples = sample_step(rig, seconds, n_conns, t_story)
    ok = [i for i, (_, c) in enumerate(samples) if within(c, n_conns)]
    first = ok[0] if ok else None
    return {"pods": pods, "t": t0, "samples": samples,
            "within_after_s": round(samples[first][0] - t0, 2) if ok else None,
            "left_after_within": sum(not within(c, n_conns) for _, c in samples[first:])
            if ok else None,
            "end": sorted(samples[-1][1]), "within_at_end": within(samples[-1][1], n_conns),
            "moved": ended(rig) - moved0,
            "fewest_moves": fewest_moves(before, [p.addr for p in rig.backends], n_conns)}


def run_story(profile, log, view, extra):
    nodes, clients = profile.cluster_story_nodes, profile.cluster_story_clients
    n_conns, phases = nodes * clients, profile.cluster_story_phases
    with Topology(PREFIX) as topo:
        rig = ClusterRig(topo, nodes=nodes, pods=max(p for p, _ in phases), first=phases[0][0],
                         clients_per_node=clients)
        rig.start_agents(extra)
        settle(rig)
        procs = rig.start_clients(channels=1, rate=10,
                                  duration=sum(s for _, s in phases) + 4)
        t_story = time.monotonic()
        steps = [story_step(rig, p, s, n_conns, t_story) for p, s in phases]
        records = collect(procs)
        rig.close()
    for s in steps:
        log(f"cluster {view} story step: " +
            str({k: v for k, v in s.items() if k != "samples"}))
    return {"nodes": nodes, "clients_per_node": clients, "steps": steps,
            "every_step_within": all(s["within_at_end"] for s in steps),
            **calls_summary(records)}


def writes_per_node_second(rig, since, until):
    """The largest number of writes one node made in one second of [since, until)."""
    most = 0
    for node in rig.nodes:
        times = [w["t"] for w in rig.writes(since, node) if w["t"] < until]
        for t in times:
            most = max(most, len([u for u in times if t <= u < t + 1.0]))
    return most


def budget_window(rig, seconds, action=None):
    t0, cpu0 = time.time(), agents_cpu(rig)
    if action:
        action()
    time.sleep(seconds)
    t1, cpu1 = time.time(), agents_cpu(rig)
    writes = [w["t"] for w in rig.writes(t0) if w["t"] < t1]
    n = len(writes)
    return {"t0": t0, "seconds": round(t1 - t0, 1), "writes": n,
            "write_times": [round(t - t0, 3) for t in writes],
            "writes_per_s": round(n / (t1 - t0), 2),
            "writes_per_node_per_s": round(n / (t1 - t0) / len(rig.nodes), 3),
            "most_writes_by_one_node_in_1s": writes_per_node_second(rig, t0, t1),
            "agents_cpu_s": round(cpu1 - cpu0, 2),
            "agent_cpu_pct_of_a_core": round(100 * (cpu1 - cpu0) / (t1 - t0) / len(rig.nodes),
                                             2)}


def run_write_budget(profile, log, view, extra):
    n = profile.cluster_big_nodes
    with Topology(PREFIX) as topo:
        rig = ClusterRig(topo, nodes=n, pods=10, first=1)
        rig.start_agents(extra)
        procs = rig.start_clients(channels=1, rate=10,
                                  duration=2 * profile.cluster_steady_s + 12)
        rig.wait_live(lambda live: sum(live.values()) == n, 10)
        settle(rig)
        steady = budget_window(rig, profile.cluster_steady_s)
        moved0 = ended(rig)
        scale = budget_window(rig, profile.cluster_steady_s, lambda: rig.set_pods(10))
        scale["moved"] = ended(rig) - moved0
        scale["live_after"] = sorted(rig.live_per_pod().values())
        records = collect(procs)
        rig.close()
    res = {"nodes": n, "steady": steady, "scale_out_1_to_10": scale, **calls_summary(records)}
    log(f"cluster {view} write budget, {n} nodes: " + str(
        {k: ({x: y for x, y in w.items() if x != "write_times"} if isinstance(w, dict) else w)
         for k, w in res.items()}))
    return res


def run_view(profile, log, view, extra):
    res = {"one_each": run_one_connection_each(profile, log, view, extra)}
    if profile.cluster_story_phases:
        res["story"] = run_story(profile, log, view, extra)
    if profile.cluster_big_nodes:
        res["write_budget"] = run_write_budget(profile, log, view, extra)
    return res


def run(profile, log):
    """{view: its cases} for the cluster view and the per-node baseline."""
    out = {}
    for view, extra in VIEWS.items():
        log(f"cluster-wide balance, {view} view: agents with {list(extra) or 'the defaults'}")
        out[view] = run_view(profile, log, view, extra)
    return {"views": out, "target_s": TARGET_S, "wait_s": profile.cluster_wait_s}
