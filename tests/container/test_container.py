#!/usr/bin/python3
"""socklb's image, built here (podman, a local debootstrap base, no
registry), run exactly under the DaemonSet's securityContext, mounts, env
and args (deploy/base/daemonset.yaml) against a test cgroup, with the
node's network and PID namespaces as the DaemonSet has them (hostNetwork,
hostPID) and the in-cluster API config of a pod (a fake API server, its CA
as the service account's ca.crt).

It checks that the agent balances, ends connections (--max-age, through the
ConfigMap's SOCKLB_EXTRA_ARGS), answers /healthz and /metrics, and restarts
with --persist without a reconnect; then drops each capability the
manifest adds, one at a time, and shows what breaks, so that the manifest
lists exactly what is needed.  Skips, saying why, only on a machine that
cannot run containers.
"""

import json
import os
import re
import shutil
import subprocess
import time

import container_rig as rig
from socklb_agent import SOCKLB, drain, ensure_bpffs, run_socklb
from test_k8s import (API_IP, FakeApi, make_certs, service_obj, slice_obj, wait_until,
                      write_token)
from topology import Topology, client_round, run_grpc_client, start_holding_client, start_pods
from topology import _reader, wait_for_line

VIP = "10.96.0.10:8080"
NODE_IP = "10.244.1.2"
CLIENT_IP = "10.244.1.100"
MATRIX = []


def skip_reason():
    return rig.why_not()


def service_account(workdir, certs):
    sa = os.path.join(workdir, "serviceaccount")
    os.makedirs(sa, exist_ok=True)
    write_token(os.path.join(sa, "token"), "service-account-token")
    shutil.copy(certs["ca"], os.path.join(sa, "ca.crt"))
    with open(os.path.join(sa, "namespace"), "w") as f:
        f.write("socklb-system")
    return sa


class Run:
    """One run of the container (crun run, attached: its log is our pipe)."""

    def __init__(self, topo, bundle, node, name, drop=(), bpffs=None):
        bundle.write(node.netns, drop=drop, bpffs=bpffs)
        self.id, self.topo, self.node = name, topo, node
        rig.crun("delete", "-f", name)
        self.started = time.monotonic()
        self.proc = topo.spawn(bundle.argv(name), label=name, stderr=subprocess.STDOUT)
        self.ready_after = None

    def wait_ready(self, timeout=20):
        wait_for_line(self.proc, r"msg=ready", timeout)
        self.ready_after = time.monotonic() - self.started
        return self.ready_after

    def log(self, wait=0.5):
        """Every line the agent logged so far."""
        drain(self.proc, wait)
        return list(_reader(self.proc).lines)

    def exec(self, *argv):
        return rig.crun("exec", self.id, *argv)

    def status(self):
        res = self.exec("socklb", "status", "--json", "--pin-path", "/sys/fs/bpf/socklb")
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def http(self, path):
        res = self.node.run(["curl", "-s", "-m", "3", "-o", "-", "-w", "\n%{http_code}",
                             f"http://{NODE_IP}:9090{path}"])
        body, _, code = res.stdout.rpartition("\n")
        return int(code or 0), body

    def stop(self):
        rig.crun("kill", self.id, "TERM")
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            rig.crun("kill", self.id, "KILL")
            rc = self.proc.wait(5)
        rig.crun("delete", "-f", self.id)
        return rc


def cleanup_pins(host_bpffs):
    """What an agent run with --persist (the DaemonSet's) left: detached, unpinned."""
    pin = os.path.join(host_bpffs, "socklb")
    if os.path.exists(pin):
        res = run_socklb(["agent", "--cleanup", "--pin-path", pin])
        assert res.returncode == 0, res.stderr


def backends(st, vip=VIP):
    svc = next((s for s in st["services"] if s["vip"] == vip), None)
    return {b["address"]: b for b in svc["backends"]} if svc else {}


def ended_max_age(st):
    """Connections ended, by whichever mechanism (a GOAWAY for h2c, else a destroy)."""
    return sum(b["ended_graceful"] + b["ended_forced"] + b["ended_goaway"]
               for b in backends(st).values())


