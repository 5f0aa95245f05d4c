#!/usr/bin/python3
"""Steady gRPC load for socklb's rebalancing tests and benchmarks.

Opens --channels independent channels (each its own TCP connection, default
pick_first) to --target and, from one thread per channel, makes a SayHello
call every 1/--rate seconds for --duration seconds: a steady rate with gaps,
as a real client service has. Prints "STARTED" once every channel has made
its first call, then at the end one JSON line:

  {"records": [[start, end, channel, pod or null, status, client_port], ...]}

start/end are wall-clock seconds (time.time()), comparable with the test's
own clock; status is "OK" or the gRPC status code name.

--api sync (default) uses grpcio's blocking stubs, one thread per channel;
--api aio uses grpc.aio, whose poller thread always runs, so (like grpc-go's
reader goroutine or grpc-java's event loop) it notices a closed idle
connection at once. A blocking grpcio client notices it only when it next
polls: on its next call, or at C-core's backup poll (every 5 s).

--concurrency K runs K callers on each channel (threads for sync, tasks for
aio), each with the same schedule: --rate calls/s per caller (caller j's
calls offset by j/(K*rate) so the channel's calls spread evenly), or
back-to-back with --closed-loop. STARTED then waits for every caller's first
call. Records keep the channel index; the caller is not recorded.

--request-bytes N pads the request JSON with a "pad" field of N bytes;
--reply-bytes N asks the server (greeter_server.py) for a reply padded with
N bytes. With both 0 (the default) the request is b"{}" as before.
"""

import argparse
import asyncio
import json
import sys
import threading
import time

import grpc

METHOD = "/sample.service.HelloWorld/SayHello"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", required=True)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--rate", type=float, default=5.0,
                   help="calls/s per caller (= per channel with --concurrency 1)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--deadline", type=float, default=5.0)
    p.add_argument("--api", choices=("sync", "aio"), default="sync")
    p.add_argument("--lb-policy", default=None,
                   help="channel LB policy, e.g. round_robin (default: gRPC's pick_first)")
    p.add_argument("--closed-loop", action="store_true",
                   help="each caller calls again as soon as a call ends, until --duration "
                        "is over (fixed concurrency = --channels * --concurrency); "
                        "--rate is ignored")
    p.add_argument("--concurrency", type=int, default=1,
                   help="callers sharing each channel (threads for sync, tasks for aio)")
    p.add_argument("--request-bytes", type=int, default=0,
                   help="pad each request with a \"pad\" field of N bytes")
    p.add_argument("--reply-bytes", type=int, default=0,
                   help="ask the server to pad each reply with N bytes")
    args = p.parse_args(argv)
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    if args.request_bytes < 0 or args.reply_bytes < 0:
        p.error("--request-bytes and --reply-bytes must not be negative")
    return args


CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.enable_http_proxy", 0)]


