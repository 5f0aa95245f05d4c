"""Call latency and calls/s at fixed concurrencies (closed loop).

Concurrency c = c channels, each making its next call as soon as the last
one returns: 1 channel from one client namespace, or c/2 channels from
each of two. Blocking grpcio stubs (one thread per channel) are used here:
on 2 cores they reach more calls/s than grpc.aio, so the path under test,
not the client's event loop, sets the numbers.
"""

import clients
from figures import closed_loop_figures

# Calls in the first moments after every channel is up are not counted:
# fresh servers and clients are still warming up (thread pools, caches).
WARMUP_S = 0.5


def run(rig, target, client_args, cgroup, concurrency, seconds):
    hosts = rig.clients[:1] if concurrency == 1 else rig.clients[:2]
    procs, t_started = clients.start(hosts, cgroup, target, client_args,
                                     channels=max(1, concurrency // len(hosts)),
                                     duration=seconds + WARMUP_S, closed_loop=True,
                                     api="sync")
    records = clients.finish(procs, seconds + WARMUP_S)
    return closed_loop_figures(records, t_started + WARMUP_S, concurrency)


def run_mode(rig, mode, profile):
    """Every profile concurrency through the mode's own path, with
    profile.latency_pods pods in the service."""
    mode.scale(rig.pods[:profile.latency_pods])
    return {str(c): run(rig, mode.target, mode.client_args, mode.client_cgroup(), c,
                        profile.latency_seconds)
            for c in profile.concurrencies}


def run_direct(rig, profile):
    """Baseline: clients straight to one pod, no balancer at all."""
    return {str(c): run(rig, rig.pods[0].addr, (), rig.cgroups["clients"], c,
                        profile.latency_seconds)
            for c in profile.concurrencies}
