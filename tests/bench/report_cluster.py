"""The cluster-wide balance part of results.md (cluster.py's figures): the
cluster view beside the per-node baseline, case by case."""

from report import NA, failed_cell, med_range, num, table

VIEW_TITLES = {"cluster": "cluster view (default)", "per_node": "per-node view (--no-cluster)"}


def yes(b):
    return "yes" if b else "no"


def secs_cell(t, wait_s):
    """'median (min–max) s, exact in k of n' of a case's trials."""
    sp, n = t["seconds"], len(t["runs"])
    if sp.get("median") is None:
        return f"not exact within {wait_s:g} s in any of {n} trials"
    return f"{med_range(sp, 2)} s; exact in {t['exact_trials']} of {n}"


def case_cells(t, wait_s):
    cells = [secs_cell(t, wait_s), yes(t["all_within_3s"]), med_range(t["gap"])]
    cells.append(med_range(t["on_new_pods"]) if "on_new_pods" in t else NA)
    cells.append(med_range(t["moved"]) if "moved" in t else NA)
    return cells + [failed_cell(t)]


def one_each_rows(c):
    rows = []
    for view, v in c["views"].items():
        one = v["one_each"]
        n, pods = one["nodes"], one["pods"]
        for key, what in (("placement", f"{n} nodes × 1 on {pods} pods"),
                          ("scale_out", f"{n} on pod-1, then {pods} pods")):
            rows.append([what, VIEW_TITLES[view]] + case_cells(one[key], c["wait_s"]))
    return rows


def step_cells(st):
    when = NA if st["within_after_s"] is None else f"{st['within_after_s']:.2f}"
    left = NA if st["left_after_within"] is None else str(st["left_after_within"])
    return [when, left, " ".join(str(v) for v in st["end"]), yes(st["within_at_end"]),
            f"{st['moved']} / {st['fewest_moves']}"]


def story_rows(c):
    rows = []
    for view, v in c["views"].items():
        for st in v.get("story", {}).get("steps", []):
            rows.append([str(st["pods"]), VIEW_TITLES[view]] + step_cells(st))
    return rows


def budget_rows(c):
    rows = []
    for view, v in c["views"].items():
        b = v.get("write_budget")
        for key, what in (("steady", "at rest"), ("scale_out_1_to_10", "1 → 10 pods")) \
                if b else ():
            w = b[key]
            rows.append([what, VIEW_TITLES[view], f"{w['seconds']:g}", str(w["writes"]),
                         num(w["writes_per_node_per_s"], 3),
                         str(w["most_writes_by_one_node_in_1s"]), num(w["agents_cpu_s"], 2),
                         num(w["agent_cpu_pct_of_a_core"], 2)])
    return rows


def fails_by_view(c, case):
    """'view failed of calls; ...' of one case in every view."""
    return "; ".join(f"{VIEW_TITLES[k]} {failed_cell(v[case])}" for k, v in c["views"].items())


def case_text(c, case, intro, header, rows):
    """A case's paragraph (intro(its cluster-view figures) plus the failed calls of every
    view) and table; nothing if the case did not run."""
    fig = c["views"]["cluster"].get(case)
    if not fig:
        return []
    return [f"{intro(fig)} Failed calls: {fails_by_view(c, case)}.", "",
            table(header, rows(c)), ""]


def story_intro(s):
    return (f"{s['nodes']} nodes × {s['clients_per_node']} clients (one connection each) over "
            "the story, the pods' cluster-wide counts sampled every 0.2 s: when they were "
            "first all within floor/ceil of the fair share (s after the EndpointSlice "
            "changed), samples outside it after that, the counts at the end of the step, "
            "connections moved / the fewest that could do.")


def budget_intro(b):
    return (f"Write budget, {b['nodes']} nodes × 1 connection: the SocklbNode writes the API "
            "server answered, per node per second over the window and the most one node made "
            "in any 1 s; the agents' CPU (all of them, and per agent in % of a core).")


STORY_HEADER = ["pods", "view", "within after, s", "left it after", "per pod at the end",
                "within at the end", "moved / fewest"]
BUDGET_HEADER = ["window", "view", "s", "writes", "per node/s", "most by one node in 1 s",
                 "agents' CPU s", "per agent, % of a core"]


def cluster_section(res):
    c = res["cluster"]
    out = ["## Cluster-wide balance", "",
           "Simulated nodes on this machine (tests/e2e/cluster_rig.py): one agent per node "
           "(its own cgroup, pin path, node name), shared pods, one fake API server holding "
           "their SocklbNode objects; grpc.aio clients, one connection each, a call every "
           "100 ms. Each case runs with the cluster view and with the per-node view "
           f"(the baseline) in the same run. Exact: N / P connections on every pod, by the "
           f"clients' own calls; target within {c['target_s']:g} s in every trial; "
           "median (range) over the trials.", "",
           table(["case", "view", "exact after", f"every trial within {c['target_s']:g} s",
                  "max − min per pod at the end", "on the new pods", "moved", "failed calls"],
                 one_each_rows(c)), ""]
    out += case_text(c, "story", story_intro, STORY_HEADER, story_rows)
    out += case_text(c, "write_budget", budget_intro, BUDGET_HEADER, budget_rows)
    if res.get("cluster_plot"):
        out += [f"![cluster-wide balance]({res['cluster_plot']})", ""]
    return out


NOTE = (
    "Cluster-wide balance (tests/bench/cluster.py): each case runs with the agents' "
    "defaults (--publish-interval 1s, --heartbeat-interval 30s, --rebalance-interval 100ms) "
    "and again with --no-cluster (the per-node view), on fresh simulated nodes. Placement "
    "and scale-out times are the clients' own: from the last client's first call "
    "(placement) or the moment the EndpointSlice was written (scale-out) to the latest "
    "first call any client made on the pod it ended on; exact = the clients' final pods "
    "hold N / P each (the agents' counts, polled from their /metrics, agree: polled_s in "
    "results.json). A trial waits 6 s, then its clients run to their end, so a later move "
    "would still count. Story steps use the agents' counts (live + connecting per backend, "
    "summed over the agents) sampled every 0.2 s from the EndpointSlice's write. Moved: "
    "connections the agents ended (socklb_ended_total, every reason, every agent); fewest: those "
    "on pods that left the set plus those above their floor/ceil target, the ceil targets "
    "given to the fullest pods. Writes: the SocklbNode writes the fake API server answered "
    "(create, replace; a 409 too). Agents' CPU: /proc/PID/stat of every agent over the "
    "window.")
