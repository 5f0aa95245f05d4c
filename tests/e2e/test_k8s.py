#!/usr/bin/python3
"""End-to-end tests of the k8s: source and --k8s-discover against a fake
Kubernetes API server (peers/fake_kube_apiserver.py) serving the recorded
v1.28 objects of tests/fixtures/k8s/ over HTTPS with a CA the test makes.

Each test builds pods, an "api" host running the server, a "node" host the
agent runs in (so it reaches the API; the BPF programs still attach to the
test cgroup and balance the client's connects), and a client.  The test
pushes Service and EndpointSlice changes through the server's control pipe
and checks the maps (`socklb status --json`) after each step, with real
gRPC calls.  Nothing leaves the test namespaces.
"""

import os
import subprocess
import time

from fake_api import (API_IP, API_URL, NAME, FakeApi, fixture, make_certs, service_obj,
                      slice_obj, write_token)
from socklb_agent import addresses, service, wait_service, Agent, agent_argv, drain, log_time, next_pin_path, run_socklb, TIMEOUT_SCALE
from topology import (Topology, client_round, getpeername,
                      run_grpc_client, start_holding_client, start_pods, wait_for_line)

NODE_IP = "10.244.1.2"
CLIENT_IP = "10.244.1.100"
SPEC = f"k8s:default/{NAME}:grpc"
VIP = "10.96.0.10:8080"
VIP6 = "[fd00:96::10]:8080"
VIP_METRICS = "10.96.0.10:9090"


# -------------------------------------------------------------------- setup

def setup(topo, n_pods):
    pods = start_pods(topo, n_pods, first_ip_index=11)
    api_host = topo.add_host("api", API_IP)
    node = topo.add_host("node", NODE_IP)
    client = topo.add_host("client", CLIENT_IP)
    certs = make_certs(topo.workdir)
    token = os.path.join(topo.workdir, "token")
    write_token(token, "token-one")
    return pods, api_host, node, client, topo.make_cgroup(), certs, token


def start_agent(topo, cg, node, certs, token, services=(), extra=(), ca=None, pin=None):
    return Agent(topo, cg, services=services, netns=node.netns, pin_path=pin,
                 extra=["--api-server", API_URL, "--ca-file", ca or certs["ca"],
                        "--token-file", token, *extra])


def by_source(agent, source):
    return [s for s in agent.status()["services"] if s.get("source") == source]


