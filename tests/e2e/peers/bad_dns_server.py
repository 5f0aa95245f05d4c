#!/usr/bin/python3
"""A DNS server that never gives a usable answer, for socklb end-to-end tests.

Listens on UDP only (so a resolver that falls back to TCP is refused) and
answers each query with the next reply in --modes, round robin:

  garbage     random bytes, not DNS at all (a resolver ignores them)
  short       fewer bytes than a DNS header
  wrong-id    a well-formed answer with another query id (ignored)
  truncated   the header with TC set and no answer (resolver retries over TCP)
  malformed   announces two answers, sends one and a half
  servfail    RCODE SERVFAIL
  refused     RCODE REFUSED

Prints "READY listen=IP:PORT" once bound and "QUERY n=N mode=MODE name=NAME"
per query (flushed), and stops on SIGTERM or stdin EOF.
"""

import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading

MODES = ["garbage", "short", "wrong-id", "truncated", "malformed", "servfail", "refused"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--listen", required=True, help="IP:PORT")
    p.add_argument("--modes", default=",".join(MODES))
    args = p.parse_args(argv)
    args.modes = args.modes.split(",")
    unknown = set(args.modes) - set(MODES)
    if unknown:
        p.error(f"unknown modes {sorted(unknown)}")
    return args


def question_end(query):
    """Offset just past the question section (one question)."""
    i = 12
    while i < len(query) and query[i]:
        i += query[i] + 1
    return i + 5  # root label, QTYPE, QCLASS


def qname(query):
    labels, i = [], 12
    while i < len(query) and query[i]:
        labels.append(query[i + 1:i + 1 + query[i]].decode(errors="replace"))
        i += query[i] + 1
    return ".".join(labels)


def header(qid, flags, qd=1, an=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, 0, 0)


def a_record(ip, ttl=5):
    # Name: a pointer to the question's name at offset 12.
    return struct.pack("!HHHIH", 0xC00C, 1, 1, ttl, 4) + socket.inet_aton(ip)


def reply(mode, query):
    qid = struct.unpack("!H", query[:2])[0]
    question = query[12:question_end(query)]
    rd = query[2] & 1  # recursion desired, copied back
    ok = 0x8400 | (rd << 8)  # response, authoritative
    if mode == "garbage":
        return os.urandom(random.randint(12, 60))
    if mode == "short":
        return os.urandom(5)
    if mode == "wrong-id":
        return header(qid ^ 0x5A5A, ok, an=1) + question + a_record("10.244.1.99")
    if mode == "truncated":
        return header(qid, ok | 0x0200) + question
    if mode == "malformed":
        return header(qid, ok, an=2) + question + a_record("10.244.1.99") + \
            a_record("10.244.1.98")[:9]
    rcode = {"servfail": 2, "refused": 5}[mode]
    return header(qid, ok | rcode) + question


def serve(sock, modes, done):
    n = 0
    while not done.is_set():
        try:
            query, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        except OSError:
            return
        if len(query) < 12:
            continue
        mode = modes[n % len(modes)]
        n += 1
        print(f"QUERY n={n} mode={mode} name={qname(query)}", flush=True)
        sock.sendto(reply(mode, query), peer)


def main(argv):
    args = parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    sock.settimeout(0.2)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def watch_stdin():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"READY listen={args.listen}", flush=True)
    serve(sock, args.modes, done)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
