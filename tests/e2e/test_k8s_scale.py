#!/usr/bin/python3
"""What the k8s: source costs the API and the node as the cluster grows:
1, 300 and 5,000 Services (each with one EndpointSlice of two pods, all
annotated for --k8s-discover), over HTTP/2 (the Go front, like
kube-apiserver) and over HTTP/1.1 (the fake API server alone).

For each: API requests and TCP connections, agent CPU seconds and RSS, at
start (until every Service is known) and over a steady period with one
event a second.  Connections and watches must not grow with the number of
Services; only the pages of the first list do (500 objects a page).
"""

import math
import os
import time

from api_fronts import UPSTREAM, H2Front
from socklb_agent import SOCKLB, Agent, drain
from fake_api import FakeApi, make_certs, service_obj, slice_obj, write_token
from topology import Topology, start_pods, wait_for_line

API_IP = "10.244.1.60"
NODE_IP = "10.244.1.2"
SIZES = (1, 300, 5000)
STEADY_S = 8
RESULTS = []


def agent_usage(pid):
    """(CPU seconds, RSS MiB) of the agent so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
    return cpu, rss / 1024


def objects(n, pods):
    svcs, slices = [], []
    for i in range(n):
        name = f"svc-{i}"
        ip = f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        svcs.append(service_obj(name, cluster_ips=(ip,), annotated="true",
                                ports=[{"name": "grpc", "protocol": "TCP", "port": 8080,
                                        "targetPort": 8080}]))
        slices.append(slice_obj(pods, 4, service=name))
    return svcs, slices


def measure(topo, n, http2, binary=SOCKLB, pods=None):
    """One agent against n Services; returns a dict of the figures."""
    api_host = topo.add_host(f"api{n}{'h' if http2 else 'p'}", API_IP)
    node = topo.add_host(f"node{n}{'h' if http2 else 'p'}", NODE_IP)
    certs = make_certs(topo.workdir)
    token = os.path.join(topo.workdir, "token")
    write_token(token, "t")
    api = FakeApi(topo, api_host, certs, listen=UPSTREAM if http2 else None)
    front = H2Front(topo, api_host, certs) if http2 else None
    svcs, slices = objects(n, pods)
    api.cmd("bulk", resource="services", objects=svcs)
    api.cmd("bulk", resource="endpointslices", objects=slices)
    cg = topo.make_cgroup()
    began = time.monotonic()
    # The k8s: source's cost alone: the cluster view's objects, one list and
    # one watch of them whatever the number of Services, are test_cluster.py's.
    agent = Agent(topo, cg, netns=node.netns, binary=binary,
                  extra=["--api-server", f"https://{API_IP}:6443", "--ca-file", certs["ca"],
                         "--token-file", token, "--k8s-discover", "--no-rebalance",
                         *(["--no-cluster"] if binary == SOCKLB else []),
                         "--max-services", "16384", "--max-backends", "32768"])
    wait_for_line(agent.proc, r'msg="k8s: every service known"', 120)
    synced = time.monotonic() - began
    time.sleep(1.5)  # both watches open (and a probe's delay passed)
    cpu0, rss0 = agent_usage(agent.proc.pid)

    def counts():
        if http2:
            reqs = front.requests()
            return len(reqs), len({r["peer"] for r in reqs}), \
                len([r for r in reqs if "watch=1" in r["query"]])
        reqs = api.entries("request")
        return len(reqs), len(api.entries("conn")), len([r for r in reqs if r["watch"]])

    req0, conn0, watch0 = counts()
    for i in range(STEADY_S):
        api.put("endpointslices", slice_obj(pods[: 1 + i % 2], 4, service=f"svc-{i % n}"))
        time.sleep(1)
    drain(agent.proc)
    cpu1, rss1 = agent_usage(agent.proc.pid)
    req1, conn1, watch1 = counts()
    status = agent.status()
    published = len([s for s in status["services"] if s.get("vip")])
    agent.stop()
    if front:
        front.stop()
    api.stop()
    return {"services": n, "http": "2" if http2 else "1.1", "sync_s": synced,
            "start_requests": req0, "start_connections": conn0, "start_watches": watch0,
            "start_cpu_s": cpu0, "start_rss_mib": rss0,
            "steady_requests": req1 - req0, "steady_connections": conn1 - conn0,
            "steady_cpu_s": cpu1 - cpu0, "steady_rss_mib": rss1, "published": published}


def row(r):
    return (f"{r['services']:>5} Services, HTTP/{r['http']:<3}: known after {r['sync_s']:5.2f} s; "
            f"start {r['start_requests']:>3} requests ({r['start_watches']} watches) on "
            f"{r['start_connections']} connection(s), CPU {r['start_cpu_s']:.2f} s, "
            f"RSS {r['start_rss_mib']:.1f} MiB; steady {STEADY_S} s with {STEADY_S} events: "
            f"{r['steady_requests']} requests, {r['steady_connections']} new connections, "
            f"CPU {r['steady_cpu_s']:.2f} s, RSS {r['steady_rss_mib']:.1f} MiB")


def test_api_cost_does_not_grow_with_services():
    for http2 in (True, False):
        for n in SIZES:
            with Topology("slbscale") as topo:
                pods = start_pods(topo, 2, first_ip_index=11)
                r = measure(topo, n, http2, pods=pods)
            RESULTS.append(r)
            print("  k8s scale: " + row(r), flush=True)
            pages = 2 * math.ceil(max(n, 1) / 500)
            assert r["published"] == n, r
            assert r["start_watches"] == 2, r
            assert r["start_requests"] == pages + 2, r  # the list's pages and two watches
            assert r["start_connections"] == (1 if http2 else 2), r
            assert r["steady_connections"] == 0 and r["steady_requests"] == 0, r
