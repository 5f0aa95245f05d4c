"""The reference story for one mode: pods scale 1 -> 5 -> 10 -> 3 under
steady gRPC load, and what every call saw.

Pods taken out of the service keep running until the mode ends (as a
terminating pod serves during its grace period), so calls that still reach
them are counted rather than failed.
"""

import os
import time

import clients
from cpu import CpuMeter, cgroup_cpu_seconds, machine_busy_seconds

MAX_STEP_WAIT_S = 120.0  # bound on any single sleep of the schedule


def sleep_until(t):
    time.sleep(min(max(0.0, t - time.time()), MAX_STEP_WAIT_S))


def cpu_meter(rig, mode):
    sources = {"clients": lambda: cgroup_cpu_seconds(rig.cgroups["clients"]),
               "servers": lambda: cgroup_cpu_seconds(rig.cgroups["servers"]),
               "proxy": None, "agent": None, "machine": machine_busy_seconds}
    if mode.has_proxy:
        sources["proxy"] = lambda: cgroup_cpu_seconds(rig.cgroups["proxy"])
    sources.update(mode.cpu_sources())
    return CpuMeter(sources)


def run(rig, mode, profile):
    """Runs the phases; returns records, scale events (seconds since t0),
    CPU seconds per role and the mode's own figures. mode.start() must
    have been called with the first phase's pods."""
    meter = cpu_meter(rig, mode)
    hosts = rig.clients[:profile.clients]
    # The clients stop on their own shortly after the last phase ends.
    procs, t0 = clients.start(hosts, mode.client_cgroup(), mode.target, mode.client_args,
                              channels=profile.channels, rate=profile.rate,
                              duration=profile.duration + 0.5)
    cpu0 = meter.snapshot()
    events = [event(0.0, rig.pods[:profile.phases[0][0]], [])]
    offset = 0.0
    for (n_before, secs), (n_after, _) in zip(profile.phases, profile.phases[1:]):
        offset += secs
        sleep_until(t0 + offset)
        t = time.time()
        mode.scale(rig.pods[:n_after])
        events.append(event(t - t0, rig.pods[:n_after], rig.pods[:n_before]))
    sleep_until(t0 + profile.duration)
    records = clients.finish(procs, profile.duration)
    cpu = CpuMeter.delta(cpu0, meter.snapshot())
    return {"t0": t0, "duration": profile.duration, "records": records,
            "events": events, "cpu": cpu, "extra": mode.extra_figures(),
            "load_average_end": os.getloadavg()[0]}


def event(t, pods_after, pods_before):
    """A change of the service's pod set at t (seconds since t0)."""
    after = [p.name for p in pods_after]
    before = [p.name for p in pods_before]
    return {"t": round(t, 3), "pods": after,
            "added": [p for p in after if p not in before],
            "removed": [p for p in before if p not in after]}
