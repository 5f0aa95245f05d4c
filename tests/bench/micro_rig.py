"""Namespaces, cgroups and processes of the micro-benchmarks.

Every path ends at one TCP sink (netperf.py sink) listening on 5 ports: the
5 backends of every benchmark service, so that socklb's least-conn looks at
5 backends per connect as it would for a real service. Each way to reach it
has its own client namespace, so nothing one path sets up (NAT rules, which
also make conntrack track every connection in that namespace) touches
another path:

  direct   connects to the sink's first port; no NAT table, no BPF hook
  dnat     connects to a VIP; kube-proxy-style DNAT among N service rules,
           the measured one spread over the 5 ports (statistic random)
  socklb   connects to a VIP; its process is in the cgroup socklb attaches to
  minimal  connects to the same VIP; its process is in a cgroup of its own
           with the minimal connect hook (minimal.py) rewriting to one port

The service the DNAT path uses sits in the middle of its N rules: the
average case of iptables' linear rule walk on a connection's first packet.
"""

import json
import os

from minimal import MinimalHook
from topology import PYTHON, read_json_line, wait_for_line

NETPERF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netperf.py")
SINK_IP, SINK_PORT = "10.244.1.151", 9000
BACKENDS = 5  # backends per benchmark service: the sink's ports SINK_PORT ...
SINK_PORTS = tuple(range(SINK_PORT, SINK_PORT + BACKENDS))
VIP_IP, VIP_PORT = "10.96.0.100", 9000
CHAIN, SVC_CHAIN = "BENCH-SERVICES", "BENCH-SVC"
DEFAULT_MAX_BACKENDS = 262144  # the agent's --max-backends default
WORKER_TIMEOUT_MARGIN = 30.0


class Worker:
    """A netperf.py worker: one JSON command in, one JSON answer out."""

    def __init__(self, host, cgroup):
        self.proc = host.popen([PYTHON, NETPERF, "worker"], cgroup=cgroup)

    def send(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def recv(self, timeout):
        return read_json_line(self.proc, timeout)

    def ask(self, cmd):
        self.send(cmd)
        return self.recv(cmd.get("limit_s", 10.0) + WORKER_TIMEOUT_MARGIN)


class MicroRig:
    def __init__(self, topo):
        self.topo = topo
        self.sink_host = topo.add_host("msink", SINK_IP)
        self.cgroups = {"plain": topo.make_cgroup(), "hooked": topo.make_cgroup()}
        self.cgroups["minimal"] = topo.make_cgroup()
        hosts = {"direct": topo.add_host("mdirect", "10.244.1.152"),
                 "dnat": topo.add_host("mnat", "10.244.1.153"),
                 "socklb": topo.add_host("msock", "10.244.1.154"),
                 "minimal": topo.add_host("mmin", "10.244.1.155")}
        ports = ",".join(str(p) for p in SINK_PORTS)
        self.sink = self.sink_host.popen([PYTHON, NETPERF, "sink", "--listen",
                                          f"{SINK_IP}:{ports}"])
        wait_for_line(self.sink, r"^READY", 10)
        self.nat_host = hosts["dnat"]
        self._init_nat()
        # The minimal hook: the measured VIP to the sink's first port.
        self.minimal = MinimalHook(self.cgroups["minimal"], VIP_IP, VIP_PORT, SINK_IP, SINK_PORT)
        self.workers = {
            "direct": Worker(hosts["direct"], self.cgroups["plain"]),
            "dnat": Worker(hosts["dnat"], self.cgroups["plain"]),
            "socklb": Worker(hosts["socklb"], self.cgroups["hooked"]),
            "minimal": Worker(hosts["minimal"], self.cgroups["minimal"]),
        }
        self.targets = {"direct": f"{SINK_IP}:{SINK_PORT}", "dnat": f"{VIP_IP}:{VIP_PORT}",
                        "socklb": f"{VIP_IP}:{VIP_PORT}", "minimal": f"{VIP_IP}:{VIP_PORT}"}

    def close(self):
        self.minimal.close()

    def _init_nat(self):
        run = self.nat_host.run
        run(["ip", "route", "add", f"{VIP_IP}/32", "dev", "eth0"], check=True)
        run(["iptables", "-w", "-t", "nat", "-N", CHAIN], check=True)
        run(["iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-j", CHAIN], check=True)

    def set_nat_services(self, n):
        """N DNAT service rules (kube-proxy's KUBE-SERVICES walk), loaded in
        one iptables-restore. The measured service jumps to a chain that
        picks one of its 5 backends at random, as kube-proxy's KUBE-SVC-*
        chains do; the others DNAT straight away (a rule that does not match
        costs the same whatever its target)."""
        path = os.path.join(self.topo.workdir, "micro-nat.rules")
        vips = filler_vips(n - 1)
        vips.insert(len(vips) // 2, VIP_IP)
        with open(path, "w") as f:
            f.write(f"*nat\n:{CHAIN} - [0:0]\n:{SVC_CHAIN} - [0:0]\n")
            for i, port in enumerate(SINK_PORTS):
                left = len(SINK_PORTS) - i
                pick = (f"-m statistic --mode random --probability {1 / left:.11f} "
                        if left > 1 else "")
                f.write(f"-A {SVC_CHAIN} -p tcp {pick}-j DNAT --to-destination "
                        f"{SINK_IP}:{port}\n")
            for vip in vips:
                target = (f"-j {SVC_CHAIN}" if vip == VIP_IP
                          else f"-j DNAT --to-destination {SINK_IP}:{SINK_PORT}")
                f.write(f"-A {CHAIN} -d {vip}/32 -p tcp --dport {VIP_PORT} {target}\n")
            f.write("COMMIT\n")
        self.nat_host.run(["iptables-restore", "-w", "--noflush", path], timeout=120, check=True)

    def write_socklb_config(self, n):
        """Config file with N services of 5 backends each (the sink's
        ports); the measured VIP is one of them."""
        path = os.path.join(self.topo.workdir, f"micro-{n}.conf")
        backends = "static:" + ",".join(f"{SINK_IP}:{p}" for p in SINK_PORTS)
        with open(path, "w") as f:
            f.write(f"{VIP_IP}:{VIP_PORT} = {backends}\n")
            f.writelines(f"{vip}:{VIP_PORT} = {backends}\n" for vip in filler_vips(n - 1))
        return path


def agent_size_args(n_services, backends_per_service=BACKENDS):
    """--max-* for an agent with n services: services sized to fit, backends
    at the default unless the services need more."""
    args = ["--max-services", str(max(n_services, 1))]
    if n_services * backends_per_service > DEFAULT_MAX_BACKENDS:
        args += ["--max-backends", str(n_services * backends_per_service)]
    return args


def filler_vips(n):
    """n addresses in 10.97.0.0/16, 10.98.0.0/16, ... (never the measured VIP)."""
    return [f"10.{97 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}" for i in range(n)]