def wait_until(fn, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


LATENCIES = []


def event_to_map(api, agent, reply, vip, want, label):
    """The latency from the server writing the event (reply: its put/delete)
    to the agent's map update ('service updated' log line), and to status."""
    svc = wait_service(agent, vip, lambda s: addresses(s) == want, 5)
    seen = time.time()
    assert addresses(svc) == want, (label, svc, want)
    sent = api.sent_time(reply["rv"])
    lines = [x for x in drain(agent.proc) if 'msg="service updated"' in x
             and f"service={vip} " in x]
    assert lines, f"{label}: no 'service updated' line for {vip}"
    # The log's timestamps are cut to the millisecond: the update happened
    # before the next millisecond; this is an upper bound.
    in_maps = log_time(lines[-1]) + 0.001 - sent
    LATENCIES.append(in_maps)
    print(f"  k8s {label}: watch event sent -> map updated within {in_maps * 1000:.1f} ms "
          f"(seen in socklb status after {(seen - sent) * 1000:.0f} ms)", flush=True)
    assert in_maps < 1.0, (label, in_maps)
    return svc


def calls_reach(client, cg, vip, pods, channels):
    out = run_grpc_client(client, vip, cgroup=cg, channels=channels)
    assert out["ok"] == channels, out
    assert set(out["by_pod"]) == {p.name for p in pods}, (out, [p.name for p in pods])
    return out


SOURCE_PATHS = ("/services", "/endpointslices")


def source_requests(api, since=0.0):
    """The k8s: source's own requests (Services and EndpointSlices), not the
    cluster view's (SocklbNode objects, the agent's Node: test_cluster.py)."""
    return [r for r in api.entries("request", since=since) if r["path"].endswith(SOURCE_PATHS)]


def k8s_state_lines(agent):
    """The watches' state lines (the API's health: one line per watch and change)."""
    return [x for x in drain(agent.proc) if 'msg="k8s watch state"' in x]


# -------------------------------------------------------------------- tests

def test_service_and_endpointslices_follow_the_watch():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 4)
        p1, p2, p3, p4 = pods
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1, p2, p3], 4, not_ready=[p3]))
        api.put("endpointslices", slice_obj([p1, p2, p3], 6, not_ready=[p3]))
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC],
                            extra=["--no-rebalance"])

        # Both cluster IPs of the Service, the grpc port only; ready endpoints only.
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr}
                           and s["source_state"] == "ok", 10)
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        assert svc["source"] == SPEC and svc["source_kind"] == "k8s", svc
        assert svc["source_state"] == "ok" and svc["last_error"] is None, svc
        assert svc["last_refresh"]["age_seconds"] < 5, svc
        svc6 = wait_service(agent, VIP6, lambda s: addresses(s) == {p1.addr6, p2.addr6}, 5)
        assert addresses(svc6) == {p1.addr6, p2.addr6}, svc6
        assert service(agent, VIP_METRICS) is None
        text = run_socklb(["status", "--pin-path", agent.pin_path]).stdout
        assert f"source {SPEC}  state=ok  last refresh " in text, text
        calls_reach(client, cg, VIP, [p1, p2], 4)
        calls_reach(client, cg, VIP6, [p1, p2], 4)
        held, out = start_holding_client(client, VIP, cgroup=cg, channels=2)
        assert out["ok"] == 2, out
        # One list (in pages) and one watch per resource for the whole cluster,
        # from the list's resourceVersion: nothing per Service.
        reqs = source_requests(api)
        lists = [r for r in reqs if not r["watch"]]
        watches = [r for r in reqs if r["watch"]]
        assert sorted(r["path"] for r in lists) == [
            "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"], lists
        assert all(r["query"]["limit"] == "500" for r in lists), lists
        assert sorted(r["path"] for r in watches) == [
            "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"], watches
        assert all(r["query"]["resourceVersion"] == "1003" for r in watches), watches
        assert all(r["query"]["allowWatchBookmarks"] == "true" for r in watches), watches
        assert not any("labelSelector" in r["query"] or "fieldSelector" in r["query"]
                       for r in reqs), reqs
        assert all(r["token"] == "token-one" for r in reqs), reqs
        # The cluster view beside it: one list and one watch of every node's
        # SocklbNode, its own Node looked up once, its own object created once
        # (and updated when its counts change, as the holding client's did).
        nodes, host = "/apis/socklb.io/v1alpha1/socklbnodes", os.uname().nodename.lower()
        view = [(r["method"], r["path"], r["watch"]) for r in api.entries("request")
                if r not in reqs and (r["method"], r["path"]) != ("PUT", f"{nodes}/{host}")]
        assert sorted(view) == sorted([("GET", nodes, False), ("GET", nodes, True),
                                       ("GET", f"/api/v1/nodes/{host}", False),
                                       ("POST", nodes, False)]), view

        # MODIFIED: pod 3 becomes ready.
        r = api.put("endpointslices", slice_obj([p1, p2, p3], 4))
        event_to_map(api, agent, r, VIP, {p1.addr, p2.addr, p3.addr}, "MODIFIED (pod ready)")
        # ADDED: a second slice of the same Service, merged with the first.
        r = api.put("endpointslices", slice_obj([p4], 4, name=f"{NAME}-extra"))
        event_to_map(api, agent, r, VIP, {p.addr for p in pods}, "ADDED (second slice)")
        calls_reach(client, cg, VIP, pods, 8)
        # A missing ready condition counts as ready; ready false does not.
        r = api.put("endpointslices", slice_obj([p1, p2, p3], 4, not_ready=[p2],
                                                ready_missing=[p3]))
        event_to_map(api, agent, r, VIP, {p1.addr, p3.addr, p4.addr}, "MODIFIED (not ready)")
        # DELETED: the second slice goes.
        r = api.delete("endpointslices", f"{NAME}-extra")
        event_to_map(api, agent, r, VIP, {p1.addr, p3.addr}, "DELETED (slice)")
        calls_reach(client, cg, VIP, [p1, p3], 4)
        # IPv6 follows its own slice.
        r = api.put("endpointslices", slice_obj([p2, p4], 6))
        event_to_map(api, agent, r, VIP6, {p2.addr6, p4.addr6}, "MODIFIED (IPv6 slice)")
        assert client_round(held)["ok"] == 2

        # BOOKMARK, then the connection drops mid-event after the watch was
        # healthy: a cut, not a failure.  The watch resumes at once from the
        # bookmark's resourceVersion; the backends and the state stay.
        bm = api.cmd("bookmark")
        assert api.wait_entry(lambda m: m["type"] == "BOOKMARK", 5, kind="sent")
        drain(agent.proc)
        dropped = time.time()
        api.cmd("drop")
        rewatch = api.wait_entry(lambda m: m["watch"] and "endpointslices" in m["path"], 5,
                                 kind="request", since=dropped)
        assert rewatch and rewatch[0]["query"]["resourceVersion"] == bm["rv"], rewatch
        assert rewatch[0]["t"] - dropped < 0.5, rewatch[0]["t"] - dropped
        svc = service(agent, VIP)
        assert svc["source_state"] == "ok" and addresses(svc) == {p1.addr, p3.addr}, svc
        assert not [x for x in drain(agent.proc, 0.5) if "state=failing" in x]
        print(f"  k8s watch cut: resumed after {(rewatch[0]['t'] - dropped) * 1000:.0f} ms "
              f"from resourceVersion {bm['rv']}, state stayed ok", flush=True)
        r = api.put("endpointslices", slice_obj([p1, p2, p3], 4))
        event_to_map(api, agent, r, VIP, {p1.addr, p2.addr, p3.addr}, "MODIFIED (after drop)")

        # ERROR 410 on the open watch: the agent lists again (no backoff), the
        # backends stay, and events after the relist apply.
        expired = time.time()
        api.cmd("expire")
        relist = api.wait_entry(lambda m: not m["watch"] and "endpointslices" in m["path"], 5,
                                kind="request", since=expired)
        assert relist and relist[0]["t"] - expired < 0.5, relist
        assert addresses(service(agent, VIP)) == {p1.addr, p2.addr, p3.addr}
        assert any("listing again" in x for x in drain(agent.proc, 0.5))
        r = api.put("endpointslices", slice_obj([p1, p2], 4))
        event_to_map(api, agent, r, VIP, {p1.addr, p2.addr}, "MODIFIED (after 410 relist)")

        # HTTP 410 Gone on a new watch: list again too.
        api.cmd("watch_status", status=410, count=1, resource="endpointslices")
        gone = time.time()
        api.cmd("drop")
        relist = api.wait_entry(lambda m: not m["watch"] and "endpointslices" in m["path"], 8,
                                kind="request", since=gone)
        assert relist, api.entries("request", since=gone)
        assert any(m["status"] == 410 and "endpointslices" in m["path"]
                   for m in api.entries("request", since=gone))
        r = api.put("endpointslices", slice_obj([p1, p2, p4], 4))
        event_to_map(api, agent, r, VIP, {p1.addr, p2.addr, p4.addr}, "MODIFIED (after HTTP 410)")

        # The Service changes its cluster IP: the VIPs move.
        r = api.put("services", service_obj(cluster_ips=("10.96.0.11",)))
        new_vip = "10.96.0.11:8080"
        svc = wait_service(agent, new_vip, lambda s: addresses(s) == {p1.addr, p2.addr, p4.addr}, 5)
        assert addresses(svc) == {p1.addr, p2.addr, p4.addr}, svc
        assert wait_until(lambda: service(agent, VIP) is None and service(agent, VIP6) is None, 5)
        calls_reach(client, cg, new_vip, [p1, p2, p4], 6)
        # Deleted: its VIP goes; status still lists the source, with why.
        api.delete("services", NAME)
        assert wait_until(lambda: service(agent, new_vip) is None, 5)
        entries = wait_until(lambda: [s for s in by_source(agent, SPEC)
                                      if s["source_state"] == "empty"], 5)
        assert entries and entries[0]["vip"] is None, agent.status()
        assert entries[0]["last_error"]["error"] == "service-not-found", entries
        text = run_socklb(["status", "--pin-path", agent.pin_path]).stdout
        assert "service (VIP not known yet)" in text and "state=empty" in text, text
        # Created again: back.
        api.put("services", service_obj())
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr, p4.addr}
                           and s["source_state"] == "ok", 5)
        assert addresses(svc) == {p1.addr, p2.addr, p4.addr} and svc["source_state"] == "ok", svc
        calls_reach(client, cg, VIP, [p1, p2, p4], 6)
        topo.stop(held)
        print(f"  k8s watch event -> map update: at most {max(LATENCIES) * 1000:.1f} ms, "
              f"median {sorted(LATENCIES)[len(LATENCIES) // 2] * 1000:.1f} ms over "
              f"{len(LATENCIES)} events (1 ms log resolution)", flush=True)
        assert agent.stop() == 0


