"""Figures of one mode's scale story (scenario.run's result) and of its
closed-loop runs: what results.json and results.md report."""

import stats
from config import FAIR_FRACTION, FAIR_WINDOW_S
from load import POD, START, STATUS


def phase_bounds(events, duration):
    """(start, end) of each phase, seconds since t0."""
    starts = [e["t"] for e in events]
    return list(zip(starts, starts[1:] + [duration]))


def balance_by_phase(result, profile):
    """Balance over the last steady_window seconds of each multi-pod phase."""
    t0, out = result["t0"], {}
    for ev, (_, end) in zip(result["events"], phase_bounds(result["events"], result["duration"])):
        if len(ev["pods"]) < 2:
            continue
        counts = stats.calls_per_pod(result["records"], t0 + end - profile.steady_window,
                                     t0 + end, ev["pods"])
        out[f"{len(ev['pods'])}_pods"] = dict(stats.balance(counts), counts=counts)
    return out


def scale_out_times(result):
    """For each scale-out: seconds until each new pod got FAIR_FRACTION of
    its fair share (None: not within the phase)."""
    t0, out = result["t0"], {}
    bounds = phase_bounds(result["events"], result["duration"])
    for prev, ev, (start, end) in zip(result["events"], result["events"][1:], bounds[1:]):
        if not ev["added"]:
            continue
        per_pod = {p: stats.time_to_share(result["records"], p, len(ev["pods"]), t0 + start,
                                          t0 + end, FAIR_FRACTION, FAIR_WINDOW_S)
                   for p in ev["added"]}
        reached = [v for v in per_pod.values() if v is not None]
        firsts = {p: stats.first_call(result["records"], p, t0 + start) for p in ev["added"]}
        out[f"{len(prev['pods'])}->{len(ev['pods'])}"] = {
            "per_pod_s": per_pod, "window_s": round(end - start, 3),
            "first_call_s": firsts,
            "slowest_first_call_s": (max(firsts.values()) if None not in firsts.values()
                                     else None),
            "all_reached": len(reached) == len(per_pod),
            "slowest_s": max(reached) if len(reached) == len(per_pod) else None,
            "median_s": stats.median(reached) if len(reached) == len(per_pod) else None}
    return out


def removed_pod_calls(result):
    """Calls answered by pods after they left the service (scale-in)."""
    t0, out = result["t0"], {}
    bounds = phase_bounds(result["events"], result["duration"])
    for prev, ev, (start, end) in zip(result["events"], result["events"][1:], bounds[1:]):
        if not ev["removed"]:
            continue
        window = stats.ok_in(result["records"], t0 + start, t0 + end)
        late = [r for r in window if r[POD] in ev["removed"]]
        out[f"{len(prev['pods'])}->{len(ev['pods'])}"] = {
            "calls": len(late), "of_calls": len(window),
            "share": round(len(late) / len(window), 4) if window else None,
            "last_s": round(max(r[START] for r in late) - (t0 + start), 3) if late else None}
    return out


def scenario_figures(result, profile, server_sees_client=True):
    """server_sees_client: False when a proxy stands between, so client
    ports seen by the servers are the proxy's, not the clients'."""
    records = [r for r in result["records"] if r[START] < result["t0"] + result["duration"]]
    cpu = dict(result["cpu"])
    machine_s = cpu.pop("machine")
    return {
        "calls": len(records),
        "calls_ok": sum(1 for r in records if r[STATUS] == "OK"),
        "failed": sum(1 for r in records if r[STATUS] != "OK"),
        "failed_by_status": stats.failures_by_status(records),
        "balance": balance_by_phase(result, profile),
        "time_to_fair_share": scale_out_times(result),
        "removed_pods": removed_pod_calls(result),
        "latency_steady": stats.latency_us(records),
        "cpu_s": cpu,
        "cpu_total_s": round(sum(v for v in cpu.values() if v is not None), 3),
        # The whole machine, tick-sampled: far above cpu_total_s means other
        # load ran meanwhile (it reads low for short bursts, so not a difference).
        "machine_busy_s": round(machine_s, 3),
        "load_average_end": result["load_average_end"],
        "connections": stats.connections(records) if server_sees_client else None,
        "extra": result["extra"],
        "events": result["events"],
    }


def closed_loop_figures(records, t_from, concurrency):
    """Latency and calls/s of a closed-loop run, over calls that started
    from t_from on (after connection setup and warm-up)."""
    steady = [r for r in records if r[START] >= t_from]
    ok = [r for r in steady if r[STATUS] == "OK"]
    span = max((r[1] for r in steady), default=t_from) - t_from
    # How many pods shared the work matters at saturation on 2 cores: fewer
    # busy server processes batch better, whatever the path costs.
    per_pod = {}
    for r in ok:
        per_pod[r[POD]] = per_pod.get(r[POD], 0) + 1
    return dict(stats.latency_us(steady), concurrency=concurrency, calls=len(steady),
                failed=len(steady) - len(ok), pods_answering=len(per_pod),
                busiest_pod_share=round(max(per_pod.values()) / len(ok), 3) if ok else None,
                calls_per_s=round(len(ok) / span, 1) if span > 0 else None)