def check_balances(run, client, cg, pods):
    want = {p.addr for p in pods}
    assert wait_until(lambda: set(backends(run.status())) == want, 10), run.status()
    before = sum(b["connects"] for b in backends(run.status()).values())
    out = run_grpc_client(client, VIP, cgroup=cg, channels=6)
    assert out["ok"] == 6 and set(out["by_pod"]) == {p.name for p in pods}, out
    # This agent's programs balanced them (not another one's left attached).
    after = sum(b["connects"] for b in backends(run.status()).values())
    assert after - before >= 6, (before, after)
    return out


def test_image_under_the_daemonsets_context():
    reason = skip_reason()
    if reason:
        print(f"SKIP container test: {reason}", flush=True)
        return
    ensure_bpffs()
    rig.ensure_base_images()
    took, size = rig.build_image()
    files = rig.ImageFiles()
    try:
        root = files.root
        assert not list((root / "usr" / "bin").glob("gcc*")) and not (root / "usr/bin/cc").exists()
        assert not (root / "usr/bin/clang").exists()
        assert not list((root / "var/cache/apt/archives").glob("*.deb")), "apt's downloads kept"
        ca_bundle = root / "etc/ssl/certs/ca-certificates.crt"
        assert ca_bundle.exists() and ca_bundle.stat().st_size > 100000, "no CA bundle"
        ca_size = ca_bundle.stat().st_size
    finally:
        files.close()
    print(f"  container: image built in {took:.0f} s, {size / 1e6:.1f} MB, no compiler, "
          f"CA bundle {ca_size // 1024} KiB", flush=True)

    with Topology("slbctr") as topo:
        pods = start_pods(topo, 3, first_ip_index=11)
        api_host = topo.add_host("api", API_IP)
        node = topo.add_host("node", NODE_IP)
        client = topo.add_host("client", CLIENT_IP)
        cg = topo.make_cgroup()
        certs = make_certs(topo.workdir)
        api = FakeApi(topo, api_host, certs, tokens=["service-account-token"])
        api.put("services", service_obj(annotated="true", cluster_ips=("10.96.0.10",)))
        api.put("endpointslices", slice_obj(pods, 4))
        sa = service_account(topo.workdir, certs)
        pins = f"/sys/fs/bpf/socklb-ctr-{os.getpid()}"
        os.makedirs(pins, exist_ok=True)
        env = {"KUBERNETES_SERVICE_HOST": API_IP, "KUBERNETES_SERVICE_PORT": "6443",
               "NODE_NAME": "test-node"}
        bundle = rig.Bundle(topo.workdir, f"socklb-ctr-{os.getpid()}", cg, pins, sa, env)
        variant_pins = []
        try:
            full_context(topo, bundle, node, client, cg, pods, pins)
            cleanup_pins(pins)
            capability_matrix(topo, bundle, node, client, cg, pods, variant_pins)
        finally:
            bundle.close()
            for p in [pins] + variant_pins:
                cleanup_pins(p)
                shutil.rmtree(p, ignore_errors=True)
        print("  container: capability matrix (kernel %s, default seccomp):" % os.uname().release)
        for row in MATRIX:
            print("    " + row, flush=True)


