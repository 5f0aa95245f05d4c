"""The benchmark's network and its gRPC servers.

One namespace per pod, per client, for the L7 proxy and for the DNS server,
all on the topology's bridge (tests/e2e/topology.py: no default route, so
nothing can leave). Each role runs in its own cgroup so its CPU can be read
(cpu.py); socklb attaches to the clients' cgroup only.

Pod namespaces live for the whole run; their servers are restarted for each
mode, because the DNS mode's servers run with a max connection age and the
others must not, and so every mode starts from fresh processes.
"""

import time

from topology import GREETER, PYTHON, wait_for_line

PORT = 8080
VIP_IP = "10.96.0.10"   # the ClusterIP of the kube-proxy and socklb modes
DNS_IP = "10.244.1.53"
PROXY_IP = "10.244.1.200"
SERVER_READY_TIMEOUT = 30.0  # 10 Python servers importing grpc on 2 cores


class PodSlot:
    """A pod's namespace, and the server running in it for the current mode."""

    def __init__(self, name, host):
        self.name, self.host, self.proc = name, host, None

    @property
    def addr(self):
        return f"{self.host.ip}:{PORT}"

    def __repr__(self):
        return f"PodSlot({self.name}, {self.addr})"


class Rig:
    def __init__(self, topo, n_pods, n_clients):
        self.topo = topo
        self.pods = [PodSlot(f"pod-{i + 1}", topo.add_host(f"pod-{i + 1}", f"10.244.1.{11 + i}"))
                     for i in range(n_pods)]
        self.clients = [topo.add_host(f"client{i}", f"10.244.1.{101 + i}")
                        for i in range(n_clients)]
        self.proxy = topo.add_host("proxy", PROXY_IP)
        self.dns = topo.add_host("dns", DNS_IP)
        self.cgroups = {role: topo.make_cgroup() for role in ("clients", "servers", "proxy")}

    def start_servers(self, extra_args=()):
        """Every pod's greeter_server.py, started in parallel, all READY."""
        for pod in self.pods:
            argv = [PYTHON, GREETER, "--listen", f"[::]:{PORT}", "--name", pod.name,
                    "--exit-on-stdin-eof", *extra_args]
            pod.proc = pod.host.popen(argv, cgroup=self.cgroups["servers"])
        for pod in self.pods:
            wait_for_line(pod.proc, r"^READY ", SERVER_READY_TIMEOUT)

    def stop_servers(self):
        for pod in self.pods:
            if pod.proc and pod.proc.poll() is None:
                pod.proc.terminate()
        for pod in self.pods:
            if pod.proc:
                self.topo.stop(pod.proc)  # SIGKILL if SIGTERM was not enough
                pod.proc = None


def wait_listening(host, port, timeout=10.0):
    """Until something in host's namespace listens on TCP port (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = host.run(["ss", "-Hltn", f"sport = :{port}"]).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on :{port} in {host.netns} after {timeout}s")