def test_outage_keeps_backends_stalled_watch_reconnects_relist_after_restart():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 3)
        p1, p2, p3 = pods
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1, p2], 4))
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC],
                            extra=["--k8s-watch-timeout", "2s"])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr}, 10)
        assert addresses(svc) == {p1.addr, p2.addr}, svc

        # The server ends each watch after timeoutSeconds=2: resumed at once, no error.
        time.sleep(4.5)
        watches = [m for m in api.entries("request") if m["watch"]]
        assert len(watches) >= 4 and all(m["query"]["timeoutSeconds"] == "2" for m in watches)
        assert service(agent, VIP)["source_state"] == "ok"

        # A stalled watch (connected, silent past its timeout): after 2 x 2 s
        # the agent gives up on it and reconnects.
        frozen = time.time()
        api.cmd("freeze")
        svc = wait_service(agent, VIP, lambda s: s["last_error"] is not None
                           and s["last_error"]["error"] == "watch-stalled", 8)
        stalled = time.time() - frozen
        assert svc["last_error"]["error"] == "watch-stalled", svc
        # The last data was the start of the watch, 0-2 s before the freeze.
        assert 1.8 < stalled < 5.5, stalled
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "ok", 5)
        assert svc["source_state"] == "ok", svc
        print(f"  k8s stalled watch noticed after {stalled:.1f}s (timeout 2s)", flush=True)
        r = api.put("endpointslices", slice_obj([p1, p2, p3], 4))
        event_to_map(api, agent, r, VIP, {p.addr for p in pods}, "MODIFIED (after stall)")

        # The API goes away: connects fail, the last known backends stay.
        drain(agent.proc)
        api.stop()
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "failing", 5)
        assert svc["source_state"] == "failing", svc
        time.sleep(4)  # several retries (1 s, 2 s, ...)
        svc = service(agent, VIP)
        assert addresses(svc) == {p.addr for p in pods}, svc
        assert svc["last_error"]["error"] in ("connect-failed", "connection-lost"), svc
        calls_reach(client, cg, VIP, pods, 6)
        lines = k8s_state_lines(agent)
        # One line per watch for the change of state, not one per retry.
        assert len(lines) == 3 and all("state=failing" in x for x in lines), lines
        assert sorted(x.split("watch=")[1].split()[0].strip('"') for x in lines) == [
            "endpointslices", "services", "socklbnodes"], lines

        # A new API server (its store restored at a later resourceVersion,
        # compacted): the watch's resourceVersion is too old -> 410 -> list.
        api = FakeApi(topo, api_host, certs, start_rv=5000)
        api.put("services", service_obj())
        r = api.put("endpointslices", slice_obj([p2, p3], 4))
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p2.addr, p3.addr}
                           and s["source_state"] == "ok", 35)
        assert addresses(svc) == {p2.addr, p3.addr} and svc["source_state"] == "ok", svc
        reqs = api.entries("request")
        assert any(m["watch"] and int(m["query"].get("resourceVersion", "0")) < 5000
                   for m in reqs) or any(not m["watch"] for m in reqs), reqs
        lines = k8s_state_lines(agent)
        assert any("from=failing state=ok" in x for x in lines), lines
        calls_reach(client, cg, VIP, [p2, p3], 4)


