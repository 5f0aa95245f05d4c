#!/usr/bin/python3
"""make demo: calls per pod for gRPC clients of a ClusterIP-style VIP, first
through kube-proxy-style iptables DNAT (no socklb), then through socklb.

Everything runs in network namespaces this script creates (5 server pods, one
client namespace standing for 20 client pods, no route out) and is removed at
the end. socklb is attached to a cgroup made for the demo only.
"""

import shutil
import subprocess
import sys

from socklb_agent import Agent
from topology import Topology, run_grpc_client, start_pods

VIP_IP, PORT = "10.96.0.10", 8080
VIP = f"{VIP_IP}:{PORT}"
N_PODS, CHANNELS, CALLS = 5, 20, 10


def kube_proxy_dnat(client, pods):
    """kube-proxy's iptables mode: rule i catches 1/(n-i) of what is left,
    so each pod is picked with probability 1/n per new connection.  The
    connect needs a route to the VIP before NAT applies: it points at the
    demo's own bridge, which has no way out."""
    client.run(["ip", "route", "add", f"{VIP_IP}/32", "dev", "eth0"], check=True)
    for i, pod in enumerate(pods):
        rule = ["iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-d", VIP_IP, "-p", "tcp",
                "--dport", str(PORT)]
        if i < len(pods) - 1:
            rule += ["-m", "statistic", "--mode", "random",
                     "--probability", f"{1 / (len(pods) - i):.5f}"]
        client.run(rule + ["-j", "DNAT", "--to-destination", pod.addr], check=True)


def flush_dnat(client):
    client.run(["iptables", "-w", "-t", "nat", "-F", "OUTPUT"], check=True)
    client.run(["ip", "route", "del", f"{VIP_IP}/32", "dev", "eth0"], check=True)


def spread(by_pod, pods):
    counts = [by_pod.get(p.name, 0) for p in pods]
    return counts, max(counts), min(counts)


def print_table(pods, rows):
    titles = [title for title, _ in rows]
    print(f"\ncalls per pod to {VIP}: {CHANNELS} gRPC channels (pick_first) x {CALLS} calls "
          "each, unless the column says otherwise\n")
    print(f"{'':10}" + "".join(f"{t:>30}" for t in titles))
    for i, pod in enumerate(pods):
        print(f"{pod.name:10}" + "".join(f"{out['by_pod'].get(pod.name, 0):>30}"
                                         for _, out in rows))
    print(f"{'pods used':10}" + "".join(f"{len(out['by_pod']):>30}" for _, out in rows))
    print(f"{'max/min':10}" + "".join(
        f"{'%d/%d' % spread(out['by_pod'], pods)[1:]:>30}" for _, out in rows))
    print(f"{'failed':10}" + "".join(f"{out['calls'] - out['ok']:>30}" for _, out in rows))


def main():
    if not shutil.which("iptables"):
        sys.exit("demo: iptables is missing: run 'make deps' first")
    with Topology("slbdemo") as topo:
        pods = start_pods(topo, N_PODS, first_ip_index=11)
        client = topo.add_host("client", "10.244.1.100")
        print(f"built: {N_PODS} gRPC server pods {pods[0].host.ip}..{pods[-1].host.ip}, "
              f"one client namespace, VIP {VIP}")

        kube_proxy_dnat(client, pods)
        one = run_grpc_client(client, VIP, channels=1, calls_per_channel=CHANNELS * CALLS)
        dnat = run_grpc_client(client, VIP, channels=CHANNELS, calls_per_channel=CALLS)
        flush_dnat(client)

        cg = topo.make_cgroup()
        agent = Agent(topo, cg, services=[f"{VIP}=static:" + ",".join(p.addr for p in pods)])
        socklb = run_grpc_client(client, VIP, cgroup=cg, channels=CHANNELS,
                                 calls_per_channel=CALLS)
        status = subprocess.run(["build/socklb", "status", "--pin-path", agent.pin_path],
                                capture_output=True, text=True, timeout=10).stdout
        agent.stop()

        print_table(pods, [("kube-proxy, 1 channel x 200", one),
                           ("kube-proxy (iptables DNAT)", dnat),
                           ("socklb (least-conn)", socklb)])
        print("\nsocklb status after the run (connections per backend):\n" + status)
        print("One HTTP/2 connection carries every call of a channel: behind kube-proxy a\n"
              "client sticks to the pod its connection hit, and new connections land at\n"
              "random; socklb chooses each connection's pod by live connection count.")
    print("cleaned up: namespaces, cgroup and pins removed")


if __name__ == "__main__":
    main()