# The message limits are raised only for --reply-bytes or --request-bytes, so
# default runs keep exactly the channel arguments they always had.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def channel_options(args):
    """CHANNEL_OPTIONS, plus the LB policy when one was asked for (the
    benchmark's app-side fix: round_robin over every address DNS returns)."""
    options = list(CHANNEL_OPTIONS)
    if args.lb_policy:
        options.append(("grpc.lb_policy_name", args.lb_policy))
    if args.reply_bytes or args.request_bytes:
        options += [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    return options


def request_body(args):
    """b"{}" by default; else a JSON object with the asked-for fields."""
    body = {}
    if args.reply_bytes:
        body["reply_bytes"] = args.reply_bytes
    if args.request_bytes:
        body["pad"] = "x" * args.request_bytes
    return json.dumps(body).encode() if body else b"{}"


def client_port(peer):
    # The server sees "ipv4:10.244.1.100:44206": the port names the connection.
    return int(peer.rsplit(":", 1)[1]) if peer else None


def one_call(stub, body, deadline):
    start = time.time()
    try:
        reply = json.loads(stub(body, timeout=deadline))
        return [start, time.time(), reply["pod"], "OK", client_port(reply.get("peer"))]
    except grpc.RpcError as e:
        return [start, time.time(), None, e.code().name, None]


def next_due(first, k, args, stop_at):
    """When call k of a caller is due, or None once the caller is done.
    Steady rate: call k is due at first + k/rate, none at or after stop_at.
    --closed-loop: due at once, until the clock passes stop_at."""
    if args.closed_loop:
        now = time.time()
        return now if now < stop_at else None
    due = first + k / args.rate
    return due if due < stop_at else None


def caller_offset(j, args):
    """Caller j's first call, in seconds after the channel's first: callers
    of one channel spread evenly over one period at a steady rate."""
    if args.closed_loop or args.concurrency == 1:
        return 0.0
    return j / (args.concurrency * args.rate)


def run_caller(idx, j, stub, body, args, records, started, first, stop_at):
    first += caller_offset(j, args)
    k = 0
    while True:
        due = next_due(first, k, args, stop_at)
        if due is None:
            break
        time.sleep(max(0.0, due - time.time()))
        rec = one_call(stub, body, args.deadline)
        records.append([rec[0], rec[1], idx] + rec[2:])
        if k == 0:
            started.release()
        k += 1
    if k == 0:  # no call fitted in --duration: do not hold STARTED back
        started.release()


def run_channel(idx, target, args, records, started, stop_at):
    channel = grpc.insecure_channel(target, options=channel_options(args))
    stub = channel.unary_unary(METHOD)
    body = request_body(args)
    first = time.time()
    if args.concurrency == 1:
        run_caller(idx, 0, stub, body, args, records, started, first, stop_at)
    else:
        callers = [threading.Thread(target=run_caller, daemon=True,
                                    args=(idx, j, stub, body, args, records, started,
                                          first, stop_at))
                   for j in range(args.concurrency)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(args.duration + args.deadline + 5)
    channel.close()


async def aio_call(stub, body, deadline):
    start = time.time()
    try:
        reply = json.loads(await stub(body, timeout=deadline))
        return [start, time.time(), reply["pod"], "OK", client_port(reply.get("peer"))]
    except grpc.RpcError as e:
        return [start, time.time(), None, e.code().name, None]


def aio_started(started, idx, args):
    started.append(idx)
    if len(started) == args.channels * args.concurrency:
        print("STARTED", flush=True)


async def aio_caller(idx, j, stub, body, args, records, started, first, stop_at):
    first += caller_offset(j, args)
    k = 0
    while (due := next_due(first, k, args, stop_at)) is not None:
        await asyncio.sleep(max(0.0, due - time.time()))
        rec = await aio_call(stub, body, args.deadline)
        records.append([rec[0], rec[1], idx] + rec[2:])
        if k == 0:
            aio_started(started, idx, args)
        k += 1
    if k == 0:  # no call fitted in --duration: do not hold STARTED back
        aio_started(started, idx, args)


async def aio_channel(idx, args, records, started, stop_at):
    async with grpc.aio.insecure_channel(args.target,
                                      options=channel_options(args)) as channel:
        stub = channel.unary_unary(METHOD)
        body = request_body(args)
        first = time.time()
        await asyncio.gather(*(aio_caller(idx, j, stub, body, args, records, started,
                                          first, stop_at)
                               for j in range(args.concurrency)))


async def aio_main(args):
    records, started = [], []
    stop_at = time.time() + args.duration
    await asyncio.gather(*(aio_channel(i, args, records, started, stop_at)
                           for i in range(args.channels)))
    print(json.dumps({"records": sorted(records)}), flush=True)
    return 0


def main(argv):
    args = parse_args(argv)
    if args.api == "aio":
        return asyncio.run(aio_main(args))
    records = []
    started = threading.Semaphore(0)
    stop_at = time.time() + args.duration
    threads = [threading.Thread(target=run_channel, daemon=True,
                                args=(i, args.target, args, records, started, stop_at))
               for i in range(args.channels)]
    for t in threads:
        t.start()
    for _ in range(args.channels * args.concurrency):
        started.acquire(timeout=args.duration)
    print("STARTED", flush=True)
    for t in threads:
        t.join(args.duration + args.deadline + 5)
    print(json.dumps({"records": sorted(records)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
