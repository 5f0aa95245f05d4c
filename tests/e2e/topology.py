#!/usr/bin/python3
"""Isolated network topology for socklb end-to-end tests (stdlib only, root).

Layout: one "switch" netns holding a Linux bridge, and one netns per host
(pod or client) attached to it by a veth pair. Hosts get an IPv4 address
from the caller's subnet and an IPv6 address (nodad) from fd00:5a1b::/64.
No namespace has a default route, so any packet to an address outside the
subnet (e.g. an unrewritten VIP) fails with ENETUNREACH instead of leaking.
The root namespace is never modified: every link is created with `ip -n`.

Typical use:

    with Topology("slb") as topo:
        pods = start_pods(topo, 3, first_ip_index=11)
        client = topo.add_host("client", "10.244.1.100")
        cg = topo.make_cgroup()
        out = run_grpc_client(client, "10.96.0.10:8080", channels=6, cgroup=cg)

Cleanup (processes, then namespaces, then cgroups) runs from __exit__ and,
as a fallback, from atexit; it is idempotent and bounded in time.
"""

import atexit
import ipaddress
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import reports

PYTHON = "/usr/bin/python3"  # Debian's python, the one with python3-grpcio
PEERS_DIR = Path(__file__).resolve().parent / "peers"
GREETER = str(PEERS_DIR / "greeter_server.py")
CLIENT = str(PEERS_DIR / "grpc_client.py")

IFNAMSIZ = 15
CMD_TIMEOUT = 10.0  # any single `ip` command
# SIGTERM -> SIGKILL; longer when the agent runs under valgrind (SOCKLB_TIMEOUT_SCALE,
# see socklb_agent.py): its exit, leak check included, must not be cut short.
TERM_GRACE = 3.0 * float(os.environ.get("SOCKLB_TIMEOUT_SCALE", "1"))
KILL_WAIT = 2.0
CGROUP_RMDIR_WAIT = 3.0


class TopologyError(RuntimeError):
    pass


def sh(argv, timeout=CMD_TIMEOUT, check=True):
    """Run a short command, capture output; raise with stderr on failure."""
    try:
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TopologyError(f"timeout after {timeout}s: {argv}") from e
    if check and res.returncode != 0:
        raise TopologyError(f"{argv} -> rc={res.returncode}: {res.stderr.strip()}")
    return res


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return fields[1]
    raise TopologyError("no cgroup2 mount in /proc/mounts")