def test_token_rotation_is_picked_up_and_a_wrong_ca_is_refused():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 2)
        p1, p2 = pods
        api = FakeApi(topo, api_host, certs, tokens=["token-one"])
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1], 4))
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr}, 10)
        assert addresses(svc) == {p1.addr}, svc

        # The kubelet rotates the projected token; the old one is revoked.
        write_token(token, "token-two")
        api.cmd("tokens", tokens=["token-two"])
        rotated = time.time()
        api.cmd("drop")
        hits = api.wait_entry(lambda m: m["token"] == "token-two" and m["status"] == 200, 5,
                              kind="request", since=rotated)
        assert hits, api.entries("request", since=rotated)
        assert not [m for m in api.entries("request", since=rotated) if m["status"] == 401]
        r = api.put("endpointslices", slice_obj([p1, p2], 4))
        event_to_map(api, agent, r, VIP, {p1.addr, p2.addr}, "MODIFIED (new token)")

        # Revoked before the file is rotated: 401 until the file has the new
        # token, read again for the next request, without restarting anything.
        api.cmd("tokens", tokens=["token-three"])
        revoked = time.time()
        api.cmd("drop")
        svc = wait_service(agent, VIP, lambda s: s["last_error"] is not None
                           and s["last_error"]["error"] == "http-401", 5)
        assert svc["source_state"] == "failing" and addresses(svc) == {p1.addr, p2.addr}, svc
        write_token(token, "token-three")
        svc = wait_service(agent, VIP, lambda s: s["source_state"] == "ok", 10)
        assert svc["source_state"] == "ok", svc
        after = api.entries("request", since=revoked)
        assert any(m["token"] == "token-three" and m["status"] == 200 for m in after), after
        calls_reach(client, cg, VIP, [p1, p2], 4)

        # An agent that trusts another CA refuses the server: nothing published.
        cg2 = topo.make_cgroup()
        tls_errors = len(api.entries("tls-error"))
        other = start_agent(topo, cg2, node, certs, token, services=[SPEC],
                            ca=certs["other_ca"])
        entries = wait_until(lambda: [s for s in other.status()["services"]
                                      if s.get("source") == SPEC and s["last_error"]], 10)
        assert entries, other.status()
        e = entries[0]
        assert e["vip"] is None and e["published"] is False, e
        assert e["source_state"] == "failing", e
        assert e["last_error"]["error"] == "tls-verify-failed", e
        assert len(api.entries("tls-error")) > tls_errors
        text = run_socklb(["status", "--pin-path", other.pin_path]).stdout
        assert "last error: tls-verify-failed" in text, text
        log = " ".join(drain(other.proc, 0.5))
        assert "certificate" in log.lower(), log[-2000:]
        assert other.stop() == 0


