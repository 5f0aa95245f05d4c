"""Held connections: what one costs the kernel with and without socklb, and
the agent's memory while they are open.

A hold-sink namespace runs netperf.py hold sinks on 5 ports (the service's
5 backends), which accept every connection and keep it. Holders
(netperf.py worker, op "hold") in profile.conn_clients client namespaces
open the connections and keep them: "without socklb" from a cgroup with no
hook at all, to the 5 sink ports in turn; "with socklb" from the cgroup the
agent is attached to, to the service's VIP (balanced by least-conn over the
same 5 ports, tracked in socket-local storage). Each client namespace has
the whole ephemeral port range (1024-65535); connect() takes odd ports
first and scans the whole odd half before it tries an even one, so a source
address reaches about 32 000 connections per backend port before every
connect becomes a long scan: hence several client namespaces.

For each count, rounds without and with socklb alternate (the order turns
every repeat). A round waits until the sockets of the round before are gone
and the kernel's slab memory has stopped falling (sockets, inodes and BPF
storage are freed after RCU grace periods), reads the kernel's memory,
opens the connections, waits until the sinks have accepted them all, reads
it again, and closes them (resets from the clients, then the sinks close
theirs). Kernel bytes per connection = the increase of the bytes in use in
every slab cache (/sys/kernel/slab, objects × object size; /proc/meminfo's
Slab, which moves by whole slabs, is kept too) over the connections held;
it covers both ends (client and sink socket, their files and inodes), as
both are on this machine. What socklb adds is the difference of the two
within a repeat, over the unreclaimable caches (dentries and proc inodes,
reclaimable, move with whatever else runs here), and per cache. The last
step opens as many as the machine allows, up to profile.conn_max, within
profile.conn_max_s, and stops early at the first failed connect or when
MemAvailable falls below a floor; the round without socklb then holds as
many as the round with it reached.
"""

import atexit
import os
import time

import memory
import netperf
from cpu import rss_kb
from micro_rig import NETPERF, SINK_PORTS, VIP_PORT, Worker
from socklb_agent import Agent, cleanup_pins
from stats import median, spread
from topology import PYTHON, read_json_line, wait_for_line

HOLD_SINK_IP = "10.244.1.160"
HOLD_VIP = "10.96.0.200"
CLIENT_IP_FIRST = 161  # 10.244.1.161, .162, ...
PORT_RANGE = "1024 65535"
BACKLOG = "65535"
SETTLE_TIMEOUT_S = 30.0
SETTLE_STEP_S = 0.5
SETTLE_BYTES = 512 * 1024  # slab bytes in use moving less than this per step: settled
ACCEPT_STALL_S = 15.0       # the sinks accepted nothing new for this long: give up waiting
MEM_FLOOR_MIN = 4 << 30     # stop opening below max(this, MEM_FLOOR_SHARE of RAM) available
MEM_FLOOR_SHARE = 0.25
CACHE_MIN_BYTES = 2.0       # per-cache figures below this per connection are left out
FD_MARGIN = 200             # descriptors a holder or hold sink keeps for everything else
SINK_SLACK = 1.3            # room for the uneven spread of a port's connections over its sinks
KINDS = ("baseline", "socklb")


class HoldSink:
    """One netperf.py holdsink: plain-text commands in, JSON lines out."""

    def __init__(self, host, port, reuseport=False, wait=True):
        argv = [PYTHON, NETPERF, "holdsink", "--listen", f"{host.ip}:{port}"]
        self.proc = host.popen(argv + (["--reuseport"] if reuseport else []))
        if wait:
            wait_for_line(self.proc, r"^READY", 10)

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def recv(self, timeout=120.0):
        return read_json_line(self.proc, timeout)


def tcp_inuse(pid):
    """TCP sockets in use in the network namespace of process pid."""
    with open(f"/proc/{pid}/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("inuse") + 1])
    return 0


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError):
        return None


