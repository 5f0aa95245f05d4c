#!/usr/bin/python3
"""End-to-end tests of the dns: source with a real DNS server (dnsmasq).

Each test builds pods, a "dns" host running dnsmasq with one A/AAAA record
per ready pod (as a Kubernetes headless Service answers), a "node" host the
agent runs in (so it can reach the DNS server; the BPF programs still attach
to the test cgroup and balance the client's connects), and a client.
Records change mid-test; the tests check that the maps follow, how fast,
and what the agent keeps when DNS fails.
"""

import os
import re
import signal
import subprocess
import time

from socklb_agent import addresses, service, wait_service, Agent, drain, log_time, run_socklb
from topology import (PEERS_DIR, PYTHON, TopologyError, Topology, _reader, client_round,
                      getpeername, run_grpc_client, start_holding_client, start_pods,
                      wait_for_line)

NAME = "sample-service-grpc.default.svc.cluster.local"
VIP = "10.96.0.10:8080"
VIP6 = "[fd00:96::10]:8080"
VIP2 = "10.96.0.11:8080"
DNS_IP = "10.244.1.53"
NODE_IP = "10.244.1.2"
CLIENT_IP = "10.244.1.100"
TTL = 1  # dnsmasq --local-ttl
BAD_DNS = str(PEERS_DIR / "bad_dns_server.py")


class Dnsmasq:
    """dnsmasq in `host`, authoritative for cluster.local from a hosts file
    (NXDOMAIN for any other name there), TTL 1 s; set() rewrites the records
    and makes it re-read them (SIGHUP also empties its cache)."""

    def __init__(self, topo, host, records):
        self.topo, self.host = topo, host
        self.path = os.path.join(topo.workdir, "dns-hosts")
        self.proc = None
        self.start(records)

    def _write(self, records):
        """records: [(ip, name)]; replaced whole so dnsmasq never reads half."""
        with open(self.path + ".tmp", "w") as f:
            f.writelines(f"{ip} {name}\n" for ip, name in records)
        os.rename(self.path + ".tmp", self.path)

    def start(self, records):
        self._write(records)
        self.proc = self.host.popen(
            ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", f"--addn-hosts={self.path}",
             f"--local-ttl={TTL}", f"--listen-address={self.host.ip}", "--bind-interfaces",
             "--port=53", "--user=root", "--pid-file=", "--local=/cluster.local/",
             "--log-facility=-", "--log-queries"],
            stderr=subprocess.STDOUT)
        wait_for_line(self.proc, r"read .*dns-hosts - \d+ ", 10)

    def set(self, records):
        """New records; returns the wall-clock time dnsmasq had re-read them."""
        self._write(records)
        self.proc.send_signal(signal.SIGHUP)
        wait_for_line(self.proc, r"read .*dns-hosts - \d+ ", 10)
        return time.time()

    def stop(self):
        self.topo.stop(self.proc)


def a_records(pods, name=NAME):
    return [(p.host.ip, name) for p in pods]


def aaaa_records(pods, name=NAME):
    return [(p.host.ip6, name) for p in pods]


def setup(topo, n_pods):
    """Pods, a DNS host, the node the agent runs in, a client, a cgroup."""
    pods = start_pods(topo, n_pods, first_ip_index=11)
    dns_host = topo.add_host("dns", DNS_IP)
    node = topo.add_host("node", NODE_IP)
    client = topo.add_host("client", CLIENT_IP)
    return pods, dns_host, node, client, topo.make_cgroup()


def wait_gone(agent, vip, timeout):
    deadline = time.monotonic() + timeout
    while service(agent, vip) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return service(agent, vip) is None


def scale(dns, agent, pods, label):
    """Publishes pods' records and waits for the maps to follow; prints and
    returns the latency from the change to the map update."""
    changed = dns.set(a_records(pods))
    want = {p.addr for p in pods}
    svc = wait_service(agent, VIP, lambda s: addresses(s) == want, TTL + 2)
    seen = time.time() - changed
    assert addresses(svc) == want, (label, svc)
    updates = [line for line in drain(agent.proc) if 'msg="service updated"' in line
               and f"service={VIP} " in line and f"backends={len(pods)} " in line]
    assert updates, f"{label}: no 'service updated' line for {len(pods)} backends"
    in_maps = log_time(updates[-1]) - changed
    print(f"  dns {label}: maps updated {in_maps:.3f}s after the record change "
          f"(TTL {TTL}s), seen in status after {seen:.3f}s", flush=True)
    # One lookup per TTL: the change is picked up by the next one.
    assert in_maps <= TTL + 1.0, (label, in_maps)
    return in_maps


