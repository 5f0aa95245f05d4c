#!/usr/bin/python3
"""A multi-node cluster on one kernel, as kind nodes are: N simulated nodes
sharing the pods and one (fake) Kubernetes API server.

Each node is a cgroup under a parent cgroup the rig makes (sibling cgroups:
programs attached to one do not see the others' connects), with its own
socklb agent (own --pin-path, --state-file, --metrics-addr, --node-name, a
network namespace of its own to reach the API in, like a node's address)
and its own client network namespaces.  The pods, the API server (a Node
object per node, the Service, its EndpointSlice) are shared.

    with Topology("slbclu") as topo:
        rig = ClusterRig(topo, nodes=5, pods=5, first=1)
        rig.start_agents()
        procs = rig.start_clients(channels=1, rate=10, duration=20)
        rig.set_pods(5)                       # scale-out: a new EndpointSlice
        live = rig.wait_live(lambda live: ..., timeout=5)

The agents' /metrics are read from a thread that entered the API server's
network namespace (the test process itself stays in the root namespace).
"""

import ctypes
import json
import os
import queue
import re
import threading
import time
import urllib.request

from fake_api import API_IP, API_URL, NAME, FakeApi, make_certs, service_obj, slice_obj, \
    write_token
from load import start_load
from socklb_agent import Agent, run_socklb
from topology import start_pods

VIP = "10.96.0.10:8080"
SPEC = f"k8s:default/{NAME}:grpc"
NODE_IP_BASE = 70      # node k's agent at 10.244.1.(70 + k)
CLIENT_IP_BASE = 100   # client hosts from 10.244.1.100 up
METRICS_PORT = 9090
CLONE_NEWNET = 0x40000000
# Small maps: up to 20 agents on one machine.
AGENT_SIZES = ["--max-services", "64", "--max-backends", "1024"]


class NetnsHttp:
    """HTTP GETs from inside a network namespace: one thread that entered it
    (setns applies to the calling thread only)."""

    def __init__(self, netns):
        self.jobs = queue.Queue()
        ready = queue.Queue()
        threading.Thread(target=self._run, args=(netns, ready), daemon=True).start()
        err = ready.get(timeout=10)
        if err:
            raise OSError(err)

    def _run(self, netns, ready):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        rc = libc.setns(fd, CLONE_NEWNET)
        os.close(fd)
        ready.put(None if rc == 0 else f"setns {netns}: errno {ctypes.get_errno()}")
        while True:
            job = self.jobs.get()
            if job is None:
                return
            url, timeout, out = job
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    out.put(r.read().decode())
            except OSError as e:
                out.put(e)

    def get(self, url, timeout=2.0):
        out = queue.Queue()
        self.jobs.put((url, timeout, out))
        res = out.get(timeout=timeout + 5)
        if isinstance(res, Exception):
            raise res
        return res

    def close(self):
        self.jobs.put(None)


