#!/usr/bin/python3
"""TCP sink and load worker for socklb's micro-benchmarks (stdlib only).

    netperf.py sink --listen IP:PORT[,PORT...]
    netperf.py holdsink --listen IP:PORT [--reuseport]
    netperf.py worker

The sink accepts connections one at a time on each of its ports (a thread
per port, as a service's backends): it sends one byte (so a client knows
its connection was accepted), then reads until EOF or reset and closes. It
prints "READY" once listening and exits when stdin closes.

The hold sink accepts connections and keeps them, sending nothing, until
told (with --reuseport, several hold sinks share the port, each holding
what the kernel hands it): one command per stdin line, one JSON line back:
  count    -> {"held": n}
  release  -> {"closed": n}   (closes every connection it holds)
It exits when stdin closes.

The worker reads one JSON command per stdin line and answers with one JSON
line, so the harness can interleave modes run by long-lived workers:

  {"op": "cycle", "target": "IP:PORT", "count": N, "limit_s": S}
      N times: connect, wait for the sink's byte, close with a reset.
      -> {"ops": n, "ns_per_op": ..., "errors": e}
  {"op": "bulk", "target": "IP:PORT", "mb": M, "limit_s": S}
      one connection: send M MiB, half-close, wait for the sink to close.
      -> {"bytes": b, "seconds": s}
  {"op": "hold", "targets": ["IP:PORT", ...], "count": N, "limit_s": S,
   "mem_floor": BYTES}
      opens N connections over the targets in turn and keeps them open;
      stops early at the first failed connect, after limit_s, or once the
      machine's MemAvailable is below mem_floor.
      -> {"held": n, "seconds": s, "stopped_by": "count" | "time" |
          "memory" | "error: ENAME"}
  {"op": "release"}
      closes every held connection with a reset. -> {"closed": n}

Closing with SO_LINGER 0 sends a reset instead of a FIN: no TIME_WAIT, so
tens of thousands of cycles never run out of ephemeral ports, and every mode
pays the same close. Hold sinks and holders raise their RLIMIT_NOFILE as far
as they may (the hard limit; fs.nr_open with CAP_SYS_RESOURCE).
"""

import argparse
import errno
import json
import os
import resource
import socket
import struct
import sys
import threading
import time

CHUNK = 256 * 1024
LINGER_RESET = struct.pack("ii", 1, 0)
SINK_CONN_TIMEOUT = 10.0  # a stuck client must not stall the sink for good
# Kernel-side timeouts keep the cycle's syscalls blocking (as an app's are)
# while bounding a connect or read that never completes.
CYCLE_TIMEOUT = struct.pack("ll", 5, 0)


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def parse_listen(text):
    """IP:PORT[,PORT...] -> [(IP, PORT), ...]"""
    host, ports = text.rsplit(":", 1)
    return [(host, int(p)) for p in ports.split(",")]


def raise_nofile():
    """As many file descriptors as this process may have: fs.nr_open with
    CAP_SYS_RESOURCE, else the hard limit."""
    try:
        with open("/proc/sys/fs/nr_open") as f:
            limit = int(f.read())
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    except (OSError, ValueError):  # no CAP_SYS_RESOURCE: up to the hard limit
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------------ sink

def drain(conn):
    buf = bytearray(CHUNK)
    try:
        while conn.recv_into(buf):
            pass
    except OSError:  # reset by a cycling client, or its timeout
        pass


def serve(listener):
    while True:
        conn, _ = listener.accept()
        conn.settimeout(SINK_CONN_TIMEOUT)
        try:
            conn.sendall(b"x")
            drain(conn)
        except OSError:
            pass
        conn.close()


def exit_on_stdin_eof():
    # The harness holds our stdin: when it goes away, so do we.
    def run():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(0)
    threading.Thread(target=run, daemon=True).start()


def listen_on(addr, backlog):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(addr)
    listener.listen(backlog)
    return listener


def sink(listen):
    listeners = [listen_on(addr, 1024) for addr in parse_listen(listen)]
    exit_on_stdin_eof()
    for listener in listeners[1:]:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
    print("READY", flush=True)
    serve(listeners[0])


# ------------------------------------------------------------ hold sink

class Held:
    """File descriptors of connections held open, shared between threads."""

    def __init__(self):
        self.fds = []
        self.lock = threading.Lock()

    def add(self, fd):
        with self.lock:
            self.fds.append(fd)

    def count(self):
        with self.lock:
            return len(self.fds)

    def release(self):
        with self.lock:
            fds, self.fds = self.fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        return len(fds)