def new_channels_reach(client, cg, pods, channels):
    out = run_grpc_client(client, VIP, cgroup=cg, channels=channels)
    assert out["ok"] == channels, out
    missing = {p.name for p in pods} - set(out["by_pod"])
    assert not missing, (f"new pods {sorted(missing)} got no new channel", out)
    return out


def test_scale_1_5_10_3_follows_dns_and_survives_a_dead_and_a_lying_server():
    with Topology("slbdns") as topo:
        pods, dns_host, node, client, cg = setup(topo, 10)
        dns = Dnsmasq(topo, dns_host, a_records(pods[:1]))
        agent = Agent(topo, cg, services=[f"{VIP}=dns:{NAME}:8080"], netns=node.netns,
                      extra=["--dns-server", DNS_IP, "--dns-max-interval", "2s",
                             # Held channels must stay where they are: this tests DNS.
                             "--no-rebalance"])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {pods[0].addr}
                           and s["source_state"] == "ok", 5)
        assert addresses(svc) == {pods[0].addr}, svc
        assert svc["source"] == f"dns:{NAME}:8080" and svc["source_state"] == "ok", svc
        assert svc["last_error"] is None and svc["last_refresh"]["age_seconds"] < 3, svc
        held, out = start_holding_client(client, VIP, cgroup=cg, channels=2)
        assert out["by_pod"] == {"pod-1": 2}, out

        latencies = [scale(dns, agent, pods[:5], "1 -> 5 pods")]
        new_channels_reach(client, cg, pods[1:5], channels=8)
        latencies.append(scale(dns, agent, pods, "5 -> 10 pods"))
        new_channels_reach(client, cg, pods[5:], channels=10)
        latencies.append(scale(dns, agent, pods[:3], "10 -> 3 pods"))
        out = run_grpc_client(client, VIP, cgroup=cg, channels=6)
        assert out["ok"] == 6 and set(out["by_pod"]) <= {"pod-1", "pod-2", "pod-3"}, out
        again = client_round(held)
        assert again["ok"] == 2, again
        print(f"  dns update latency: max {max(latencies):.3f}s over {len(latencies)} "
              f"changes", flush=True)

        # The DNS server dies: the last answer stays in force.
        dns.stop()
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "failing", 5)
        assert svc["source_state"] == "failing", svc
        assert svc["last_error"]["error"] == "server-failed", svc
        time.sleep(3)  # several retries
        svc = service(agent, VIP)
        assert addresses(svc) == {p.addr for p in pods[:3]}, svc
        out = run_grpc_client(client, VIP, cgroup=cg, channels=3)
        assert out["ok"] == 3 and set(out["by_pod"]) <= {"pod-1", "pod-2", "pod-3"}, out
        assert client_round(held)["ok"] == 2
        # One line for the change of state, not one per retry.
        states = [line for line in drain(agent.proc) if 'msg="dns state"' in line]
        assert len(states) == 1 and "from=ok state=failing" in states[0], states

        # A server that answers garbage, truncated or malformed replies.
        modes = ["malformed", "truncated", "servfail", "garbage", "short", "wrong-id", "refused"]
        bad = dns_host.popen([PYTHON, BAD_DNS, "--listen", f"{DNS_IP}:53",
                              "--modes", ",".join(modes)], stderr=subprocess.STDOUT)
        wait_for_line(bad, r"^READY", 10)
        served, errors = set(), set()
        deadline = time.monotonic() + 45
        while served != set(modes) and time.monotonic() < deadline:
            try:
                served.add(re.search(r"mode=(\S+)", wait_for_line(bad, r"^QUERY", 0.5))[1])
            except TopologyError:
                pass
            svc = service(agent, VIP)
            errors.add(svc["last_error"]["error"])
            assert addresses(svc) == {p.addr for p in pods[:3]}, svc
            assert agent.proc.poll() is None, "the agent died"
        assert served == set(modes), served
        assert {"bad-response", "server-failed", "timeout"} <= errors, errors
        print(f"  dns bad server: answered {sorted(served)}; agent kept 3 backends, "
              f"errors seen {sorted(errors)}", flush=True)
        out = run_grpc_client(client, VIP, cgroup=cg, channels=3)
        assert out["ok"] == 3 and set(out["by_pod"]) <= {"pod-1", "pod-2", "pod-3"}, out
        # Still failing all along, whatever the reason: no new state line.
        states = [line for line in drain(agent.proc) if 'msg="dns state"' in line]
        assert states == [], states
        topo.stop(bad)

        # A good server again, with other pods: recovered within the backoff cap.
        dns.start(a_records(pods[3:6]))
        want = {p.addr for p in pods[3:6]}
        svc = wait_service(agent, VIP, lambda s: addresses(s) == want, 2 + TTL + 2)
        assert addresses(svc) == want and svc["source_state"] == "ok", svc
        states = [line for line in drain(agent.proc) if 'msg="dns state"' in line]
        assert len(states) == 1 and "from=failing state=ok" in states[0], states
        out = run_grpc_client(client, VIP, cgroup=cg, channels=6)
        assert out["ok"] == 6 and set(out["by_pod"]) == {"pod-4", "pod-5", "pod-6"}, out
        assert client_round(held)["ok"] == 2
        topo.stop(held)


