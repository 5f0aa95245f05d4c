"""Mode: a ClusterIP as kube-proxy's iptables mode makes it.

In every client namespace, nat OUTPUT sends the VIP to a service chain
whose rule i DNATs with probability 1/(n-i) (`statistic --mode random`),
so each new connection picks a pod uniformly. Scaling rewrites the chain
atomically with iptables-restore, as kube-proxy does; conntrack keeps every
existing connection on the pod it picked.

NAT applies after routing, so each client namespace gets a route for the
VIP /32 via its own eth0 (the bridge, which has no way out).
"""

import os

from rig import PORT, VIP_IP
from mode_base import Mode

CHAIN = "BENCH-SVC"


class KubeProxyMode(Mode):
    key = "kube-proxy"
    title = "kube-proxy (iptables DNAT)"

    def __init__(self, rig):
        super().__init__(rig, f"{VIP_IP}:{PORT}")
        self.rules_file = os.path.join(rig.topo.workdir, "kube-proxy.rules")

    def start(self, pods):
        for host in self.rig.clients:
            host.run(["ip", "route", "add", f"{VIP_IP}/32", "dev", "eth0"], check=True)
            host.run(["iptables", "-w", "-t", "nat", "-N", CHAIN], check=True)
            host.run(["iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-d", f"{VIP_IP}/32",
                      "-p", "tcp", "--dport", str(PORT), "-j", CHAIN], check=True)
        self.scale(pods)

    def scale(self, pods):
        with open(self.rules_file, "w") as f:
            f.write(restore_text(pods))
        for host in self.rig.clients:
            # --noflush keeps OUTPUT; declaring the chain flushes just it.
            host.run(["iptables-restore", "-w", "--noflush", self.rules_file], check=True)

    def stop(self):
        for host in self.rig.clients:
            host.run(["iptables", "-w", "-t", "nat", "-F", "OUTPUT"], check=True)
            host.run(["iptables", "-w", "-t", "nat", "-F", CHAIN], check=True)
            host.run(["iptables", "-w", "-t", "nat", "-X", CHAIN], check=True)
            host.run(["ip", "route", "del", f"{VIP_IP}/32", "dev", "eth0"], check=True)


def restore_text(pods):
    """iptables-restore input for the service chain over `pods`."""
    lines = ["*nat", f":{CHAIN} - [0:0]"]
    for i, pod in enumerate(pods):
        rule = f"-A {CHAIN}"
        if i < len(pods) - 1:
            rule += f" -m statistic --mode random --probability {1 / (len(pods) - i):.10f}"
        lines.append(rule + f" -p tcp -j DNAT --to-destination {pod.addr}")
    return "\n".join(lines + ["COMMIT", ""])
