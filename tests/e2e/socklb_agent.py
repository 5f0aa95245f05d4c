#!/usr/bin/python3
"""Run the socklb agent for a test: its own pin path, a test cgroup, and
helpers to read `socklb status --json`, send SIGHUP and stop it.

The agent runs in the root network namespace (as on a node) but is attached
only to the cgroup the test made, so nothing else on the machine is touched.
"""

import atexit
import json
import os
import re
import shlex
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from topology import _reader, wait_for_line

REPO = Path(__file__).resolve().parents[2]
SOCKLB = str(REPO / "build" / "socklb")
# The agent under test: SOCKLB_AGENT names another build of it (build/socklb-san
# for make e2e-san-test), SOCKLB_AGENT_WRAPPER a command to run it under
# (valgrind, for make e2e-valgrind-test).  `socklb status` stays SOCKLB.
AGENT = os.environ.get("SOCKLB_AGENT") or SOCKLB
AGENT_WRAPPER = shlex.split(os.environ.get("SOCKLB_AGENT_WRAPPER", ""))
# Under valgrind the agent starts and stops many times slower: what waits for
# it (ready, exit) waits this many times longer; the tests' own limits do not.
TIMEOUT_SCALE = float(os.environ.get("SOCKLB_TIMEOUT_SCALE", "1"))
BPFFS = "/sys/fs/bpf"


def ensure_bpffs():
    """Mount the BPF filesystem if this machine has none yet."""
    with open("/proc/self/mounts") as f:
        if any(line.split()[1] == BPFFS and line.split()[2] == "bpf" for line in f):
            return
    subprocess.run(["mount", "-t", "bpf", "bpf", BPFFS], check=True, timeout=10)


_pin_paths = iter(range(1 << 30))


def next_pin_path():
    """A pin path no other agent of this test run uses."""
    return f"{BPFFS}/socklb-test-{os.getpid()}-{next(_pin_paths)}"


