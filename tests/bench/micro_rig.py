"""Namespaces, cgroups and processes of the micro-benchmarks.

Every path ends at one TCP sink (netperf.py sink). Each way to reach it has
its own client namespace, so nothing one path sets up (NAT rules, which
also make conntrack track every connection in that namespace) touches
another path:

  direct  connects to the sink's address; no NAT table, no BPF hook
  dnat    connects to a VIP; kube-proxy-style DNAT among N service rules
  socklb  connects to a VIP; its process is in the cgroup socklb attaches to

The service the DNAT path uses sits in the middle of its N rules: the
average case of iptables' linear rule walk on a connection's first packet.
"""

import json
import os

from topology import PYTHON, read_json_line, wait_for_line

NETPERF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netperf.py")
SINK_IP, SINK_PORT = "10.244.1.151", 9000
VIP_IP, VIP_PORT = "10.96.0.100", 9000
CHAIN = "BENCH-SERVICES"
WORKER_TIMEOUT_MARGIN = 30.0


class Worker:
    """A netperf.py worker: one JSON command in, one JSON answer out."""

    def __init__(self, host, cgroup):
        self.proc = host.popen([PYTHON, NETPERF, "worker"], cgroup=cgroup)

    def ask(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return read_json_line(self.proc, cmd.get("limit_s", 10.0) + WORKER_TIMEOUT_MARGIN)


class MicroRig:
    def __init__(self, topo):
        self.topo = topo
        self.sink_host = topo.add_host("msink", SINK_IP)
        self.cgroups = {"plain": topo.make_cgroup(), "hooked": topo.make_cgroup()}
        hosts = {"direct": topo.add_host("mdirect", "10.244.1.152"),
                 "dnat": topo.add_host("mnat", "10.244.1.153"),
                 "socklb": topo.add_host("msock", "10.244.1.154")}
        self.sink = self.sink_host.popen([PYTHON, NETPERF, "sink", "--listen",
                                          f"{SINK_IP}:{SINK_PORT}"])
        wait_for_line(self.sink, r"^READY", 10)
        self.nat_host = hosts["dnat"]
        self._init_nat()
        self.workers = {
            "direct": Worker(hosts["direct"], self.cgroups["plain"]),
            "dnat": Worker(hosts["dnat"], self.cgroups["plain"]),
            "socklb": Worker(hosts["socklb"], self.cgroups["hooked"]),
        }
        self.targets = {"direct": f"{SINK_IP}:{SINK_PORT}", "dnat": f"{VIP_IP}:{VIP_PORT}",
                        "socklb": f"{VIP_IP}:{VIP_PORT}"}

    def _init_nat(self):
        run = self.nat_host.run
        run(["ip", "route", "add", f"{VIP_IP}/32", "dev", "eth0"], check=True)
        run(["iptables", "-w", "-t", "nat", "-N", CHAIN], check=True)
        run(["iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-j", CHAIN], check=True)

    def set_nat_services(self, n):
        """N DNAT service rules (kube-proxy's KUBE-SERVICES walk), loaded in
        one iptables-restore."""
        path = os.path.join(self.topo.workdir, "micro-nat.rules")
        vips = filler_vips(n - 1)
        vips.insert(len(vips) // 2, VIP_IP)
        with open(path, "w") as f:
            f.write(f"*nat\n:{CHAIN} - [0:0]\n")
            for vip in vips:
                f.write(f"-A {CHAIN} -d {vip}/32 -p tcp --dport {VIP_PORT} "
                        f"-j DNAT --to-destination {SINK_IP}:{SINK_PORT}\n")
            f.write("COMMIT\n")
        self.nat_host.run(["iptables-restore", "-w", "--noflush", path], timeout=120, check=True)

    def write_socklb_config(self, n):
        """Config file with N services; the measured VIP is one of them."""
        path = os.path.join(self.topo.workdir, f"micro-{n}.conf")
        backend = f"static:{SINK_IP}:{SINK_PORT}"
        with open(path, "w") as f:
            f.write(f"{VIP_IP}:{VIP_PORT} = {backend}\n")
            f.writelines(f"{vip}:{VIP_PORT} = {backend}\n" for vip in filler_vips(n - 1))
        return path


def filler_vips(n):
    """n addresses in 10.97.0.0/16, 10.98.0.0/16, ... (never the measured VIP)."""
    return [f"10.{97 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}" for i in range(n)]
