#!/usr/bin/python3
"""End-to-end tests of rebalancing: real grpcio clients with default
(pick_first) channels under steady load, in several client namespaces.

Clients use grpc.aio unless a test says otherwise: its poller always runs,
so it sees a closed idle connection at once, as grpc-go (a reader goroutine
per connection) and grpc-java (netty's event loop) do.  grpcio's blocking
API polls only inside calls (and every 5 s in C-core's backup poller), so
the first call after its idle connection was ended can fail:
test_blocking_clients_lose_at_most_one_call_per_ended_connection measures it.

Each test prints the figures it measured (convergence, shares, failures).
"""

import os
import time

from load import (POD, START, STATUS, calls_per_pod, collect, connection_lifetimes, dumps,
                  failures, failures_by_status, first_call_after, share_report, start_load)
from socklb_agent import Agent
from topology import Topology, start_pods

VIP = "10.96.0.10:8080"


def write_conf(path, pods):
    with open(path, "w") as f:
        f.write(f"{VIP} = static:" + ",".join(p.addr for p in pods) + "\n")


def clients(topo, n):
    return [topo.add_host(f"client{i}", f"10.244.1.{100 + i}") for i in range(n)]


def setup(topo, n_pods, first_set, extra=()):
    pods = start_pods(topo, n_pods, first_ip_index=11)
    hosts = clients(topo, 4)
    cg = topo.make_cgroup()
    conf = os.path.join(topo.workdir, "services.conf")
    write_conf(conf, first_set(pods))
    agent = Agent(topo, cg, config=conf, extra=extra)
    return pods, hosts, cg, conf, agent


def change_backends(agent, conf, pods):
    """Writes the new set and signals the agent; returns when it was asked."""
    write_conf(conf, pods)
    t = time.time()
    agent.reload()
    return t


def test_scale_out_1_to_5_spreads_within_1s_with_zero_failed_calls():
    with Topology("slbreb") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, lambda p: p[:1])
        # 4 client namespaces x 5 channels = 20 connections, 5 calls/s each.
        procs = start_load(hosts, VIP, cg, channels=5, rate=5, duration=16)
        agent.wait_backends(VIP, lambda b: b[pods[0].addr]["live"] == 20)
        time.sleep(1)
        t_update = change_backends(agent, conf, pods)
        bes = agent.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()),
                                  timeout=5)
        t_even = time.time() - t_update
        records = collect(procs)

    firsts = {p.name: first_call_after(records, p.name, t_update) for p in pods[1:]}
    steady = calls_per_pod(records, t_update + 1, t_update + 11)
    shares = share_report(steady, pods)
    print(f"  scale-out 1->5: live per pod {[b['live'] for b in bes.values()]} "
          f"{t_even:.2f}s after the update; first call on new pods after (s) {dumps(firsts)}; "
          f"shares over [t+1s, t+11s) {dumps(shares)}; "
          f"ended goaway/idle/busy {sum(b['ended_goaway'] for b in bes.values())}/"
          f"{sum(b['ended_graceful'] for b in bes.values())}/"
          f"{sum(b['ended_forced'] for b in bes.values())}; "
          f"failed calls {len(failures(records))} of {len(records)}")
    assert failures(records) == [], failures_by_status(records)
    assert all(t is not None and t <= 1.0 for t in firsts.values()), firsts
    assert all(0.18 <= s <= 0.22 for s in shares.values()), shares
    assert sum(b["ended_forced"] for b in bes.values()) == 0, bes


def test_scale_in_5_to_3_no_call_reaches_a_removed_pod_after_100ms():
    with Topology("slbreb") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, lambda p: p)
        procs = start_load(hosts, VIP, cg, channels=5, rate=5, duration=8)
        agent.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()))
        time.sleep(1)
        t_update = change_backends(agent, conf, pods[:3])
        bes = agent.wait_backends(VIP, lambda b: sum(x["live"] for x in b.values()) == 20,
                                  timeout=5)
        records = collect(procs)

    removed = {pods[3].name, pods[4].name}
    late = [r for r in records if r[POD] in removed and r[START] > t_update + 0.1]
    in_flight = [r for r in records if r[POD] in removed and r[START] <= t_update + 0.1]
    in_flight = [r for r in in_flight if r[1] >= t_update]  # still running at the update
    failed = failures(records)
    print(f"  scale-in 5->3: calls on removed pods later than 100 ms {len(late)}; "
          f"failed calls {len(failed)} {dumps(failures_by_status(records))} "
          f"(calls on removed pods in flight during the first 100 ms: {len(in_flight)}); "
          f"live per remaining pod {[b['live'] for b in bes.values()]}")
    assert late == [], late[:3]
    # At most one failed call per connection that was ended (8).
    assert len(failed) <= 8, failed[:3]
    assert sum(b["live"] for b in bes.values()) == 20