def netns_list():
    """Names of all named network namespaces (`ip netns list`)."""
    out = sh(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# ------------------------------------------------------------ line reading

class _LineReader:
    """Drains a process's stdout on a daemon thread so waits can time out."""

    def __init__(self, stream):
        self.lines = []  # every line seen, for diagnostics
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        try:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        except (OSError, ValueError):  # stream closed during cleanup
            pass
        self._queue.put(None)  # EOF marker

    def next_line(self, timeout):
        """Next line, None at EOF; raises queue.Empty on timeout."""
        line = self._queue.get(timeout=max(timeout, 0))
        if line is not None:
            self.lines.append(line)
        else:
            self._queue.put(None)  # keep EOF sticky for later callers
        return line


def _reader(proc):
    if proc.stdout is None:
        raise TopologyError("process was not started with stdout=PIPE")
    if not hasattr(proc, "_socklb_reader"):
        proc._socklb_reader = _LineReader(proc.stdout)
    return proc._socklb_reader


def wait_for_line(proc, pattern, timeout):
    """Return the first stdout line (str) matching regex `pattern`, or raise
    TopologyError on timeout/EOF. Earlier non-matching lines are consumed."""
    rx = re.compile(pattern)
    reader = _reader(proc)
    end = time.monotonic() + timeout
    while True:
        try:
            line = reader.next_line(end - time.monotonic())
        except queue.Empty:
            raise TopologyError(f"timeout ({timeout}s) waiting for /{pattern}/;"
                                f" seen: {reader.lines[-5:]}") from None
        if line is None:
            raise TopologyError(f"EOF (rc={proc.poll()}) waiting for "
                                f"/{pattern}/; seen: {reader.lines[-5:]}")
        if rx.search(line):
            return line


def read_json_line(proc, timeout):
    """Next stdout line that parses as a JSON object."""
    return json.loads(wait_for_line(proc, r"^\s*\{", timeout))


# ------------------------------------------------------------------ hosts

class Host:
    """One network namespace attached to the test bridge."""

    def __init__(self, topo, name, netns, ip, ip6):
        self.topo = topo
        self.name = name
        self.netns = netns
        self.ip = ip
        self.ip6 = ip6

    def popen(self, argv, cgroup=None, **kw):
        """Start argv inside this netns (optionally in `cgroup`); tracked
        and killed at cleanup. Defaults: stdin/stdout pipes, text mode,
        stderr to a log file in topo.workdir."""
        return self.topo.spawn(argv, netns=self.netns, cgroup=cgroup,
                               label=self.name, **kw)

    def run(self, argv, timeout=CMD_TIMEOUT, check=False, cgroup=None):
        """Run a short command in this netns; returns CompletedProcess."""
        return sh(self.topo.wrap(argv, self.netns, cgroup), timeout, check)

    def __repr__(self):
        return f"Host({self.name}, {self.netns}, {self.ip}, {self.ip6})"


class Topology:
    """Switch netns + bridge, hosts, cgroups and processes of one test."""

    def __init__(self, prefix="slb", subnet="10.244.1.0/24",
                 subnet6="fd00:5a1b::/64"):
        if not re.fullmatch(r"[a-z]{1,8}", prefix):
            raise ValueError("prefix: 1-8 lowercase letters (the pid follows)")
        self.tag = f"{prefix}{os.getpid()}"
        self.subnet = ipaddress.IPv4Network(subnet)
        self.subnet6 = ipaddress.IPv6Network(subnet6)
        self.switch = f"{self.tag}-sw"
        self.hosts = {}
        self.cgroups = []
        self.procs = []
        self.workdir = tempfile.mkdtemp(prefix=f"socklb-{self.tag}-")
        self._netns = []  # creation order; deleted in reverse
        self._closed = False

    # -- lifecycle

    def __enter__(self):
        atexit.register(self.close)
        try:
            self._make_switch()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.dump_logs()
        self.close()
        return False

    def close(self):
        """Idempotent, bounded cleanup: processes, netns, cgroups, workdir."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for step in (self._kill_all, self._del_netns, self._rm_cgroups):
            try:
                step()
            except Exception as e:  # keep going: later steps still matter
                errors.append(f"{step.__name__}: {e}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)
        if errors:
            print("topology cleanup errors: " + "; ".join(errors),
                  file=sys.stderr)

    # -- building

    def _add_netns(self, name):
        sh(["ip", "netns", "add", name])
        self._netns.append(name)
        sh(["ip", "-n", name, "link", "set", "lo", "up"])

    def _make_switch(self):
        self._add_netns(self.switch)
        # No STP and no multicast snooping: ports forward immediately and
        # IPv6 neighbour discovery is simply flooded.
        sh(["ip", "-n", self.switch, "link", "add", "br0", "type", "bridge",
            "stp_state", "0", "mcast_snooping", "0"])
        sh(["ip", "-n", self.switch, "link", "set", "br0", "up"])

    def _ip6_for(self, ip):
        """IPv6 with the same host offset as the IPv4 (…1.11 -> fd00:5a1b::b)."""
        offset = int(ipaddress.IPv4Address(ip)) - int(self.subnet.network_address)
        return str(self.subnet6.network_address + offset)

    def add_host(self, name, ipv4, ip6=None):
        """New netns `<tag>-<name>` with eth0 on the bridge. No default route."""
        if name in self.hosts:
            raise ValueError(f"duplicate host {name}")
        if ipaddress.IPv4Address(ipv4) not in self.subnet:
            raise ValueError(f"{ipv4} not in {self.subnet}")
        ns = f"{self.tag}-{name}"
        ip6 = ip6 or self._ip6_for(ipv4)
        port = f"v{len(self.hosts)}"  # switch-side name, unique in switch ns
        assert len(port) <= IFNAMSIZ
        self._add_netns(ns)
        sh(["ip", "-n", self.switch, "link", "add", port, "type", "veth",
            "peer", "name", "eth0", "netns", ns])
        sh(["ip", "-n", self.switch, "link", "set", port, "master", "br0", "up"])
        self._config_host_if(ns, ipv4, ip6)
        host = Host(self, name, ns, ipv4, ip6)
        self.hosts[name] = host
        return host

    def _config_host_if(self, ns, ipv4, ip6):
        plen4, plen6 = self.subnet.prefixlen, self.subnet6.prefixlen
        sh(["ip", "-n", ns, "addr", "add", f"{ipv4}/{plen4}", "dev", "eth0"])
        sh(["ip", "-n", ns, "addr", "add", f"{ip6}/{plen6}", "dev", "eth0",
            "nodad"])
        sh(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def make_cgroup(self):
        """Fresh empty cgroup v2 dir; removed at cleanup. Returns its path."""
        path = os.path.join(cgroup2_mount(),
                            f"socklb-test-{os.getpid()}-{len(self.cgroups)}")
        os.mkdir(path)
        self.cgroups.append(path)
        return path

    # -- processes

    def wrap(self, argv, netns=None, cgroup=None):
        """argv prefixed so it runs in `netns` and starts life in `cgroup`.
        The shell joins the cgroup itself and then execs, so the target
        program is in the cgroup before its first instruction."""
        argv = [str(a) for a in argv]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        if cgroup:
            procs = os.path.join(cgroup, "cgroup.procs")
            argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs] + argv
        return argv

    def spawn(self, argv, netns=None, cgroup=None, label=None, **kw):
        """Popen tracked for cleanup. netns=None runs in the caller's netns
        (e.g. for the socklb agent). Own session so cleanup can kill the
        whole process group."""
        label = label or "root"
        log = os.path.join(self.workdir, f"{label}-{len(self.procs)}.log")
        kw.setdefault("stdin", subprocess.PIPE)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("text", True)
        if "stderr" not in kw:
            kw["stderr"] = open(log, "w")
        proc = subprocess.Popen(self.wrap(argv, netns, cgroup),
                                start_new_session=True, **kw)
        proc.log_path = log
        proc.label = label
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=TERM_GRACE):
        """SIGTERM the process group, SIGKILL after `timeout`. Returns rc."""
        _signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            return proc.wait(KILL_WAIT)

    # -- cleanup steps

    def _kill_all(self):
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            _close_stdin(p)  # lets EOF-aware peers exit on their own
            _signal_group(p, signal.SIGTERM)
        _wait_all(live, TERM_GRACE)
        for p in live:
            if p.poll() is None and getattr(p, "label", "") == "agent":
                reports.note_killed(p, TERM_GRACE)
            _signal_group(p, signal.SIGKILL)  # also reaps stray children
        _wait_all(live, KILL_WAIT)
        for p in self.procs:
            for stream in (p.stdin, p.stdout, p.stderr):
                if stream:
                    stream.close()

    def _del_netns(self):
        for ns in reversed(self._netns):
            sh(["ip", "netns", "del", ns], check=False)
        self._netns.clear()

    def _rm_cgroups(self):
        for path in reversed(self.cgroups):
            _rmdir_cgroup(path)
        self.cgroups.clear()

    def dump_logs(self, tail=20):
        """Print the last stderr lines of every process (called on failure)."""
        for p in self.procs:
            try:
                with open(p.log_path) as f:
                    lines = f.read().splitlines()[-tail:]
            except OSError:
                continue
            if lines:
                print(f"--- {p.label} (rc={p.poll()}) {p.args}", file=sys.stderr)
                print("\n".join(lines), file=sys.stderr)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _close_stdin(proc):
    try:
        if proc.stdin:
            proc.stdin.close()
    except OSError:
        pass


def _wait_all(procs, timeout):
    end = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(end - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            pass


def _rmdir_cgroup(path):
    """rmdir fails with EBUSY while members remain (e.g. processes the test
    moved in itself, or exiting ones); kill them via cgroup.kill and retry."""
    end = time.monotonic() + CGROUP_RMDIR_WAIT
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > end:
                raise
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        time.sleep(0.05)


def cleanup_stale(prefix="slb"):
    """Delete netns, cgroups and log dirs left by earlier runs that died by
    SIGKILL (their pid, embedded in the name, no longer exists)."""
    for ns in netns_list():
        m = re.fullmatch(rf"{re.escape(prefix)}(\d+)-.+", ns)
        if m and not _pid_alive(int(m.group(1))):
            sh(["ip", "netns", "del", ns], check=False)
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = re.fullmatch(rf"socklb-{re.escape(prefix)}(\d+)-\w+", name)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
    root = cgroup2_mount()
    for name in os.listdir(root):
        m = re.fullmatch(r"socklb-test-(\d+)-\d+", name)
        if m and not _pid_alive(int(m.group(1))):
            try:
                _rmdir_cgroup(os.path.join(root, name))
            except OSError as e:
                print(f"cleanup_stale: {name}: {e}", file=sys.stderr)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------- peer helpers

class Pod:
    def __init__(self, name, host, proc, port):
        self.name, self.host, self.proc, self.port = name, host, proc, port

    @property
    def addr(self):
        return f"{self.host.ip}:{self.port}"

    @property
    def addr6(self):
        return f"[{self.host.ip6}]:{self.port}"

    def __repr__(self):
        return f"Pod({self.name}, {self.addr})"


def _greeter_argv(name, port, extra_args):
    # [::] accepts both IPv4 and IPv6; stdin EOF ties the pod's life to ours.
    return [PYTHON, GREETER, "--listen", f"[::]:{port}", "--name", name,
            "--exit-on-stdin-eof", *extra_args]


def start_pod(topo, name, ip, port=8080, extra_args=(), timeout=15):
    """One greeter_server.py in a new host `name` at `ip`; waits for READY."""
    host = topo.add_host(name, ip)
    pod = Pod(name, host, host.popen(_greeter_argv(name, port, extra_args)), port)
    wait_for_line(pod.proc, r"^READY ", timeout)
    return pod


def start_pods(topo, n, first_ip_index, port=8080, extra_args=(), timeout=15):
    """Pods pod-1..pod-n at <subnet>.<first_ip_index + i>, all READY.
    Servers start in parallel, then we wait for each."""
    base = topo.subnet.network_address + first_ip_index
    pods = []
    for i in range(n):
        name = f"pod-{i + 1}"
        host = topo.add_host(name, str(base + i))
        proc = host.popen(_greeter_argv(name, port, extra_args))
        pods.append(Pod(name, host, proc, port))
    for pod in pods:
        wait_for_line(pod.proc, r"^READY ", timeout)
    return pods


def client_argv(target, channels=1, calls_per_channel=1, interval=0.0,
                deadline=5.0, hold=False):
    argv = [PYTHON, CLIENT, "--target", target, "--channels", channels,
            "--calls-per-channel", calls_per_channel, "--interval", interval,
            "--deadline", deadline]
    return argv + (["--hold"] if hold else [])


def run_grpc_client(host, target, cgroup=None, timeout=60, **kw):
    """Run grpc_client.py to completion in `host`; returns its JSON dict.
    kw: channels, calls_per_channel, interval, deadline (see client_argv)."""
    res = host.run(client_argv(target, **kw), timeout=timeout, cgroup=cgroup)
    if res.returncode != 0:
        raise TopologyError(f"grpc_client rc={res.returncode}: {res.stderr}")
    return json.loads(res.stdout.splitlines()[-1])


def start_holding_client(host, target, cgroup=None, timeout=60, **kw):
    """Start grpc_client.py --hold; returns (proc, first summary dict).
    Send a line to proc.stdin for another round (read it with
    read_json_line); close stdin or topo.stop(proc) to end it."""
    proc = host.popen(client_argv(target, hold=True, **kw), cgroup=cgroup)
    return proc, read_json_line(proc, timeout)


def client_round(proc, timeout=60):
    """Ask a holding client for another round on its open channels."""
    proc.stdin.write("\n")
    proc.stdin.flush()
    return read_json_line(proc, timeout)


def getpeername(host, target, cgroup=None, timeout=10):
    """Plain TCP connect from `host`; {"peer": ..} or {"error": "ENETUNREACH"..}."""
    argv = [PYTHON, CLIENT, "--target", target, "--getpeername",
            "--deadline", min(timeout, 5)]
    res = host.run(argv, timeout=timeout, cgroup=cgroup)
    return json.loads(res.stdout.splitlines()[-1])
