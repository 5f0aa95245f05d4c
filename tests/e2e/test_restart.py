#!/usr/bin/python3
"""Restarting the agent without disruption (--persist): programs stay
attached through pinned links, state stays in pinned maps, and a new agent,
even after kill -9, adopts both and swaps its programs in atomically."""

import json
import os
import subprocess
import time

from load import CHANNEL, PORT, collect, failures, failures_by_status, start_load
from socklb_agent import Agent, cgroup_programs, next_pin_path, run_socklb
from topology import PYTHON, Topology, start_pods

VIP = "10.96.0.10:8080"

# Opens a new TCP connection to the VIP every 10 ms for a while and counts
# what happened: every connect must succeed and see the VIP as its peer.
CHURN = r"""
import json, socket, sys, time
end = time.time() + float(sys.argv[1])
ok = failed = wrong_peer = 0
while time.time() < end:
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("10.96.0.10", 8080))
        ok += 1
        wrong_peer += s.getpeername() != ("10.96.0.10", 8080)
    except OSError:
        failed += 1
    s.close()
    time.sleep(0.01)
print(json.dumps({"ok": ok, "failed": failed, "wrong_peer": wrong_peer}), flush=True)
"""


def program_ids(cgroup):
    res = subprocess.run(["bpftool", "-j", "cgroup", "show", cgroup], capture_output=True,
                         text=True, timeout=10)
    return sorted(p["id"] for p in json.loads(res.stdout.strip() or "[]"))


def test_kill_9_and_restart_under_load_loses_no_connect_and_no_connection():
    with Topology("slbrst") as topo:
        pods = start_pods(topo, 5, first_ip_index=11)
        hosts = [topo.add_host(f"client{i}", f"10.244.1.{100 + i}") for i in range(3)]
        cg = topo.make_cgroup()
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"{VIP}=static:" + ",".join(p.addr for p in pods) + "\n")
        args = dict(config=conf, extra=["--persist"], pin_path=next_pin_path())
        first = Agent(topo, cg, **args)
        procs = start_load(hosts[:2], VIP, cg, channels=10, rate=5, duration=9)
        before = first.wait_backends(VIP, lambda b: all(x["live"] == 4 for x in b.values()))
        ids_before = program_ids(cg)
        churn = hosts[2].popen([PYTHON, "-c", CHURN, "5"], cgroup=cg)

        first.proc.kill()  # kill -9: no cleanup at all
        first.proc.wait(5)
        assert len(cgroup_programs(cg)) == 5, "programs detached by the crash"
        time.sleep(1)  # connects in this gap are balanced by the orphaned programs
        second = Agent(topo, cg, **args)
        adopted = second.backends(VIP)
        ids_after = program_ids(cg)
        churned = json.loads(churn.stdout.readline())
        records = collect(procs)
        after = second.wait_backends(VIP, lambda b: all(x["live"] == 0 for x in b.values()))

        assert second.stop() == 0
        assert len(cgroup_programs(cg)) == 5, "--persist must leave the programs attached"
        res = run_socklb(["agent", "--cleanup", "--pin-path", second.pin_path])
        assert res.returncode == 0, res.stderr
        assert cgroup_programs(cg) == [] and not os.path.exists(second.pin_path)

    ports = {}
    for r in records:
        ports.setdefault(r[CHANNEL], set()).add(r[PORT])
    reconnected = sum(len(p) > 1 for p in ports.values())
    print(f"  kill -9 + restart: new connects {churned}; gRPC calls {len(records)}, failed "
          f"{len(failures(records))} {failures_by_status(records)}; channels that reconnected "
          f"{reconnected} of {len(ports)}; program ids {ids_before} -> {ids_after}")
    assert churned["failed"] == 0 and churned["wrong_peer"] == 0 and churned["ok"] > 100
    assert failures(records) == []
    assert reconnected == 0, "a connection was dropped"
    # Same backend ids and live counts after the restart: state adopted.
    assert {a: b["backend_id"] for a, b in adopted.items()} == \
        {a: b["backend_id"] for a, b in before.items()}
    assert sum(b["live"] for b in adopted.values()) >= 20
    # New program instances replaced the old ones in the same links.
    assert ids_after != ids_before and len(ids_after) == 5
    assert all(b["connecting"] == 0 for b in after.values())


def test_persisted_state_follows_a_config_change_across_restart():
    with Topology("slbrst") as topo:
        pods = start_pods(topo, 4, first_ip_index=11)
        cg = topo.make_cgroup()
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"{VIP}=static:" + ",".join(p.addr for p in pods[:3]) + "\n")
        pin = next_pin_path()
        first = Agent(topo, cg, config=conf, extra=["--persist", "--no-rebalance"], pin_path=pin)
        ids = {a: b["backend_id"] for a, b in first.backends(VIP).items()}
        first.stop()
        with open(conf, "w") as f:
            f.write(f"{VIP}=static:" + ",".join(p.addr for p in pods[1:]) + "\n")
        second = Agent(topo, cg, config=conf, extra=["--persist", "--no-rebalance"], pin_path=pin)
        now = {a: b["backend_id"] for a, b in second.backends(VIP).items()}
        second.stop()
        run_socklb(["agent", "--cleanup", "--pin-path", second.pin_path])

    assert sorted(now) == sorted(p.addr for p in pods[1:])
    for p in pods[1:3]:  # kept across the restart: same id
        assert now[p.addr] == ids[p.addr], (ids, now)
    assert now[pods[3].addr] not in (ids[pods[1].addr], ids[pods[2].addr])


def test_incompatible_sizes_are_refused_with_the_fix():
    with Topology("slbrst") as topo:
        pods = start_pods(topo, 1, first_ip_index=11)
        cg = topo.make_cgroup()
        first = Agent(topo, cg, services=[f"{VIP}=static:{pods[0].addr}"], extra=["--persist"])
        first.stop()
        res = run_socklb(["agent", "--cgroup", cg, "--pin-path", first.pin_path, "--persist",
                          "--max-backends", "1000", "-s", f"{VIP}=static:{pods[0].addr}"])
        run_socklb(["agent", "--cleanup", "--pin-path", first.pin_path])
    assert res.returncode == 1, res
    assert "--cleanup" in res.stderr and "do not fit" in res.stderr, res.stderr
