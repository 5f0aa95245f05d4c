#!/usr/bin/python3
"""The k8s: source behind real HTTP/2 servers (api_fronts.py): nginx from
Debian as an HTTP/2 reverse proxy with an idle timeout shorter than the
watch, and a Go net/http HTTP/2 front like kube-apiserver's.  The fake API
server (HTTP/1.1) sits behind each.

Checked: every request of the agent on one TCP connection, whatever the
number of Services; watches cut by the idle proxy resume at once and never
make the source "failing"; events reach the maps in milliseconds between
cuts; after an outage the source is "ok" again without waiting for an event
although nginx holds a watch's headers until its first data.
"""

import json
import time

from api_fronts import UPSTREAM, H2Front, Nginx
from socklb_agent import drain
from test_k8s import (SPEC, VIP, FakeApi, addresses, event_to_map, service,
                      service_obj, setup, slice_obj, start_agent, wait_service, wait_until)
from topology import Topology

N_EXTRA = 20  # annotated Services besides the sample one


def extra_services(api, pods):
    for i in range(N_EXTRA):
        name = f"svc-{i}"
        api.put("services", service_obj(name, cluster_ips=(f"10.96.1.{i + 1}",), annotated="true",
                                        ports=[{"name": "grpc", "protocol": "TCP", "port": 8080,
                                                "targetPort": 8080}]))
        api.put("endpointslices", slice_obj(pods[:2], 4, service=name))


def api_list(host, resource):
    """Every object of resource, read from the fake API server itself."""
    path = {"services": "api/v1/services",
            "endpointslices": "apis/discovery.k8s.io/v1/endpointslices"}[resource]
    res = host.run(["curl", "-sk", f"https://{UPSTREAM}/{path}"])
    return json.loads(res.stdout)["items"]


def agent_requests(entries):
    return [e for e in entries if "/api" in e[5]]


def test_nginx_http2_with_an_idle_timeout_shorter_than_the_watch():
    with Topology("slbhng") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 3)
        p1, p2, p3 = pods
        api = FakeApi(topo, api_host, certs, listen=UPSTREAM)
        nginx = Nginx(topo, api_host, certs, read_timeout="3s")
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1, p2], 4))
        extra_services(api, pods)
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC],
                            extra=["--k8s-discover", "--k8s-watch-timeout", "30s",
                                   "--no-rebalance"])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr}, 10)
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        assert wait_until(lambda: len(agent.status()["services"]) >= 2 + N_EXTRA, 10)
        assert any("http_version=2" in x for x in drain(agent.proc, 0.5))

        # 16 s idle but for four events, each after more than the proxy's 3 s:
        # the source never leaves "ok", and each event reaches the maps at once.
        states, lat, start = [], [], time.monotonic()
        events = [(2.0, [p1, p2, p3]), (6.5, [p1, p3]), (11.0, [p2, p3]), (15.5, [p1, p2])]
        while time.monotonic() - start < 16.5:
            if events and time.monotonic() - start >= events[0][0]:
                _, bes = events.pop(0)
                r = api.put("endpointslices", slice_obj(bes, 4))
                event_to_map(api, agent, r, VIP, {p.addr for p in bes}, "MODIFIED (via nginx)")
            states.append(service(agent, VIP)["source_state"])
            time.sleep(0.25)
        failing = states.count("failing")
        reqs = agent_requests(nginx.requests())
        conns = {c for _, c, *_ in reqs}
        cuts = [r for r in reqs if "watch=1" in r[5]]
        print(f"  nginx http2, proxy_read_timeout 3s, watch 30s: {len(states)} samples, "
              f"{failing} failing; {len(reqs)} requests on {len(conns)} TCP connection(s), "
              f"{len(cuts)} watches (cut by the proxy and resumed)", flush=True)
        assert failing == 0, states
        assert len(conns) == 1 and all(r[2] == "HTTP/2.0" for r in reqs), reqs
        assert len(cuts) >= 6, cuts  # both watches cut more than once: the test saw cuts

        # Outage: nginx answers 502; then the API is back with the same objects
        # (a restarted server) and silent: no event, so no data on the watches,
        # whose headers nginx holds.  The source is ok again all the same.
        rv = api.cmd("watches")["rv"]
        listed = {res: api_list(api_host, res) for res in ("services", "endpointslices")}
        api.stop()
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "failing", 10)
        assert svc["source_state"] == "failing", svc
        assert svc["last_error"]["error"] in ("http-502", "http-504"), svc
        back = time.monotonic()
        api = FakeApi(topo, api_host, certs, listen=UPSTREAM, start_rv=int(rv), compacted_rv=1000)
        for res, items in listed.items():
            api.cmd("restore", resource=res, objects=items)
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "ok", 15)
        ok_after = time.monotonic() - back
        assert svc["source_state"] == "ok", svc
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        print(f"  nginx http2: API back after an outage: source ok after {ok_after:.1f} s "
              f"with no event (watch headers held by the proxy; probe answered)", flush=True)
        after = api.entries("request")
        assert not [e for e in after if e["status"] == 410 or e["query"].get("limit") == "500"]
        assert [e for e in after if e["query"].get("limit") == "1"], after  # the probes
        r = api.put("endpointslices", slice_obj([p3], 4))
        event_to_map(api, agent, r, VIP, {p3.addr}, "MODIFIED (after the outage)")
        assert agent.stop() == 0
        nginx.stop()


def test_go_http2_front_like_kube_apiserver():
    with Topology("slbhgo") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 3)
        p1, p2, p3 = pods
        api = FakeApi(topo, api_host, certs, listen=UPSTREAM)
        front = H2Front(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1, p2], 4))
        extra_services(api, pods)
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC],
                            extra=["--k8s-discover", "--no-rebalance"])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr}, 10)
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        assert wait_until(lambda: len(agent.status()["services"]) >= 2 + N_EXTRA, 10)
        for bes in ([p1, p2, p3], [p3], [p1, p3]):
            r = api.put("endpointslices", slice_obj(bes, 4))
            event_to_map(api, agent, r, VIP, {p.addr for p in bes}, "MODIFIED (via Go h2)")
        time.sleep(2.5)  # past the probe's delay: headers came at once, no probe
        reqs = front.requests()
        peers = {r["peer"] for r in reqs}
        print(f"  Go http2 front: {len(reqs)} requests ({', '.join(sorted({r['proto'] for r in reqs}))}) "
              f"on {len(peers)} TCP connection(s), {1 + N_EXTRA} Services", flush=True)
        assert len(peers) == 1 and all(r["proto"] == "HTTP/2.0" for r in reqs), reqs
        source = [r for r in reqs if "socklb" not in r["path"] and "/nodes/" not in r["path"]]
        assert len(source) == 4, reqs  # two lists, two watches; no probe, nothing per Service
        # The cluster view on the same connection: a list and a watch of every
        # node's SocklbNode, this node's Node once, its own object created.
        assert sorted((r["path"].rsplit("/", 2)[-2], "watch=1" in r["query"])
                      for r in reqs if r not in source) == [
            ("nodes", False), ("v1alpha1", False), ("v1alpha1", False), ("v1alpha1", True)], reqs
        assert service(agent, VIP)["source_state"] == "ok"
        assert agent.stop() == 0
        front.stop()

