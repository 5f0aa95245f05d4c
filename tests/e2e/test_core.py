#!/usr/bin/python3
"""End-to-end tests of socklb's core data path with real gRPC peers.

Each test builds its own namespaces (pods, a client, no route out), attaches
socklb to a cgroup it created, and removes everything afterwards.
"""

import errno
import os
import subprocess
import time

from socklb_agent import Agent, cgroup_programs, run_socklb
from topology import (Topology, client_round, getpeername, run_grpc_client,
                      start_holding_client, start_pods)

VIP = "10.96.0.10:8080"
VIP6 = "[fd00:96::10]:8080"
CLIENT_IP = "10.244.1.100"


def static(pods, v6=False):
    return "static:" + ",".join(p.addr6 if v6 else p.addr for p in pods)


def setup(topo, n_pods=5):
    pods = start_pods(topo, n_pods, first_ip_index=11)
    client = topo.add_host("client", CLIENT_IP)
    return pods, client, topo.make_cgroup()


def live_counts(agent, vip, pods):
    bes = agent.backends(vip)
    return [bes[p.addr]["live"] if p.addr in bes else None for p in pods]


def test_least_conn_gives_4_connections_per_pod_and_counts_return_to_0():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo)
        agent = Agent(topo, cg, services=[f"{VIP}={static(pods)}"])
        proc, out = start_holding_client(client, VIP, cgroup=cg, channels=20)
        assert out["ok"] == 20 and out["failures"] == {}, out
        assert out["by_pod"] == {p.name: 4 for p in pods}, out
        bes = agent.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()))
        assert [bes[p.addr]["live"] for p in pods] == [4] * 5, bes
        assert all(bes[p.addr]["connects"] == 4 for p in pods), bes
        # The same open channels keep their pods: calls go where they went.
        again = client_round(proc)
        assert again["by_channel"] == out["by_channel"], (out, again)
        topo.stop(proc)
        bes = agent.wait_backends(VIP, lambda b: all(x["live"] == 0 for x in b.values()))
        assert [bes[p.addr]["live"] for p in pods] == [0] * 5, bes
        assert [bes[p.addr]["closes"] for p in pods] == [4] * 5, bes
        assert all(b["connecting"] == 0 for b in bes.values()), bes


def test_random_policy_reaches_every_pod():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo)
        Agent(topo, cg, services=[f"{VIP}={static(pods)}"], extra=["--policy", "random"])
        out = run_grpc_client(client, VIP, cgroup=cg, channels=60)
        assert out["ok"] == 60, out
        # P(some pod gets none of 60 uniform picks) = 5 * 0.8^60 < 1e-5.
        assert sorted(out["by_pod"]) == sorted(p.name for p in pods), out


def test_app_sees_the_vip_in_getpeername_ipv4_and_ipv6():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=2)
        Agent(topo, cg, services=[f"{VIP}={static(pods)}", f"{VIP6}={static(pods, v6=True)}"])
        assert getpeername(client, VIP, cgroup=cg)["peer"] == VIP
        assert getpeername(client, VIP6, cgroup=cg)["peer"] == VIP6
        out = run_grpc_client(client, VIP6, cgroup=cg, channels=4)
        assert out["ok"] == 4 and out["by_pod"] == {"pod-1": 2, "pod-2": 2}, out


def test_non_service_destinations_and_udp_are_untouched():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=3)
        Agent(topo, cg, services=[f"{VIP}={static(pods)}"])
        # A pod address directly: stays on that pod.
        out = run_grpc_client(client, pods[1].addr, cgroup=cg, channels=3)
        assert out["by_pod"] == {"pod-2": 3}, out
        assert getpeername(client, pods[2].addr, cgroup=cg)["peer"] == pods[2].addr
        # Same VIP, another port: not a service, so not rewritten, and with
        # no route out it cannot leave the namespace.
        res = getpeername(client, "10.96.0.10:9999", cgroup=cg)
        assert res.get("error") == "ENETUNREACH", res
        # UDP to the service address is left alone too.
        udp = client.run(["/usr/bin/python3", "-c",
                          "import socket\n"
                          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                          "try:\n s.connect(('10.96.0.10', 8080)); print('connected')\n"
                          "except OSError as e: print(e.errno)\n"], cgroup=cg)
        assert udp.stdout.strip() == str(errno.ENETUNREACH), udp


