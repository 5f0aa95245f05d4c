"""Benchmark profiles: how long each part runs and how much it measures.

FULL keeps `make bench` within 10 minutes on a 2-core machine; QUICK tells
the same story in about a minute so CI can keep the harness working (its
figures are too short to be read as results).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # The scale story under steady load: ((pods in the service, seconds), ...).
    # 5 -> 10 needs > 30 s for the DNS mode: gRPC C-core re-resolves a name
    # at most every 30 s, and the point is to show that wait.
    phases: tuple
    steady_window: float   # last seconds of each phase used for balance figures
    clients: int           # client namespaces
    channels: int          # gRPC channels per client (each one connection)
    rate: float            # calls/s per channel
    latency_pods: int      # pods behind the service while latency is measured
    latency_seconds: float
    concurrencies: tuple   # closed-loop concurrencies (calls in flight)
    micro_services: tuple  # services in the map (socklb) or rule list (DNAT)
    micro_connects: int    # connect cycles per repeat
    micro_repeats: int
    micro_limit_s: float   # cap on one repeat (65 536 iptables rules are slow)
    bulk_mb: int
    bulk_repeats: int
    idle_seconds: float    # window for the agent's idle CPU
    # Held connections (conns.py): memory per connection with and without socklb.
    conn_counts: tuple     # connections held at once, each measured conn_repeats times
    conn_repeats: int
    conn_max: int          # then as many as the machine allows, up to this (0: skip)
    conn_max_repeats: int
    conn_max_s: float      # time allowed to open them
    conn_clients: int      # client namespaces holding them (ephemeral ports per source)
    # Cluster-wide balance (cluster.py): simulated nodes, one agent each.
    cluster_trials: int        # trials of the placement and scale-out cases
    cluster_wait_s: float      # how long one waits for exact ("not exact" after)
    cluster_nodes: int         # nodes x 1 connection for those
    cluster_pods: int          # pods they end on (nodes / pods connections each)
    cluster_story_nodes: int   # the story: nodes ...
    cluster_story_clients: int  # ... x clients (one connection each) per node
    cluster_story_phases: tuple  # ((pods, seconds), ...); () skips it
    cluster_big_nodes: int     # the write budget's nodes (0 skips it)
    cluster_steady_s: float    # its windows at rest and during a scale-out

    @property
    def pods(self):
        return max(n for n, _ in self.phases)

    @property
    def duration(self):
        return sum(s for _, s in self.phases)


FULL = Profile(
    name="full", phases=((1, 8), (5, 32), (10, 32), (3, 16)), steady_window=8.0,
    clients=4, channels=5, rate=10.0,
    latency_pods=5, latency_seconds=3.0, concurrencies=(1, 8),
    micro_services=(1, 1000, 65536), micro_connects=6000, micro_repeats=7,
    micro_limit_s=3.0, bulk_mb=200, bulk_repeats=9, idle_seconds=3.0,
    conn_counts=(1000, 100000), conn_repeats=3, conn_max=1000000, conn_max_repeats=1,
    conn_max_s=90.0, conn_clients=8,
    cluster_trials=5, cluster_wait_s=6.0, cluster_nodes=10, cluster_pods=5, cluster_story_nodes=3,
    cluster_story_clients=4, cluster_story_phases=((1, 8), (5, 8), (10, 8), (3, 8)),
    cluster_big_nodes=20, cluster_steady_s=10.0)

QUICK = Profile(
    name="quick", phases=((1, 1.5), (5, 2.5), (10, 2.5), (3, 1.5)), steady_window=1.0,
    clients=4, channels=5, rate=10.0,
    latency_pods=5, latency_seconds=0.75, concurrencies=(1, 8),
    micro_services=(1, 1000), micro_connects=2000, micro_repeats=3,
    micro_limit_s=1.0, bulk_mb=20, bulk_repeats=3, idle_seconds=1.0,
    conn_counts=(1000,), conn_repeats=3, conn_max=0, conn_max_repeats=0,
    conn_max_s=10.0, conn_clients=1,
    cluster_trials=1, cluster_wait_s=3.0, cluster_nodes=4, cluster_pods=2, cluster_story_nodes=2,
    cluster_story_clients=2, cluster_story_phases=((1, 2), (3, 3)), cluster_big_nodes=3,
    cluster_steady_s=2.0)

# A new pod has "arrived" once it gets this fraction of the fair share
# (all calls / pods) over a window this long: short, so a pod that arrives
# late cannot hide in the window (at most (1 - FAIR_FRACTION) x window early).
FAIR_FRACTION = 0.8
FAIR_WINDOW_S = 0.5