METRIC_LINE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def node_obj(name, uid):
    return {"metadata": {"name": name, "uid": uid, "labels": {"kubernetes.io/hostname": name}},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


class Node:
    def __init__(self, rig, k):
        self.k = k
        self.name = f"node-{k + 1}"
        self.host = rig.topo.add_host(f"n{k + 1}", f"10.244.1.{NODE_IP_BASE + k}")
        self.cgroup = os.path.join(rig.parent_cgroup, self.name)
        os.mkdir(self.cgroup)
        rig.topo.cgroups.append(self.cgroup)  # removed before the parent (reverse order)
        self.clients = []
        self.agent = None
        self.state_file = os.path.join(rig.topo.workdir, f"{self.name}.json")

    @property
    def metrics_url(self):
        return f"http://{self.host.ip}:{METRICS_PORT}/metrics"


class ClusterRig:
    def __init__(self, topo, nodes, pods, first=None, clients_per_node=1):
        """nodes simulated nodes; pods pods started (pod-1..), the first `first`
        of them (default: all) in the Service's EndpointSlice."""
        self.topo = topo
        self.pods = start_pods(topo, pods, first_ip_index=11)
        self.api_host = topo.add_host("api", API_IP)
        certs = make_certs(topo.workdir)
        self.ca = certs["ca"]
        self.token = os.path.join(topo.workdir, "token")
        write_token(self.token, "token-one")
        self.api = FakeApi(topo, self.api_host, certs)
        self.parent_cgroup = topo.make_cgroup()
        self.nodes = [Node(self, k) for k in range(nodes)]
        for node in self.nodes:
            for j in range(clients_per_node):
                n = CLIENT_IP_BASE + node.k * clients_per_node + j
                node.clients.append(topo.add_host(f"c{node.k + 1}x{j}", f"10.244.1.{n}"))
            self.api.put("nodes", node_obj(node.name, f"uid-{node.name}"))
        self.api.put("services", service_obj(cluster_ips=("10.96.0.10",)))
        self.set_pods(len(self.pods) if first is None else first)
        self.http = NetnsHttp(self.api_host.netns)

    # ------------------------------------------------------------ agents

    def agent_argv(self, node, extra=()):
        return ["--api-server", API_URL, "--ca-file", self.ca, "--token-file", self.token,
                "--node-name", node.name, "--state-file", node.state_file,
                "--metrics-addr", f"{node.host.ip}:{METRICS_PORT}", *AGENT_SIZES, *extra]

    def start_agent(self, node, extra=()):
        node.agent = Agent(self.topo, node.cgroup, services=[SPEC], netns=node.host.netns,
                           extra=self.agent_argv(node, extra))
        return node.agent

    def start_agents(self, extra=()):
        for node in self.nodes:
            self.start_agent(node, extra)

    def status(self, node):
        """`socklb status --json` of node's agent (maps and state file)."""
        res = run_socklb(["status", "--json", "--pin-path", node.agent.pin_path,
                          "--state-file", node.state_file])
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def cluster_status(self, node):
        """The cluster section of node's status (agent.cluster), or None."""
        return self.status(node).get("agent", {}).get("cluster")

    def status_text(self, node):
        return run_socklb(["status", "--pin-path", node.agent.pin_path,
                           "--state-file", node.state_file]).stdout

    # ------------------------------------------------------------ the API

    def set_pods(self, n):
        """The Service's EndpointSlice holds pod-1 .. pod-n; returns the put's reply."""
        self.backends = self.pods[:n]
        return self.api.put("endpointslices", slice_obj(self.backends, 4))

    def writes(self, since=0.0, node=None):
        """The agents' writes of SocklbNode objects after since (the API server's
        log entries: method, status, name, spec), of one node or of all."""
        return [w for w in self.api.entries("write", since)
                if node is None or w["name"] == node.name]

    # ------------------------------------------------------------ clients

    def start_clients(self, channels=1, rate=10.0, duration=20.0, nodes=None, api="aio"):
        """A load client in every client host of every node (or of nodes):
        returns the processes once every channel made its first call."""
        nodes = self.nodes if nodes is None else nodes
        hosts = [h for n in nodes for h in n.clients]
        cgroups = [n.cgroup for n in nodes for _ in n.clients]
        return start_load(hosts, VIP, cgroups, channels, rate, duration, api=api)

    # ------------------------------------------------------------ counts

    def metrics(self, node):
        return parse_metrics(self.http.get(node.metrics_url))

    def per_node_live(self):
        """{node name: {backend address: live + connecting}} from every agent's metrics."""
        out = {}
        for node in self.nodes:
            if not node.agent or node.agent.proc.poll() is not None:
                continue
            counts = {}
            for name, labels, value in self.metrics(node):
                if name in ("socklb_backend_live_connections", "socklb_backend_connecting") \
                        and labels.get("service") == VIP:
                    counts[labels["backend"]] = counts.get(labels["backend"], 0) + int(value)
            out[node.name] = counts
        return out

    def live_per_pod(self):
        """Cluster-wide connections per pod of the current set, summed over the agents."""
        total = {p.addr: 0 for p in self.backends}
        for counts in self.per_node_live().values():
            for addr, n in counts.items():
                if addr in total:
                    total[addr] += n
        return total

    def wait_live(self, predicate, timeout, step=0.1):
        """Polls live_per_pod until predicate(live) holds; (live, seconds waited)."""
        t0 = time.monotonic()
        while True:
            live = self.live_per_pod()
            if predicate(live) or time.monotonic() - t0 > timeout:
                return live, time.monotonic() - t0
            time.sleep(step)

    def close(self):
        self.http.close()


def balanced(live, total=None):
    """Every pod within floor/ceil of the fair share (and, if given, total connections)."""
    values = list(live.values())
    n = sum(values)
    if not values or (total is not None and n != total):
        return False
    lo, hi = n // len(values), -(-n // len(values))
    return all(lo <= v <= hi for v in values)