def test_sighup_adds_and_removes_backends_without_touching_the_rest():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo)
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"# three pods\n{VIP} = {static(pods[:3])}\n")
        # Rebalancing would end pod-3's connections when it goes (tested in
        # test_rebalance.py); here every existing connection must stay.
        agent = Agent(topo, cg, config=conf, extra=["--no-rebalance"])
        proc, out = start_holding_client(client, VIP, cgroup=cg, channels=6)
        assert out["by_pod"] == {"pod-1": 2, "pod-2": 2, "pod-3": 2}, out
        before = agent.wait_backends(VIP, lambda b: sum(x["live"] for x in b.values()) == 6)

        with open(conf, "w") as f:
            f.write(f"{VIP} = {static([pods[0], pods[1], pods[3], pods[4]])}\n")
        agent.reload()
        after = agent.backends(VIP)
        assert sorted(after) == sorted(p.addr for p in (pods[0], pods[1], pods[3], pods[4]))
        for p in pods[:2]:  # kept: same id, same connections
            assert after[p.addr]["backend_id"] == before[p.addr]["backend_id"], (before, after)
            assert after[p.addr]["live"] == 2, after
        # pod-3 is out of the set, but its 2 connections still show, as draining.
        shown = agent.wait_backends(VIP, lambda b: pods[2].addr in b, draining=True)
        gone = shown[pods[2].addr]
        assert gone["draining"] and gone["live"] == 2, gone
        assert gone["backend_id"] == before[pods[2].addr]["backend_id"], (before, gone)
        # Existing channels still reach their pods, pod-3's included.
        again = client_round(proc)
        assert again["ok"] == 6 and again["by_channel"] == out["by_channel"], (out, again)
        # New connections go to the least loaded: the two new pods.
        fresh = run_grpc_client(client, VIP, cgroup=cg, channels=4)
        assert fresh["by_pod"] == {"pod-4": 2, "pod-5": 2}, fresh
        # Once its connections are closed, the drained backend leaves status.
        topo.stop(proc)
        left = agent.wait_backends(VIP, lambda b: pods[2].addr not in b, draining=True,
                                   timeout=5)
        assert pods[2].addr not in left, left


def test_zero_backends_refuse_at_once_with_econnrefused():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=1)
        agent = Agent(topo, cg, services=[f"{VIP}=static:"])
        start = time.monotonic()
        res = getpeername(client, VIP, cgroup=cg)
        assert res.get("error") == "ECONNREFUSED", res
        assert time.monotonic() - start < 3, "refusal took too long"
        assert agent.status()["datapath"]["refused_no_backend"] == 1, agent.status()
        out = run_grpc_client(client, VIP, cgroup=cg, channels=1, deadline=2)
        assert out["ok"] == 0 and out["failures"] == {"UNAVAILABLE": 1}, out
        # Every refusal is counted by reason (gRPC may retry its connect).
        dp = agent.status()["datapath"]
        assert dp["refused_no_backend"] >= 2 and dp["refused_family"] == 0, dp
        assert dp["untracked_storage"] == 0 and dp["untracked_handoff"] == 0, dp


def test_bpftool_dump_shows_field_names():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=2)
        # Small maps (also shows that sizes are set at load): quick dumps.  A
        # second service of 17 backends (one more than fit in its entry) puts
        # entries in backend_slots.
        big = ",".join(f"10.244.9.{i}:8080" for i in range(1, 18))
        agent = Agent(topo, cg, services=[f"{VIP}={static(pods)}",
                                          f"10.96.0.99:8080=static:{big}"],
                      extra=["--max-services", "64", "--max-backends", "256"])
        run_grpc_client(client, VIP, cgroup=cg, channels=2)
        fields = {
            "layout": ["value"],
            "services": ["vip", "port", "service_id", "backend_count", "backend_ids"],
            "backend_slots": ["service_id", "slot"],
            "backends": ["addr", "port", "family", "service_id"],
            "backend_stats": ["live", "connecting", "connects", "connect_failures", "closes"],
            "dp_stats": ["cpu", "value"],
        }
        for name, expected in fields.items():
            res = subprocess.run(["bpftool", "map", "dump", "pinned",
                                  f"{agent.pin_path}/{name}"],
                                 capture_output=True, text=True, timeout=30)
            assert res.returncode == 0, res.stderr
            for field in expected:
                assert f'"{field}"' in res.stdout, (name, field)


def test_sigterm_detaches_and_unpins():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=1)
        agent = Agent(topo, cg, services=[f"{VIP}={static(pods)}"])
        assert len(cgroup_programs(cg)) == 5, cgroup_programs(cg)
        assert agent.stop() == 0
        assert cgroup_programs(cg) == []
        assert not os.path.exists(agent.pin_path)
        res = getpeername(client, VIP, cgroup=cg)
        assert res.get("error") == "ENETUNREACH", res


