#!/usr/bin/python3
"""Real gRPC client for socklb end-to-end tests.

Opens N independent channels (each with its own TCP connection) to --target,
makes M rounds of SayHello calls and prints one JSON summary line:

  {"calls": total, "ok": n, "by_pod": {pod: count},
   "by_channel": [pod of first ok call per channel, or null],
   "failures": {"UNAVAILABLE": n, ...}, "first_error": str or null}

With --hold the channels stay open after the summary until stdin reaches
EOF or SIGTERM arrives; each line read from stdin meanwhile triggers another
set of rounds on the same channels and another summary line.

With --getpeername it skips gRPC: plain TCP connect, then prints
{"peer": "IP:PORT", "local": "IP:PORT"} or {"error": "ENETUNREACH", ...}.
"""

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
import time

METHOD = "/sample.service.HelloWorld/SayHello"
MAX_HOLD_SECONDS = 3600  # safety net so a forgotten client cannot live forever


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--target", required=True, help="VIP:PORT or [V6]:PORT")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--calls-per-channel", type=int, default=1)
    p.add_argument("--interval", type=float, default=0.0,
                   help="seconds to sleep between rounds")
    p.add_argument("--deadline", type=float, default=5.0,
                   help="per-call deadline in seconds")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--getpeername", action="store_true")
    return p.parse_args(argv)


# ---------------------------------------------------------------- TCP mode

def split_hostport(target):
    """'1.2.3.4:80' / '[fd00::1]:80' -> (host, port). gRPC scheme prefixes
    such as 'ipv4:' are not accepted here: this mode is plain TCP."""
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def fmt_addr(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def getpeername(target, timeout):
    host, port = split_hostport(target)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError as e:
            name = errno.errorcode.get(e.errno, "ETIMEDOUT" if e.errno is None
                                       else str(e.errno))
            return {"error": name, "errno": e.errno, "message": str(e)}
        return {"peer": fmt_addr(s.getpeername()),
                "local": fmt_addr(s.getsockname())}


# ---------------------------------------------------------------- gRPC mode

def open_channels(grpc, target, n):
    options = [
        # A private subchannel pool per channel: without it, channels to the
        # same target share one subchannel and thus one TCP connection.
        ("grpc.use_local_subchannel_pool", 1),
        # Never route test traffic through a proxy picked up from the env.
        ("grpc.enable_http_proxy", 0),
    ]
    return [grpc.insecure_channel(target, options=options) for _ in range(n)]


class Summary:
    def __init__(self, nchannels):
        self.calls = 0
        self.ok = 0
        self.by_pod = {}
        self.by_channel = [None] * nchannels
        self.failures = {}
        self.first_error = None

    def record_ok(self, channel_idx, pod):
        self.calls += 1
        self.ok += 1
        self.by_pod[pod] = self.by_pod.get(pod, 0) + 1
        if self.by_channel[channel_idx] is None:
            self.by_channel[channel_idx] = pod

    def record_failure(self, code_name, detail):
        self.calls += 1
        self.failures[code_name] = self.failures.get(code_name, 0) + 1
        if self.first_error is None:
            self.first_error = f"{code_name}: {detail}"

    def to_json(self):
        return json.dumps({"calls": self.calls, "ok": self.ok,
                           "by_pod": self.by_pod, "by_channel": self.by_channel,
                           "failures": self.failures,
                           "first_error": self.first_error})


def call_once(grpc, stub, deadline, idx, summary):
    try:
        reply = stub(b"{}", timeout=deadline)
        summary.record_ok(idx, json.loads(reply)["pod"])
    except grpc.RpcError as e:
        summary.record_failure(e.code().name, e.details())
    except (ValueError, KeyError) as e:  # reply was not our JSON
        summary.record_failure("BAD_REPLY", repr(e))


def run_rounds(grpc, stubs, args):
    summary = Summary(len(stubs))
    for rnd in range(args.calls_per_channel):
        if rnd and args.interval > 0:
            time.sleep(args.interval)
        for idx, stub in enumerate(stubs):
            call_once(grpc, stub, args.deadline, idx, summary)
    print(summary.to_json(), flush=True)


def hold(grpc, stubs, args, done):
    """Keep channels open; stdin lines trigger new rounds, EOF/SIGTERM end."""
    lock = threading.Lock()  # held while a stdin-triggered round runs

    def read_stdin():
        # Raw os.read, not sys.stdin: a daemon thread blocked inside the
        # buffered reader holds its lock and makes interpreter shutdown abort.
        try:
            while not done.is_set():
                data = os.read(0, 4096)
                if not data:
                    break
                for _ in range(data.count(b"\n")):
                    with lock:
                        if done.is_set():
                            return
                        run_rounds(grpc, stubs, args)
        except OSError:
            pass
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    # Short waits keep the main thread responsive to signal handlers.
    end = time.monotonic() + MAX_HOLD_SECONDS
    while not done.wait(0.5) and time.monotonic() < end:
        pass
    # Let a round in flight finish (bounded) before the channels close.
    lock.acquire(timeout=args.deadline * args.channels * args.calls_per_channel)


def grpc_main(args):
    import grpc  # imported lazily so --getpeername has no gRPC threads at all
    channels = open_channels(grpc, args.target, args.channels)
    stubs = [ch.unary_unary(METHOD) for ch in channels]  # raw bytes in/out
    # Handlers go in before the first summary: a caller may send SIGTERM as
    # soon as it has read it.
    done = threading.Event()
    if args.hold:
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        run_rounds(grpc, stubs, args)
        if args.hold:
            hold(grpc, stubs, args, done)
    finally:
        for ch in channels:
            ch.close()
    return 0


def main(argv):
    args = parse_args(argv)
    if args.getpeername:
        result = getpeername(args.target, args.deadline)
        print(json.dumps(result), flush=True)
        return 0 if "peer" in result else 1
    return grpc_main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
