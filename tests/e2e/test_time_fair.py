#!/usr/bin/python3
"""End-to-end tests of the time-fair rotation with real clients: fewer
connections than pods (the notebook's case: one grpc-go client, one
connection), connections that do not divide evenly, and the divisible case
that must not move at all.

Each test prints the calls per pod of every 10-s window it judges.
"""

import os
import time

from load import collect, dumps, failures, failures_by_status, start_load, window_shares
from socklb_agent import Agent
from stacks import start_client
from topology import Topology, start_pods

VIP = "10.96.0.10:8080"
WINDOW = 10.0


def write_conf(path, pods):
    with open(path, "w") as f:
        f.write(f"{VIP} = static:" + ",".join(p.addr for p in pods) + "\n")


def time_fair_status(agent):
    return agent.status().get("agent", {}).get("time_fair", {})


def setup(topo, n_pods, first, n_hosts, extra=()):
    pods = start_pods(topo, n_pods, first_ip_index=11)
    hosts = [topo.add_host(f"client{i}", f"10.244.1.{100 + i}") for i in range(n_hosts)]
    cg = topo.make_cgroup()
    conf = os.path.join(topo.workdir, "services.conf")
    write_conf(conf, pods[:first])
    agent = Agent(topo, cg, config=conf, extra=list(extra))
    return pods, hosts, cg, conf, agent


def test_one_go_connection_rotates_over_5_pods_fair_every_window():
    """The notebook's case: one grpc-go client, one connection, a call every
    100 ms; pods 1 -> 5.  From 10 s after the scale-out every 10-s window
    gives each pod 20 % +- 2 points of the calls, and no call fails."""
    n_windows = int(os.environ.get("SOCKLB_TIME_FAIR_WINDOWS", "2"))
    with Topology("slbtf") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, 1, 1)
        proc = start_client(hosts[0], "go", VIP, cg, channels=1, rate=10,
                            duration=12 + WINDOW * (n_windows + 1))
        agent.wait_backends(VIP, lambda b: b[pods[0].addr]["live"] == 1)
        time.sleep(1)
        write_conf(conf, pods)
        t_update = time.time()
        agent.reload()
        records = collect([proc], timeout=WINDOW * (n_windows + 3) + 30)
        tf = time_fair_status(agent)

    shares = window_shares(records, pods, t_update + WINDOW, n_windows, WINDOW)
    failed = failures(records)
    print(f"  1 go connection, pods 1->5: shares per 10-s window from t+10s {dumps(shares)}; "
          f"moves {tf.get('moves')}, withdrawn {tf.get('moves_expired')}; "
          f"failed calls {len(failed)} of {len(records)}")
    assert failed == [], failures_by_status(records)
    for w in shares:
        assert all(0.18 <= s <= 0.22 for s in w.values()), w
    assert tf.get("moves", 0) >= 4 * n_windows, tf


def test_8_connections_on_5_pods_within_10_percent_of_fair():
    """8 single-connection clients on 5 pods: counts alone settle at
    2,2,2,1,1 (calls 200 % / 100 % of fair for ever); rotated, every pod's
    calls per 10-s window are within 10 % of fair."""
    with Topology("slbtf") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, 5, 4)
        procs = start_load(hosts, VIP, cg, channels=2, rate=10, duration=12 + 2 * WINDOW)
        agent.wait_backends(VIP, lambda b: sum(x["live"] for x in b.values()) == 8)
        t0 = time.time() + 2
        records = collect(procs, timeout=2 * WINDOW + 40)
        tf = time_fair_status(agent)

    shares = window_shares(records, pods, t0, 2, WINDOW)
    failed = failures(records)
    print(f"  8 connections on 5 pods: shares per 10-s window {dumps(shares)}; "
          f"moves {tf.get('moves')}; failed calls {len(failed)} of {len(records)}")
    assert failed == [], failures_by_status(records)
    for w in shares:
        assert all(0.18 <= s <= 0.22 for s in w.values()), w


def test_divisible_equal_connections_never_move():
    """20 connections of equal load over 5 pods divide evenly: least
    connections gives 4 each and the rotation moves nothing."""
    with Topology("slbtf") as topo:
        pods, hosts, cg, conf, agent = setup(topo, 5, 5, 4)
        procs = start_load(hosts, VIP, cg, channels=5, rate=5, duration=8)
        agent.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()))
        time.sleep(6)
        bes = agent.backends(VIP)
        tf = time_fair_status(agent)
        records = collect(procs)

    print(f"  20 equal connections on 5 pods: live {[b['live'] for b in bes.values()]}; "
          f"time-fair moves {tf.get('moves')}; failed calls {len(failures(records))}")
    assert tf.get("window_ms") == 10000, tf
    assert tf.get("moves") == 0, tf
    assert all(b["live"] == 4 for b in bes.values()), bes
    assert failures(records) == []
