#!/usr/bin/python3
"""The gRPC client stacks the tests drive, started alike (see peers/PEERS.md):

  sync  grpcio's blocking API      (python3-grpcio, C-core 1.51)
  aio   grpcio's asyncio API       (same library; its poller always runs)
  go    grpc-go 1.33               (Debian's golang-google-grpc-dev)
  js    @grpc/grpc-js              (npm)

Every one prints STARTED, then one JSON line of records at the end, in the
format load.py reads, so a test runs the same scenario with each.
"""

import subprocess
from pathlib import Path

import os

from load import LOAD_CLIENT
from socklb_agent import Agent
from topology import PYTHON, start_pods, wait_for_line

REPO = Path(__file__).resolve().parents[2]
PEERS = REPO / "tests" / "e2e" / "peers"
GO_CLIENT = REPO / "build" / "peers" / "load_client_go"
JS_CLIENT = PEERS / "js" / "load_client.js"
STACKS = ("sync", "aio", "go", "js")

_built = False


def build_peers():
    """The go and js peers, built (and their packages installed) once per run."""
    global _built
    if not _built:
        res = subprocess.run([str(PEERS / "build-peers.sh")], capture_output=True, text=True,
                             timeout=900)
        assert res.returncode == 0, res.stderr
        _built = True


def client_argv(stack, target, channels=1, rate=10.0, duration=10.0, deadline=5.0,
                closed_loop=False, concurrency=1, reply_bytes=0, request_bytes=0):
    if stack in ("sync", "aio"):
        argv = [PYTHON, LOAD_CLIENT, "--api", stack]
    elif stack == "go":
        build_peers()
        argv = [str(GO_CLIENT)]
    elif stack == "js":
        build_peers()
        argv = ["node", str(JS_CLIENT)]
    else:
        raise ValueError(f"unknown stack {stack}")
    argv += ["--target", target, "--channels", str(channels), "--rate", str(rate),
             "--duration", str(duration), "--deadline", str(deadline),
             "--concurrency", str(concurrency)]
    if closed_loop:
        argv.append("--closed-loop")
    if reply_bytes:
        argv += ["--reply-bytes", str(reply_bytes)]
    if request_bytes:
        argv += ["--request-bytes", str(request_bytes)]
    return argv


def start_client(host, stack, target, cgroup, **kw):
    """One load client of `stack` in host; returns once every caller made its first call."""
    proc = host.popen(client_argv(stack, target, **kw), cgroup=cgroup)
    wait_for_line(proc, r"^STARTED", kw.get("duration", 10.0) + 30)
    return proc


def single_client_rig(topo, vip, n_pods, extra=()):
    """n_pods greeter pods behind vip (a static service), one client host,
    its cgroup and an agent with extra options: (pods, host, cgroup, agent)."""
    pods = start_pods(topo, n_pods, first_ip_index=11)
    host = topo.add_host("client0", "10.244.1.100")
    cg = topo.make_cgroup()
    conf = os.path.join(topo.workdir, "services.conf")
    with open(conf, "w") as f:
        f.write(f"{vip} = static:" + ",".join(p.addr for p in pods) + "\n")
    return pods, host, cg, Agent(topo, cg, config=conf, extra=list(extra))