def test_max_age_recycles_connections_at_5s_with_jitter_and_zero_failures():
    with Topology("slbreb") as topo:
        # 10 connections over 3 pods: the time-fair rotation would move them too.
        pods, hosts, cg, conf, agent = setup(topo, 3, lambda p: p,
                                             extra=["--max-age", "5s", "--time-fair", "off"])
        procs = start_load(hosts[:2], VIP, cg, channels=5, rate=5, duration=17)
        records = collect(procs)
        ended = agent.status()["services"][0]["backends"]

    lifetimes = sorted(connection_lifetimes(records))
    graceful = sum(b["ended_graceful"] for b in ended)
    forced = sum(b["ended_forced"] for b in ended)
    goaway = sum(b["ended_goaway"] for b in ended)
    print(f"  max-age 5s, moderate load: {len(lifetimes)} whole connections, lifetimes "
          f"min {lifetimes[0]:.2f}s median {lifetimes[len(lifetimes) // 2]:.2f}s "
          f"max {lifetimes[-1]:.2f}s; ended goaway/idle/busy {goaway}/{graceful}/{forced}; "
          f"failed calls {len(failures(records))} of {len(records)}")
    assert failures(records) == [], failures_by_status(records)
    assert forced == 0
    assert len(lifetimes) >= 10, lifetimes
    # Last call seen on a connection: 4.5 s .. 5.5 s of age, minus up to one
    # call interval (0.2 s), plus the tick and the quiet time.
    assert all(4.2 <= t <= 5.9 for t in lifetimes), lifetimes
    assert lifetimes[-1] - lifetimes[0] > 0.3, "no jitter"


def test_max_age_under_saturating_load_forces_after_the_drain_deadline():
    with Topology("slbreb") as topo:
        pods, hosts, cg, conf, agent = setup(
            topo, 3, lambda p: p,
            extra=["--max-age", "2s", "--drain-deadline", "1s", "--graceful=off"])
        # 200 calls/s per channel: a call is nearly always in flight.
        procs = start_load(hosts[:1], VIP, cg, channels=3, rate=200, duration=9)
        records = collect(procs)
        ended = agent.status()["services"][0]["backends"]

    graceful = sum(b["ended_graceful"] for b in ended)
    forced = sum(b["ended_forced"] for b in ended)
    print(f"  max-age 2s + drain 1s, saturating load: ended idle/busy {graceful}/{forced}; "
          f"calls {len(records)}, failed {len(failures(records))} "
          f"{dumps(failures_by_status(records))}")
    assert graceful + forced >= 6, ended  # 3 connections, each recycled 2+ times
    assert len(failures(records)) <= forced, "a graceful end failed a call"


def test_rebalances_each_client_namespace():
    with Topology("slbreb") as topo:
        # 16 connections (4 per client namespace) onto 8 pods: 14 must move,
        # so every namespace has to give up at least 2 of its 4.
        pods, hosts, cg, conf, agent = setup(topo, 8, lambda p: p[:1])
        procs = start_load(hosts, VIP, cg, channels=4, rate=5, duration=8)
        agent.wait_backends(VIP, lambda b: b[pods[0].addr]["live"] == 16)
        t_update = change_backends(agent, conf, pods)
        agent.wait_backends(VIP, lambda b: all(x["live"] == 2 for x in b.values()), timeout=5)
        records = collect(procs)

    # Every client namespace had some of its connections moved off pod-1.
    late = [r for r in records if r[START] > t_update + 2 and r[STATUS] == "OK"]
    moved = {r[2][0] for r in late if r[POD] != pods[0].name}
    print(f"  namespaces with moved connections: {sorted(moved)} of 4")
    assert moved == {0, 1, 2, 3}, moved
    assert failures(records) == []


def test_blocking_clients_lose_at_most_one_call_per_ended_connection():
    # Moves by destroy (what TLS connections get): test_goaway.py has the GOAWAY's.
    with Topology("slbreb") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, lambda p: p[:1],
                                             extra=["--graceful=off"])
        procs = start_load(hosts, VIP, cg, channels=5, rate=5, duration=8, api="sync")
        agent.wait_backends(VIP, lambda b: b[pods[0].addr]["live"] == 20)
        t_update = change_backends(agent, conf, pods)
        bes = agent.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()),
                                  timeout=5)
        records = collect(procs)

    ended = sum(b["ended_graceful"] + b["ended_forced"] for b in bes.values())
    shares = share_report(calls_per_pod(records, t_update + 2, t_update + 7), pods)
    print(f"  blocking grpcio clients, scale-out 1->5: ended {ended} connections, "
          f"failed calls {len(failures(records))} {dumps(failures_by_status(records))} "
          f"of {len(records)}; shares over [t+2s, t+7s) {dumps(shares)}")
    assert ended == 16, bes
    assert len(failures(records)) <= ended
    assert set(failures_by_status(records)) <= {"UNAVAILABLE"}
    assert all(0.18 <= x <= 0.22 for x in shares.values()), shares