def full_context(topo, bundle, node, client, cg, pods, pins):
    # 1. Start, in-cluster config, balance, probes.
    run = Run(topo, bundle, node, bundle.name + "-1")
    secs = run.wait_ready()
    log = run.log()
    assert not [x for x in log if "missing privilege" in x], log
    check_balances(run, client, cg, pods)
    code, body = run.http("/healthz")
    assert code == 200, (code, body)
    code, body = run.http("/metrics")
    assert code == 200 and "socklb_backend_live_connections" in body, code
    assert "socklb_missing_privilege{" not in body, body
    assert re.search(r'socklb_k8s_watch_up\{resource="services",namespace=""\} 1', body), body
    print(f"  container: ready {secs:.2f} s after crun run (DaemonSet context), balanced, "
          f"/healthz and /metrics answered", flush=True)
    MATRIX.append(f"{'as listed (' + ','.join(bundle.container['securityContext']['capabilities']['add']) + ')':32} starts, balances, ends connections, probes answer")

    # 2. Restart with --persist: held connections stay where they are.
    held, first = start_holding_client(client, VIP, cgroup=cg, channels=6)
    assert first["ok"] == 6, first
    assert run.stop() == 0
    run = Run(topo, bundle, node, bundle.name + "-2")
    run.wait_ready()
    again = client_round(held)
    assert again["ok"] == 6 and again["by_channel"] == first["by_channel"], (first, again)
    live = sum(b["live"] for b in backends(run.status()).values())
    assert live == 6, run.status()
    print("  container: --persist restart: 6 held connections, 0 reconnected, 0 failed calls",
          flush=True)
    topo.stop(held)
    assert run.stop() == 0

    # 3. --max-age through the ConfigMap's SOCKLB_EXTRA_ARGS: connections end.
    bundle.spec["process"]["env"].append("SOCKLB_EXTRA_ARGS=--max-age 2s --drain-deadline 1s")
    run = Run(topo, bundle, node, bundle.name + "-3")
    run.wait_ready()
    held, first = start_holding_client(client, VIP, cgroup=cg, channels=4)
    assert wait_until(lambda: ended_max_age(run.status()) >= 4, 12), run.status()
    topo.stop(held)
    assert run.stop() == 0
    bundle.spec["process"]["env"].pop()
    print("  container: --max-age 2s (SOCKLB_EXTRA_ARGS) ended the held connections", flush=True)


def capability_matrix(topo, bundle, node, client, cg, pods, variant_pins):
    added = bundle.container["securityContext"]["capabilities"]["add"]
    bundle.spec["process"]["env"].append(
        "SOCKLB_EXTRA_ARGS=--max-age 2s --drain-deadline 1s --log-level debug")
    for cap in added:
        pins = f"/sys/fs/bpf/socklb-ctr-{os.getpid()}-no-{cap.lower()}"
        os.makedirs(pins, exist_ok=True)
        variant_pins.append(pins)
        run = Run(topo, bundle, node, f"{bundle.name}-no-{cap.lower()}", drop=[f"CAP_{cap}"],
                  bpffs=pins)
        if cap == "SYS_ADMIN":
            rc = run.proc.wait(20)
            out = "".join(run.proc.stdout.read())
            assert rc == 1, (rc, out)
            assert "needs CAP_SYS_ADMIN" in out and "add SYS_ADMIN" in out, out
            assert not os.listdir(pins), os.listdir(pins)
            MATRIX.append(f"{'without SYS_ADMIN':32} refuses to start (exit 1): "
                          "\"needs CAP_SYS_ADMIN ... add SYS_ADMIN\", nothing attached")
            rig.crun("delete", "-f", run.id)
            continue
        run.wait_ready()
        check_balances(run, client, cg, pods)
        held, _ = start_holding_client(client, VIP, cgroup=cg, channels=4)
        ended = wait_until(lambda: ended_max_age(run.status()) >= 4, 8)
        st = run.status()
        code, body = run.http("/metrics")
        log = run.log()
        topo.stop(held)
        assert run.stop() == 0
        cleanup_pins(pins)
        if cap == "SYS_PTRACE":
            assert not ended, st
            assert any('msg="missing privilege" capability=CAP_SYS_PTRACE' in x for x in log), log
            assert any("cannot enter a network namespace" in x for x in log), \
                log[-40:]
            missing = st["agent"]["missing_privileges"]
            assert [m["capability"] for m in missing] == ["CAP_SYS_PTRACE"], st["agent"]
            assert 'socklb_missing_privilege{capability="CAP_SYS_PTRACE"' in body, body
            denied = re.search(r"socklb_netns_enter_denied_total (\d+)", body)
            assert denied and int(denied.group(1)) > 0, body
            MATRIX.append(f"{'without SYS_PTRACE':32} starts and balances; ends no connection "
                          "of another netns: said at start, in status and metrics "
                          f"(netns_enter_denied_total {denied.group(1)})")
        else:
            raise AssertionError(f"{cap}: the manifest adds it, but nothing broke without it")
    bundle.spec["process"]["env"].pop()
    # What the manifest does not add is not needed: the full context above had none of it.
    for cap in ("BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE"):
        assert cap not in added, added
        MATRIX.append(f"{'(not listed) ' + cap:32} not needed: everything above ran without it")