def bad_input_cases(cg, pin):
    """(args, exit status, text the message must contain)."""
    base = ["agent", "--cgroup", cg, "--pin-path", pin]
    return [
        (base + ["-s", "10.96.0.10=static:10.244.1.11:8080"], 64, "'10.96.0.10'"),
        (base + ["-s", "10.96.0.300:80=static:10.244.1.11:8080"], 64, "10.96.0.300"),
        (base + ["-s", "10.96.0.10:80=static:10.244.1.11:99999"], 64, "99999"),
        (base + ["-s", "10.96.0.10:80=bogus:x"], 64, "unknown source 'bogus:x'"),
        (base + ["-s", "10.96.0.10:80=static:[fd00::1]:80"], 64, "not the same IP family"),
        (base + ["-s", "10.96.0.10:80=static:", "-s", "10.96.0.10:80=static:"], 64,
         "given twice"),
        (base + ["--policy", "fastest"], 64, "unknown --policy 'fastest'"),
        (base + ["--config", "/nonexistent/socklb.conf"], 64, "/nonexistent/socklb.conf"),
        (["agent", "--cgroup", "/nonexistent-cgroup", "--pin-path", pin], 1,
         "/nonexistent-cgroup"),
        (["agent", "--cgroup", "/proc", "--pin-path", pin], 1, "not a cgroup v2 directory"),
        (["agent", "--cgroup", cg, "--pin-path", "/tmp/socklb-pins"], 1,
         "not on a BPF filesystem"),
        (base + ["--max-backends", "0"], 64, "--max-backends '0'"),
        (base + ["--log-level", "loud"], 64, "--log-level 'loud'"),
        (base + ["--max-age", "5 minutes"], 64, "--max-age '5 minutes'"),
        (base + ["--time-fair", "fast"], 64, "--time-fair 'fast': expected off or a window"),
        (base + ["--metrics-addr", "localhost:x"], 1, "--metrics-addr 'localhost:x'"),
    ]


def test_bad_inputs_give_one_clear_message_and_leave_nothing_behind():
    with Topology("slbcore") as topo:
        cg = topo.make_cgroup()
        pin = f"/sys/fs/bpf/socklb-test-{os.getpid()}-bad"
        for args, status, text in bad_input_cases(cg, pin):
            res = run_socklb(args)
            assert res.returncode == status, (args, res.returncode, res.stderr)
            assert text in res.stderr, (args, res.stderr)
            assert not os.path.exists(pin), args
            assert cgroup_programs(cg) == [], args


def test_second_agent_on_the_same_pin_path_is_refused():
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=1)
        agent = Agent(topo, cg, services=[f"{VIP}={static(pods)}"])
        res = run_socklb(["agent", "--cgroup", cg, "--pin-path", agent.pin_path,
                          "-s", f"{VIP}={static(pods)}"])
        assert res.returncode == 1 and "in use by another socklb agent" in res.stderr, res
        # The first agent is unharmed.
        assert getpeername(client, VIP, cgroup=cg)["peer"] == VIP
        assert len(cgroup_programs(cg)) == 5


def test_not_root_is_refused_with_the_fix():
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "--inh-caps=-all", "--bounding-set=-all",
                          os.path.join(os.path.dirname(__file__), "../../build/socklb"),
                          "agent", "--cgroup", "/sys/fs/cgroup/unified",
                          "--pin-path", "/sys/fs/bpf/socklb-test-nonroot"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1, res
    assert "run it as root" in res.stderr, res.stderr


def test_nonblocking_connects_polled_with_connect_are_counted_once():
    """A non-blocking connect polled by calling connect() again: the kernel
    runs the connect hook only for an unconnected socket, so each socket is
    balanced and counted once."""
    script = (
        "import errno, socket, select, time\n"
        "socks = []\n"
        "for _ in range(6):\n"
        "    s = socket.socket(); s.setblocking(False)\n"
        "    assert s.connect_ex(('10.96.0.10', 8080)) == errno.EINPROGRESS\n"
        "    for _ in range(100):\n"
        "        r = s.connect_ex(('10.96.0.10', 8080))\n"
        "        if r in (0, errno.EISCONN): break\n"
        "        time.sleep(0.01)\n"
        "    assert r in (0, errno.EISCONN), r\n"
        "    socks.append(s)\n"
        "print('connected', flush=True)\n"
        "import sys; sys.stdin.read()\n")
    with Topology("slbcore") as topo:
        pods, client, cg = setup(topo, n_pods=3)
        agent = Agent(topo, cg, services=[f"{VIP}={static(pods)}"])
        proc = client.popen(["/usr/bin/python3", "-c", script], cgroup=cg)
        from topology import wait_for_line
        wait_for_line(proc, "connected", 10)
        bes = agent.wait_backends(VIP, lambda b: sum(x["live"] for x in b.values()) == 6)
        assert [bes[p.addr]["live"] for p in pods] == [2, 2, 2], bes
        assert [bes[p.addr]["connects"] for p in pods] == [2, 2, 2], bes
        topo.stop(proc)
        bes = agent.wait_backends(VIP, lambda b: all(x["live"] == 0 for x in b.values()))
        assert all(b["live"] == 0 and b["connecting"] == 0 for b in bes.values()), bes
