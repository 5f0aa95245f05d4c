#!/usr/bin/python3
"""End-to-end tests of cluster-wide balance (cluster_rig.py): simulated
nodes on one kernel, one agent each, sharing the pods and a fake API server
that holds their SocklbNode objects; real grpc.aio clients, one connection
each, a call every 100 ms.

Each test prints what it measured: how long until every pod held exactly
its floor or ceiling of the fair share, the moves it took (connections
ended, summed over the agents), failed calls, and the agents' writes.
"""

import os
import time

from cluster_rig import VIP, ClusterRig, balanced
from load import collect, dumps, failures, failures_by_status, window_shares
from socklb_agent import drain
from stacks import start_client
from topology import Topology

WINDOW = 10.0  # the agents' default --time-fair window


def ended(rig):
    """Connections the agents ended (rebalancing), summed over every agent."""
    n = 0
    for node in rig.nodes:
        for name, labels, value in rig.metrics(node):
            if name == "socklb_backend_ended_total" and labels.get("service") == VIP:
                n += int(value)
    return n


def exact(n_conns, n_pods):
    """Every pod within floor/ceil and all n_conns connections counted."""
    return lambda live: balanced(live, n_conns) and len(live) == n_pods


def agent_log(node):
    """Every line the node's agent logged so far (also those read while waiting for it)."""
    drain(node.agent.proc)
    return list(node.agent.proc._socklb_reader.lines)