def test_discover_annotated_services_and_sighup_keeps_them():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 4)
        p1, p2, p3, p4 = pods
        api = FakeApi(topo, api_host, certs)
        for item in fixture("servicelist-all-namespaces.json")["items"]:
            api.put("services", item)
        api.put("endpointslices", slice_obj([p1, p2], 4))
        api.put("endpointslices", slice_obj([p1, p2], 6))
        conf = os.path.join(topo.workdir, "services.conf")
        with open(conf, "w") as f:
            f.write(f"10.96.0.50:8080 = static:{p4.addr}\n")
        agent = start_agent(topo, cg, node, certs, token, extra=["--k8s-discover",
                                                                 "--config", conf])
        want = {VIP: {p1.addr, p2.addr}, VIP_METRICS: {p1.host.ip + ":9090", p2.host.ip + ":9090"},
                VIP6: {p1.addr6, p2.addr6},
                "[fd00:96::10]:9090": {f"[{p1.host.ip6}]:9090", f"[{p2.host.ip6}]:9090"}}
        for vip, bes in want.items():
            svc = wait_service(agent, vip, lambda s, bes=bes: addresses(s) == bes, 10)
            assert addresses(svc) == bes, (vip, svc)
            assert svc["source"] in (SPEC, f"k8s:default/{NAME}:metrics"), svc
        # Not annotated (kubernetes, kube-dns) or headless: left alone.
        vips = {s["vip"] for s in agent.status()["services"]}
        assert vips == set(want) | {"10.96.0.50:8080"}, vips
        calls_reach(client, cg, VIP, [p1, p2], 4)

        # A Service annotated later is balanced; its own slices.
        greeter = service_obj("greeter", cluster_ips=("10.96.0.20",), annotated="true",
                              ports=[{"name": "grpc", "protocol": "TCP", "port": 8080,
                                      "targetPort": 8080}])
        api.put("endpointslices", slice_obj([p3, p4], 4, service="greeter"))
        r = api.put("services", greeter)
        svc = wait_service(agent, "10.96.0.20:8080", lambda s: addresses(s) == {p3.addr, p4.addr},
                           5)
        assert addresses(svc) == {p3.addr, p4.addr}, svc
        assert svc["source"] == "k8s:default/greeter:grpc", svc
        lines = [x for x in drain(agent.proc) if 'msg="service updated"' in x
                 and "service=10.96.0.20:8080 " in x]
        assert lines, "no 'service updated' line for the discovered service"
        print(f"  k8s discovery: annotated Service balanced within "
              f"{(log_time(lines[0]) + 0.001 - api.sent_time(r['rv'])) * 1000:.1f} ms of its "
              f"watch event (listing its EndpointSlices included)", flush=True)
        calls_reach(client, cg, "10.96.0.20:8080", [p3, p4], 4)

        # SIGHUP (config changed): discovered services stay, with their backend ids.
        before = {s["vip"]: {b["address"]: b["backend_id"] for b in s["backends"]}
                  for s in agent.status()["services"]}
        with open(conf, "w") as f:
            f.write(f"10.96.0.51:8080 = static:{p3.addr}\n")
        agent.reload()
        assert wait_until(lambda: service(agent, "10.96.0.51:8080") is not None, 5)
        after = {s["vip"]: {b["address"]: b["backend_id"] for b in s["backends"]}
                 for s in agent.status()["services"]}
        assert "10.96.0.50:8080" not in after, after
        for vip in list(want) + ["10.96.0.20:8080"]:
            assert after[vip] == before[vip], (vip, before[vip], after.get(vip))

        # The annotation goes: not balanced any more.
        greeter["metadata"]["annotations"]["socklb.io/enabled"] = "false"
        api.put("services", greeter)
        assert wait_until(lambda: service(agent, "10.96.0.20:8080") is None, 5)
        # Deleted: gone.
        api.delete("services", NAME)
        assert wait_until(lambda: all(service(agent, v) is None for v in want), 5)
        lines = drain(agent.proc)
        assert any("k8s discovery: service no longer balanced" in x and "reason=deleted" in x
                   for x in lines), lines
        assert {s["vip"] for s in agent.status()["services"]} == {"10.96.0.51:8080"}
        assert agent.stop() == 0


