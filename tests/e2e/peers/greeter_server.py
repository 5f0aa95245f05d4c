#!/usr/bin/python3
"""Minimal gRPC "pod" for socklb end-to-end tests.

Serves /sample.service.HelloWorld/SayHello with raw bytes (no protobuf
codegen): every reply is a JSON object {"pod": NAME, "peer": PEER, "n": N}
so the client can tell which backend answered and the test can see which
source address the server observed (n counts this server's calls).

The request may be a JSON object; if it holds "reply_bytes": N (N > 0) the
reply gets one more field, "pad", of N bytes ("x" * N), for message-size
tests. Any other request (b"{}", a "pad" field, bytes that are not JSON)
gets the plain reply, byte for byte as before.

Prints "READY name=... listen=..." once serving, and
"EXIT name=... calls=N" when it stops.
"""

import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "sample.service.HelloWorld"
METHOD = "SayHello"
# Large enough for the message-size tests' requests (--request-bytes);
# gRPC's default receive limit is 4 MiB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def reply_bytes(request):
    """The "reply_bytes" a request asks for, or 0 (also for non-JSON)."""
    if b"reply_bytes" not in request:  # skip parsing the common b"{}"
        return 0
    try:
        n = json.loads(request).get("reply_bytes", 0)
    except (ValueError, AttributeError):
        return 0
    return n if type(n) is int and n > 0 else 0  # not bool, not float


class Greeter:
    """Holds the per-process call counter shared by all worker threads."""

    def __init__(self, name):
        self.name = name
        self.calls = 0
        self._lock = threading.Lock()

    def say_hello(self, request, context):
        with self._lock:
            self.calls += 1
            n = self.calls
        reply = {"pod": self.name, "peer": context.peer(), "n": n}
        pad = reply_bytes(request)
        if pad:
            reply["pad"] = "x" * pad
        return json.dumps(reply).encode()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", required=True, help="HOST:PORT, e.g. [::]:8080")
    p.add_argument("--name", required=True, help="pod name put in replies")
    p.add_argument("--max-connection-age-ms", type=int, default=0,
                   help="if >0, server sends GOAWAY after this connection age")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="stop when stdin closes (the rig uses this so pods "
                        "die with the test process even if it is SIGKILLed)")
    return p.parse_args(argv)


def server_options(args):
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    if args.max_connection_age_ms <= 0:
        return options
    # Grace bounds how long in-flight RPCs may run after GOAWAY; equal to the
    # age keeps the benchmark's connection churn predictable.
    return options + [("grpc.max_connection_age_ms", args.max_connection_age_ms),
                      ("grpc.max_connection_age_grace_ms", args.max_connection_age_ms)]


def build_server(args, greeter):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=server_options(args))
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        # No (de)serializers: request and response bytes pass through as is.
        METHOD: grpc.unary_unary_rpc_method_handler(greeter.say_hello),
    })
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(args.listen) == 0:
        raise SystemExit(f"cannot listen on {args.listen}")
    return server


def watch_stdin_eof(stop):
    # Raw os.read, not sys.stdin: a daemon thread blocked inside the buffered
    # reader holds its lock and makes interpreter shutdown abort.
    def run():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()
    threading.Thread(target=run, daemon=True).start()


def main(argv):
    args = parse_args(argv)
    greeter = Greeter(args.name)
    server = build_server(args, greeter)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        watch_stdin_eof(stop)
    server.start()
    print(f"READY name={args.name} listen={args.listen}", flush=True)
    # Short waits keep the main thread responsive to signal handlers.
    while not stop.wait(0.5):
        pass
    server.stop(0).wait(5)
    print(f"EXIT name={args.name} calls={greeter.calls}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