def wait_settled(rig, quiet=1.5, timeout=10):
    """Waits until no agent wrote for `quiet` seconds: nothing moves any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not rig.writes(time.time() - quiet):
            return True
        time.sleep(0.2)
    return False


def wait_mode(rig, node, mode, timeout):
    deadline = time.monotonic() + timeout
    while True:
        c = rig.cluster_status(node)
        if (c and c["mode"] == mode) or time.monotonic() > deadline:
            return c
        time.sleep(0.1)


def test_five_nodes_one_connection_each_2_pods_then_scale_out_to_5():
    """The cluster plan by counts alone.  Time-fair is off: 5 connections
    over 2 pods do not divide, and the rotation would move them every phase
    (test_two_nodes_rotate_one_connection_each_staggered_and_fair shows it)."""
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=5, pods=5, first=2)
        rig.start_agents(["--time-fair", "off"])
        procs = rig.start_clients(channels=1, rate=10, duration=16)
        live2, t2 = rig.wait_live(exact(5, 2), 3)
        assert wait_settled(rig), "the agents keep writing"
        ended_before = ended(rig)
        since = time.time()
        time.sleep(3)
        steady_writes = len(rig.writes(since))
        rig.set_pods(5)
        live5, t5 = rig.wait_live(lambda live: exact(5, 5)(live) and max(live.values()) == 1, 5)
        time.sleep(1.5)  # would anything move again?
        moved = ended(rig) - ended_before
        live_after = rig.live_per_pod()
        status = rig.cluster_status(rig.nodes[0])
        text = rig.status_text(rig.nodes[0])
        records = collect(procs)
        rig.close()

    print(f"  5 nodes x 1 connection: 2 pods {sorted(live2.values())} "
          f"{t2:.2f}s after the last connect; "
          f"2 -> 5 pods {sorted(live5.values())} after {t5:.2f}s, {moved} connections moved "
          f"(the plan: 3), still {sorted(live_after.values())} 1.5 s later; writes over 3 s "
          f"at rest {steady_writes}; failed calls {len(failures(records))} of {len(records)}")
    assert exact(5, 2)(live2), live2
    assert t2 < 3.0, t2
    assert sorted(live5.values()) == [1, 1, 1, 1, 1] and t5 < 3.0, (live5, t5)
    assert live_after == live5, (live5, live_after)
    # Exactly the excess moved (3 over 1 per pod), by the nodes holding it: no over-correction.
    assert moved == 3, moved
    assert failures(records) == [], failures_by_status(records)
    assert steady_writes == 0, steady_writes  # heartbeats are 30 s apart
    assert status["mode"] == "cluster" and status["peers_fresh"] == 4, status
    assert "cluster: node node-1  mode=cluster  peers 4 fresh, 0 stale" in text, text
    assert "cluster=1" in text, text


def test_two_nodes_rotate_one_connection_each_staggered_and_fair():
    """Fewer connections than pods cluster-wide (one grpc-go connection on
    each of 2 nodes, 5 pods): counts cannot balance, so every node rotates
    its own connection (time-fair), starting where the nodes ranked before
    it end.  Every 10-s window gives each pod 20 % +- 2 points of the
    cluster's calls, the connections are mostly on different pods, and no
    call fails.  SOCKLB_ROTATE_NODES=8: the issue's 8 clients on 5 pods, one
    per node (counts alone: 2,2,2,1,1); "apart" then means no pod holds
    more than 2."""
    n_nodes = int(os.environ.get("SOCKLB_ROTATE_NODES", "2"))
    most = -(-n_nodes // 5)  # connections per pod when spread
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=n_nodes, pods=5)
        rig.start_agents()
        duration = 8 + 3 * WINDOW
        procs = [start_client(n.clients[0], "go", VIP, n.cgroup, channels=1, rate=10,
                              duration=duration) for n in rig.nodes]
        rig.wait_live(lambda live: sum(live.values()) == n_nodes, 5)
        t0 = time.time() + WINDOW  # the first window: the cluster view and phases settle
        apart = together = 0
        while time.time() < t0 + 2 * WINDOW:
            live = rig.live_per_pod()
            if sum(live.values()) == n_nodes:
                apart, together = (apart + 1, together) if max(live.values()) <= most \
                    else (apart, together + 1)
            time.sleep(0.25)
        rotating = [rig.status(n).get("agent", {}).get("time_fair", {}) for n in rig.nodes]
        records = collect(procs, timeout=duration + 30)
        rig.close()

    shares = window_shares(records, rig.pods, t0, 2, WINDOW)
    failed = failures(records)
    print(f"  {n_nodes} nodes x 1 go connection, 5 pods: cluster shares per 10-s window {dumps(shares)}; "
          f"on different pods in {apart} of {apart + together} samples; moves "
          f"{[t.get('moves') for t in rotating]}; failed calls {len(failed)} of {len(records)}")
    assert failed == [], failures_by_status(records)
    for w in shares:
        assert all(0.18 <= s <= 0.22 for s in w.values()), w
    assert apart >= 0.8 * (apart + together), (apart, together)
    assert all(t.get("moves", 0) >= 8 for t in rotating), rotating


def test_api_down_falls_back_to_the_nodes_own_view_and_says_so():
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=3, pods=3)
        rig.start_agents()
        node = rig.nodes[0]
        up = wait_mode(rig, node, "cluster", 10)
        assert up and up["mode"] == "cluster", up
        rig.api.cmd("outage", on=True)
        t0 = time.monotonic()
        down = wait_mode(rig, node, "node", 10)
        t_down = time.monotonic() - t0
        text = rig.status_text(node)
        mode_metric = {labels["mode"]: v for name, labels, v in rig.metrics(node)
                       if name == "socklb_cluster_mode"}
        log = [x for x in agent_log(node) if 'msg="cluster view"' in x]
        rig.api.cmd("outage", on=False)
        t1 = time.monotonic()
        back = wait_mode(rig, node, "cluster", 40)
        t_back = time.monotonic() - t1
        rig.close()

    print(f"  API down: status says mode=node after {t_down:.2f}s ({down['reason']}); "
          f"cluster again {t_back:.2f}s after it came back")
    assert down["mode"] == "node" and "socklbnodes" in down["reason"], down
    assert "mode=node (balancing per node: reading socklbnodes: " in text, text
    assert mode_metric == {"pending": 0, "cluster": 0, "node": 1}, mode_metric
    assert any("state=node" in x and "balancing per node" in x for x in log), log
    assert back["mode"] == "cluster", back


def test_a_silent_node_goes_stale_and_a_restarted_agent_takes_its_object_over():
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=3, pods=2)
        fast = ["--publish-interval", "200ms", "--heartbeat-interval", "1s"]
        rig.start_agents(extra=fast)
        procs = rig.start_clients(channels=1, rate=10, duration=14)
        live, _ = rig.wait_live(exact(3, 2), 5)
        first, gone = rig.nodes[0], rig.nodes[2]
        assert wait_mode(rig, first, "cluster", 5)["peers_fresh"] == 2
        gone.agent.proc.kill()  # no goodbye: its object stays, its heartbeat stops
        gone.agent.proc.wait(5)
        t0 = time.monotonic()
        while True:
            c = rig.cluster_status(first)
            peer = next(p for p in c["peers"] if p["node"] == gone.name)
            if not peer["fresh"] or time.monotonic() - t0 > 10:
                break
            time.sleep(0.1)
        t_stale = time.monotonic() - t0
        text = rig.status_text(first)
        since = time.time()
        rig.start_agent(gone, extra=fast)
        back = wait_mode(rig, gone, "cluster", 10)
        t1 = time.monotonic()
        while time.monotonic() - t1 < 10:
            peer = next(p for p in rig.cluster_status(first)["peers"] if p["node"] == gone.name)
            if peer["fresh"]:
                break
            time.sleep(0.1)
        writes = rig.writes(since, gone)
        records = collect(procs)
        rig.close()

    print(f"  a killed agent's report went stale after {t_stale:.2f}s (3 heartbeats of 1 s); "
          f"its restarted agent wrote {[w['method'] + ' ' + str(w['status']) for w in writes][:3]} "
          f"and was fresh again; failed calls {len(failures(records))} of {len(records)}")
    assert 2.5 < t_stale < 5.0, t_stale
    assert f"cluster: peer {gone.name}" in text and "stale (ignored)" in text, text
    assert back["mode"] == "cluster", back
    assert peer["fresh"], peer
    # The object exists: create refused (409 AlreadyExists), then a replace.
    assert [w["status"] for w in writes[:2]] == [409, 200], writes[:3]
    assert back["publisher"]["conflicts"] >= 1 and back["publisher"]["creates"] == 0, back
    assert back["publisher"]["owner_reference"], back


def test_a_conflicting_write_is_re_read_and_retried():
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=1, pods=2)
        node = rig.nodes[0]
        rig.start_agent(node, extra=["--heartbeat-interval", "1s"])
        assert wait_mode(rig, node, "cluster", 10)["mode"] == "cluster"
        # Someone else writes the object: the agent's resourceVersion is stale now.
        theirs = {"metadata": {"name": node.name}, "spec": {"services": []}}
        rig.api.put("socklbnodes", theirs)
        since = time.time()
        time.sleep(2.5)  # the next heartbeat writes
        writes = rig.writes(since, node)
        pub = rig.cluster_status(node)["publisher"]
        rig.close()

    codes = [w["status"] for w in writes]
    print(f"  after someone else's write: the agent's writes {codes}, conflicts "
          f"{pub['conflicts']}, errors {pub['errors']}")
    assert codes[:2] == [409, 200], codes
    assert pub["conflicts"] == 1 and pub["errors"] == 0, pub


def test_without_the_cluster_view_k8s_services_are_balanced_per_node():
    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=2, pods=2)
        off = rig.nodes[0]
        rig.start_agent(off, extra=["--no-cluster"])
        rig.start_agent(rig.nodes[1])
        assert wait_mode(rig, rig.nodes[1], "cluster", 10)["mode"] == "cluster"
        log = [x for x in agent_log(off) if "cluster view off" in x]
        off_status = rig.status(off)
        names = {name for name, _, _ in rig.metrics(off)}
        writes = rig.writes(0, off)
        rig.close()

    assert log, "no log line says the cluster view is off"
    assert "cluster" not in off_status.get("agent", {}), off_status["agent"]
    assert not any(n.startswith("socklb_cluster_") for n in names), names
    assert writes == [], writes
