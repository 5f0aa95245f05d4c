#!/usr/bin/python3
"""End-to-end tests of graceful moves: the rebalancer moves busy h2c
connections with a GOAWAY that the data path puts into the client's stream
at an HTTP/2 frame boundary (bpf/goaway.bpf.c), and no call fails.

Each cell: one client of one stack (grpcio sync, grpcio aio, grpc-go,
@grpc/grpc-js), 8
callers back-to-back on one channel, replies of 64 KiB or 1 MiB (server
frames span many segments, so a GOAWAY put anywhere but at a boundary
breaks the stream), --max-age 500ms so the rebalancer moves the connection
about twice a second.  A cell passes with 0 failed calls, at least MOVES
GOAWAYs delivered, and no connection destroyed after its GOAWAY; an idle
client's GOAWAYs are injected by the agent (no server frame to carry them).
Destroying them instead (--graceful=off) fails calls: the control shows
the test can fail.
"""

import time

from load import PORT, collect, dumps, failures, failures_by_status
from stacks import single_client_rig, start_client
from topology import Topology

VIP = "10.96.0.10:8080"
MOVES = 10


def run_cell(stack, reply_bytes, extra=(), duration=8.0, n_pods=2, busy=True):
    with Topology("slbgwy") as topo:
        _, host, cg, agent = single_client_rig(
            topo, VIP, n_pods, ["--max-age", "500ms", "--drain-deadline", "5s", *extra])
        t0 = time.monotonic()
        load = dict(closed_loop=True, concurrency=8) if busy else dict(rate=15.0)
        proc = start_client(host, stack, VIP, cg, channels=1, duration=duration, deadline=10.0,
                            reply_bytes=reply_bytes, **load)
        records = collect([proc], timeout=duration + 60)
        status = agent.status()
        if failures(records):
            with open(proc.log_path) as f:
                print("  client stderr: " + f.read()[-600:].replace("\n", " | "))
        elapsed = time.monotonic() - t0
    ended = status["datapath"]["ended"]["max_age"]
    follower = status["datapath"]["goaway_follower"]
    conns = {r[PORT] for r in records}
    return records, ended, follower, conns, elapsed


def check_cell(stack, reply_bytes, busy=True):
    records, ended, follower, conns, elapsed = run_cell(stack, reply_bytes, busy=busy)
    failed = failures(records)
    print(f"  {stack} {'busy' if busy else 'idle'} {reply_bytes // 1024} KiB: calls {len(records)}, failed {len(failed)} "
          f"{dumps(failures_by_status(records))}; connections {len(conns)}; ended "
          f"{dumps(ended)}; follower {dumps(follower)} ({elapsed:.1f}s)")
    assert failed == [], failures_by_status(records)
    assert ended["goaway_delivered"] >= MOVES, ended
    assert ended["goaway_then_forced"] == 0 and ended["forced"] == 0, ended
    assert len(conns) >= MOVES, len(conns)
    assert follower["not_h2c"] == 0, follower
    # An injection that a part frame may have overtaken would be a broken stream.
    assert follower["inject_raced"] == 0, follower
    if not busy:
        # Idle between calls: the agent injects the GOAWAY, no server frame waited for.
        assert follower["injected"] >= MOVES, follower


def test_grpcio_sync_idle_zero_failed_calls():
    """A call every 67 ms: destroying such connections fails nearly one call each."""
    check_cell("sync", 0, busy=False)


def test_grpcio_sync_busy_64k_zero_failed_calls():
    check_cell("sync", 64 * 1024)


def test_grpcio_sync_busy_1m_zero_failed_calls():
    check_cell("sync", 1024 * 1024)


def test_grpcio_aio_busy_64k_zero_failed_calls():
    check_cell("aio", 64 * 1024)


def test_grpcio_aio_busy_1m_zero_failed_calls():
    check_cell("aio", 1024 * 1024)


def test_grpc_go_busy_64k_zero_failed_calls():
    check_cell("go", 64 * 1024)


def test_grpc_go_busy_1m_zero_failed_calls():
    check_cell("go", 1024 * 1024)


def test_graceful_off_destroys_and_fails_calls():
    """The control: the same busy load with moves by destroy loses calls."""
    records, ended, follower, conns, _ = run_cell("aio", 64 * 1024, extra=["--graceful=off", "--drain-deadline", "200ms"],
                                                  duration=5.0)
    print(f"  --graceful=off, aio busy 64 KiB: failed {len(failures(records))} of "
          f"{len(records)}; ended {dumps(ended)}")
    assert ended["goaway"] == 0 and follower["followed"] == 0
    assert ended["forced"] >= 3, ended
    assert len(failures(records)) > 0


def test_grpc_js_busy_64k_zero_failed_calls():
    check_cell("js", 64 * 1024)


def test_grpc_js_busy_1m_zero_failed_calls():
    check_cell("js", 1024 * 1024)