def test_explicit_vip_port_errors_and_missing_service():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 2)
        p1, p2 = pods
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj([p1, p2], 4))
        given = "10.96.0.99:8080"
        missing = "10.96.0.98:8080"
        agent = start_agent(topo, cg, node, certs, token, services=[
            f"{given}=k8s:default/{NAME}:grpc",
            f"k8s:default/{NAME}",  # two ports, none named
            "k8s:default/nope:grpc",
            f"{missing}=k8s:default/nope:grpc",
            "[fd00:96::30]:8080=static:",  # the IPv6 VIP "nope" will have: the spec keeps it
        ])
        # The VIP given, not the Service's cluster IPs.
        svc = wait_service(agent, given, lambda s: addresses(s) == {p1.addr, p2.addr}
                           and s["source_state"] == "ok", 10)
        assert addresses(svc) == {p1.addr, p2.addr} and svc["source_state"] == "ok", svc
        assert service(agent, VIP) is None and service(agent, VIP6) is None
        calls_reach(client, cg, given, [p1, p2], 4)
        # A port name is needed: failing, said once.
        e = wait_until(lambda: [s for s in by_source(agent, f"k8s:default/{NAME}")
                                if s["last_error"]], 5)
        assert e and e[0]["source_state"] == "failing" and e[0]["vip"] is None, e
        assert "has 2 ports (grpc, metrics): name one" in e[0]["last_error"]["error"], e
        # A Service that does not exist: no VIP; the VIP given refuses connects.
        e = wait_until(lambda: [s for s in by_source(agent, "k8s:default/nope:grpc")
                                if s["vip"] is None and s["source_state"] == "empty"], 5)
        assert e and e[0]["last_error"]["error"] == "service-not-found", agent.status()
        svc = wait_service(agent, missing, lambda s: s["published"]
                           and s["source_state"] == "empty", 5)
        assert svc["published"] and svc["backends"] == [] and svc["source_state"] == "empty", svc
        assert getpeername(client, missing, cgroup=cg).get("error") == "ECONNREFUSED"
        time.sleep(1)
        lines = drain(agent.proc)
        said = [x for x in lines if 'msg="k8s service cannot be balanced"' in x]
        assert len(said) == 1 and "name one" in said[0], said
        # It appears: balanced at once (the watch without resourceVersion sees it).
        api.put("endpointslices", slice_obj([p2], 4, service="nope"))
        api.put("services", service_obj("nope", cluster_ips=("10.96.0.30", "fd00:96::30")))
        svc = wait_service(agent, missing, lambda s: addresses(s) == {p2.addr}
                           and s["source_state"] == "ok", 5)
        assert addresses(svc) == {p2.addr} and svc["source_state"] == "ok", svc
        # Its IPv4 VIP is balanced; the IPv6 one stays the configured service's,
        # and the conflict is the source's error, said once.
        svc = wait_service(agent, "10.96.0.30:8080", lambda s: addresses(s) == {p2.addr}
                           and s["source_state"] == "failing", 5)
        assert addresses(svc) == {p2.addr}, svc
        assert "VIP [fd00:96::30]:8080 is taken" in svc["last_error"]["error"], svc
        static6 = service(agent, "[fd00:96::30]:8080")
        assert static6["source_kind"] == "static" and static6["backends"] == [], static6
        api.put("endpointslices", slice_obj([p1, p2], 4, service="nope"))
        svc = wait_service(agent, "10.96.0.30:8080",
                           lambda s: addresses(s) == {p1.addr, p2.addr}, 5)
        assert addresses(svc) == {p1.addr, p2.addr}, svc
        calls_reach(client, cg, missing, [p1, p2], 4)
        said = [x for x in drain(agent.proc) if 'msg="k8s service cannot be balanced"' in x]
        assert len(said) == 1 and "is taken" in said[0], said
        assert agent.stop() == 0


def test_persist_restart_keeps_k8s_services_ids_and_connections():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 3)
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj(pods, 4))
        api.put("services", service_obj("other", cluster_ips=("10.96.0.40",)))
        api.put("endpointslices", slice_obj(pods[:1], 4, service="other"))
        pin = next_pin_path()
        first = start_agent(topo, cg, node, certs, token, services=[SPEC, "k8s:default/other:grpc"],
                            extra=["--persist", "--no-rebalance"], pin=pin)
        want = {p.addr for p in pods}
        svc = wait_service(first, VIP, lambda s: addresses(s) == want, 10)
        assert addresses(svc) == want, svc
        assert wait_service(first, "10.96.0.40:8080", lambda s: s["backends"], 5)
        ids = {b["address"]: b["backend_id"] for b in svc["backends"]}
        held, out = start_holding_client(client, VIP, cgroup=cg, channels=6)
        assert out["ok"] == 6 and out["by_pod"] == {p.name: 2 for p in pods}, out

        first.proc.kill()  # kill -9
        first.proc.wait(5)
        # The new agent no longer asks for "other"; it runs the rebalancer.
        second = start_agent(topo, cg, node, certs, token, services=[SPEC],
                             extra=["--persist"], pin=pin)
        lines = [x for x in drain(second.proc, 1.0)]
        synced = [x for x in lines if 'msg="k8s: every service known"' in x]
        assert synced and "dropped_unclaimed=1" in synced[0], lines
        # Claimed by the k8s: source as it was: same backend ids, no connection ended.
        svc = wait_service(second, VIP, lambda s: s["source_kind"] == "k8s"
                           and s["source_state"] == "ok", 5)
        assert {b["address"]: b["backend_id"] for b in svc["backends"]} == ids, (ids, svc)
        assert not any('msg="service removed" service=10.96.0.10:8080' in x for x in lines)
        assert service(second, "10.96.0.40:8080") is None
        time.sleep(0.5)  # several rebalancer ticks
        again = client_round(held)
        assert again["ok"] == 6 and again["by_channel"] == out["by_channel"], (out, again)
        bes = second.backends(VIP)
        assert sum(b["live"] for b in bes.values()) == 6, bes
        assert sum(b["ended_graceful"] + b["ended_forced"] for b in bes.values()) == 0, bes
        topo.stop(held)
        assert second.stop() == 0


SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def made_dirs(path):
    """Creates path's missing directories; returns them, deepest first."""
    made = []
    while not os.path.exists(path):
        made.append(path)
        path = os.path.dirname(path)
    for d in reversed(made):
        os.mkdir(d)
    return made


def test_in_cluster_config_from_the_environment_and_the_service_account():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 2)
        api = FakeApi(topo, api_host, certs, tokens=["service-account-token"])
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj(pods, 4))
        # What the kubelet mounts into a pod, seen only by the agent (its own
        # mount namespace); the mountpoint is made for the test and removed.
        sa = os.path.join(topo.workdir, "serviceaccount")
        os.mkdir(sa)
        write_token(os.path.join(sa, "token"), "service-account-token")
        with open(certs["ca"]) as src, open(os.path.join(sa, "ca.crt"), "w") as dst:
            dst.write(src.read())
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("socklb-system")
        made = made_dirs(SA_DIR)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
            env.update(KUBERNETES_SERVICE_HOST=API_IP, KUBERNETES_SERVICE_PORT="6443")
            agent = Agent.__new__(Agent)
            agent.topo, agent.pin_path = topo, next_pin_path()
            argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                    'mount --bind "$0" "$1" && shift && exec "$@"', sa, SA_DIR,
                    "nsenter", f"--net=/run/netns/{node.netns}",
                    *agent_argv(None, "--cgroup", cg, "--pin-path", agent.pin_path,
                                "--service", SPEC)]
            agent.proc = topo.spawn(argv, label="agent", stderr=subprocess.STDOUT, env=env)
            line = wait_for_line(agent.proc, r'msg="k8s source"', 20 * TIMEOUT_SCALE)
            assert (f"api=https://{API_IP}:6443 in_cluster=true namespace=socklb-system "
                    f"token_file={SA_DIR}/token ca_file={SA_DIR}/ca.crt") in line, line
            wait_for_line(agent.proc, r"msg=ready", 20 * TIMEOUT_SCALE)
            want = {p.addr for p in pods}
            svc = wait_service(agent, VIP, lambda s: addresses(s) == want, 10)
            assert addresses(svc) == want and svc["source_kind"] == "k8s", svc
            reqs = api.entries("request")
            assert reqs and all(m["token"] == "service-account-token" for m in reqs), reqs
            assert all(m["status"] == 200 for m in source_requests(api)), reqs
            calls_reach(client, cg, VIP, pods, 4)
            assert agent.stop() == 0
        finally:
            for d in made:
                os.rmdir(d)


