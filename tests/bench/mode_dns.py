"""Mode: the usual app-side fix, a headless Service name plus round_robin.

A real DNS server (dnsmasq, in its own namespace) answers the name with
every pod address, TTL 1 s. Clients use round_robin over
dns://SERVER/NAME:PORT (grpcio's c-ares resolver takes the server from the
authority). Servers close connections after grpc.max_connection_age_ms =
10 s, so clients re-resolve and find new pods, but C-core re-resolves at
most once per 30 s (grpc.dns_min_time_between_resolutions_ms), the delay
this mode exists to show. Scaling rewrites the hosts file dnsmasq serves
and sends it SIGHUP (it re-reads the file and drops its cache).
"""

import os
import re
import signal
import time

from rig import DNS_IP, PORT
from mode_base import Mode

NAME = "grpc.bench"
TTL_S = 1
MAX_CONNECTION_AGE_MS = 10000
DNS_READY_TIMEOUT = 5.0


class DnsRoundRobinMode(Mode):
    key = "dns-rr"
    title = "headless DNS + round_robin + max-age 10 s"
    server_args = ("--max-connection-age-ms", str(MAX_CONNECTION_AGE_MS))
    client_args = ("--lb-policy", "round_robin")
    has_proxy = True  # the DNS server stands in the proxy's column

    def __init__(self, rig):
        super().__init__(rig, f"dns://{DNS_IP}:53/{NAME}:{PORT}")
        self.hosts_file = os.path.join(rig.topo.workdir, "dns.hosts")
        self.log = os.path.join(rig.topo.workdir, "dnsmasq.log")
        self.proc = None

    def start(self, pods):
        self._write_hosts(pods)
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", f"--addn-hosts={self.hosts_file}", f"--local-ttl={TTL_S}",
                # Authoritative for the zone: AAAA gets an empty answer, not REFUSED.
                f"--local=/{NAME.split('.', 1)[1]}/", f"--listen-address={DNS_IP}",
                "--bind-interfaces", "--pid-file=", "--user=root", "--log-queries",
                f"--log-facility={self.log}"]
        self.proc = self.rig.dns.popen(argv, cgroup=self.rig.cgroups["proxy"])
        self._wait_ready()

    def scale(self, pods):
        self._write_hosts(pods)
        self.proc.send_signal(signal.SIGHUP)

    def extra_figures(self):
        return {"dns_a_queries": self._count_a_queries()}

    def stop(self):
        if self.proc:
            self.rig.topo.stop(self.proc)
            self.proc = None

    def _write_hosts(self, pods):
        tmp = self.hosts_file + ".tmp"
        with open(tmp, "w") as f:
            f.writelines(f"{pod.host.ip} {NAME}\n" for pod in pods)
        os.replace(tmp, self.hosts_file)  # dnsmasq never reads half a file

    def _wait_ready(self):
        # dnsmasq logs reading the hosts file once it is up and bound.
        deadline = time.monotonic() + DNS_READY_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(self.log) and "dns.hosts" in open(self.log).read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"dnsmasq not ready (rc={self.proc.poll()})")

    def _count_a_queries(self):
        try:
            text = open(self.log).read()
        except OSError:
            return None
        return len(re.findall(rf"query\[A\] {re.escape(NAME)} ", text))
