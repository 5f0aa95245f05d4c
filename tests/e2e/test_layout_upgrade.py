#!/usr/bin/python3
"""Restart with --persist over maps of the previous layout (layout 1: an
LRU socket map, before socket-local storage): the new agent refuses them
with the fix named and changes nothing, so the old programs keep balancing;
after `socklb agent --cleanup` it starts, and connections made before go on
working (they were never translated: they are plain connections to pods)."""

import os

from legacy import LegacyUnavailable, legacy_socklb
from socklb_agent import Agent, cgroup_programs, next_pin_path, run_socklb
from topology import Topology, client_round, start_holding_client, start_pods

VIP = "10.96.0.10:8080"


def test_persist_over_layout_1_is_refused_with_the_fix_then_cleanup_works():
    try:
        old_binary = legacy_socklb()
    except LegacyUnavailable as e:
        print(f"SKIP: {e}")
        return
    with Topology("slbupg") as topo:
        pods = start_pods(topo, 3, first_ip_index=11)
        client = topo.add_host("client", "10.244.1.100")
        cg = topo.make_cgroup()
        pin = next_pin_path()
        spec = f"{VIP}=static:" + ",".join(p.addr for p in pods)
        old = Agent(topo, cg, services=[spec], extra=["--persist"], pin_path=pin,
                    binary=old_binary)
        proc, out = start_holding_client(client, VIP, cgroup=cg, channels=6)
        assert out["ok"] == 6, out
        old.proc.kill()  # as a rolling update does: the old pod is gone, its pins stay
        old.proc.wait(5)
        assert os.path.exists(f"{pin}/sockets") and not os.path.exists(f"{pin}/layout")

        res = run_socklb(["agent", "--cgroup", cg, "--pin-path", pin, "--persist",
                          "--service", spec])
        assert res.returncode == 1, (res.returncode, res.stderr)
        assert "map layout 1; this agent uses layout 4" in res.stderr, res.stderr
        assert f"socklb agent --cleanup --pin-path {pin}" in res.stderr, res.stderr
        # Refused without touching anything: the old programs still balance.
        assert len(cgroup_programs(cg)) == 5, cgroup_programs(cg)
        assert client_round(proc)["ok"] == 6

        res = run_socklb(["agent", "--cleanup", "--pin-path", pin])
        assert res.returncode == 0, res.stderr
        assert cgroup_programs(cg) == [] and not os.path.exists(pin)
        new = Agent(topo, cg, services=[spec], extra=["--persist"], pin_path=pin)
        assert os.path.exists(f"{pin}/layout") and not os.path.exists(f"{pin}/sockets")
        # The connections made under the old agent still carry calls.
        again = client_round(proc)
        assert again["ok"] == 6 and again["by_channel"] == out["by_channel"], (out, again)
        # New ones are balanced by the new agent (the old ones it does not know).
        fresh = start_holding_client(client, VIP, cgroup=cg, channels=3)[1]
        assert fresh["ok"] == 3
        live = {a: b["live"] for a, b in new.backends(VIP).items()}
        assert sorted(live.values()) == [1, 1, 1], live
        print(f"  layout 1 refused with the fix; after --cleanup: old connections "
              f"{again['ok']}/6 calls ok, new ones balanced {live}")
        new.stop()
        run_socklb(["agent", "--cleanup", "--pin-path", pin])
