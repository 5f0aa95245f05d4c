#!/usr/bin/python3
"""Calls the HelloWorld gRPC service forever and logs which pod answered.

Opens --channels independent channels (each its own TCP connection, gRPC's
default pick_first, as most clients have) to --target, and from one thread per
channel makes a SayHello call every 1/--rate seconds. Every call is one line
on stdout:

  pod=greeter-7d9c-x2k4f status=OK channel=3 ms=1.4

(pod=- when the call failed; status is the gRPC status code name), and every
--summary-every seconds one line of calls per pod in that window:

  summary window=10s calls=100 failed=0 pods=greeter-...:20,greeter-...:20

Runs until SIGTERM/SIGINT, or for --duration seconds if given (tests).
Only the standard library and grpcio (Debian's python3-grpcio).
"""

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter

import grpc

METHOD = "/sample.service.HelloWorld/SayHello"
# Each channel its own connection; never an HTTP proxy from the environment.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.enable_http_proxy", 0)]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, help="HOST:PORT of the service")
    p.add_argument("--channels", type=int, default=10,
                   help="independent channels (connections) (default 10)")
    p.add_argument("--rate", type=float, default=1.0,
                   help="calls per second on each channel (default 1)")
    p.add_argument("--deadline", type=float, default=2.0,
                   help="seconds before a call fails (default 2)")
    p.add_argument("--summary-every", type=float, default=10.0,
                   help="seconds between summary lines; 0: none (default 10)")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many seconds; 0: run forever (default)")
    args = p.parse_args(argv)
    if args.channels < 1 or args.rate <= 0 or args.deadline <= 0 or args.summary_every < 0:
        p.error("--channels must be >= 1; --rate and --deadline > 0; --summary-every >= 0")
    return args


class Log:
    """One writer for every thread: whole lines, flushed, counted per window."""

    def __init__(self, out):
        self._out = out
        self._lock = threading.Lock()
        self._window = Counter()
        self._failed = 0

    def call(self, channel, pod, status, ms):
        with self._lock:
            if status == "OK":
                self._window[pod] += 1
            else:
                self._failed += 1
            self._out.write(f"pod={pod or '-'} status={status} channel={channel} ms={ms:.1f}\n")
            self._out.flush()

    def summary(self, window_s):
        with self._lock:
            calls = sum(self._window.values()) + self._failed
            pods = ",".join(f"{p}:{n}" for p, n in sorted(self._window.items()))
            self._out.write(f"summary window={window_s:g}s calls={calls} "
                            f"failed={self._failed} pods={pods or '-'}\n")
            self._out.flush()
            self._window.clear()
            self._failed = 0


def one_call(stub, deadline):
    start = time.monotonic()
    try:
        reply = json.loads(stub(b"{}", timeout=deadline))
        pod, status = reply.get("pod"), "OK"
    except grpc.RpcError as e:
        pod, status = None, e.code().name
    except ValueError:  # not the HelloWorld server's JSON
        pod, status = None, "BAD_REPLY"
    return pod, status, (time.monotonic() - start) * 1000.0


def run_channel(idx, args, log, stop):
    channel = grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS)
    stub = channel.unary_unary(METHOD)
    interval = 1.0 / args.rate
    next_due = time.monotonic()
    try:
        while not stop.is_set():
            pod, status, ms = one_call(stub, args.deadline)
            log.call(idx, pod, status, ms)
            # A steady rate: late calls do not pile up into a burst.
            next_due = max(next_due + interval, time.monotonic())
            stop.wait(max(0.0, next_due - time.monotonic()))
    finally:
        channel.close()


def main(argv):
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log = Log(sys.stdout)
    threads = [threading.Thread(target=run_channel, args=(i, args, log, stop), daemon=True)
               for i in range(args.channels)]
    for t in threads:
        t.start()
    started = time.monotonic()
    last_summary = started
    # The main thread only waits (short waits keep signals prompt) and summarizes.
    while not stop.wait(0.2):
        now = time.monotonic()
        if args.summary_every and now - last_summary >= args.summary_every:
            log.summary(args.summary_every)
            last_summary = now
        if args.duration and now - started >= args.duration:
            stop.set()
    for t in threads:
        t.join(args.deadline + 1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
