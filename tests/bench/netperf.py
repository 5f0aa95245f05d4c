#!/usr/bin/python3
"""TCP sink and load worker for socklb's micro-benchmarks (stdlib only).

    netperf.py sink --listen IP:PORT
    netperf.py worker

The sink accepts connections one at a time: it sends one byte (so a client
knows its connection was accepted), then reads until EOF or reset and
closes. It prints "READY" once listening and exits when stdin closes.

The worker reads one JSON command per stdin line and answers with one JSON
line, so the harness can interleave modes run by long-lived workers:

  {"op": "cycle", "target": "IP:PORT", "count": N, "limit_s": S}
      N times: connect, wait for the sink's byte, close with a reset.
      -> {"ops": n, "ns_per_op": ..., "errors": e}
  {"op": "bulk", "target": "IP:PORT", "mb": M, "limit_s": S}
      one connection: send M MiB, half-close, wait for the sink to close.
      -> {"bytes": b, "seconds": s}

Closing with SO_LINGER 0 sends a reset instead of a FIN: no TIME_WAIT, so
tens of thousands of cycles never run out of ephemeral ports, and every mode
pays the same close.
"""

import argparse
import json
import os
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


def sink(listen):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(parse_addr(listen))
    listener.listen(1024)
    exit_on_stdin_eof()
    print("READY", flush=True)
    serve(listener)


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


def worker():
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "cycle":
            out = cycle(cmd["target"], cmd["count"], cmd.get("limit_s", 10.0))
        elif cmd["op"] == "bulk":
            out = bulk(cmd["target"], cmd["mb"], cmd.get("limit_s", 10.0))
        else:
            out = {"error": f"unknown op {cmd['op']}"}
        print(json.dumps(out), flush=True)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("sink").add_argument("--listen", required=True)
    sub.add_parser("worker")
    args = p.parse_args(argv)
    if args.cmd == "sink":
        sink(args.listen)
    else:
        worker()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
