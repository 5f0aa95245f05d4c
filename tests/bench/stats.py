"""Plain statistics over load_client records (no I/O).

A record is [start, end, channel, pod or None, status, client port] with
wall-clock seconds (see tests/e2e/load.py).
"""

import bisect
import statistics

from load import CHANNEL, END, POD, PORT, START, STATUS


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values, digits=1):
    """{"median", "min", "max", "runs"} of repeated figures, rounded to
    digits (0: integers); Nones are left out of median and range."""
    def rnd(v):
        if v is None:
            return None
        return int(round(v)) if digits == 0 else round(v, digits)
    vals = [v for v in values if v is not None]
    return {"median": rnd(median(vals)), "min": rnd(min(vals)) if vals else None,
            "max": rnd(max(vals)) if vals else None, "runs": [rnd(v) for v in values]}


def percentile(sorted_values, q):
    """q-th percentile (0..100), linear between closest ranks."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def ok_in(records, t0, t1):
    """OK records that started in [t0, t1)."""
    return [r for r in records if r[STATUS] == "OK" and t0 <= r[START] < t1]


def calls_per_pod(records, t0, t1, pods):
    counts = dict.fromkeys(pods, 0)
    for r in ok_in(records, t0, t1):
        counts[r[POD]] = counts.get(r[POD], 0) + 1
    return counts


def balance(counts):
    """max, min, max/min (None when a pod got nothing) and coefficient of
    variation of calls per pod."""
    values = list(counts.values())
    mean = statistics.fmean(values) if values else 0
    return {"max": max(values, default=0), "min": min(values, default=0),
            "max_over_min": round(max(values) / min(values), 3) if values and min(values) else None,
            "cv": round(statistics.pstdev(values) / mean, 4) if mean else None}


def latency_us(records):
    """p50/p90/p99 of OK calls' durations, in microseconds."""
    lat = sorted((r[END] - r[START]) * 1e6 for r in records if r[STATUS] == "OK")
    return {f"p{q}_us": round(percentile(lat, q), 1) if lat else None for q in (50, 90, 99)}


def failures_by_status(records):
    counts = {}
    for r in records:
        if r[STATUS] != "OK":
            counts[r[STATUS]] = counts.get(r[STATUS], 0) + 1
    return counts


def timeline(records, t0, duration, pods, bin_s=1.0):
    """Calls per second per pod in consecutive bins: [[t, n_pod1, ...], ...]."""
    n_bins = int(duration / bin_s + 0.5)
    index = {p: i for i, p in enumerate(pods)}
    rows = [[round(b * bin_s, 3)] + [0] * len(pods) for b in range(n_bins)]
    for r in records:
        b = int((r[START] - t0) // bin_s)
        if r[STATUS] == "OK" and 0 <= b < n_bins and r[POD] in index:
            rows[b][1 + index[r[POD]]] += 1
    for row in rows:
        row[1:] = [round(n / bin_s, 2) for n in row[1:]]
    return rows


def time_to_share(records, pod, n_pods, t_event, t_limit, fraction, window, step=0.05):
    """Seconds from t_event to the first t from which `pod` answers at least
    `fraction` of the fair share (calls in [t, t+window) / n_pods) over
    [t, t+window), or to its first call in that window if later; None if
    that never happens before t_limit."""
    starts = sorted(r[START] for r in records if r[STATUS] == "OK")
    mine = sorted(r[START] for r in records if r[STATUS] == "OK" and r[POD] == pod)
    t = t_event
    while t + window <= t_limit:
        total = _count_between(starts, t, t + window)
        if total and _count_between(mine, t, t + window) >= fraction * total / n_pods:
            # Not before the pod's first call in the window: a window that
            # starts early must not make the pod look earlier than it was.
            first = mine[bisect.bisect_left(mine, t)]
            return round(max(t, first) - t_event, 3)
        t += step
    return None


def first_call(records, pod, t_event):
    """Seconds from t_event to the first OK call `pod` answered after it."""
    times = [r[START] for r in records
             if r[STATUS] == "OK" and r[POD] == pod and r[START] >= t_event]
    return round(min(times) - t_event, 3) if times else None


def connections(records):
    """Distinct (channel, client port) pairs among OK calls: the TCP
    connections the servers saw (load.collect makes channels unique)."""
    return len({(r[CHANNEL], r[PORT]) for r in records if r[STATUS] == "OK"})


def _count_between(sorted_times, t0, t1):
    return bisect.bisect_left(sorted_times, t1) - bisect.bisect_left(sorted_times, t0)
