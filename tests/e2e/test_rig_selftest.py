#!/usr/bin/python3
"""Self-tests of the e2e rig alone (no socklb involved).

    /usr/bin/python3 tests/e2e/runner.py tests/e2e/test_rig_selftest.py
"""

import os
import subprocess
import time

from topology import (Topology, client_round, getpeername, netns_list,
                      run_grpc_client, start_holding_client, start_pods,
                      wait_for_line)

CLIENT_IP = "10.244.1.100"
VIP = "10.96.0.10:8080"
VIP6 = "[fd00:96::10]:8080"


def _setup(topo):
    pods = start_pods(topo, 3, first_ip_index=11)
    return pods, topo.add_host("client", CLIENT_IP)


def test_direct_calls_all_on_pod1():
    with Topology("slbself") as topo:
        pods, client = _setup(topo)
        out = run_grpc_client(client, pods[0].addr, channels=6)
        assert out["calls"] == 6 and out["ok"] == 6, out
        assert out["by_pod"] == {"pod-1": 6}, out
        assert out["by_channel"] == ["pod-1"] * 6, out
        assert out["failures"] == {}, out


def test_direct_calls_ipv6():
    with Topology("slbself") as topo:
        pods, client = _setup(topo)
        out = run_grpc_client(client, pods[2].addr6, channels=2,
                              calls_per_channel=2)
        assert out["ok"] == 4 and out["by_pod"] == {"pod-3": 4}, out


def test_getpeername_sees_pod_address():
    with Topology("slbself") as topo:
        pods, client = _setup(topo)
        out = getpeername(client, pods[1].addr)
        assert out == {"peer": "10.244.1.12:8080",
                       "local": out.get("local")}, out
        assert out["local"].startswith(CLIENT_IP + ":"), out


def test_vip_is_unreachable_no_leak():
    with Topology("slbself") as topo:
        _, client = _setup(topo)
        for target in (VIP, VIP6):
            out = getpeername(client, target)
            assert out.get("error") == "ENETUNREACH", (target, out)
        out = run_grpc_client(client, VIP, channels=2, deadline=2)
        assert out["ok"] == 0 and out["failures"] == {"UNAVAILABLE": 2}, out


def test_no_default_route_in_any_netns():
    with Topology("slbself") as topo:
        _setup(topo)
        for ns in [topo.switch] + [h.netns for h in topo.hosts.values()]:
            for family in ("-4", "-6"):
                res = subprocess.run(["ip", family, "-n", ns, "route", "show",
                                      "default"], capture_output=True,
                                     text=True, timeout=10, check=True)
                assert res.stdout.strip() == "", (ns, family, res.stdout)


def test_cgroup_membership_before_exec():
    with Topology("slbself") as topo:
        _, client = _setup(topo)
        cg = topo.make_cgroup()
        res = client.run(["cat", "/proc/self/cgroup"], cgroup=cg)
        want = "0::/" + os.path.basename(cg)
        assert want in res.stdout.splitlines(), res.stdout
        # The process really runs inside the client netns too.
        res = client.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"],
                         cgroup=cg)
        assert CLIENT_IP + "/24" in res.stdout, res.stdout


def test_holding_client_keeps_connections():
    with Topology("slbself") as topo:
        pods, client = _setup(topo)
        proc, first = start_holding_client(client, pods[0].addr, channels=4)
        assert first["by_channel"] == ["pod-1"] * 4, first
        res = pods[0].host.run(["ss", "-Htn", "state", "established",
                                "sport", "= :8080"], check=True)
        assert len(res.stdout.splitlines()) == 4, res.stdout
        again = client_round(proc)
        assert again["ok"] == 4 and again["by_pod"] == {"pod-1": 4}, again
        proc.stdin.close()  # EOF: the client closes its channels and exits
        assert proc.wait(10) == 0


def test_cleanup_removes_everything():
    with Topology("slbself") as topo:
        pods, _ = _setup(topo)
        cg = topo.make_cgroup()
        names = [topo.switch] + [h.netns for h in topo.hosts.values()]
        procs = [p.proc for p in pods]
        workdir = topo.workdir
        assert set(names) <= set(netns_list())
    left = set(names) & set(netns_list())
    assert not left, f"netns left behind: {left}"
    assert not os.path.exists(cg), cg
    assert not os.path.exists(workdir), workdir
    assert all(p.poll() is not None for p in procs), [p.poll() for p in procs]


def test_sigterm_stops_peers_cleanly():
    with Topology("slbself") as topo:
        pods, client = _setup(topo)
        run_grpc_client(client, pods[0].addr, channels=3)
        proc, _ = start_holding_client(client, pods[0].addr, channels=1)
        assert topo.stop(proc) == 0
        assert topo.stop(pods[0].proc) == 0
        wait_for_line(pods[0].proc, r"^EXIT name=pod-1 calls=4$", 5)


def test_max_connection_age_option():
    with Topology("slbself") as topo:
        pods = start_pods(topo, 1, first_ip_index=11,
                          extra_args=["--max-connection-age-ms", "200"])
        client = topo.add_host("client", CLIENT_IP)
        proc, first = start_holding_client(client, pods[0].addr, channels=2)
        time.sleep(1.0)  # several ages: the server has sent GOAWAY by now
        again = client_round(proc)
        assert first["ok"] == 2 and again["ok"] == 2, (first, again)
        assert topo.stop(proc) == 0