def test_nxdomain_keeps_backends_for_the_grace_then_refuses():
    with Topology("slbdns") as topo:
        pods, dns_host, node, client, cg = setup(topo, 2)
        dns = Dnsmasq(topo, dns_host, a_records(pods) + aaaa_records(pods))
        agent = Agent(topo, cg, services=[f"{VIP}=dns:{NAME}:8080"], netns=node.netns,
                      extra=["--dns-server", DNS_IP, "--dns-empty-grace", "3s"])
        want = {p.addr for p in pods}
        assert addresses(wait_service(agent, VIP, lambda s: addresses(s) == want, 5)) == want

        gone = dns.set([])  # the name no longer exists: NXDOMAIN
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "empty", TTL + 2)
        assert svc["source_state"] == "empty" and svc["last_error"]["error"] == "nxdomain", svc
        # Within the grace: still balanced over the last known pods.
        assert addresses(svc) == want, svc
        assert getpeername(client, VIP, cgroup=cg)["peer"] == VIP
        svc = wait_service(agent, VIP, lambda s: not s["backends"], 3 + 2)
        emptied = time.time() - gone
        assert svc["backends"] == [] and svc["published"], svc
        assert 3 <= emptied <= 3 + TTL + 1.5, emptied
        print(f"  dns NXDOMAIN: backends kept {emptied:.2f}s after the change (first NXDOMAIN "
              f"within the {TTL}s TTL, then the 3s grace), then none", flush=True)
        assert getpeername(client, VIP, cgroup=cg).get("error") == "ECONNREFUSED"

        # The name comes back: published at once (no grace on the way up).
        dns.set(a_records(pods[:1]))
        # The empty name was being asked after 4 s (backoff), so within 4 s + TTL.
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {pods[0].addr}, 4 + TTL + 2)
        assert addresses(svc) == {pods[0].addr} and svc["source_state"] == "ok", svc
        out = run_grpc_client(client, VIP, cgroup=cg, channels=2)
        assert out["by_pod"] == {"pod-1": 2}, out

        # An address of the other family only: NODATA for A, same grace.
        dns.set(aaaa_records(pods))
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "empty", 2 * TTL + 5)
        assert svc["last_error"]["error"] == "nodata" and addresses(svc) == {pods[0].addr}, svc
        lines = [line for line in drain(agent.proc) if 'msg="dns state"' in line]
        assert any("state=empty error=nodata action=keep-last-known" in x for x in lines), lines