def test_bad_k8s_inputs_give_one_clear_message():
    with Topology("slbkube") as topo:
        cg = topo.make_cgroup()
        pin = f"/sys/fs/bpf/socklb-test-{os.getpid()}-k8sbad"
        base = ["agent", "--cgroup", cg, "--pin-path", pin]
        api = ["--api-server", "https://10.244.1.60:6443"]
        cases = [
            (["-s", "k8s:Default/web:grpc"], "namespace 'Default' has 'D'"),
            (["-s", "k8s:default/web_1"], "service name 'web_1' has '_'"),
            (["-s", "10.96.0.10:80=k8s:default"], "expected k8s:NAMESPACE/SERVICE[:PORT-NAME]"),
            (["-s", "k8s:default/web:grpc", "-s", "k8s:default/web:grpc"] + api,
             "service k8s:default/web:grpc is given twice"),
            (["-s", "k8s:default/web:grpc"],
             "k8s: sources need the Kubernetes API: not in a pod (KUBERNETES_SERVICE_HOST is "
             "not set) and no --api-server given"),
            (["--k8s-discover"], "no --api-server given"),
            (["-s", "k8s:default/web", "--api-server", "10.244.1.60:6443"],
             "--api-server '10.244.1.60:6443': expected https://HOST[:PORT]"),
            (["-s", "k8s:default/web", "--ca-file", "/nonexistent/ca.crt"] + api,
             "cannot read CA file /nonexistent/ca.crt"),
            (["-s", "k8s:default/web", "--token-file", "/nonexistent/token"] + api,
             "cannot read token file /nonexistent/token"),
            (["--k8s-watch-timeout", "500ms"], "--k8s-watch-timeout: at least 1s"),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        for args, text in cases:
            res = run_socklb([*base, *args], env=env)
            assert res.returncode == 64, (args, res.returncode, res.stderr)
            assert text in res.stderr, (args, res.stderr)
            assert not os.path.exists(pin), args


def test_rbac_per_namespace_with_k8s_namespace():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 2)
        p1, p2 = pods
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj(annotated="true"))
        api.put("endpointslices", slice_obj(pods, 4))
        other = service_obj("web", cluster_ips=("10.96.0.60",), annotated="true")
        other["metadata"]["namespace"] = "other"
        api.put("services", other)
        api.cmd("rbac", namespaces=["default"])  # a RoleBinding in "default" only
        # Cluster-wide watches are forbidden: the agent says so, per watch.
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC])
        e = wait_until(lambda: [s for s in by_source(agent, SPEC) if s["last_error"]], 10)
        assert e and e[0]["source_state"] == "failing", agent.status()
        assert e[0]["last_error"]["error"] == "http-403", e
        lines = [x for x in drain(agent.proc, 0.5) if 'msg="k8s watch state"' in x]
        assert any("state=failing error=http-403" in x and "cannot list resource" in x
                   for x in lines), lines
        assert agent.stop() == 0
        # --k8s-namespace default: one watch of each in that namespace; a spec
        # of another namespace is refused with the fix; discovery stays inside.
        second = time.time()
        agent = start_agent(topo, cg, node, certs, token,
                            services=[SPEC, "k8s:other/web:grpc"],
                            extra=["--k8s-namespace", "default", "--k8s-discover"])
        svc = wait_service(agent, VIP, lambda s: addresses(s) == {p1.addr, p2.addr}
                           and s["source_state"] == "ok", 10)
        assert svc and svc["source_state"] == "ok", agent.status()
        calls_reach(client, cg, VIP, pods, 4)
        e = wait_until(lambda: [s for s in by_source(agent, "k8s:other/web:grpc")
                                if s["last_error"]], 5)
        assert e and e[0]["source_state"] == "failing", agent.status()
        assert "namespace other is not watched: add --k8s-namespace other" in \
            e[0]["last_error"]["error"], e
        assert service(agent, "10.96.0.60:8080") is None
        reqs = source_requests(api, since=second)
        assert reqs and all(m["status"] == 200 for m in reqs), reqs
        assert sorted({m["path"] for m in reqs}) == [
            "/api/v1/namespaces/default/services",
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"], reqs
        assert agent.stop() == 0


def slice_watch_gaps(api, since, n, timeout):
    """Seconds between the first n endpointslices watch requests after since."""
    hits = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [m for m in api.entries("request", since=since)
                if m["watch"] and "endpointslices" in m["path"]]
        if len(hits) >= n:
            break
        time.sleep(0.05)
    assert len(hits) >= n, hits
    times = [since] + [m["t"] for m in hits[:n]]
    return [round(b - a, 2) for a, b in zip(times, times[1:])], hits[:n]


def test_backoff_grows_in_an_outage_and_starts_over_after_a_healthy_period():
    with Topology("slbkube") as topo:
        pods, api_host, node, client, cg, certs, token = setup(topo, 2)
        api = FakeApi(topo, api_host, certs)
        api.put("services", service_obj())
        api.put("endpointslices", slice_obj(pods, 4))
        agent = start_agent(topo, cg, node, certs, token, services=[SPEC],
                            extra=["--no-rebalance"])
        want = {p.addr for p in pods}
        assert addresses(wait_service(agent, VIP, lambda s: addresses(s) == want, 10)) == want
        time.sleep(1.2)  # the watch has been healthy longer than a cut needs
        # The watch is cut, and the API answers the next 3 watches with 503:
        # resumed at once, then 1 s, 2 s, 4 s.
        t0 = time.time()
        api.cmd("fail", status=503, count=3, resource="endpointslices")
        api.cmd("drop")
        gaps, hits = slice_watch_gaps(api, t0, 4, 15)
        assert [m["status"] for m in hits] == [503, 503, 503, 200], hits
        assert gaps[0] < 0.5 and all(abs(g - w) < 0.4 for g, w in zip(gaps[1:], (1, 2, 4))), gaps
        assert service(agent, VIP)["source_state"] == "ok" or \
            wait_service(agent, VIP, lambda s: s["source_state"] == "ok", 3)
        # Healthy for more than 10 s: the next outage starts from 1 s again.
        time.sleep(11)
        t1 = time.time()
        api.cmd("fail", status=503, count=2, resource="endpointslices")
        api.cmd("drop")
        again, hits = slice_watch_gaps(api, t1, 3, 10)
        assert [m["status"] for m in hits] == [503, 503, 200], hits
        assert again[0] < 0.5 and abs(again[1] - 1) < 0.4 and abs(again[2] - 2) < 0.4, again
        print(f"  k8s backoff: watch requests after a cut and 503s {gaps} s apart; after 11 s "
              f"of health {again} s apart (started over)", flush=True)
        assert addresses(service(agent, VIP)) == want
        assert agent.stop() == 0