def accept_and_hold(listener, held):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError as e:  # EMFILE/ENFILE: wait for a release, keep the backlog
            if e.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            time.sleep(0.05)
            continue
        held.add(conn.detach())


def holdsink(listen, reuseport):
    raise_nofile()
    (addr,) = parse_listen(listen)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:  # a group of hold sinks shares the port, each holding its share
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(addr)
    listener.listen(65535)  # capped by the namespace's net.core.somaxconn
    held = Held()
    threading.Thread(target=accept_and_hold, args=(listener, held), daemon=True).start()
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "count":
            print(json.dumps({"held": held.count()}), flush=True)
        elif cmd == "release":
            print(json.dumps({"closed": held.release()}), flush=True)
        elif cmd:
            print(json.dumps({"error": f"unknown command {cmd}"}), flush=True)
    os._exit(0)


# ---------------------------------------------------------------- worker

def one_cycle(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, CYCLE_TIMEOUT)  # bounds connect
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, CYCLE_TIMEOUT)
        s.connect(addr)
        s.recv(1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    finally:
        s.close()


def cycle(target, count, limit_s):
    """Whole connect + accept + close cycles, back to back; stops early
    (and says so through "ops") when limit_s is over."""
    addr = parse_addr(target)
    errors = done = 0
    start = time.perf_counter_ns()
    stop_at = start + int(limit_s * 1e9)
    while done < count and time.perf_counter_ns() < stop_at:
        try:
            one_cycle(addr)
        except OSError:
            errors += 1
        done += 1
    elapsed = time.perf_counter_ns() - start
    return {"ops": done, "ns_per_op": elapsed / max(done, 1), "errors": errors}


def bulk(target, mb, limit_s):
    payload = memoryview(bytearray(CHUNK))
    total = mb * 1024 * 1024
    s = socket.create_connection(parse_addr(target), timeout=limit_s)
    try:
        s.recv(1)
        sent = 0
        start = time.perf_counter()
        while sent < total and time.perf_counter() - start < limit_s:
            s.sendall(payload[:min(CHUNK, total - sent)])
            sent += min(CHUNK, total - sent)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # the sink closes once it has read everything
        seconds = time.perf_counter() - start
    finally:
        s.close()
    return {"bytes": sent, "seconds": seconds}


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def hold(held, targets, count, limit_s, mem_floor):
    """Opens up to count connections over targets in turn and keeps them."""
    addrs = [parse_addr(t) for t in targets]
    start = time.perf_counter()
    stopped_by, opened = "count", 0
    while opened < count:
        if opened % 256 == 0 and time.perf_counter() - start > limit_s:
            stopped_by = "time"
            break
        if opened % 4096 == 0 and mem_floor and (mem_available() or 0) < mem_floor:
            stopped_by = "memory"
            break
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            stopped_by = f"error: {errno.errorcode.get(e.errno, str(e.errno))}"
            break
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, CYCLE_TIMEOUT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            s.connect(addrs[opened % len(addrs)])
        except OSError as e:
            s.close()
            name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
            stopped_by = f"error: {name}"
            break
        held.add(s.detach())
        opened += 1
    return {"held": opened, "seconds": time.perf_counter() - start, "stopped_by": stopped_by}


def worker():
    held = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "cycle":
            out = cycle(cmd["target"], cmd["count"], cmd.get("limit_s", 10.0))
        elif cmd["op"] == "bulk":
            out = bulk(cmd["target"], cmd["mb"], cmd.get("limit_s", 10.0))
        elif cmd["op"] == "hold":
            if held is None:
                raise_nofile()
                held = Held()
            out = hold(held, cmd["targets"], cmd["count"], cmd.get("limit_s", 10.0),
                       cmd.get("mem_floor", 0))
        elif cmd["op"] == "release":
            out = {"closed": held.release() if held else 0}
        else:
            out = {"error": f"unknown op {cmd['op']}"}
        print(json.dumps(out), flush=True)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("sink").add_argument("--listen", required=True)
    hs = sub.add_parser("holdsink")
    hs.add_argument("--listen", required=True)
    hs.add_argument("--reuseport", action="store_true")
    sub.add_parser("worker")
    args = p.parse_args(argv)
    if args.cmd == "sink":
        sink(args.listen)
    elif args.cmd == "holdsink":
        holdsink(args.listen, args.reuseport)
    else:
        worker()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
