#!/usr/bin/python3
"""Prometheus metrics and the health check, read over loopback while real
gRPC clients use the service."""

import os
import re
import socket
import time
import urllib.error
import urllib.request

from socklb_agent import Agent
from topology import Topology, run_grpc_client, start_holding_client, start_pods

VIP = "10.96.0.10:8080"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="[^"]*",?)*\})? (-?[0-9.e+]+)$')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value}; every line must be valid."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        assert m, f"not exposition format: {line!r}"
        labels = frozenset(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(s, name, **labels):
    return s[(name, frozenset(labels.items()))]


def test_metrics_follow_connections_and_rebalancing():
    with Topology("slbmet") as topo:
        pods = start_pods(topo, 3, first_ip_index=11)
        client = topo.add_host("client", "10.244.1.100")
        cg = topo.make_cgroup()
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"{VIP}=static:" + ",".join(p.addr for p in pods) + "\n")
        port = free_port()
        agent = Agent(topo, cg, config=conf, extra=["--metrics-addr", f"127.0.0.1:{port}"])

        status, ctype, body = scrape(port, "/healthz")
        assert status == 200 and body == "ok\n"
        proc, out = start_holding_client(client, VIP, cgroup=cg, channels=6)
        assert out["ok"] == 6
        agent.wait_backends(VIP, lambda b: all(x["live"] == 2 for x in b.values()))
        status, ctype, body = scrape(port)
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
        s = samples(body)
        for p in pods:
            assert value(s, "socklb_backend_live_connections", service=VIP,
                         backend=p.addr) == 2
            assert value(s, "socklb_backend_connects_total", service=VIP, backend=p.addr) == 2
        assert value(s, "socklb_service_backends", service=VIP) == 3
        assert value(s, "socklb_source_info", service=VIP, kind="static", state="ok") == 1
        assert value(s, "socklb_source_last_update_age_seconds", service=VIP) >= 0
        for reason in ("no_backend", "family"):
            assert value(s, "socklb_refused_total", reason=reason) == 0
        for reason in ("storage", "handoff", "netns"):
            assert value(s, "socklb_untracked_total", reason=reason) == 0

        with open(conf, "w") as f:  # pod-3 leaves: its 2 connections are ended
            f.write(f"{VIP}=static:" + ",".join(p.addr for p in pods[:2]) + "\n")
        agent.reload()
        deadline = time.monotonic() + 2
        gone = ("socklb_backend_live_connections",
                frozenset({("service", VIP), ("backend", pods[2].addr)}))

        def removed(mode):
            return value(s, "socklb_ended_total", reason="removed", mode=mode)

        while True:  # bounded: the removal grace is 50 ms
            s = samples(scrape(port)[2])
            # Each end counts once: destroyed idle, destroyed when due, or sent a GOAWAY.
            ended = sum(removed(m) for m in ("graceful", "forced", "goaway"))
            # Idle h2c connections: the GOAWAY has no server data to ride on, so
            # the removal grace destroys them.
            destroyed = removed("goaway_then_forced") + removed("goaway_then_idle")
            if (ended == 2 and destroyed == removed("goaway")) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ended == 2, ended
        assert destroyed == removed("goaway"), (destroyed, removed("goaway"))
        assert gone not in s  # the removed backend left once its connections closed

        try:
            scrape(port, "/nothing")
            raise AssertionError("404 expected")
        except urllib.error.HTTPError as e:
            assert e.code == 404


def test_bad_metrics_address_is_refused():
    with Topology("slbmet") as topo:
        cg = topo.make_cgroup()
        from socklb_agent import run_socklb, next_pin_path
        pin = next_pin_path()
        res = run_socklb(["agent", "--cgroup", cg, "--pin-path", pin,
                          "--metrics-addr", "localhost:x"])
        assert res.returncode == 1 and "--metrics-addr 'localhost:x'" in res.stderr, res.stderr
        assert not os.path.exists(pin)