class HoldRig:
    """The hold sinks and holders. No process may raise its RLIMIT_NOFILE
    above the hard limit without CAP_SYS_RESOURCE (which a container may
    lack), so both sides are pools sized for the largest count: several
    hold sinks per port (SO_REUSEPORT: the kernel spreads a port's
    connections over them by hash, hence the slack), several holders per
    client namespace, each holding at most its descriptor limit. A holder
    moves between the cgroup without hooks and socklb's cgroup before each
    round (a socket belongs to the cgroup its creator was in)."""

    def __init__(self, topo, cgroups, n_clients, largest):
        self.topo, self.cgroups = topo, cgroups
        self.fds_per_process = netperf.raise_nofile() - FD_MARGIN
        per_port = -(-largest // len(SINK_PORTS))
        sinks_per_port = max(1, -(-int(per_port * SINK_SLACK) // self.fds_per_process))
        n_holders = max(n_clients, -(-largest // self.fds_per_process))
        self.sink_host = topo.add_host("mhsink", HOLD_SINK_IP)
        for key in ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"):
            self.sink_host.run(["sysctl", "-qw", f"{key}={BACKLOG}"], check=True)
        self.sinks = [HoldSink(self.sink_host, p, reuseport=sinks_per_port > 1, wait=False)
                      for p in SINK_PORTS for _ in range(sinks_per_port)]
        self.clients = [topo.add_host(f"mhold{i}", f"10.244.1.{CLIENT_IP_FIRST + i}")
                        for i in range(n_clients)]
        for host in self.clients:
            host.run(["sysctl", "-qw", f"net.ipv4.ip_local_port_range={PORT_RANGE}"], check=True)
        self.holders = [Worker(self.clients[i % n_clients], cgroups["plain"])
                        for i in range(n_holders)]
        for sink in self.sinks:
            wait_for_line(sink.proc, r"^READY", 30)
        self.targets = {"baseline": [f"{HOLD_SINK_IP}:{p}" for p in SINK_PORTS],
                        "socklb": [f"{HOLD_VIP}:{VIP_PORT}"]}
        self.cgroup_of = {"baseline": cgroups["plain"], "socklb": cgroups["hooked"]}

    def describe(self):
        return {"fds_per_process": self.fds_per_process, "holders": len(self.holders),
                "hold_sinks": len(self.sinks), "hold_sinks_per_port": len(self.sinks) // len(SINK_PORTS)}

    def write_config(self):
        path = os.path.join(self.topo.workdir, "hold.conf")
        with open(path, "w") as f:
            f.write(f"{HOLD_VIP}:{VIP_PORT} = static:"
                    + ",".join(f"{HOLD_SINK_IP}:{p}" for p in SINK_PORTS) + "\n")
        return path

    def join(self, kind):
        """Every holder into the cgroup of kind (without / with socklb)."""
        for w in self.holders:
            with open(os.path.join(self.cgroup_of[kind], "cgroup.procs"), "w") as f:
                f.write(str(w.proc.pid))

    def sockets_in_use(self):
        """TCP sockets in the sink's and the clients' namespaces (the sinks'
        listeners included)."""
        pids = [self.sinks[0].proc.pid] + [w.proc.pid for w in self.holders[:len(self.clients)]]
        return sum(tcp_inuse(pid) for pid in pids)

    def accepted(self):
        for s in self.sinks:
            s.send("count")
        return sum(s.recv()["held"] for s in self.sinks)

    def settle(self):
        """Until the last round's sockets are gone and slab memory stands still."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while self.sockets_in_use() > len(self.sinks) and time.monotonic() < deadline:
            time.sleep(0.1)
        last = memory.slab_object_bytes()
        while time.monotonic() < deadline:
            time.sleep(SETTLE_STEP_S)
            now = memory.slab_object_bytes()
            if now is None or abs(now - last) < SETTLE_BYTES:
                return
            last = now

    def wait_accepted(self, n):
        """Until the sinks hold n connections, or accept none for a while."""
        got, last_change = self.accepted(), time.monotonic()
        while got < n and time.monotonic() - last_change < ACCEPT_STALL_S:
            time.sleep(0.2)
            now = self.accepted()
            if now != got:
                got, last_change = now, time.monotonic()
        return got

    def release(self):
        for w in self.holders:
            w.send({"op": "release"})
        for w in self.holders:
            w.recv(120.0)
        for s in self.sinks:
            s.send("release")
        for s in self.sinks:
            s.recv()


def split(n, parts):
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


COUNTS = ("live", "connecting", "connects", "connect_failures", "closes")


def service_status(agent):
    """The held service's counts summed over its backends (COUNTS), the data
    path's untracked counters and the connections the rebalancer ended
    (counters: since the agent started)."""
    st = agent.status()
    bes = [b for s in st["services"] if s["vip"] == f"{HOLD_VIP}:{VIP_PORT}"
           for b in s["backends"]]
    counts = {k: sum(b.get(k, 0) for b in bes) for k in COUNTS}
    dp = st.get("datapath", {})
    counts["ended"] = sum(e.get("graceful", 0) + e.get("forced", 0)
                          for e in dp.get("ended", {}).values())
    for k in ("untracked_storage", "untracked_handoff"):
        counts[k] = dp.get(k, 0)
    return counts


def per_connection(v, held, digits=1):
    return round(v / held, digits) if held and v is not None else None


def hold_round(hr, kind, n, limit_s, mem_floor, agent):
    hr.join(kind)
    hr.settle()
    counts_before = service_status(agent)
    before = memory.kernel_snapshot()
    workers = hr.holders
    for w, k in zip(workers, split(n, len(workers))):
        w.send({"op": "hold", "targets": hr.targets[kind], "count": k, "limit_s": limit_s,
                "mem_floor": mem_floor})
    answers = [w.recv(limit_s + 120.0) for w in workers]
    held = sum(a["held"] for a in answers)
    accepted = hr.wait_accepted(held)
    after = memory.kernel_snapshot()
    d = memory.delta(before, after)
    caches = {k: per_connection(v, held) for k, v in d.pop("caches").items()}
    rec = {"kind": kind, "requested": n, "held": held, "accepted": accepted,
           "open_s": round(max(a["seconds"] for a in answers), 2),
           "stopped_by": sorted({a["stopped_by"] for a in answers}),
           "kernel_delta_bytes": d,
           "bytes_per_connection": per_connection(d["slab_objects"], held),
           "unreclaimable_bytes_per_connection":
               per_connection(d["slab_objects_unreclaimable"], held),
           "slab_bytes_per_connection": per_connection(d["slab"], held),
           "caches_bytes_per_connection": {k: v for k, v in caches.items()
                                           if v is not None and abs(v) >= CACHE_MIN_BYTES},
           "mem_available_after": after["mem_available"]}
    if kind == "socklb":
        rec["agent_rss_kb"] = rss_kb(agent.proc.pid)
        counts = service_status(agent)
        rec["tracked_live"] = counts["live"]
        # Counters moved during the round: connects socklb balanced, and
        # what became of those not live now.
        rec["counts_delta"] = {k: counts[k] - counts_before[k] for k in counts if k != "live"}
        rec["untracked"] = {k: counts[k] for k in ("untracked_storage", "untracked_handoff")}
        rec["ended_by_rebalancer"] = rec["counts_delta"]["ended"]
    hr.release()
    return rec


FIGURES = ("bytes_per_connection", "unreclaimable_bytes_per_connection",
           "slab_bytes_per_connection")


def summarize(rounds):
    """Medians and ranges per kind; what socklb adds, per repeat (the two
    rounds of one repeat) and per slab cache (median with socklb minus
    median without)."""
    by = {k: [r for r in rounds if r["kind"] == k] for k in KINDS}
    out = {}
    for kind, rs in by.items():
        out[kind] = {"held": spread([r["held"] for r in rs], 0),
                     "open_s": spread([r["open_s"] for r in rs], 2),
                     "stopped_by": sorted({s for r in rs for s in r["stopped_by"]})}
        for key in FIGURES:
            out[kind][key] = spread([r[key] for r in rs])
    out["socklb"]["agent_rss_kb"] = spread([r["agent_rss_kb"] for r in by["socklb"]], 0)
    out["socklb"]["tracked_live"] = [r["tracked_live"] for r in by["socklb"]]
    out["socklb"]["untracked"] = [r["untracked"] for r in by["socklb"]]
    out["socklb"]["ended_by_rebalancer"] = [r["ended_by_rebalancer"] for r in by["socklb"]]
    pairs = list(zip(by["baseline"], by["socklb"]))
    adds = {}
    for key in FIGURES:
        adds[key] = spread([s[key] - b[key] if s[key] is not None and b[key] is not None
                            else None for b, s in pairs])
    names = {c for r in rounds for c in r["caches_bytes_per_connection"]}

    def cache_median(rs, name):
        return median([r["caches_bytes_per_connection"].get(name, 0.0) for r in rs]) or 0.0
    by_cache = {c: round(cache_median(by["socklb"], c) - cache_median(by["baseline"], c), 1)
                for c in names}
    adds["caches"] = dict(sorted(((c, v) for c, v in by_cache.items() if abs(v) >= CACHE_MIN_BYTES),
                                 key=lambda kv: -abs(kv[1])))
    out["socklb_adds"] = adds
    return out


def measure(hr, agent, n, repeats, limit_s, mem_floor, log, fixed=True):
    """repeats × (without, with socklb) rounds of n connections. fixed=False
    (the machine's maximum): socklb's round first, then the round without
    it holds as many as socklb's reached."""
    rounds = []
    for rep in range(repeats):
        order = list(KINDS) if rep % 2 == 0 else list(reversed(KINDS))
        if not fixed:
            order = ["socklb", "baseline"]
        count = n
        for kind in order:
            rec = hold_round(hr, kind, count, limit_s, mem_floor, agent)
            log(f"connections: {kind} held {rec['held']:,} of {rec['requested']:,} in "
                f"{rec['open_s']} s ({', '.join(rec['stopped_by'])}); "
                f"kernel bytes per connection {rec['bytes_per_connection']} "
                f"(unreclaimable {rec['unreclaimable_bytes_per_connection']})")
            rounds.append(rec)
            if not fixed and kind == "socklb":
                count = rec["held"]
    out = {"requested": n, "rounds": rounds}
    out.update(summarize(rounds))
    return out


def sock_state_value_size(agent):
    info = memory.bpftool_json(["map", "show", "pinned",
                                 os.path.join(agent.pin_path, "sock_state")])
    return info.get("bytes_value", 0) if isinstance(info, dict) else 0


def run(topo, cgroups, profile, log=print):
    largest = max(tuple(profile.conn_counts) + (profile.conn_max,))
    hr = HoldRig(topo, cgroups, profile.conn_clients, largest)
    agent = Agent(topo, cgroups["hooked"], config=hr.write_config(),
                  extra=["--max-services", "1"])
    atexit.register(cleanup_pins, agent.pin_path)
    mem_floor = max(MEM_FLOOR_MIN, int(MEM_FLOOR_SHARE * memory.mem_total_bytes()))
    res = {"clients": profile.conn_clients, "backends": len(SINK_PORTS),
           "port_range": PORT_RANGE, "mem_floor_bytes": mem_floor,
           "nr_open": read_int("/proc/sys/fs/nr_open"),
           "file_max": read_int("/proc/sys/fs/file-max"),
           "agent_rss_kb_at_rest": rss_kb(agent.proc.pid), "counts": {}}
    res.update(hr.describe())
    res["sk_storage_expected"] = memory.sk_storage_expected(sock_state_value_size(agent))
    try:
        for n in profile.conn_counts:
            log(f"connections: {n:,} held, {profile.conn_repeats} repeats")
            res["counts"][str(n)] = measure(hr, agent, n, profile.conn_repeats,
                                            profile.conn_max_s, mem_floor, log)
        if profile.conn_max:
            log(f"connections: as many as the machine allows, up to {profile.conn_max:,} "
                f"within {profile.conn_max_s:g} s")
            res["counts"]["max"] = measure(hr, agent, profile.conn_max, profile.conn_max_repeats,
                                           profile.conn_max_s, mem_floor, log, fixed=False)
    finally:
        agent.stop()
    return res