def test_resolv_conf_search_list_ipv6_unpublished_until_answered_and_sighup():
    with Topology("slbdns") as topo:
        pods, dns_host, node, client, cg = setup(topo, 4)
        resolv = os.path.join(topo.workdir, "resolv.conf")
        with open(resolv, "w") as f:
            # What a pod in namespace "default" gets from the kubelet.
            f.write(f"nameserver {DNS_IP}\n"
                    "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                    "options ndots:5\n")
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"{VIP} = dns:sample-service-grpc:8080\n"
                    f"{VIP6} = dns:sample-service-grpc.default:8080\n")
        # No DNS server yet: nothing may be published.
        agent = Agent(topo, cg, config=conf, netns=node.netns, resolv_conf=resolv,
                      extra=["--dns-max-interval", "1s"])
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "failing", 5)
        assert svc["published"] is False and svc["backends"] == [], svc
        assert svc["last_refresh"] is None and svc["last_error"]["error"] == "server-failed", svc
        # Not refused: left alone (here, with no route out, unreachable).
        assert getpeername(client, VIP, cgroup=cg).get("error") == "ENETUNREACH"
        text = run_socklb(["status", "--pin-path", agent.pin_path]).stdout
        assert f"service {VIP}  not published yet" in text, text

        dns = Dnsmasq(topo, dns_host, a_records(pods[:2]) + aaaa_records(pods[:2]) +
                      a_records(pods[2:], "other-service.default.svc.cluster.local"))
        want4, want6 = {p.addr for p in pods[:2]}, {p.addr6 for p in pods[:2]}
        svc = wait_service(agent, VIP, lambda s: addresses(s) == want4, 1 + TTL + 3)
        assert addresses(svc) == want4 and svc["published"] is True, svc
        svc6 = wait_service(agent, VIP6, lambda s: addresses(s) == want6, 3)
        assert addresses(svc6) == want6, svc6
        out = run_grpc_client(client, VIP6, cgroup=cg, channels=4)
        assert out["ok"] == 4 and out["by_pod"] == {"pod-1": 2, "pod-2": 2}, out
        text = run_socklb(["status", "--pin-path", agent.pin_path]).stdout
        assert "source dns:sample-service-grpc:8080  state=ok  last refresh " in text, text
        assert "last error: server-failed" in text, text

        # SIGHUP: one dns: service goes, another comes.
        with open(conf, "w") as f:
            f.write(f"{VIP} = dns:sample-service-grpc:8080\n"
                    f"{VIP2} = dns:other-service:8080\n")
        lines = agent.reload()
        want2 = {p.addr for p in pods[2:]}
        svc2 = wait_service(agent, VIP2, lambda s: addresses(s) == want2, TTL + 3)
        assert addresses(svc2) == want2, svc2
        assert wait_gone(agent, VIP6, 2)
        assert addresses(service(agent, VIP)) == want4
        lines += drain(agent.proc)
        assert any('msg="dns watch stopped"' in x and VIP6 in x for x in lines), lines
        out = run_grpc_client(client, VIP2, cgroup=cg, channels=2)
        assert out["ok"] == 2 and set(out["by_pod"]) == {"pod-3", "pod-4"}, out
        # The search list was used: dnsmasq saw the expanded names.
        queried = " ".join(_reader(dns.proc).lines + drain(dns.proc))
        assert f"query[A] {NAME} from {NODE_IP}" in queried, queried[-2000:]
        assert agent.stop() == 0
        assert not os.path.exists(f"/run/socklb/{os.path.basename(agent.pin_path)}.json")


def test_bad_dns_inputs_give_one_clear_message():
    with Topology("slbdns") as topo:
        cg = topo.make_cgroup()
        pin = f"/sys/fs/bpf/socklb-test-{os.getpid()}-dnsbad"
        base = ["agent", "--cgroup", cg, "--pin-path", pin]
        cases = [
            (["-s", f"{VIP}=dns:{NAME}"], "source 'dns:" + NAME + "': expected dns:NAME:PORT"),
            (["-s", f"{VIP}=dns:my_svc.default:8080"], "label 'my_svc' has '_'"),
            (["-s", f"{VIP}=dns:{NAME}:0"], "port '0'"),
            (["-s", f"{VIP}=dns:{'a' * 64}.default:80"], "at most 63"),
            (["--dns-server", "dns.example"], "--dns-server 'dns.example'"),
            (["--dns-min-interval", "0ms"], "--dns-min-interval: at least 100ms"),
            (["--dns-min-interval", "5s", "--dns-max-interval", "2s"],
             "--dns-max-interval (2000ms) is below --dns-min-interval (5000ms)"),
            (["--dns-empty-grace", "soon"], "--dns-empty-grace 'soon'"),
        ]
        for args, text in cases:
            res = run_socklb(base + args)
            assert res.returncode == 64, (args, res.returncode, res.stderr)
            assert text in res.stderr, (args, res.stderr)
            assert not os.path.exists(pin), args