class Agent:
    """socklb agent started through the topology (so cleanup kills it)."""

    def __init__(self, topo, cgroup, services=(), config=None, extra=(), pin_path=None,
                 netns=None, resolv_conf=None, binary=None):
        """netns: run the agent in that network namespace (e.g. a "node" host
        that can reach a test DNS server); resolv_conf: give it that file as
        /etc/resolv.conf (see in_node); binary: another socklb build (an
        older version, for upgrade tests; default: the agent under test)."""
        ensure_bpffs()
        self.topo = topo
        self.pin_path = pin_path or next_pin_path()
        argv = agent_argv(binary, "--cgroup", cgroup, "--pin-path", self.pin_path)
        for spec in services:
            argv += ["--service", spec]
        if config:
            argv += ["--config", config]
        argv += list(extra)
        if "--persist" in extra:
            # Pins outlive the agent by design: remove them when the test ends.
            atexit.register(cleanup_pins, self.pin_path)
        # stderr carries the log; keep it on a pipe to wait for "ready".
        self.proc = topo.spawn(in_node(argv, netns, resolv_conf), label="agent",
                               stderr=subprocess.STDOUT)
        wait_for_line(self.proc, r"msg=ready", 20 * TIMEOUT_SCALE)

    def status(self):
        res = subprocess.run([SOCKLB, "status", "--json", "--pin-path", self.pin_path],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def status_connections(self, vip="10.96.0.10:8080"):
        """{backend address: its status dict, with tracked_live/connecting} from
        `socklb status --connections` (the kernel's own record of each)."""
        res = subprocess.run([SOCKLB, "status", "--json", "--connections", "--pin-path",
                              self.pin_path], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        for svc in json.loads(res.stdout)["services"]:
            if svc["vip"] == vip:
                return {b["address"]: b for b in svc["backends"]}
        raise AssertionError(f"service {vip} not in status")

    def backends(self, vip, draining=False):
        """{backend address: its status dict} for the service at vip: its set,
        and with draining=True also the removed backends still draining."""
        for svc in self.status()["services"]:
            if svc["vip"] == vip:
                return {b["address"]: b for b in svc["backends"]
                        if draining or not b.get("draining")}
        raise AssertionError(f"service {vip} not in status")

    def wait_backends(self, vip, predicate, timeout=5.0, draining=False):
        """Polls status until predicate(backends) holds; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            bes = self.backends(vip, draining=draining)
            if predicate(bes) or time.monotonic() > deadline:
                return bes
            time.sleep(0.05)

    def reload(self):
        """SIGHUP, then waits until the agent has applied the file ("reloaded",
        logged after the maps are written) or refused it ("reload failed").
        Returns the lines it logged meanwhile (sources stopped, started)."""
        reader = _reader(self.proc)
        seen = len(reader.lines)
        self.proc.send_signal(signal.SIGHUP)
        wait_for_line(self.proc, r"msg=\"?reload", 10 * TIMEOUT_SCALE)
        return reader.lines[seen:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10 * TIMEOUT_SCALE)
        return rc


def agent_argv(binary=None, *args):
    """The command line of `socklb agent ARGS`: the agent under test (AGENT,
    under AGENT_WRAPPER) unless binary names another build."""
    return [*AGENT_WRAPPER, binary or AGENT, "agent", *args]


def in_node(argv, netns=None, resolv_conf=None):
    """argv run inside network namespace `netns` with nsenter (not `ip netns
    exec`, which remounts /sys and so hides /sys/fs/bpf), and with
    `resolv_conf` bind-mounted over /etc/resolv.conf in a private mount
    namespace, as a pod sees its own. Every step execs: the pid stays argv's."""
    if netns:
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    if resolv_conf:
        argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv_conf, *argv]
    return argv


def cleanup_pins(pin_path):
    """socklb agent --cleanup: detach and unpin whatever an agent left."""
    if os.path.exists(pin_path):
        run_socklb(["agent", "--cleanup", "--pin-path", pin_path])


def run_socklb(args, timeout=20, **kw):
    """socklb with args; returns CompletedProcess (stdout and stderr text).
    `socklb agent ...` runs the agent under test (see agent_argv)."""
    if args and args[0] == "agent":
        argv, timeout = agent_argv(None, *args[1:]), timeout * TIMEOUT_SCALE
    else:
        argv = [SOCKLB, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def cgroup_programs(cgroup):
    """Names of the BPF programs attached to cgroup (bpftool's view)."""
    res = subprocess.run(["bpftool", "-j", "cgroup", "show", cgroup],
                         capture_output=True, text=True, timeout=10)
    return [p.get("name", "") for p in json.loads(res.stdout.strip() or "[]")]


def drain(proc, wait=0.2):
    """Every output line of proc that arrived since the last wait or drain."""
    reader, lines = _reader(proc), []
    end = time.monotonic() + wait
    while True:
        try:
            line = reader.next_line(max(end - time.monotonic(), 0))
        except Exception:  # queue.Empty: nothing more for now
            return lines
        if line is None:
            return lines
        lines.append(line)


def log_time(line):
    """The wall-clock time of an agent log line (ts=2025-01-02T03:04:05.678Z)."""
    ts = re.search(r"ts=(\S+)Z", line).group(1)
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def service(agent, vip):
    """The status --json entry of vip, or None."""
    return next((s for s in agent.status()["services"] if s["vip"] == vip), None)


def wait_service(agent, vip, predicate, timeout):
    """Polls status until predicate(service entry) holds; returns the entry.
    Entries without the state file's keys (not written yet) do not count."""
    deadline = time.monotonic() + timeout
    while True:
        svc = service(agent, vip)
        if (svc and "source" in svc and predicate(svc)) or time.monotonic() > deadline:
            return svc
        time.sleep(0.02)


def addresses(svc):
    """The addresses of a status entry's backend set: removed backends still
    draining their connections are shown too, but are not in the set."""
    return {b["address"] for b in svc["backends"] if not b.get("draining")} if svc else set()
