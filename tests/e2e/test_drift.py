#!/usr/bin/python3
"""Counts that cannot drift: many more connections than the old socket map
held (its --max-sockets, 64 here, is ignored since connection state lives
with each socket), from several client namespaces, closed in random order;
after every step socklb's live count per backend equals the kernel's truth
(`ss` in every client namespace), and at the end every count is exactly 0.
Twice: with the one walk over socket-local storage, and the way a kernel
without map-element iterators lists connections (namespace by namespace,
from netns_conns)."""

import collections
import json
import os
import re
import subprocess
import time

from socklb_agent import SOCKLB, Agent
from topology import PEERS_DIR, PYTHON, Topology, wait_for_line

VIP = "10.96.0.10:8080"
HOLDER = str(PEERS_DIR / "tcp_holder.py")
N_PODS, N_CLIENTS, PER_CLIENT = 4, 3, 200
OLD_SOCKET_MAP = 64  # the v1 LRU size this test passes to --max-sockets


def start_holder_pods(topo):
    pods = []
    for i in range(N_PODS):
        ip = f"10.244.1.{11 + i}"
        host = topo.add_host(f"pod-{i + 1}", ip)
        proc = host.popen([PYTHON, HOLDER, "serve", "--listen", f"{ip}:8080"])
        wait_for_line(proc, r"^READY", 10)
        pods.append(f"{ip}:8080")
    return pods


def ss_truth(clients, pods):
    """Established connections to each pod, counted in every client namespace."""
    truth = collections.Counter()
    for host in clients:
        out = host.run(["ss", "-tnH", "state", "established"], check=True).stdout
        for line in out.splitlines():
            peer = line.split()[-1]
            if peer in pods:
                truth[peer] += 1
    return {pod: truth[pod] for pod in pods}


def socklb_live(agent):
    bes = agent.backends(VIP)
    return {addr: b["live"] for addr, b in bes.items()}, bes


def assert_agrees(agent, clients, pods, step, timeout=3.0):
    """socklb's live counts equal ss's; FINs take a moment, so poll (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        truth = ss_truth(clients, pods)
        live, bes = socklb_live(agent)
        if live == truth or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert live == truth, (step, live, truth)
    assert all(b["connecting"] == 0 for b in bes.values()), (step, bes)
    tracked = {a: b["tracked_live"] for a, b in agent.status_connections().items()}
    assert tracked == truth, (step, tracked, truth)
    return sum(truth.values())


def listing(agent):
    """How status listed the connections, and the namespaces it could not enter."""
    res = subprocess.run([SOCKLB, "status", "--json", "--connections", "--pin-path",
                          agent.pin_path], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    return out["connections_listed"], out["connections_netns_missed"]


def test_live_counts_equal_the_kernel_truth_at_every_step():
    drift_check()


def test_live_counts_equal_the_truth_listed_namespace_by_namespace():
    os.environ["SOCKLB_TEST_NO_MAP_ELEM_ITERS"] = "1"  # the agent and status inherit it
    try:
        drift_check()
    finally:
        del os.environ["SOCKLB_TEST_NO_MAP_ELEM_ITERS"]


def drift_check():
    with Topology("slbdrift") as topo:
        pods = start_holder_pods(topo)
        cg = topo.make_cgroup()
        clients = [topo.add_host(f"client-{i}", f"10.244.1.{100 + i}") for i in range(N_CLIENTS)]
        agent = Agent(topo, cg, services=[f"{VIP}=static:" + ",".join(pods)],
                      extra=["--no-rebalance", "--max-sockets", str(OLD_SOCKET_MAP)])
        holders = []
        for i, host in enumerate(clients):
            proc = host.popen([PYTHON, HOLDER, "client", "--target", VIP, "--count",
                               str(PER_CLIENT), "--seed", str(i)], cgroup=cg)
            holders.append(proc)
        for proc in holders:
            line = wait_for_line(proc, r"^OPEN ", 60)
            assert line == f"OPEN {PER_CLIENT} failed=0", line
        total = assert_agrees(agent, clients, pods, "all open")
        how, missed = listing(agent)
        assert missed == 0, missed
        if os.environ.get("SOCKLB_TEST_NO_MAP_ELEM_ITERS"):
            assert how == "per-namespace", how
        assert total == N_CLIENTS * PER_CLIENT > 9 * OLD_SOCKET_MAP
        # least-conn spread them exactly.
        assert set(socklb_live(agent)[0].values()) == {total // N_PODS}, socklb_live(agent)[0]
        steps = [70, 45, 50, 1, 33, PER_CLIENT]  # per client, until none is left
        for n, k in enumerate(steps):
            for proc in holders:
                proc.stdin.write(f"close {k}\n")
                proc.stdin.flush()
            for proc in holders:
                assert re.match(r"^CLOSED \d+ remaining \d+$", wait_for_line(proc, r"^CLOSED", 10))
            left = assert_agrees(agent, clients, pods, f"step {n + 1}")
            print(f"  step {n + 1}: closed up to {k} per client, {left} left; socklb = ss")
        live, bes = socklb_live(agent)
        assert set(live.values()) == {0}, bes
        assert sum(b["connects"] for b in bes.values()) == total, bes
        assert sum(b["closes"] for b in bes.values()) == total, bes
        dp = agent.status()["datapath"]
        assert dp["untracked_storage"] == 0 and dp["untracked_handoff"] == 0, dp
        print(f"  listed {how}: {total} connections from {N_CLIENTS} namespaces over {N_PODS} pods "
              f"(old socket map: {OLD_SOCKET_MAP}); every count back to 0")
